"""`memcollab distill`."""

from __future__ import annotations

from contextlib import ExitStack, closing
from pathlib import Path
from typing import Annotated

import typer

from memcollab_cli.cli import common
from memcollab_cli.cli.contrast_cmd import Localize, Policy, render_contrast
from memcollab_cli.cli.progress import stage_progress


def distill(
    strong: Annotated[str, typer.Option("--strong", help="Stronger model: solves, summarizes, classifies.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Bank to write.", dir_okay=False)],
    weak: Annotated[str | None, typer.Option("--weak", help="Weaker model (mode collab).")] = None,
    summarizer: Annotated[str | None, typer.Option(
        "--summarizer", help="Model that contrasts and classifies [default: the strong model].",
        show_default=False)] = None,
    benchmark: common.Benchmark = "gsm8k",
    split: common.Split = "train",
    limit: common.Limit = None,
    ids: common.Ids = None,
    shard: common.Shard = None,
    mode: Annotated[str, typer.Option(
        "--mode", help="collab: contrast strong vs weak (MemCollab); self: one model's own successes, "
        "no contrast; self-contrast: one model sampled twice at temperature 0.7.")] = "collab",
    policy: Policy = "mixed",
    k: Annotated[int, typer.Option("--k", min=1, max=10, help="Constraints per pair, at most.")] = 3,
    localize: Localize = True,
    threshold: Annotated[int, typer.Option(
        "--merge-threshold", min=50, max=100, help="rapidfuzz similarity (0-100) at which two "
        "constraints of one category merge.")] = 90,
    taxonomy: Annotated[str | None, typer.Option(
        "--taxonomy", help="math, gsm8k, code or a taxonomy JSON path [default: by benchmark].")] = None,
    workdir: Annotated[Path | None, typer.Option(
        "--workdir", help="Intermediate files [default: OUT's name with .work].", file_okay=False)] = None,
    runs_dir: Annotated[Path | None, typer.Option(
        "--runs-dir", help="Trajectory directory; share it between banks to reuse runs "
        "[default: WORKDIR/runs].", file_okay=False)] = None,
    max_turns: common.MaxTurns = 3,
    max_tokens: common.MaxTokens = 512,
    seed: common.Seed = 42,
    parallel: common.Parallel = 1,
    n_ctx: common.NCtx = 8192,
    gpu_layers: common.GpuLayers = None,
    chat_format: common.ChatFormat = None,
    threads: common.Threads = None,
    mbpp_dir: common.MbppDir = None,
    json_: common.JsonFlag = False,
) -> None:
    """Build a memory bank: solve with both models, contrast, classify, merge, write.

    Every step's files stay in the work directory (runs/, constraints.jsonl, contrast-log.jsonl,
    categories.jsonl), so any step can be inspected or rerun alone; rerunning the same command
    resumes where it stopped. Each model is loaded when its stage starts and released when the
    next stage needs another, so only one is in memory at a time (a 32B and an 8B GGUF take turns
    on one GPU); models behind server URLs (http://HOST:PORT/v1#NAME) run wherever they are served.

    Examples:

      memcollab distill --strong qwen2.5-coder-0.5b --weak smollm2-135m -b gsm8k --split train \
          -n 100 -o banks/collab-cross.jsonl

      memcollab distill --strong qwen2.5-coder-1.5b --mode self -n 100 -o banks/self-qwen15.jsonl
    """
    from memcollab_cli.build.distill import distill as run_distill

    with common.user_errors():
        run = common.run_options(
            benchmark=benchmark, split=split, limit=limit, ids=ids, shard=shard, mbpp_dir=mbpp_dir,
            n_ctx=n_ctx, gpu_layers=gpu_layers, chat_format=chat_format, threads=threads,
            parallel=parallel, max_turns=max_turns, max_tokens=max_tokens, seed=seed)
        tasks = run.selection.load()
        with ExitStack() as models:
            def opened(spec: str | None):
                return models.enter_context(closing(run.engine.open(spec))) if spec else None

            summary = run_distill(opened(strong), opened(weak if mode == "collab" else None),
                                  tasks, out, mode=mode, policy=policy, k=k, threshold=threshold,
                                  params=run.params, workdir=workdir, runs_dir=runs_dir,
                                  taxonomy=taxonomy, summarizer=opened(summarizer),
                                  localize=localize, report=stage_progress)
    s = summary.to_dict()
    if json_:
        common.print_json(s)
        return
    render_distill(s)


def render_distill(s: dict) -> None:
    from rich.table import Table

    console = common.out_console()
    runs = Table(title="solve")
    for col in ("model", "tasks", "accuracy", "mean turns", "tok/s", "wall s"):
        runs.add_column(col, justify="right" if col != "model" else "left", no_wrap=True)
    for r in s["solve"]:
        runs.add_row(r["model"], str(r["graded"]), f"{r['correct']}/{r['graded']}",
                     f"{r['mean_turns']:.2f}", f"{r['tokens_per_second']:.1f}", f"{r['wall_seconds']:.0f}")
    console.print(runs)
    render_contrast(s["contrast"])
    b = s["build"]
    console.print(f"bank {s['bank']}: {b['constraints']} constraints, {b['dropped']} dropped for naming "
                  f"their task's objects, {b['merged']} merged, "
                  f"{b['kept']} entries kept; work files in {s['workdir']}", markup=False)
