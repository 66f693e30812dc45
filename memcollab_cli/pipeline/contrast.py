"""`contrast`: pair right and wrong trajectories of the same task and summarize the difference.

For each pair the summarizer (by default the stronger model) writes up to K constraints
`{when, enforce, avoid}` under a JSON schema. Constraints that still break the rules (too long,
quoting the task's numbers, answer or objects, code) are rejected and counted, never written to the bank.

Outputs, both appended one finished pair at a time so a run resumes:
- `constraints.jsonl`: one line per accepted constraint, with provenance;
- `contrast-log.jsonl` beside it: one line per pair with the raw reply and every rejection.

`summarize_successes` is the non-contrastive baseline (`distill --mode self`): one model's own
correct trajectories summarized alone.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from memcollab_cli import prompts
from memcollab_cli.jsonl import append_jsonl, repair_tail, stream_jsonl
from memcollab_cli.memory import (
    Constraint,
    clean_constraint,
    constraint_schema,
    make_pairs,
    validate_constraint,
)
from memcollab_cli.pipeline.transcript import attempt_text, task_text
from memcollab_cli.pipeline.vocabulary import benchmark_vocabulary
from memcollab_cli.records import read_trajectories
from memcollab_cli.runtime.base import Model, Request

SUMMARY_TOKENS = 400


@dataclass
class ContrastSummary:
    pairs: int = 0
    skipped: dict = field(default_factory=dict)  # reason -> tasks not paired
    proposed: int = 0
    accepted: int = 0
    rejected: dict = field(default_factory=dict)  # reason -> constraints
    resumed: int = 0  # pairs already summarized by an earlier run

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def log_path(out: Path) -> Path:
    return out.with_name(out.stem.replace("constraints", "contrast-log") + out.suffix) \
        if "constraints" in out.stem else out.with_name(out.stem + ".log.jsonl")


def contrast(run_paths: list[Path], summarizer: Model, out: Path, *, strong: str | None = None,
             policy: str = "mixed", k: int = 3,
             on_pair: Callable[[ContrastSummary], None] | None = None,
             on_start: Callable[[ContrastSummary], None] | None = None) -> ContrastSummary:
    """Contrast the trajectories in `run_paths` and append constraints to `out`."""
    runs = [read_trajectories(p) for p in run_paths]  # every line checked: file:line errors
    pairs, skipped = make_pairs(runs, policy=policy, strong=strong or summarizer.name)
    summary = ContrastSummary(pairs=len(pairs), skipped=dict(skipped))
    if on_start:
        on_start(summary)
    template = prompts.load("contrast")
    jobs = [(p.task_id, p.benchmark, p.pos, p.neg, template.render(
        problem=task_text(p.pos), preferred=attempt_text(p.pos), unpreferred=attempt_text(p.neg), k=k))
        for p in pairs]
    _summarize(jobs, summarizer, template, out, k, summary, on_pair)
    return summary


def summarize_successes(run_path: Path, summarizer: Model, out: Path, *, k: int = 3,
                        on_pair: Callable[[ContrastSummary], None] | None = None,
                        on_start: Callable[[ContrastSummary], None] | None = None) -> ContrastSummary:
    """The naive baseline: constraints from one model's correct trajectories, no contrast."""
    records = [r for r in read_trajectories(run_path) if r["correct"]]
    summary = ContrastSummary(pairs=len(records))
    if on_start:
        on_start(summary)
    template = prompts.load("summarize_success")
    jobs = [(r["task_id"], r["benchmark"], r, None, template.render(
        problem=task_text(r), preferred=attempt_text(r), k=k)) for r in records]
    _summarize(jobs, summarizer, template, out, k, summary, on_pair)
    return summary


def _summarize(jobs, summarizer: Model, template, out: Path, k: int, summary: ContrastSummary,
               on_pair) -> None:
    out, log = Path(out), log_path(Path(out))
    done = _done_pairs(log)
    rejected: Counter = Counter(summary.rejected)
    for task_id, benchmark, pos, neg, prompt_text in jobs:
        key = (task_id, pos["id"], neg["id"] if neg else "", summarizer.name, template.hash)
        if key in done:
            summary.resumed += 1
            if on_pair:
                on_pair(summary)
            continue
        reply = summarizer.complete(Request(
            messages=[{"role": "user", "content": prompt_text}], max_tokens=SUMMARY_TOKENS,
            temperature=0.0, seed=42, json_schema=constraint_schema(k))).text
        proposals = _parse(reply)
        if not proposals:
            rejected["unparseable reply"] += 1
        provenance = dict(task_id=task_id, benchmark=benchmark, summarizer=summarizer.name, prompt=template.hash,
                          pos={"model": pos["model"]["name"], "record": pos["id"]},
                          neg={"model": neg["model"]["name"], "record": neg["id"]} if neg else
                          {"model": "", "record": ""})
        accepted, rejections = [], []
        for raw in proposals[:k]:
            summary.proposed += 1
            when, enforce, avoid = clean_constraint(*(str(raw.get(f, "")) for f in ("when", "enforce", "avoid")))
            reason = validate_constraint(when, enforce, avoid, task_text(pos), pos.get("answer", ""),
                                         prompt_examples=template.text,
                                         common_words=benchmark_vocabulary(benchmark))
            constraint = Constraint(when=when, enforce=enforce, avoid=avoid, **provenance)
            if not reason and any(c.id == constraint.id for c in accepted):
                reason = "repeats another constraint of the reply"
            if reason:
                rejected[reason.split(" (")[0]] += 1  # by rule; the log keeps the details
                rejections.append({**raw, "reason": reason})
            else:
                accepted.append(constraint)
        for c in accepted:
            append_jsonl(out, c.to_dict())
        # The log line goes last: a pair counts as done only once its constraints are on disk.
        append_jsonl(log, {"task_id": task_id, "benchmark": benchmark, "pos": key[1], "neg": key[2],
                           "problem": task_text(pos), "summarizer": summarizer.name, "prompt": template.hash,
                           "reply": reply, "accepted": [c.id for c in accepted], "rejected": rejections})
        summary.accepted += len(accepted)
        summary.rejected = dict(rejected)
        if on_pair:
            on_pair(summary)


def _parse(reply: str) -> list[dict]:
    try:
        items = json.loads(reply).get("constraints", [])
    except (json.JSONDecodeError, AttributeError):
        return []
    return [i for i in items if isinstance(i, dict)]


def _done_pairs(log: Path) -> set[tuple[str, str, str, str, str]]:
    """Pairs already summarized by this summarizer with this prompt (another prompt redoes them)."""
    if not log.exists():
        return set()
    repair_tail(log)
    return {(r["task_id"], r["pos"], r["neg"], r["summarizer"], r["prompt"]) for _, r in stream_jsonl(log)}
