"""`evaluate`: one model, the same tasks, no memory versus each bank, compared task by task.

Every condition's trajectories go into ONE file per model, `<outdir>/<model>.jsonl`; `solve`
resumes by (task, model, condition), so adding a bank to a finished evaluation runs only that
bank. The numbers are always recomputed from the trajectory files (`results_from_runs`), so a
report from shards merged on another machine is the same computation as a report after a run.

Per condition: n, correct, accuracy with its Wilson 95% interval; against no memory, over the
tasks both conditions ran, the paired difference with Newcombe's interval and the exact McNemar
p-value (see `memcollab_cli.stats`); mean turns; token totals and model seconds.

Left out: running models (that is `solve`), rendering (`report`), the model × bank loop
(`transfer`). A condition is keyed by the bank file's stem, as `solve` names it; the NAME in
NAME=PATH is only a display label.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from memcollab_cli.errors import DataError, MemcollabError
from memcollab_cli.jsonl import jsonl_stem, repair_tail, sha256_file, stream_jsonl, write_jsonl
from memcollab_cli.records import stream_trajectories
from memcollab_cli.stats import PairedDifference, paired_difference, wilson_interval

FORMAT = "memcollab.eval/1"
NONE = "none"
PLACEBO = "placebo:"


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
            "accuracy": round(self.accuracy, 4),
            "ci95": [round(self.ci_low, 4), round(self.ci_high, 4)],
            "vs_none": None if self.vs_none is None else {
                "n": self.vs_none.n, "diff": round(self.vs_none.diff, 4),
                "ci95": [round(self.vs_none.low, 4), round(self.vs_none.high, 4)],
                "wins": self.vs_none.wins, "losses": self.vs_none.losses,
                "both": self.vs_none.both, "neither": self.vs_none.neither,
                "mcnemar_p": round(self.vs_none.p_value, 6)},
            "mean_turns": round(self.mean_turns, 3), "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens, "completion_tokens": self.completion_tokens,
            "model_seconds": round(self.model_seconds, 2),
            "verdicts": dict(sorted(self.verdicts.items())),
        }


@dataclass
class EvalResult:
    """Models × conditions. `eval` has one model; `transfer` several."""

    models: list[str]
    conditions: list[str]  # "none" first when present
    cells: dict[tuple[str, str], ConditionResult]
    labels: dict[str, str] = field(default_factory=dict)  # condition -> display name

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
        """Bank cells whose paired accuracy is below no memory (placebos are controls: excluded)."""
        return [c for c in self.cells.values()
                if not c.is_placebo and c.vs_none is not None and c.vs_none.diff < 0]

    def to_dict(self) -> dict:
        return {"format": FORMAT, "models": list(self.models),
                "conditions": [{"name": c, "label": self.label(c)} for c in self.conditions],
                "results": [c.to_dict() for m in self.models for c in self.rows(m)]}


# ---------------------------------------------------------------------------------------------
# reading trajectory files


def condition_sort_key(condition: str) -> tuple:
    """none first, then banks by name, each placebo right after its bank."""
    if condition == NONE:
        return (0, "", 0)
    if condition.startswith(PLACEBO):
        return (1, condition[len(PLACEBO):], 1)
    return (1, condition, 0)


def _natural(text: str) -> tuple:
    # "12" after "9": GSM8K and MBPP ids are numbers, and file order should follow the dataset.
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text))


def _record_key(path: Path, lineno: int, rec: dict) -> tuple[str, str, str, str]:
    """(model, condition, benchmark, task_id) of one trajectory line, or a DataError naming it."""
    try:
        model, condition = rec["model"]["name"], rec["condition"]["name"]
        benchmark, task_id = rec["benchmark"], rec["task_id"]
        _ = rec["correct"]
    except (KeyError, TypeError):
        raise DataError(f"{path}:{lineno}: not a trajectory record (needs task_id, benchmark, "
                        "model.name, condition.name and correct); pass files written by "
                        "`memcollab solve`, `eval` or `transfer`") from None
    return str(model), str(condition), str(benchmark), str(task_id)


def _record_id(rec: dict) -> str:
    if rec.get("id"):
        return rec["id"]
    from memcollab_cli.records import Trajectory

    return Trajectory.from_dict(rec).id


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
        for lineno, rec in stream_jsonl(path):
            model, condition, benchmark, task_id = _record_key(path, lineno, rec)
            if model not in models:
                models.append(model)
            bucket = runs.setdefault((model, condition), {})
            old = bucket.get((benchmark, task_id))
            if old is not None:
                if _record_id(old) != _record_id(rec):
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
    keep = None
    if tasks is not None:
        keep = {(t.benchmark, t.id) if hasattr(t, "id") else tuple(t) for t in tasks}
    labels = dict(labels or {})
    cells: dict[tuple[str, str], ConditionResult] = {}
    for model in models:
        base = _select(runs.get((model, NONE), {}), keep)
        for condition in conditions:
            records = _select(runs.get((model, condition), {}), keep)
            if not records:
                continue
            cells[(model, condition)] = _summarize(model, condition, _label(condition, labels),
                                                   records, base if condition != NONE else None)
    return EvalResult(models=models, conditions=conditions, cells=cells,
                      labels={c: _label(c, labels) for c in conditions})


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
    vs_none = None
    if base:
        shared = records.keys() & base.keys()
        table = {(True, True): 0, (True, False): 0, (False, True): 0, (False, False): 0}
        for key in shared:
            table[(bool(records[key]["correct"]), bool(base[key]["correct"]))] += 1
        vs_none = paired_difference(both=table[(True, True)], wins=table[(True, False)],
                                    losses=table[(False, True)], neither=table[(False, False)])
    return ConditionResult(
        model=model, condition=condition, label=label,
        benchmark=",".join(sorted({b for b, _ in records})), n=n, correct=correct,
        ci_low=low, ci_high=high, vs_none=vs_none,
        mean_turns=sum(int(r.get("turns", 0)) for r in records.values()) / n,
        prompt_tokens=sum(int(u.get("prompt_tokens", 0)) for u in usage),
        cached_tokens=sum(int(u.get("cached_tokens", 0)) for u in usage),
        completion_tokens=sum(int(u.get("completion_tokens", 0)) for u in usage),
        model_seconds=sum(float(u.get("seconds", 0.0)) for u in usage), verdicts=verdicts)


def merge_runs(paths: Iterable[str | Path], out: str | Path) -> int:
    """Write the union of trajectory files to `out` (atomically); returns the record count.

    Records are de-duplicated by id and ordered by (model, condition, benchmark, task id), so
    the same shards merge to the same bytes whatever order they are given in. `out` may be one of
    the inputs.
    """
    runs, _ = read_runs(paths)
    records = []
    for model, condition in sorted(runs, key=lambda mc: (mc[0], condition_sort_key(mc[1]))):
        bucket = runs[(model, condition)]
        for key in sorted(bucket, key=lambda bt: (bt[0], _natural(bt[1]))):
            records.append(bucket[key])
    write_jsonl(out, records)
    return len(records)


# ---------------------------------------------------------------------------------------------
# running


def run_path(outdir: str | Path, model_name: str) -> Path:
    """`<outdir>/<model>.jsonl`, the model name made safe as a file name."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model_name).strip("._") or "model"
    return Path(outdir) / f"{safe}.jsonl"


