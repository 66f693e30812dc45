"""Evaluation results computed from trajectory files alone: per model and condition, accuracy
and the paired comparison with no memory, read back from what `solve` wrote.

Per condition: n, correct, accuracy with its Wilson 95% interval; against no memory, over the
tasks both conditions ran, the paired difference with Newcombe's interval, the exact McNemar
p-value and the smallest difference those n tasks can detect (see `memcollab_cli.stats`); mean
turns, turns per solved task, and turns against no memory task by task (the paper's second
measure: memory that helps should need fewer feedback turns); token totals and model seconds;
where memory was retrieved, the routing rule and the tasks that received memory, and the paired
difference over those tasks alone (a small bank leaves most tasks with the no-memory prompt,
which only dilutes the difference; who gets memory is fixed by routing before anything is
solved, so the subgroup is chosen blind to the outcome);
the measured noise floor (no memory against no memory under a shifted schedule) where that arm
ran; and the routing agreement between labellings.

Left out: running models (`evaluate`), rendering (`report`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from memcollab_cli.errors import DataError
from memcollab_cli.filelock import hold_lock
from memcollab_cli.jsonl import write_jsonl
from memcollab_cli.records import stream_trajectories
from memcollab_cli.stats import (
    PairedDifference,
    PairedMeans,
    paired_difference,
    paired_means,
    wilson_interval,
)
from memcollab_cli.use.arms import EXAMPLES, NOISE_FLOOR, NONE, PLACEBO
from memcollab_cli.use.routing_stats import agreements, labels_of, routing_facts

FORMAT = "memcollab.eval/1"


# ---------------------------------------------------------------------------------------------
# results


@dataclass
class ConditionResult:
    """One model under one condition, over the tasks found for it."""

    model: str
    condition: str  # as stored in trajectories: none | bank stem | placebo:<bank stem>
    label: str  # what tables show (the NAME of --bank NAME=PATH)
    benchmark: str  # comma-joined when the runs mix benchmarks
    n: int
    correct: int
    ci_low: float
    ci_high: float
    vs_none: PairedDifference | None  # None for "none" itself, or when no-memory runs are absent
    mean_turns: float
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    model_seconds: float
    verdicts: dict[str, int] = field(default_factory=dict)
    routing: dict | None = None  # {routing, labeller, n, with_memory} where memory was retrieved
    # vs_none over the tasks that received memory, where some tasks received none
    with_memory: PairedDifference | None = None
    # a bank against its own placebo, task by task: what the content adds beyond a memory block
    vs_placebo: PairedDifference | None = None
    turns_per_solved: float | None = None  # mean turns over the solved tasks; None: none solved
    turns_vs_none: PairedMeans | None = None  # turns minus no memory's, task by task
    turns_with_memory: PairedMeans | None = None  # the same over the tasks that received memory

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def is_placebo(self) -> bool:
        return self.condition.startswith(PLACEBO)

    def to_dict(self) -> dict:
        return {
            "model": self.model, "condition": self.condition, "label": self.label,
            "benchmark": self.benchmark, "n": self.n, "correct": self.correct,
            "accuracy": round(self.accuracy, 6),
            "ci95": [round(self.ci_low, 6), round(self.ci_high, 6)],
            "vs_none": None if self.vs_none is None else _paired_dict(self.vs_none),
            "routing": self.routing,
            "vs_none_with_memory": None if self.with_memory is None else _paired_dict(self.with_memory),
            "vs_placebo": None if self.vs_placebo is None else _paired_dict(self.vs_placebo),
            "mean_turns": round(self.mean_turns, 3),
            "turns_per_solved": None if self.turns_per_solved is None
            else round(self.turns_per_solved, 3),
            "turns_vs_none": _means_dict(self.turns_vs_none),
            "turns_vs_none_with_memory": _means_dict(self.turns_with_memory),
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens, "completion_tokens": self.completion_tokens,
            "model_seconds": round(self.model_seconds, 2),
            "verdicts": dict(sorted(self.verdicts.items())),
        }


def _paired_dict(d: PairedDifference) -> dict:
    found = d.detectable
    return {"n": d.n, "diff": round(d.diff, 6), "ci95": [round(d.low, 6), round(d.high, 6)],
            "wins": d.wins, "losses": d.losses, "both": d.both, "neither": d.neither,
            "mcnemar_p": round(d.p_value, 6),
            "detectable": None if found is None else round(found, 6)}


def _means_dict(d: PairedMeans | None) -> dict | None:
    if d is None:
        return None
    return {"n": d.n, "diff": round(d.diff, 6), "ci95": [round(d.low, 6), round(d.high, 6)],
            "lower": d.lower, "higher": d.higher, "sign_p": round(d.p_value, 6)}


@dataclass
class EvalResult:
    """Models × conditions. `eval` has one model; `transfer` several."""

    models: list[str]
    conditions: list[str]  # "none" first when present
    cells: dict[tuple[str, str], ConditionResult]
    labels: dict[str, str] = field(default_factory=dict)  # condition -> display name
    agreement: list[dict] = field(default_factory=list)  # routing agreement between labellings
    # per model: tasks whose transcripts differ between no memory and the noise-floor arm (same
    # prompts, another schedule): what batching moves even where the verdict does not flip
    noise_transcripts: dict[str, int] = field(default_factory=dict)

    def cell(self, model: str, condition: str) -> ConditionResult | None:
        return self.cells.get((model, condition))

    def rows(self, model: str) -> list[ConditionResult]:
        return [c for cond in self.conditions if (c := self.cell(model, cond)) is not None]

    def label(self, condition: str) -> str:
        return self.labels.get(condition) or _label(condition, {})

    @property
    def bank_conditions(self) -> list[str]:
        return [c for c in self.conditions if c != NONE]

    def worse(self) -> list[ConditionResult]:
        """Memory cells whose paired accuracy is below no memory (controls excluded)."""
        return [c for c in self.cells.values()
                if not c.is_placebo and c.condition != NOISE_FLOOR and c.vs_none is not None
                and c.vs_none.diff < 0]

    def noise_floor(self, model: str) -> PairedDifference | None:
        """No memory against no memory under a shifted schedule, where that arm ran."""
        cell = self.cell(model, NOISE_FLOOR)
        return None if cell is None else cell.vs_none

    def to_dict(self) -> dict:
        floors = {m: f for m in self.models if (f := self.noise_floor(m)) is not None}
        return {"format": FORMAT, "models": list(self.models),
                "conditions": [{"name": c, "label": self.label(c)} for c in self.conditions],
                "results": [c.to_dict() for m in self.models for c in self.rows(m)],
                "noise_floor": {m: {"n": f.n, "discordant": f.wins + f.losses,
                                    "transcripts_differ": self.noise_transcripts.get(m, 0)}
                                for m, f in floors.items()},
                "routing_agreement": self.agreement}


# ---------------------------------------------------------------------------------------------
# reading trajectory files


def condition_sort_key(condition: str) -> tuple:
    """none, the noise floor, then banks by name (each placebo right after its bank), examples."""
    if condition in (NONE, NOISE_FLOOR):
        return (0, "", int(condition == NOISE_FLOOR))
    if condition == EXAMPLES:
        return (2, "", 0)
    if condition.startswith(PLACEBO):
        return (1, condition[len(PLACEBO):], 1)
    return (1, condition, 0)


def _natural(text: str) -> tuple:
    # "12" after "9": GSM8K and MBPP ids are numbers, and file order should follow the dataset.
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text))


def _record_key(rec: dict) -> tuple[str, str, str, str]:
    """(model, condition, benchmark, task_id) of one checked trajectory record."""
    return rec["model"]["name"], rec["condition"]["name"], rec["benchmark"], rec["task_id"]


def read_runs(paths: Iterable[str | Path]) -> tuple[dict, list[str]]:
    """All trajectories of `paths`: {(model, condition): {(benchmark, task_id): record}} and the
    models in order of first appearance.

    The same record (same id) in two files is kept once, so overlapping shards are harmless. Two
    different records for the same task, model and condition (say, two temperatures) would
    make the comparison ambiguous and are an error.
    """
    runs: dict[tuple[str, str], dict[tuple[str, str], dict]] = {}
    where: dict[tuple, str] = {}
    models: list[str] = []
    for path in map(Path, paths):
        for lineno, rec in stream_trajectories(path):  # every line checked: file:line errors
            model, condition, benchmark, task_id = _record_key(rec)
            if model not in models:
                models.append(model)
            bucket = runs.setdefault((model, condition), {})
            old = bucket.get((benchmark, task_id))
            if old is not None:
                if old["id"] != rec["id"]:
                    raise DataError(
                        f"{path}:{lineno}: a second, different record for task {task_id!r} "
                        f"({benchmark}), model {model!r}, memory {condition!r} (first at "
                        f"{where[(model, condition, benchmark, task_id)]}); the runs used "
                        "different settings, so report them separately")
                continue
            bucket[(benchmark, task_id)] = rec
            where[(model, condition, benchmark, task_id)] = f"{path}:{lineno}"
    return runs, models


def results_from_runs(paths: Iterable[str | Path], *, models: Sequence[str] | None = None,
                      conditions: Sequence[str] | None = None,
                      labels: Mapping[str, str] | None = None,
                      tasks: Iterable | None = None) -> EvalResult:
    """The evaluation table computed from trajectory files alone, no model needed.

    `models` and `conditions` select and order (default: models as they first appear, conditions
    by `condition_sort_key`); `labels` maps a condition to its display name; `tasks` (Task objects
    or (benchmark, id) pairs) restricts every cell to those tasks, so an old run over more tasks
    in the same file does not leak in.
    """
    runs, seen_models = read_runs(paths)
    models = list(models) if models is not None else seen_models
    if conditions is None:
        conditions = sorted({c for _, c in runs}, key=condition_sort_key)
    conditions = list(conditions)
    if NONE in conditions:  # the reference column comes first
        conditions = [NONE] + [c for c in conditions if c != NONE]
    keep = _task_keys(tasks)
    labels = dict(labels or {})
    cells: dict[tuple[str, str], ConditionResult] = {}
    routed: dict[tuple[str, str], dict] = {}
    for model in models:
        base = _select(runs.get((model, NONE), {}), keep)
        for condition in conditions:
            records = _select(runs.get((model, condition), {}), keep)
            if not records:
                continue
            cells[(model, condition)] = _summarize(model, condition, _label(condition, labels),
                                                   records, base if condition != NONE else None)
            if labels_of(records):
                routed[(model, condition)] = labels_of(records)
    for (model, condition), cell in cells.items():
        placebo = cells.get((model, PLACEBO + condition))
        if placebo is not None:
            mine = _select(runs[(model, condition)], keep)
            theirs = _select(runs[(model, placebo.condition)], keep)
            cell.vs_placebo = _paired(mine, theirs, mine.keys() & theirs.keys())
    facts = {k: cells[k].routing for k in routed}
    return EvalResult(models=models, conditions=conditions, cells=cells,
                      labels={c: _label(c, labels) for c in conditions},
                      agreement=agreements(routed, facts),
                      noise_transcripts={m: _differing(runs, m, keep) for m in models
                                         if (m, NOISE_FLOOR) in cells})


def paired_arms(paths: Iterable[str | Path], model: str, arm: str, reference: str,
                tasks: Iterable | None = None) -> PairedDifference:
    """Any two conditions of one model, task by task over the tasks both ran: what `eval`
    reports against no memory, for a pair it does not tabulate (one bank against another)."""
    runs, _ = read_runs(paths)
    keep = _task_keys(tasks)
    mine, theirs = (_select(runs.get((model, c), {}), keep) for c in (arm, reference))
    shared = mine.keys() & theirs.keys()
    if not shared:
        found = sorted(c for m, c in runs if m == model)
        raise DataError(f"no task ran under both {arm!r} and {reference!r} for model {model!r}; "
                        f"its conditions are: {', '.join(found) or 'none'}")
    return _paired(mine, theirs, shared)


def _task_keys(tasks: Iterable | None) -> set | None:
    """(benchmark, id) of Task objects or pairs; None keeps every task."""
    if tasks is None:
        return None
    return {(t.benchmark, t.id) if hasattr(t, "id") else tuple(t) for t in tasks}


def _differing(runs: dict, model: str, keep: set | None) -> int:
    """Tasks whose messages differ between no memory and the noise-floor arm."""
    base = _select(runs.get((model, NONE), {}), keep)
    shifted = _select(runs.get((model, NOISE_FLOOR), {}), keep)
    return sum(base[k].get("messages") != shifted[k].get("messages")
               for k in base.keys() & shifted.keys())


def _select(records: dict, keep: set | None) -> dict:
    return records if keep is None else {k: r for k, r in records.items() if k in keep}


def _label(condition: str, labels: Mapping[str, str]) -> str:
    if condition in labels:
        return labels[condition]
    if condition.startswith(PLACEBO):
        bank = condition[len(PLACEBO):]
        return PLACEBO + labels.get(bank, bank)
    return condition


def _summarize(model: str, condition: str, label: str, records: dict,
               base: dict | None) -> ConditionResult:
    n = len(records)
    correct = sum(bool(r["correct"]) for r in records.values())
    low, high = wilson_interval(correct, n)
    verdicts: dict[str, int] = {}
    for r in records.values():
        verdicts[r.get("verdict", "")] = verdicts.get(r.get("verdict", ""), 0) + 1
    usage = [r.get("usage") or {} for r in records.values()]
    routing = routing_facts(model, records)
    vs_none = with_memory = turns_vs_none = turns_with_memory = None
    if base:
        shared = records.keys() & base.keys()
        vs_none = _paired(records, base, shared)
        turns_vs_none = _paired_turns(records, base, shared)
        got = {k for k in shared if records[k]["condition"].get("memory_ids")}
        if routing and 0 < len(got) < len(shared):
            with_memory = _paired(records, base, got)
            turns_with_memory = _paired_turns(records, base, got)
    solved = [_turns(r) for r in records.values() if r["correct"]]
    return ConditionResult(
        model=model, condition=condition, label=label,
        benchmark=",".join(sorted({b for b, _ in records})), n=n, correct=correct,
        ci_low=low, ci_high=high, vs_none=vs_none,
        mean_turns=sum(map(_turns, records.values())) / n,
        turns_per_solved=sum(solved) / len(solved) if solved else None,
        turns_vs_none=turns_vs_none, turns_with_memory=turns_with_memory,
        prompt_tokens=sum(int(u.get("prompt_tokens", 0)) for u in usage),
        cached_tokens=sum(int(u.get("cached_tokens", 0)) for u in usage),
        completion_tokens=sum(int(u.get("completion_tokens", 0)) for u in usage),
        model_seconds=sum(float(u.get("seconds", 0.0)) for u in usage), verdicts=verdicts,
        routing=routing, with_memory=with_memory)


def _turns(record: dict) -> int:
    return int(record.get("turns", 0))


def _paired_turns(records: dict, base: dict, keys: Iterable) -> PairedMeans:
    """Turns under `records` minus under `base`, task by task over `keys`."""
    keys = sorted(keys)
    return paired_means([_turns(records[k]) for k in keys], [_turns(base[k]) for k in keys])


def _paired(records: dict, base: dict, keys: Iterable) -> PairedDifference:
    """`records` against `base` over `keys`, task by task."""
    table = {(True, True): 0, (True, False): 0, (False, True): 0, (False, False): 0}
    for key in keys:
        table[(bool(records[key]["correct"]), bool(base[key]["correct"]))] += 1
    return paired_difference(both=table[(True, True)], wins=table[(True, False)],
                             losses=table[(False, True)], neither=table[(False, False)])


def merge_runs(paths: Iterable[str | Path], out: str | Path) -> int:
    """Write the union of trajectory files to `out` (atomically); returns the record count.

    Records are de-duplicated by id and ordered by (model, condition, benchmark, task id), so
    the same shards merge to the same bytes whatever order they are given in. `out` may be one of
    the inputs. It is written under the lock every run holds on its transcript: replacing a file
    that a run is still appending to would drop what the run writes meanwhile, so that is refused.
    """
    busy = (f"{out}: a memcollab run is writing this file (lock {Path(out).name}.lock is held); "
            "merge after it finishes, or into another file")
    with hold_lock(out, busy=busy):
        runs, _ = read_runs(paths)
        records = []
        for model, condition in sorted(runs, key=lambda mc: (mc[0], condition_sort_key(mc[1]))):
            bucket = runs[(model, condition)]
            for key in sorted(bucket, key=lambda bt: (bt[0], _natural(bt[1]))):
                records.append(bucket[key])
        write_jsonl(out, records)
    return len(records)
