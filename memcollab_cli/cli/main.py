"""The `memcollab` command: one module per subcommand, registered here."""

from __future__ import annotations

import typer

from memcollab_cli import __version__
from memcollab_cli.cli import (
    bank_cmd,
    contrast_cmd,
    data_cmd,
    distill_cmd,
    eval_cmd,
    grade_cmd,
    models_cmd,
    route_cmd,
    solve_cmd,
    transfer_cmd,
)

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
MEMCOLLAB_MBPP (MBPP data directory), MEMCOLLAB_PROMPTS (prompt directory),
MEMCOLLAB_THREADS (CPU threads per model), MEMCOLLAB_SANDBOX (bwrap, unshare or plain),
MEMCOLLAB_API_KEY (for server models).

Examples:

  memcollab models pull smollm2-135m qwen2.5-coder-0.5b

  memcollab distill --strong qwen2.5-coder-0.5b --weak smollm2-135m -n 100 -o banks/cross.jsonl

  memcollab eval -m qwen2.5-coder-0.5b -b gsm8k -n 100 --bank banks/cross.jsonl --placebo""",
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
app.command()(contrast_cmd.contrast)
app.command()(distill_cmd.distill)
app.command(name="eval")(eval_cmd.eval_)
app.command()(transfer_cmd.transfer)
app.command()(route_cmd.route)
app.command()(grade_cmd.grade)
app.add_typer(bank_cmd.app, name="bank")
app.add_typer(models_cmd.app, name="models")
app.add_typer(data_cmd.app, name="data")


def run() -> None:
    app()
