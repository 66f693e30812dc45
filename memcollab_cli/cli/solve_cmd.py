"""`memcollab solve`."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from memcollab_cli.cli import common
from memcollab_cli.cli.progress import solve_stats, stage_progress


def solve(
    model: common.ModelSpec,
    benchmark: common.Benchmark,
    out: Annotated[Path, typer.Option("--out", "-o", help="Trajectory file to append to (resumes).",
                                      dir_okay=False)],
    split: common.Split = None,
    limit: common.Limit = None,
    ids: common.Ids = None,
    shard: common.Shard = None,
    bank: Annotated[Path | None, typer.Option("--bank", help="Memory bank to retrieve from.",
                                              exists=True, dir_okay=False)] = None,
    top_p: common.TopP = 3,
    model_filter: common.ModelFilter = False,
    placebo: Annotated[bool, typer.Option(
        "--placebo", help="Inject as many entries drawn at random from the bank (a control).")] = False,
    routing: common.Routing = common.DEFAULT_ROUTING,
    labeller: common.Labeller = None,
    gold: common.Gold = None,
    threshold: common.Threshold = None,
    examples: common.Examples = None,
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
    """Solve benchmark tasks with one model and write one trajectory per task.

    Every record holds the messages sent, the raw replies, the extracted answer, the hidden
    verifier's verdict, the parameters and token counts. A rerun skips finished tasks.

    Examples:

      memcollab solve -m qwen2.5-coder-0.5b -b gsm8k -n 50 -o runs/qwen05.jsonl

      memcollab solve -m smollm2-135m -b humaneval --bank banks/gsm8k/collab-cross.jsonl -o runs/s.jsonl

    With a bank, each task is labelled by --routing (default: the bank's labeller, cached in
    labels.jsonl beside --out) and recorded with the rule. --examples shows the most similar
    verified solutions from training-task trajectories instead (a baseline, not the paper's):

      memcollab solve -m qwen2.5-coder-0.5b -b gsm8k -n 50 -o runs/ex.jsonl \\
          --examples banks/gsm8k/runs/qwen2.5-coder-1.5b.jsonl.gz
    """
    from memcollab_cli.use.arms import Arm
    from memcollab_cli.use.solve import solve as run_solve

    if examples and bank is not None:
        raise typer.BadParameter("give --bank or --examples, not both", param_hint="'--examples'")
    run = common.run_options(
        benchmark=benchmark, split=split, limit=limit, ids=ids, shard=shard, mbpp_dir=mbpp_dir,
        n_ctx=n_ctx, gpu_layers=gpu_layers, chat_format=chat_format, threads=threads,
        parallel=parallel, max_turns=max_turns, max_tokens=max_tokens, seed=seed,
        temperature=temperature)
    arm = Arm(bank=bank, placebo=placebo, top_p=top_p, model_filter=model_filter, routing=routing,
              labeller=labeller or "", gold=gold, threshold=threshold,
              examples=tuple(examples or ()),
              open_model=run.engine.open_labeller)
    with common.user_errors():
        tasks = run.selection.load()
        with closing(run.engine.open(model)) as solver, \
                stage_progress(f"{solver.name} · {benchmark}", len(tasks)) as advance:
            summary = run_solve(solver, tasks, out, params=run.params, arm=arm,
                                on_record=lambda t, s: advance(solve_stats(s)),
                                on_start=lambda s: advance(solve_stats(s), n=s.skipped))
    render_summary(summary.to_dict(), json_)


def render_summary(s: dict, as_json: bool) -> None:
    if as_json:
        common.print_json(s)
        return
    # One run: figures as rows, so that the table reads in 80 columns whatever the numbers.
    table = Table(title=Text(f"{s['model']} · {s['benchmark']} · memory: {s['condition']}"),
                  show_header=False)
    table.add_column("", no_wrap=True)
    table.add_column("", justify="right", no_wrap=True)
    for name, value in (
            ("tasks", f"{s['graded']}"),
            ("accuracy", f"{s['correct']}/{s['graded']} = {100 * s['accuracy']:.1f}%"),
            ("mean turns", f"{s['mean_turns']:.2f}"),
            ("prompt tokens", f"{s['prompt_tokens']}"),
            ("  of them cached", f"{s['cached_tokens']}"),
            ("completion tokens", f"{s['completion_tokens']}"),
            ("tokens/s", f"{s['tokens_per_second']:.1f}"),
            ("wall s", f"{s['wall_seconds']:.1f}")):
        table.add_row(name, value)
    common.out_console().print(table)
    if s["skipped"]:
        common.err_console().print(f"{s['skipped']} task(s) were already in the file and were skipped.")
