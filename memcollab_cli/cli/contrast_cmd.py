"""`memcollab contrast`."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

from memcollab_cli.cli import common
from memcollab_cli.cli.progress import stage_progress

Policy = Annotated[str, typer.Option(
    "--pair-policy", help="mixed: only tasks where one run is right and another wrong; "
    "prefer-strong: also pair both-right/both-wrong tasks with the strong model as preferred; "
    "all: every (right, wrong) combination.")]
Localize = Annotated[bool, typer.Option(
    "--localize/--no-localize", help="Tell the summarizer where the wrong attempt first departs from "
    "the benchmark's reference (GSM8K's intermediate results, a worked solution, the failing test), "
    "where there is one. --no-localize is the paper's pure form.")]


def contrast(
    runs: Annotated[list[Path], typer.Argument(help="Trajectory files from `solve`, one per model.",
                                               exists=True, dir_okay=False)],
    summarizer: Annotated[str, typer.Option(
        "--summarizer", "-s", help="Model that writes the constraints (the stronger one).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Constraints file to append to (resumes).",
                                      dir_okay=False)] = Path("constraints.jsonl"),
    strong: Annotated[str | None, typer.Option(
        "--strong", help="Name of the stronger model in the runs [default: the summarizer's name].",
        show_default=False)] = None,
    policy: Policy = "mixed",
    k: Annotated[int, typer.Option("--k", min=1, max=10, help="Constraints per pair, at most.")] = 3,
    localize: Localize = True,
    parallel: common.Parallel = 1,
    n_ctx: common.NCtx = 8192,
    gpu_layers: common.GpuLayers = None,
    chat_format: common.ChatFormat = None,
    threads: common.Threads = None,
    json_: common.JsonFlag = False,
) -> None:
    """Contrast right and wrong trajectories of the same tasks into abstract constraints.

    Each pair (one verified right, one verified wrong) is shown to the summarizer, which first
    analyses where the wrong attempt goes astray (told where it leaves the reference, with
    --localize), then writes up to K constraints "When ..., enforce ...; avoid ..." under a JSON
    schema, or none. Constraints that quote the task's numbers or answer, hold code, run too long,
    mirror themselves, say nothing specific or talk about the problem are rejected and counted.
    Every pair's analysis, reply and rejections go to contrast-log.jsonl beside the output.

    Examples:

      memcollab contrast runs/qwen05.jsonl runs/smol.jsonl -s qwen2.5-coder-0.5b -o constraints.jsonl
    """
    from memcollab_cli.build.contrast import contrast as run_contrast
    from memcollab_cli.memory import POLICIES

    with common.user_errors():
        if policy not in POLICIES:
            raise typer.BadParameter(f"choose one of {', '.join(POLICIES)}", param_hint="--pair-policy")
        with closing(common.Engine(n_ctx=n_ctx, gpu_layers=gpu_layers, chat_format=chat_format,
                                    threads=threads, parallel=parallel).open(summarizer)) as engine, \
                stage_progress(f"contrast · {engine.name}", None) as advance:
            summary = run_contrast(runs, engine, out, strong=strong, policy=policy, k=k,
                                   localize=localize, parallel=parallel,
                                   on_pair=lambda s: advance(f"{s.accepted} kept"),
                                   on_start=lambda s: advance(n=0, total=s.pairs))
    s = summary.to_dict()
    if json_:
        common.print_json(s)
        return
    render_contrast(s)


def render_contrast(s: dict) -> None:
    from rich.table import Table

    table = Table(title="contrast")
    table.add_column("stage", no_wrap=True)
    table.add_column("count", justify="right", no_wrap=True)
    table.add_row("pairs", str(s["pairs"]))
    for reason, n in sorted(s["skipped"].items()):
        table.add_row(f"  tasks skipped: {reason}", str(n))
    table.add_row("pairs resumed from an earlier run", str(s["resumed"]))
    table.add_row("pairs told where B leaves the reference", str(s.get("localized", 0)))
    if s.get("dropped_unlogged"):
        table.add_row("constraints of unlogged pairs dropped", str(s["dropped_unlogged"]))
    table.add_row("constraints proposed", str(s["proposed"]))
    for reason, n in sorted(s["rejected"].items()):
        table.add_row(f"  rejected: {reason}", str(n))
    table.add_row("pairs with no transferable lesson", str(s.get("no_lesson", 0)))
    table.add_row("constraints kept", str(s["accepted"]))
    common.out_console().print(table)
