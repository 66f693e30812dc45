"""Probe: does a repair turn turn rejected constraints into transferable ones?

Replays contrast-v2's cross pairs (analysis and JSON reply from its log, no regeneration) and asks
qwen2.5-coder-1.5b one more turn for the pairs whose proposals broke a repairable rule.

    PYTHONPATH=. .venv/bin/python banks/contrast-v2/probes/repair_probe.py OUT.jsonl
"""
import json, sys
from pathlib import Path
from memcollab_cli import prompts
from memcollab_cli.memory import constraint_schema, make_pairs
from memcollab_cli.memory.constraints import problem_words
from memcollab_cli.pipeline.contrast import _Prompts, hint_block, Job, _reviewer, _Session
from memcollab_cli.pipeline.localize import locate, reference_task
from memcollab_cli.pipeline.review import parse_reply
from memcollab_cli.pipeline.transcript import attempt_text, task_text
from memcollab_cli.pipeline.vocabulary import benchmark_vocabulary
from memcollab_cli.records import read_trajectories
from memcollab_cli.runtime import load_model
from memcollab_cli.runtime.base import Request

HERE = Path(__file__).resolve().parent
M = HERE.parents[2]  # the repository
REPAIRABLE = ("quotes the task's numbers", "names the task's entities", "names the task's objects",
              "copies the task's wording", "contains the answer", "contains a calculation")
REPAIR = (HERE / "repair.txt").read_text().rstrip("\n")

runs = [read_trajectories(M / "banks/runs/qwen2.5-coder-0.5b.jsonl"), read_trajectories(M / "banks/runs/smollm2-135m.jsonl")]
pairs, _ = make_pairs(runs, policy="mixed", strong="qwen2.5-coder-0.5b")
log = {(r["task_id"], r["pos"], r["neg"]): r for r in map(json.loads, open(M / "banks/contrast-v2/collab-cross.work/contrast-log.jsonl"))}
turns = _Prompts(prompts.load("contrast"), prompts.load("contrast_json"))
model = load_model("qwen2.5-coder-1.5b")
session = _Session(model, turns, Path(sys.argv[1]).with_suffix(".constraints.jsonl"), 3)  # reviewer only
out = open(sys.argv[1], "a")
stats = {"pairs": 0, "asked": 0, "rewritten": 0, "kept": 0}
for p in pairs:
    row = log.get((p.task_id, p.pos["id"], p.neg["id"]))
    if row is None:
        continue
    stats["pairs"] += 1
    hint = locate(reference_task(p.neg), p.neg)
    words = problem_words(task_text(p.pos), benchmark_vocabulary(p.benchmark))
    job = Job(p.task_id, p.benchmark, p.pos, p.neg,
              turns.analysis.render(problem=task_text(p.pos), preferred=attempt_text(p.pos),
                                    unpreferred=attempt_text(p.neg), hint=hint_block(hint)),
              turns.answer.render(k=3, problem_words=", ".join(words) or "-"), hint)
    bad = [r for r in row["rejected"] if r["reason"].startswith(REPAIRABLE)]
    if not bad:
        continue
    stats["asked"] += 1
    listing = "\n".join(f'- {json.dumps({f: r[f] for f in ("when", "enforce", "avoid")})}: {r["reason"]}' for r in bad)
    messages = job.conversation(row["analysis"]) + [
        {"role": "assistant", "content": row["reply"]},
        {"role": "user", "content": REPAIR.replace("{{rejected}}", listing).replace("{{problem_words}}", ", ".join(words) or "-")}]
    reply = model.complete(Request(messages=messages, max_tokens=400, temperature=0.0, seed=42,
                                   json_schema=constraint_schema(3))).text
    props = parse_reply(reply) or []
    stats["rewritten"] += len(props)
    reviewer = _reviewer(job, session)
    reviewer = type(reviewer)(**{**reviewer.__dict__, "prompt_text": reviewer.prompt_text + "\n" + REPAIR})
    acc, rej = reviewer.review_all(props)
    stats["kept"] += len(acc)
    out.write(json.dumps({"task_id": p.task_id, "asked": bad, "reply": reply,
                          "kept": [c.text() for c in acc], "rejected": [r.to_dict() for r in rej]}) + "\n")
    out.flush()
    print(p.task_id, [c.text() for c in acc], [r.reason for r in rej], flush=True)
print(json.dumps(stats))
