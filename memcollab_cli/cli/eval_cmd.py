"""`memcollab eval`: one model, no memory against each bank, on the same tasks.

Also home of the options `eval` and `transfer` share (banks, trajectory files, solve settings).
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

from memcollab_cli.cli import common
from memcollab_cli.cli.common import DEFAULT_ROUTING
from memcollab_cli.jsonl import jsonl_stem

EXIT_WORSE = 3  # --fail-if-worse: a bank scored below no memory


# -- shared options ------------------------------------------------------------------------------


def parse_bank(spec: str) -> tuple[str, Path]:
    """`NAME=PATH` or a bare `PATH` (name = the file's stem) -> (name, path)."""
    path = Path(spec).expanduser()
    if "=" in spec and not path.is_file():
        name, _, raw = spec.partition("=")
        name, path = name.strip(), Path(raw.strip()).expanduser()
        if not name:
            raise typer.BadParameter(f"{spec!r} has an empty NAME; write NAME=PATH or just PATH")
    else:
        name = jsonl_stem(path)
    if not path.is_file():
        raise typer.BadParameter(f"{spec!r}: no bank file at {path}")
    return name, path


def parse_banks(specs: list[str] | None) -> dict[str, Path]:
    """Every --bank, in order; a name used twice is an error."""
    banks: dict[str, Path] = {}
    for spec in specs or []:
        name, path = parse_bank(spec)
        if name in banks:
            raise typer.BadParameter(f"bank name {name!r} is given twice; name them NAME=PATH")
        banks[name] = path
    return banks


def _check_banks(specs: list[str] | None) -> list[str] | None:
    parse_banks(specs)
    return specs


Banks = Annotated[list[str] | None, typer.Option(
    "--bank", callback=_check_banks, show_default=False,
    help="Memory bank as NAME=PATH, or PATH (name = file stem). Repeatable; each is a condition.")]
Placebo = Annotated[bool, typer.Option(
    "--placebo", help="Add a control per bank: as many entries drawn at random from it, ignoring "
    "category.")]
Runs = Annotated[list[Path] | None, typer.Argument(
    help="Trajectory files, for --from-runs or --merge.", exists=True, dir_okay=False,
    show_default=False, metavar="FILES")]
FromRuns = Annotated[bool, typer.Option(
    "--from-runs", help="Report from the trajectory FILES given as arguments; run no model.")]
FailIfWorse = Annotated[bool, typer.Option(
    "--fail-if-worse", help=f"Exit with status {EXIT_WORSE} when any bank's accuracy is below no "
    "memory (paired, placebos excluded).")]
Outdir = Annotated[Path, typer.Option(
    "--outdir", "-o", file_okay=False,
    help="Directory of trajectory files, one <model>.jsonl per model (resumes).")]


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


def report_selection(banks: dict[str, Path], placebo: bool, examples=None, noise_floor=False):
    """(conditions, labels) for a report from files: all found, or those of the --bank names
    (with the arms asked for)."""
    if not banks:
        return None, None
    from memcollab_cli.pipeline.evaluate import plan_conditions

    plan = plan_conditions(banks, settings=arm_settings(placebo, examples=examples,
                                                        noise_floor=noise_floor))
    return [c.name for c in plan], {c.name: c.label for c in plan}


def arm_settings(placebo: bool, top_p: int = 3, model_filter: bool = False,
                 routing: str = DEFAULT_ROUTING, labeller: str | None = None, examples=None,
                 noise_floor: bool = False, engine: common.Engine | None = None):
    """The arms every model of `eval`/`transfer` runs, from the command's options."""
    from memcollab_cli.pipeline.arms import ArmSettings

    return ArmSettings(placebo=placebo, top_p=top_p, model_filter=model_filter, routing=routing,
                       labeller=labeller or "", examples=tuple(examples or ()),
                       noise_floor=noise_floor,
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


def fail_if_worse(result) -> None:
    worse = result.worse()
    if worse:
        names = ", ".join(f"{c.model}/{c.label} ({100 * c.vs_none.diff:+.1f} pp)" for c in worse)
        common.err_console().print(
            f"{len(worse)} bank condition(s) scored below no memory: {names}", markup=False)
        raise typer.Exit(code=EXIT_WORSE)


# -- the command ---------------------------------------------------------------------------------


def eval_(
    model: Annotated[str | None, typer.Option(
        "--model", "-m", show_default=False, help="GGUF path, catalog name or server URL; with "
        "--from-runs, the recorded model name to report.")] = None,
    benchmark: Annotated[str | None, typer.Option(
        "--benchmark", "-b", show_default=False,
        help="gsm8k, math500, humaneval, mbpp, mbpp-sanitized, or a tasks .jsonl path.")] = None,
    runs: Runs = None,
    bank: Banks = None,
    placebo: Placebo = False,
    split: common.Split = None,
    limit: common.Limit = None,
    ids: common.Ids = None,
    shard: common.Shard = None,
    outdir: Outdir = Path("runs/eval"),
    from_runs: FromRuns = False,
    merge: Annotated[Path | None, typer.Option(
        "--merge", dir_okay=False, show_default=False,
        help="Merge the trajectory FILES (shards) into this file, then report from it.")] = None,
    fail_if_worse_: FailIfWorse = False,
    top_p: common.TopP = 3,
    model_filter: common.ModelFilter = False,
    routing: common.Routing = DEFAULT_ROUTING,
    labeller: common.Labeller = None,
    examples: common.Examples = None,
    noise_floor: common.NoiseFloor = False,
    max_turns: common.MaxTurns = 3,
    max_tokens: common.MaxTokens = 512,
    temperature: common.Temperature = 0.0,
    seed: common.Seed = 42,
    parallel: common.Parallel = 1,
    n_ctx: common.NCtx = 4096,
    gpu_layers: common.GpuLayers = None,
    chat_format: common.ChatFormat = None,
    threads: common.Threads = None,
    mbpp_dir: common.MbppDir = None,
    json_: common.JsonFlag = False,
) -> None:
    """Measure whether memory banks help a model: no memory vs each bank, on the same tasks.

    Runs the model with no memory and with each --bank (and, with --placebo, a random-memory
    control per bank; with --examples, worked examples instead of constraints; with
    --noise-floor, no memory again on a shifted task order) and reports per condition: accuracy
    with a 95% Wilson interval; the paired difference from no memory over the same tasks, with
    Newcombe's 95% interval, an exact McNemar p-value, the smallest difference n tasks can detect
    and the noise floor; won/lost tasks; routing (tasks that received memory, agreement between
    labellings); mean turns; tokens and model time. Every condition runs its tasks in the same
    order, so two conditions differ only in their prompts.

    All trajectories go to OUTDIR/<model>.jsonl. A rerun reuses what is there, so adding a bank
    computes only the new condition. A large run can be split with --shard i/n on several
    machines and reported together with --merge or --from-runs.

    Exit status: 0 done; 1 error (message on stderr); 2 bad arguments; 3 --fail-if-worse and a
    bank scored below no memory; 130 interrupted (finished records are kept).

    Examples:

    \b
      memcollab eval -m qwen2.5-coder-0.5b -b gsm8k -n 100 \\
          --bank collab=banks/collab-same.jsonl --bank banks/self.jsonl --placebo

    \b
    Shards on two machines, then one report:
      memcollab eval -m M -b gsm8k -n 400 --shard 0/2 --bank b.jsonl -o runs/s0
      memcollab eval -m M -b gsm8k -n 400 --shard 1/2 --bank b.jsonl -o runs/s1
      memcollab eval --merge runs/all.jsonl runs/s0/M.jsonl runs/s1/M.jsonl

    \b
      memcollab eval --from-runs runs/eval/M.jsonl --fail-if-worse --json
    """
    from memcollab_cli.pipeline import report
    from memcollab_cli.pipeline.evaluate import merge_runs, results_from_runs

    check_mode([model] if model else [], benchmark, runs, from_runs, merge is not None)
    banks = parse_banks(bank)
    with common.user_errors():
        if runs:
            files = list(runs)
            if merge is not None:
                count = merge_runs(files, merge)
                common.err_console().print(f"Merged {count} records from {len(files)} file(s) "
                                           f"into {merge}", markup=False)
                files = [merge]
            tasks = (common.load_tasks_from_options(benchmark, split, limit, ids, shard, mbpp_dir)
                     if benchmark else None)
            conditions, labels = report_selection(banks, placebo, examples, noise_floor)
            result = results_from_runs(files, models=[model] if model else None,
                                       conditions=conditions, labels=labels, tasks=tasks)
        else:
            from memcollab_cli.agent import SolveParams

            engine = common.Engine(n_ctx, gpu_layers, chat_format, threads, parallel)
            settings = arm_settings(placebo, top_p, model_filter, routing, labeller, examples,
                                    noise_floor, engine)
            params = SolveParams(temperature=temperature, seed=seed, max_tokens=max_tokens,
                                 max_turns=max_turns, parallel=parallel)
            selection = common.Selection(benchmark, split, limit, tuple(ids or ()), shard, mbpp_dir)
            result = _run(model, selection, banks, outdir, params, engine, settings)
    if json_:
        common.print_json(result.to_dict())
    else:
        console = common.out_console()
        for table in report.eval_tables(result):
            console.print(table)
        if not result.cells:
            common.err_console().print("No trajectories matched the selection.", markup=False)
    if fail_if_worse_:
        fail_if_worse(result)


def _run(model: str, selection: common.Selection, banks: dict, outdir: Path, params,
         engine: common.Engine, settings):
    from memcollab_cli.cli.progress import stage_progress
    from memcollab_cli.pipeline.evaluate import evaluate, plan_conditions

    tasks = selection.load()
    plan = plan_conditions(banks, settings=settings)  # bad banks fail before the model loads
    state, on_condition, on_record = condition_progress()
    with closing(engine.open(model)) as solver, \
            stage_progress(f"{solver.name} · {selection.benchmark}", len(tasks) * len(plan)) as advance:
        state["advance"] = advance
        return evaluate(solver, tasks, outdir, banks, settings=settings, params=params,
                        on_condition=on_condition, on_record=on_record)
