"""A Rich progress bar for runs of many items: done/total, a stats line, elapsed time."""

from __future__ import annotations

from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from memcollab_cli.cli.common import err_console


@contextmanager
def stage_progress(description: str, total: int | None):
    """Yields `advance(stats="", n=1, total=None)`: n items done (0 to only update the stats or,
    with `total`, the number of items once it is known)."""
    progress = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[stats]}", markup=False), TimeElapsedColumn(),
                        console=err_console())
    with progress:
        tid = progress.add_task(description, total=total, stats="")

        def advance(stats: str = "", n: int = 1, total: int | None = None) -> None:
            progress.update(tid, advance=n, stats=stats, **({"total": total} if total is not None else {}))

        yield advance


def solve_stats(summary) -> str:
    return f"acc {summary.correct}/{summary.graded}  {summary.tokens_per_second:5.1f} tok/s"
