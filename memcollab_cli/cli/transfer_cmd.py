"""`memcollab transfer`: models × banks in one command, as tables, Markdown or a forest plot."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from memcollab_cli.cli import common
from memcollab_cli.cli.common import DEFAULT_ROUTING
from memcollab_cli.cli.comparison import (
    arm_settings,
    check_mode,
    condition_progress,
    fail_if_worse,
    results_from_files,
    write_plot,
)


def transfer(
    model: Annotated[list[str] | None, typer.Option(
        "--model", "-m", show_default=False, help="GGUF path, catalog name or server URL; "
        "repeatable, one row each. With --from-runs, recorded model names to report.")] = None,
    benchmark: Annotated[str | None, typer.Option(
        "--benchmark", "-b", show_default=False,
        help="gsm8k, math500, humaneval, mbpp, mbpp-sanitized, or a tasks .jsonl path.")] = None,
    runs: common.Runs = None,
    bank: common.Banks = None,
    placebo: common.Placebo = False,
    split: common.Split = None,
    limit: common.Limit = None,
    ids: common.Ids = None,
    shard: common.Shard = None,
    outdir: common.Outdir = Path("runs/transfer"),
    from_runs: common.FromRuns = False,
    markdown: Annotated[bool, typer.Option(
        "--markdown", help="Print a GitHub Markdown table (for READMEs and papers).")] = False,
    plot: common.Plot = None,
    fail_if_worse_: common.FailIfWorse = False,
    top_p: common.TopP = 3,
    model_filter: common.ModelFilter = False,
    routing: common.Routing = DEFAULT_ROUTING,
    labeller: common.Labeller = None,
    gold: common.Gold = None,
    threshold: common.Threshold = None,
    examples: common.Examples = None,
    noise_floor: common.NoiseFloor = False,
    reuse: common.Reuse = True,
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
    """Does memory transfer between models? Every model × (no memory + every bank).

    Each model is loaded in turn, solves the tasks with no memory and with each bank, and is
    closed before the next. The result is the shape of the paper's Tables 1 and 2: one row per
    model, one column per bank, each cell the accuracy and its paired difference from no memory
    (percentage points) with an exact McNemar p-value, its interval, the smallest difference
    n tasks can detect and the noise floor (--noise-floor); then how often the models' routing
    labels agree on the same tasks and how many tasks received memory.

    Trajectories go to OUTDIR/<model>.jsonl and are reused on a rerun. With --shard i/n the
    tasks are split across machines; report the shards together with --from-runs (records
    found in several files are counted once).

    Exit status: 0 done; 1 error (message on stderr); 2 bad arguments; 3 --fail-if-worse and a
    bank scored below no memory for some model; 130 interrupted (finished records are kept).

    Examples:

    \b
      memcollab transfer -m qwen2.5-coder-0.5b -m qwen2.5-coder-1.5b -b gsm8k -n 100 \\
          --bank own=banks/gsm8k/self-qwen05.jsonl --bank collab=banks/gsm8k/collab-same.jsonl \\
          --markdown --plot transfer.png

    \b
    Report from trajectory files (shards are read together, no merge needed):
      memcollab transfer --from-runs runs/s0/*.jsonl runs/s1/*.jsonl --json
    """
    from memcollab_cli.use import report

    check_mode(model or [], benchmark, runs, from_runs, False)
    if markdown and json_:
        raise typer.BadParameter("choose one of --markdown and --json", param_hint="'--markdown'")
    banks = common.parse_banks(bank)
    with common.user_errors():
        if runs:
            selection = common.Selection(benchmark, split, limit, tuple(ids or ()), shard, mbpp_dir)
            result = results_from_files(list(runs), model or None, banks, selection, placebo,
                                        examples, noise_floor, routing)
        else:
            run = common.run_options(
                benchmark=benchmark, split=split, limit=limit, ids=ids, shard=shard,
                mbpp_dir=mbpp_dir, n_ctx=n_ctx, gpu_layers=gpu_layers, chat_format=chat_format,
                threads=threads, parallel=parallel, max_turns=max_turns, max_tokens=max_tokens,
                seed=seed, temperature=temperature)
            settings = arm_settings(placebo, top_p, model_filter, routing, labeller, examples,
                                    noise_floor, run.engine, reuse, gold, threshold)
            result = _run(model, banks, outdir, run, settings)
        if plot is not None:
            write_plot(result, plot)
    if json_:
        common.print_json(result.to_dict())
    elif markdown:
        typer.echo(report.markdown_table(result), nl=False)
    else:
        console = common.out_console()
        tables = report.transfer_tables(result)
        for model in result.models:
            tables += report.routing_tables(result, model)
        for table in filter(None, tables + [report.agreement_table(result)]):
            console.print(table)
    if fail_if_worse_:
        fail_if_worse(result)


def _run(models: list[str], banks: dict, outdir: Path, run: common.RunOptions, settings):
    from memcollab_cli.cli.progress import stage_progress
    from memcollab_cli.use.evaluate import plan_conditions
    from memcollab_cli.use.transfer import transfer as run_transfer

    tasks = run.selection.load()
    total = len(tasks) * len(plan_conditions(banks, settings=settings))
    state, on_condition, on_record = condition_progress()
    displays = ExitStack()  # one progress bar per model

    def load(spec: str):
        # End the previous model's live display first: llama.cpp redirects stdout/stderr while
        # it loads, which would garble a running Rich display.
        displays.close()
        state["advance"] = None
        return run.engine.open(spec)

    def on_model(solver) -> None:
        state["advance"] = displays.enter_context(
            stage_progress(f"{solver.name} · {run.selection.benchmark}", total))

    try:
        return run_transfer(models, tasks, outdir, banks, load=load, settings=settings,
                            params=run.params, on_model=on_model, on_condition=on_condition,
                            on_record=on_record)
    finally:
        displays.close()
