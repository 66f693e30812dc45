"""`evaluate`: one model, the same tasks, no memory versus each bank, compared task by task.

Every condition's trajectories go into ONE file per model, `<outdir>/<model>.jsonl`; `solve`
resumes by (task, model, condition), so adding a bank to a finished evaluation runs only that
bank. The numbers are always recomputed from the trajectory files (`results_from_runs`), so a
report from shards merged on another machine is the same computation as a report after a run.

What is computed is in `results` (re-exported here); the arms (no memory, banks, placebos, the
noise floor, worked examples) are `arms.Arm`s.

Left out: running models (that is `solve`), rendering (`report`), the model × bank loop
(`transfer`). A condition is keyed by the bank file's stem, as `solve` names it; the NAME in
NAME=PATH is only a display label.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from memcollab_cli.errors import DataError, MemcollabError
from memcollab_cli.jsonl import jsonl_stem, repair_tail
from memcollab_cli.records import stream_trajectories
from memcollab_cli.use.arms import (
    EXAMPLES,
    NOISE_FLOOR,
    NONE,
    SHIFTED,
    Arm,
    ArmSettings,
    bank_sha256,
)
from memcollab_cli.use.results import (  # noqa: F401  (re-exported: the public names)
    FORMAT,
    PLACEBO,
    ConditionResult,
    EvalResult,
    condition_sort_key,
    merge_runs,
    paired_arms,
    read_runs,
    results_from_runs,
)

# ---------------------------------------------------------------------------------------------
# running


def run_path(outdir: str | Path, model_name: str) -> Path:
    """`<outdir>/<model>.jsonl`, the model name made safe as a file name.

    Where only `<model>.jsonl.gz` exists (shipped runs are compressed), that file: it is read
    and resumed in place, so a compressed run directory works as `--runs-dir` or an eval outdir.
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model_name).strip("._") or "model"
    plain = Path(outdir) / f"{safe}.jsonl"
    packed = plain.with_name(plain.name + ".gz")
    return packed if packed.exists() and not plain.exists() else plain


@dataclass(frozen=True)
class Condition:
    """One column of the evaluation: the trajectory key, its display label and what it runs."""

    name: str
    label: str
    arm: Arm = Arm()

    @property
    def bank(self) -> Path | None:
        return self.arm.bank


def plan_conditions(banks: Mapping[str, str | Path] | None, placebo: bool = False,
                    settings: ArmSettings | None = None) -> list[Condition]:
    """none, the noise floor, each bank (followed by its placebo), the worked examples; the
    last three when asked, banks in the order given. `settings.placebo` or `placebo` adds the
    placebos."""
    settings = settings or ArmSettings(placebo=placebo)
    placebo = placebo or settings.placebo
    plan = [Condition(NONE, NONE, settings.arm())]
    if settings.noise_floor:
        plan.append(Condition(NOISE_FLOOR, NOISE_FLOOR, settings.arm(schedule=SHIFTED)))
    stand_in = NONE if settings.reuse else ""  # bank tasks without memory reuse no memory's
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
        arm = settings.arm(bank=path, stand_in=stand_in)
        if arm.condition != stem and label == stem:  # a direct rule's arm: "stem@rule"
            label = arm.condition
        plan.append(Condition(arm.condition, label, arm))
        if placebo:
            arm = settings.arm(bank=path, placebo=True, stand_in=stand_in)
            plan.append(Condition(arm.condition, PLACEBO + label, arm))
    if settings.examples:
        plan.append(Condition(EXAMPLES, EXAMPLES, settings.arm(examples=tuple(settings.examples))))
    return plan


def _check_bank_versions(out: Path, model_name: str, plan: list[Condition]) -> None:
    """Refuse to mix results from an edited bank with results from the bank as it is now."""
    if not out.exists():
        return
    repair_tail(out)  # a run killed mid-line leaves half a record; solve would drop it too
    current = {c.name: bank_sha256(c.bank) for c in plan if c.bank is not None}
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
             banks: Mapping[str, str | Path] | None = None, *, settings: ArmSettings | None = None,
             params=None, on_condition: Callable | None = None, on_record: Callable | None = None,
             **options) -> EvalResult:
    """Solve `tasks` with `model` under no memory and each bank; return the comparison.

    `banks` maps a display name to a bank file; `settings` (or its fields as keywords, e.g.
    `placebo=True`) adds controls and sets routing: with `placebo`, each bank also gets a
    control condition, as many entries as real retrieval would give drawn at random from that
    bank ignoring category; `noise_floor` and `examples` add those arms (see `arms`).
    Trajectories go to `run_path(outdir, model.name)`; what is already there for a (task,
    condition) is reused. `on_condition(summary)` is called as each condition starts
    (summary.skipped = tasks reused), `on_record(trajectory, summary)` after each new one.
    """
    from memcollab_cli.agent import SolveParams
    from memcollab_cli.use.solve import solve

    params = params or SolveParams()
    plan = plan_conditions(banks, settings=settings or ArmSettings(**options))
    out = run_path(outdir, model.name)
    _check_bank_versions(out, model.name, plan)
    for cond in plan:
        solve(model, tasks, out, params=params, arm=cond.arm, on_record=on_record,
              on_start=on_condition)
    return results_from_runs([out], models=[model.name], conditions=[c.name for c in plan],
                             labels={c.name: c.label for c in plan}, tasks=tasks)