@dataclass(frozen=True)
class Condition:
    """One column of the evaluation: the trajectory key, the bank (None: no memory), placebo."""

    name: str
    label: str
    bank: Path | None = None
    placebo: bool = False


def plan_conditions(banks: Mapping[str, str | Path] | None, placebo: bool) -> list[Condition]:
    """none, then each bank (followed by its placebo when asked), in the order given."""
    plan = [Condition(NONE, NONE)]
    stems: dict[str, Path] = {}
    for label, path in (banks or {}).items():
        path = Path(path)
        stem = jsonl_stem(path)
        if stem == NONE:
            raise MemcollabError(f"bank {path}: the name 'none' is taken by the no-memory "
                                 "condition; rename the file")
        if stem in stems and stems[stem].resolve() != path.resolve():
            raise MemcollabError(f"banks {stems[stem]} and {path} share the file name {stem!r}, "
                                 "which keys their trajectories; rename one of them")
        if stem in stems:
            continue
        stems[stem] = path
        plan.append(Condition(stem, label, path))
        if placebo:
            plan.append(Condition(PLACEBO + stem, PLACEBO + label, path, placebo=True))
    return plan


def _check_bank_versions(out: Path, model_name: str, plan: list[Condition]) -> None:
    """Refuse to mix results from an edited bank with results from the bank as it is now."""
    if not out.exists():
        return
    repair_tail(out)  # a run killed mid-line leaves half a record; solve would drop it too
    current = {c.name: sha256_file(c.bank)[:12] for c in plan if c.bank is not None}
    for lineno, rec in stream_trajectories(out, hint="this --outdir holds other records; use another"):
        name, sha = rec["condition"]["name"], rec["condition"].get("bank_sha256")
        if rec["model"]["name"] != model_name or name not in current or not sha:
            continue
        if sha != current[name]:
            raise DataError(
                f"{out}:{lineno}: earlier {name!r} results came from a different version of that "
                f"bank (sha256 {sha}, now {current[name]}); use another --outdir, or delete that "
                f"condition's lines from {out} to rerun it")


def evaluate(model, tasks: list, outdir: str | Path,
             banks: Mapping[str, str | Path] | None = None, *, placebo: bool = False,
             params=None, top_p: int = 3, model_filter: bool = False,
             on_condition: Callable | None = None, on_record: Callable | None = None) -> EvalResult:
    """Solve `tasks` with `model` under no memory and each bank; return the comparison.

    `banks` maps a display name to a bank file. With `placebo`, each bank also gets a control
    condition: as many entries as real retrieval would give, drawn at random from that bank
    ignoring category. Trajectories go to `run_path(outdir, model.name)`; what is already there
    for a (task, condition) is reused. `on_condition(summary)` is called as each condition starts
    (summary.skipped = tasks reused), `on_record(trajectory, summary)` after each new one.
    """
    from memcollab_cli.agent import SolveParams
    from memcollab_cli.pipeline.solve import solve

    params = params or SolveParams()
    plan = plan_conditions(banks, placebo)
    out = run_path(outdir, model.name)
    _check_bank_versions(out, model.name, plan)
    for cond in plan:
        solve(model, tasks, out, params=params, bank=cond.bank, top_p=top_p,
              model_filter=model_filter, placebo=cond.placebo, on_record=on_record,
              on_start=on_condition)
    return results_from_runs([out], models=[model.name], conditions=[c.name for c in plan],
                             labels={c.name: c.label for c in plan}, tasks=tasks)
