"""The `memcollab` command: one module per subcommand, registered here."""

from __future__ import annotations

import typer

from memcollab_cli import __version__
from memcollab_cli.cli import solve_cmd

app = typer.Typer(
    name="memcollab",
    no_args_is_help=True,
    rich_markup_mode=None,
    help="""Shared, inspectable memory that makes local models better at math and code.

Implements MemCollab (arXiv 2603.23234): two models solve the same verifiable tasks; where one
succeeds and the other fails, the stronger contrasts the two attempts and writes abstract
constraints ("When ..., enforce ...; avoid ...") into a JSONL bank that any model can use.

Pipeline: solve -> contrast -> distill (bank) -> eval / transfer. `distill --strong A --weak B`
runs the whole chain.

Environment: MEMCOLLAB_HOME (models, data, caches; default ~/.cache/memcollab),
MEMCOLLAB_MBPP (MBPP data directory), MEMCOLLAB_PROMPTS (prompt directory).""",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"memcollab {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Show the version and exit.")) -> None:
    pass


app.command()(solve_cmd.solve)


def run() -> None:
    app()
