"""`bank refine`: keep only the entries that help, judged on training tasks (beyond the paper).

Each entry is tried on its source task(s) and on the training tasks most like it: those the
bank's labeller put in the entry's category (the classification cache `categories.jsonl`
written by `distill`), same subcategory first, then by TF-IDF similarity of the task to the
entry's `when`, then dataset order. Every chosen task is solved once without memory (shared by
all entries) and once with the entry alone in the prompt, greedily with a fixed seed. A task the
entry turns from wrong to right is won, right to wrong lost; entries whose net (won − lost)
reaches `min_net` are kept, and every entry written carries its `evidence`.

`against="placebo"` compares with a content-free constraint in the entry's place instead of no
memory (one solve per category, subcategory and task): on CPU, qwen2.5-coder-0.5b flipped as
many GSM8K train tasks for a hand-written "enforce writing the answer neatly" entry as for the
distilled ones, so beating no memory alone does not show that what an entry says helps. At 4
tasks per entry the decision is also within batch noise: the same run at `--parallel 4` instead of
1 changed 5 of 24 verdicts and 3 of 4 keep/drop decisions. Use many more tasks per entry (a one-sided sign
test needs 5 wins and no loss for p < 0.05) before reading `evidence` as a measurement.

Only training tasks may shape a bank: a test split is refused, and a source task whose problem
text differs from the training task of that id (the bank was built from another split) is an
error, not a silent substitution.

Work files beside the output (`REFINED.work/`): `baseline.jsonl` and `trials.jsonl` hold every
trajectory, appended one at a time, so a rerun solves only what is missing; `evidence.jsonl`
lists every entry, kept or dropped, with the tasks it was tried on.

The bank's own cache labels only the tasks that gave constraints (a dozen in a bank of a dozen
entries), so most entries would meet one or two tasks of their category. `label_pool` has the
bank's labeller label the first training tasks as well (cached in `REFINED.work/labels.jsonl`,
one model call per task, once), and `RefineSummary.short` counts the entries still tried on
fewer tasks than asked.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from memcollab_cli import prompts
from memcollab_cli.agent import Episode, SolveParams, run_episodes
from memcollab_cli.agent.episode import solve_prompt_hash
from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import append_jsonl, read_jsonl, repair_tail, sha256_text, stream_jsonl, write_jsonl
from memcollab_cli.memory import MemoryEntry, read_bank, render_memory_block, write_bank
from memcollab_cli.memory.bank import sort_key
from memcollab_cli.memory.retrieval import tokenize
from memcollab_cli.records import Trajectory, stream_trajectories
from memcollab_cli.runtime.base import Model, runtime_facts
from memcollab_cli.tasks import Task, load_tasks
from memcollab_cli.use.routing import BankSources, route_tasks, work_dir

TRIAL = "entry"
AGAINST = ("none", "placebo")
RESUME_HINT = "this work file of -o holds other records; write to a new -o"
# The placebo baseline: a constraint with no reasoning in it, injected where the entry would be.
# Beating it separates what an entry says from the effect of any memory block in the prompt.
PLACEBO = ("solving this problem", "writing the final answer neatly", "writing it untidily")


@dataclass
class RefineSummary:
    bank: str
    out: str
    workdir: str
    model: str
    benchmark: str
    split: str
    tasks_per_entry: int = 4
    min_net: int = 1
    against: str = "none"  # what each entry must beat: no memory, or the placebo constraint
    entries: int = 0
    kept: int = 0
    dropped: int = 0
    untested: int = 0  # entries with no training task to try (dropped unless min_net <= 0)
    short: int = 0  # entries tried on fewer than tasks_per_entry tasks (too few labelled)
    baseline_solves: int = 0  # solves of the baseline (without memory: one per distinct task)
    trial_solves: int = 0  # (entry, task) solves with the entry
    solved_now: int = 0  # of those, run in this invocation (the rest came from the work files)
    model_calls: int = 0  # turns over every solve the decision rests on, resumed ones included
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    model_seconds: float = 0.0
    wall_seconds: float = 0.0
    decisions: list = field(default_factory=list)

    def count(self, t: Trajectory) -> None:
        self.model_calls += t.turns
        t.usage.add_to(self)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(model_seconds=round(self.model_seconds, 2), wall_seconds=round(self.wall_seconds, 2))
        return d


def workdir_for(out: Path) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".work")


def default_categories(bank: Path) -> list[Path]:
    """The classification cache `distill` wrote beside the bank, if there is one."""
    own = work_dir(bank) / "categories.jsonl"
    return [own] if own.exists() else []


def label_pool(bank: Path, model: Model, out: Path, *, benchmark: str, split: str | None, size: int,
               labeller: str = "", mbpp_dir: Path | None = None,
               on_label: Callable[[int], None] | None = None) -> tuple[dict, str]:
    """Label the first `size` training tasks with the bank's labeller (or `labeller`), so that
    every category has tasks to try its entries on. Returns ({(benchmark, task id): label}, who
    labelled) for `refine`'s `pool_labels`. The labels are cached in the work files
    (`labels.jsonl`, keyed by labeller); `model` is reused when it is the labeller, any other is
    loaded for the labelling alone."""
    split = check_training_split(benchmark, split)
    tasks = load_tasks(benchmark, split=split, limit=size, mbpp_dir=mbpp_dir)
    got, who = route_tasks("labeller", model, tasks, BankSources.of_bank(Path(bank), read_bank(bank)),
                           labeller=labeller, cache=workdir_for(out) / "labels.jsonl", where=str(bank),
                           on_label=on_label)
    return {(t.benchmark, t.id): got[t.id] for t in tasks}, who


def check_training_split(benchmark: str, split: str | None) -> str:
    """The split to refine on; a test split (or a tasks file, which is one test split) is refused."""
    if str(benchmark).endswith(".jsonl"):
        raise DataError(f"{benchmark}: a tasks file counts as a test split, and test tasks must "
                        "never shape a bank; refine on a benchmark's train split (e.g. -b gsm8k --split train)")
    if not split or split == "test":
        raise DataError(f"refine tries entries on training tasks only: --split {split or 'test'} would "
                        "let test tasks shape the bank; use --split train")
    return split


def read_labels(paths: Iterable[Path]) -> dict[tuple[str, str], tuple[str, str]]:
    """(benchmark, task_id) -> (category, subcategory) from classification caches; first file wins."""
    labels: dict[tuple[str, str], tuple[str, str]] = {}
    for path in paths:
        for lineno, r in stream_jsonl(path):
            try:
                labels.setdefault((r["benchmark"], str(r["task_id"])), (r["category"], r["subcategory"]))
            except KeyError as e:
                raise DataError(f"{path}:{lineno}: missing {e.args[0]!r}; a classification cache "
                                "line needs benchmark, task_id, category and subcategory") from None
    return labels


def choose_tasks(entry: MemoryEntry, tasks: list[Task], labels: dict, n: int) -> list[Task]:
    """The entry's source tasks, then the labelled tasks of its category most like its `when`."""
    benchmark = tasks[0].benchmark if tasks else ""
    source_ids = {s["task_id"] for s in entry.sources if s["benchmark"] == benchmark}
    chosen = [t for t in tasks if t.id in source_ids][:n]  # dataset order
    pool = [t for t in tasks if labels.get((benchmark, t.id), ("",))[0] == entry.category
            and t.id not in source_ids]
    scores = _similarity(entry.when, [t.question for t in pool])
    ranked = sorted(range(len(pool)), key=lambda k: (
        labels[(benchmark, pool[k].id)][1] != entry.subcategory, -round(scores[k], 12)))
    return chosen + [pool[k] for k in ranked][: max(0, n - len(chosen))]


