"""`memcollab eval`: one model, no memory against each bank, on the same tasks."""

from __future__ import annotations

from contextlib import closing
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


def eval_(
    model: Annotated[str | None, typer.Option(
        "--model", "-m", show_default=False, help="GGUF path, catalog name or server URL; with "
        "--from-runs, the recorded model name to report.")] = None,
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
    outdir: common.Outdir = Path("runs/eval"),
    from_runs: common.FromRuns = False,
    merge: Annotated[Path | None, typer.Option(
        "--merge", dir_okay=False, show_default=False,
        help="Merge the trajectory FILES (shards) into this file, then report from it.")] = None,
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
    """Measure whether memory banks help a model: no memory vs each bank, on the same tasks.

    Runs the model with no memory and with each --bank (and, with --placebo, a random-memory
    control per bank; with --examples, worked examples instead of constraints; with
    --noise-floor, no memory again on a shifted task order) and reports per condition: accuracy
    with a 95% Wilson interval; the paired difference from no memory over the same tasks, with
    Newcombe's 95% interval, an exact McNemar p-value, the smallest difference n tasks can detect
    and the noise floor; won/lost tasks; routing (tasks that received memory, agreement between
    labellings); mean turns; tokens and model time. Every condition runs its tasks in the same
    order, so two conditions differ only in their prompts. A task a bank gives no memory has the
    no-memory prompt and takes that transcript instead of running again (--no-reuse runs it).

    All trajectories go to OUTDIR/<model>.jsonl. A rerun reuses what is there, so adding a bank
    computes only the new condition. A large run can be split with --shard i/n on several
    machines and reported together with --merge or --from-runs.

    Exit status: 0 done; 1 error (message on stderr); 2 bad arguments; 3 --fail-if-worse and a
    bank scored below no memory; 130 interrupted (finished records are kept).

    Examples:

    \b
      memcollab eval -m qwen2.5-coder-0.5b -b gsm8k -n 100 \\
          --bank collab=banks/gsm8k/collab-same.jsonl --bank banks/gsm8k/self-qwen05.jsonl --placebo

    \b
    Shards on two machines, then one report:
      memcollab eval -m M -b gsm8k -n 400 --shard 0/2 --bank b.jsonl -o runs/s0
      memcollab eval -m M -b gsm8k -n 400 --shard 1/2 --bank b.jsonl -o runs/s1
      memcollab eval --merge runs/all.jsonl runs/s0/M.jsonl runs/s1/M.jsonl

    \b
      memcollab eval --from-runs runs/eval/M.jsonl --fail-if-worse --json

    \b
    The shipped study's 600 tasks, as tables and a forest plot, without a model:
      memcollab eval --from-runs banks/gsm8k/eval/qwen2.5-coder-0.5b.jsonl.gz -m qwen2.5-coder-0.5b \\
          -b gsm8k --split test -n 600 --bank collab-cross=banks/gsm8k/collab-cross.jsonl \\
          --placebo --noise-floor --plot forest.png
    """
    from memcollab_cli.use import report
    from memcollab_cli.use.evaluate import merge_runs

    check_mode([model] if model else [], benchmark, runs, from_runs, merge is not None)
    banks = common.parse_banks(bank)
    with common.user_errors():
        if runs:
            files = list(runs)
            if merge is not None:
                count = merge_runs(files, merge)
                common.err_console().print(f"Merged {count} records from {len(files)} file(s) "
                                           f"into {merge}", markup=False)
                files = [merge]
            selection = common.Selection(benchmark, split, limit, tuple(ids or ()), shard, mbpp_dir)
            result = results_from_files(files, [model] if model else None, banks, selection,
                                        placebo, examples, noise_floor, routing)
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
    else:
        console = common.out_console()
        for table in report.eval_tables(result):
            console.print(table)
        if not result.cells:
            common.err_console().print("No trajectories matched the selection.", markup=False)
    if fail_if_worse_:
        fail_if_worse(result)


def _run(model: str, banks: dict, outdir: Path, run: common.RunOptions, settings):
    from memcollab_cli.cli.progress import stage_progress
    from memcollab_cli.use.evaluate import evaluate, plan_conditions

    tasks = run.selection.load()
    plan = plan_conditions(banks, settings=settings)  # bad banks fail before the model loads
    state, on_condition, on_record = condition_progress()
    with closing(run.engine.open(model)) as solver, \
            stage_progress(f"{solver.name} · {run.selection.benchmark}",
                           len(tasks) * len(plan)) as advance:
        state["advance"] = advance
        return evaluate(solver, tasks, outdir, banks, settings=settings, params=run.params,
                        on_condition=on_condition, on_record=on_record)
