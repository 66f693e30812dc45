"""What `eval` and `transfer` share: the mode check, the arms, reports from files, progress per
condition, --plot and --fail-if-worse."""

from __future__ import annotations

from pathlib import Path

import typer

from memcollab_cli.cli import common
from memcollab_cli.cli.common import DEFAULT_ROUTING


def check_mode(run_specs: list[str], benchmark: str | None, runs: list[Path] | None,
               from_runs: bool, merging: bool, model_flag: str = "--model") -> None:
    """Either run a model (needs --model and --benchmark) or report from files, not both."""
    if from_runs or merging:
        if not runs:
            raise typer.BadParameter("give the trajectory files to read as arguments",
                                     param_hint="'--from-runs'" if from_runs else "'--merge'")
        return
    if runs:
        raise typer.BadParameter(f"files {', '.join(map(str, runs))} given without --from-runs "
                                 "or --merge", param_hint="'FILES'")
    if not run_specs:
        raise typer.BadParameter("required unless reporting --from-runs",
                                 param_hint=f"'{model_flag}'")
    if not benchmark:
        raise typer.BadParameter("required when running a model", param_hint="'--benchmark'")


def report_selection(banks: dict[str, Path], placebo: bool, examples=None, noise_floor=False,
                     routing: str = DEFAULT_ROUTING):
    """(conditions, labels) for a report from files: all found, or those of the --bank names
    (with the arms asked for)."""
    if not banks:
        return None, None
    from memcollab_cli.use.evaluate import plan_conditions

    plan = plan_conditions(banks, settings=arm_settings(placebo, examples=examples,
                                                        noise_floor=noise_floor, routing=routing))
    return [c.name for c in plan], {c.name: c.label for c in plan}


def results_from_files(files: list[Path], models: list[str] | None, banks: dict[str, Path],
                       selection: common.Selection, placebo: bool, examples=None,
                       noise_floor: bool = False, routing: str = DEFAULT_ROUTING):
    """The report from trajectory files: the --bank conditions (all when none are named), on the
    selected tasks when a --benchmark is given."""
    from memcollab_cli.use.evaluate import results_from_runs

    if not selection.benchmark and (selection.limit or selection.ids or selection.shard):
        # without it the selection would be ignored and the report mix task sets silently
        raise typer.BadParameter("-n, --ids and --shard select tasks of a benchmark: add "
                                 "-b BENCHMARK (and --split)", param_hint="'--benchmark'")
    tasks = selection.load() if selection.benchmark else None
    conditions, labels = report_selection(banks, placebo, examples, noise_floor, routing)
    return results_from_runs(files, models=models, conditions=conditions, labels=labels,
                             tasks=tasks)


def arm_settings(placebo: bool, top_p: int = 3, model_filter: bool = False,
                 routing: str = DEFAULT_ROUTING, labeller: str | None = None, examples=None,
                 noise_floor: bool = False, engine: common.Engine | None = None,
                 reuse: bool = True, gold: Path | None = None, threshold: float | None = None):
    """The arms every model of `eval`/`transfer` runs, from the command's options."""
    from memcollab_cli.use.arms import ArmSettings

    return ArmSettings(placebo=placebo, top_p=top_p, model_filter=model_filter, routing=routing,
                       labeller=labeller or "", gold=gold, threshold=threshold,
                       examples=tuple(examples or ()),
                       noise_floor=noise_floor, reuse=reuse,
                       open_model=engine.open_labeller if engine is not None else None)


def condition_progress():
    """(on_condition, on_record) hooks driving an `advance` function set later by the caller."""
    state: dict = {"advance": None}

    def on_condition(summary) -> None:
        if state["advance"]:
            state["advance"](f"{summary.condition}", n=summary.skipped)

    def on_record(trajectory, summary) -> None:
        if state["advance"]:
            state["advance"](f"{summary.condition}: acc {summary.correct}/{summary.graded}")

    return state, on_condition, on_record


def write_plot(result, path: Path) -> None:
    """`--plot FILE.png`: the forest plot, and where it went (on stderr)."""
    from memcollab_cli.use.report import forest_png

    forest_png(result, path)
    common.err_console().print(f"Wrote forest plot to {path}", markup=False)


def fail_if_worse(result) -> None:
    worse = result.worse()
    if worse:
        names = ", ".join(f"{c.model}/{c.label} ({100 * c.vs_none.diff:+.1f} pp)" for c in worse)
        common.err_console().print(
            f"{len(worse)} bank condition(s) scored below no memory: {names}", markup=False)
        raise typer.Exit(code=common.EXIT_WORSE)