def _similarity(query: str, docs: list[str]) -> list[float]:
    """TF-IDF cosine of `query` against each doc (smoothed idf over the docs, as in retrieval)."""
    counts = [Counter(tokenize(d)) for d in docs]
    df = Counter(term for c in counts for term in c)
    idf = {term: math.log((1 + len(docs)) / (1 + k)) + 1.0 for term, k in df.items()}

    def unit(c: Counter) -> dict[str, float]:
        w = {term: n * idf[term] for term, n in c.items() if term in idf}
        norm = math.sqrt(sum(v * v for v in w.values()))
        return {term: v / norm for term, v in w.items()} if norm else {}

    q = unit(Counter(tokenize(query)))
    return [sum(q.get(term, 0.0) * v for term, v in unit(c).items()) for c in counts]


def memory_block(entry: MemoryEntry) -> str:
    """The entry alone, injected exactly as retrieval would inject it at subcategory level."""
    return prompts.load("memory_block").render(kind=f"{entry.category} / {entry.subcategory}",
                                               constraints=render_memory_block([entry]))


def baseline_block(entry: MemoryEntry, against: str) -> str:
    """What a task is solved with for comparison: nothing, or the placebo where the entry would go."""
    if against == "none":
        return ""
    return memory_block(MemoryEntry.create(entry.category, entry.subcategory, *PLACEBO))


def _sha(block: str) -> str:
    return sha256_text(block)[:12] if block else ""


def _check_sources(entries: list[MemoryEntry], tasks: list[Task], bank: Path, split: str) -> None:
    """A source of another split (recorded in the source, or seen in its problem text) is an error:
    ids repeat across splits, so its id would name some other training task."""
    benchmark = tasks[0].benchmark if tasks else ""
    for e in entries:
        for s in e.sources:
            if s["benchmark"] == benchmark and s.get("split", split) != split:
                raise DataError(f"{bank}: entry {e.id} comes from {benchmark} {s['split']} task "
                                f"{s['task_id']}, not {split}; refine a bank on the split it was built from")
    log = bank.with_name(bank.stem + ".work") / "contrast-log.jsonl"
    if not log.exists() or not tasks:
        return
    problems = {(r.get("benchmark"), str(r.get("task_id"))): r.get("problem") for r in read_jsonl(log)}
    by_id = {t.id: t for t in tasks}
    for e in entries:
        for s in e.sources:
            recorded = problems.get((s["benchmark"], s["task_id"]))
            task = by_id.get(s["task_id"]) if s["benchmark"] == tasks[0].benchmark else None
            if recorded and task is not None and recorded.strip() != task.question.strip():
                raise DataError(f"{log}: entry {e.id} comes from {s['benchmark']} task {s['task_id']} of "
                                "another split (its problem differs from the training task of that id); "
                                "refine a bank on the split it was built from")


def _read_done(path: Path, model: str, params: dict) -> dict[tuple, Trajectory]:
    """Finished records by (entry id, block hash, task id); other settings are an error."""
    if not path.exists():
        return {}
    repair_tail(path)
    done = {}
    for lineno, rec in stream_trajectories(path, hint=RESUME_HINT):
        if rec["model"]["name"] != model or rec["params"] != params:
            raise DataError(f"{path}:{lineno}: made with another model or other settings; write to a "
                            "new -o (or rerun with the same model and settings to resume)")
        cond = rec["condition"]
        done[(cond.get("entry", ""), cond.get("block_sha256", ""), rec["task_id"])] = Trajectory.from_dict(rec)
    return done


def refine(bank: Path, model: Model, out: Path, *, benchmark: str, split: str | None,
           tasks_per_entry: int = 4, min_net: int = 1, against: str = "none",
           params: SolveParams = SolveParams(),
           categories: list[Path] | None = None, pool_labels: dict | None = None,
           mbpp_dir: Path | None = None,
           on_record: Callable[[RefineSummary, int], None] | None = None) -> RefineSummary:
    """Try every entry of `bank` on training tasks with `model`; write the entries that help to `out`.

    `categories` are classification caches (default: the bank's own `BANK.work/categories.jsonl`);
    `pool_labels` (`label_pool`) add tasks they do not label.
    `against` is what each entry must beat (`AGAINST`). `on_record(summary, total)` is called
    after each finished solve (progress).
    """
    started = time.perf_counter()
    split = check_training_split(benchmark, split)
    bank, out = Path(bank), Path(out)
    if out.resolve() == bank.resolve():
        raise DataError(f"{out}: refining in place would lose the input bank; write to a new -o")
    if against not in AGAINST:
        raise DataError(f"--against {against!r}: choose one of {', '.join(AGAINST)}")
    if params.temperature != 0.0:
        raise DataError("refine compares with and without each entry: use temperature 0")
    entries = read_bank(bank)
    tasks = load_tasks(benchmark, split=split, mbpp_dir=mbpp_dir)
    _check_sources(entries, tasks, bank, split)
    labels = read_labels(default_categories(bank) if categories is None else categories)
    for key, label in (pool_labels or {}).items():  # the labels the bank was built with win
        labels.setdefault(key, label)
    work = workdir_for(out)
    summary = RefineSummary(bank=str(bank), out=str(out), workdir=str(work), model=model.name,
                            benchmark=tasks[0].benchmark if tasks else benchmark, split=split,
                            tasks_per_entry=tasks_per_entry, min_net=min_net, against=against,
                            entries=len(entries))
    prompt_hash = solve_prompt_hash(tasks[0].domain if tasks else "math")
    record_params = replace(params, temperature=0.0).to_dict(prompt_hash)
    baseline_path, trials_path = work / "baseline.jsonl", work / "trials.jsonl"
    baseline = {k[1:]: t for k, t in _read_done(baseline_path, model.name, record_params).items()}
    trials = _read_done(trials_path, model.name, record_params)

    plan = {e.id: choose_tasks(e, tasks, labels, tasks_per_entry) for e in sorted(entries, key=sort_key)}
    summary.short = sum(len(chosen) < tasks_per_entry for chosen in plan.values())
    blocks = {e.id: memory_block(e) for e in entries}
    block_sha = {i: _sha(b) for i, b in blocks.items()}
    entry_of = {e.id: e for e in entries}
    base_sha = {e.id: _sha(baseline_block(e, against)) for e in entries}
    order = {t.id: i for i, t in enumerate(tasks)}
    # (baseline block hash, task id) -> an entry it serves: one solve per task without memory,
    # one per (category, subcategory, task) with the placebo.
    needed: dict[tuple[str, str], str] = {}
    for i, chosen in plan.items():
        for t in chosen:
            needed.setdefault((base_sha[i], t.id), i)
    needed = dict(sorted(needed.items(), key=lambda kv: (order[kv[0][1]], kv[0][0])))  # dataset order
    model_info = {"name": model.name, "sha256": model.sha256}
    episodes = [_baseline_episode(entry_of[i], tasks[order[task_id]], against, params, model_info)
                for (sha, task_id), i in needed.items() if (sha, task_id) not in baseline]
    for entry_id, chosen in plan.items():
        e = entry_of[entry_id]
        condition = {"name": TRIAL, "entry": e.id, "memory_ids": [e.id], "category": e.category,
                     "subcategory": e.subcategory, "block_sha256": block_sha[e.id]}
        episodes += [Episode(t, params, blocks[e.id], condition, model_info)
                     for t in chosen if (e.id, block_sha[e.id], t.id) not in trials]

    facts = runtime_facts(model) if episodes else {}
    for episode in run_episodes(model, episodes, params.parallel):
        t = episode.finish()
        t.runtime = facts
        if t.condition["name"] != TRIAL:
            append_jsonl(baseline_path, t.to_record())
            baseline[(t.condition.get("block_sha256", ""), t.task_id)] = t
        else:
            append_jsonl(trials_path, t.to_record())
            trials[(t.condition["entry"], t.condition["block_sha256"], t.task_id)] = t
        summary.solved_now += 1
        if on_record:
            on_record(summary, len(episodes))

    base = {e.id: {t.id: baseline[(base_sha[e.id], t.id)] for t in plan[e.id]} for e in entries}
    kept, decisions = _decide(entries, plan, base, trials, block_sha, summary, min_net, prompt_hash)
    for key in needed:
        summary.count(baseline[key])
    summary.baseline_solves = len(needed)
    write_jsonl(work / "evidence.jsonl", decisions)
    write_bank(out, kept)
    summary.decisions = decisions
    summary.wall_seconds = time.perf_counter() - started
    return summary


def _baseline_episode(entry: MemoryEntry, task: Task, against: str, params: SolveParams,
                      model_info: dict) -> Episode:
    block = baseline_block(entry, against)
    condition = {"name": against}
    if block:
        condition.update(category=entry.category, subcategory=entry.subcategory, block_sha256=_sha(block))
    return Episode(task, params, block, condition, model_info)


def _decide(entries, plan, base, trials, block_sha, summary, min_net, prompt_hash):
    kept, decisions = [], []
    for e in sorted(entries, key=sort_key):
        won = lost = 0
        for task in plan[e.id]:
            trial = trials[(e.id, block_sha[e.id], task.id)]
            summary.count(trial)
            summary.trial_solves += 1
            before = base[e.id][task.id].correct
            won += int(trial.correct and not before)
            lost += int(before and not trial.correct)
        evidence = {"benchmark": summary.benchmark, "split": summary.split, "tasks": len(plan[e.id]),
                    "won": won, "lost": lost, "model": summary.model, "prompt": prompt_hash,
                    "baseline": summary.against}
        keep = won - lost >= min_net
        summary.untested += int(not plan[e.id])
        if keep:
            kept.append(replace(e, evidence=evidence))
        decisions.append({"id": e.id, "category": e.category, "subcategory": e.subcategory,
                          "text": e.text(), "task_ids": [t.id for t in plan[e.id]], "won": won,
                          "lost": lost, "net": won - lost, "kept": keep})
    summary.kept, summary.dropped = len(kept), len(entries) - len(kept)
    return kept, decisions
