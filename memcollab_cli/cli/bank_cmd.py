"""`memcollab bank show|stats|validate|diff|merge|blame|refine`."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from memcollab_cli.cli import common, refine_cmd

app = typer.Typer(no_args_is_help=True, help="Inspect, check, compare and merge memory banks.")

BankPath = Annotated[Path, typer.Argument(help="A bank (.jsonl).", exists=True, dir_okay=False)]


@app.command()
def show(
    bank: BankPath,
    category: Annotated[str | None, typer.Option("--category", "-c", help="Only this category.")] = None,
    json_: common.JsonFlag = False,
) -> None:
    """List a bank's constraints by category and subcategory."""
    from memcollab_cli.memory import read_bank

    with common.user_errors():
        entries = [e for e in read_bank(bank) if category is None or e.category == category]
    if json_:
        common.print_json([e.to_dict() for e in entries])
        return
    console = common.out_console()
    last = None
    for e in entries:
        if (e.category, e.subcategory) != last:
            last = (e.category, e.subcategory)
            console.print(f"\n{e.category} / {e.subcategory}", style="bold", markup=False)
        models = "+".join(e.models["preferred"]) + " > " + "+".join(e.models["unpreferred"] or ["-"])
        console.print(f"  {e.id}  ×{e.support}  ({models})", style="dim", markup=False)
        console.print(_indented(e.text(), console.width), markup=False)


def _indented(text: str, width: int) -> str:
    """Prose under its entry id, wrapped between words, every line indented."""
    return textwrap.fill(text, width=max(width, 40), initial_indent="    ", subsequent_indent="    ")


@app.command()
def stats(bank: BankPath, json_: common.JsonFlag = False) -> None:
    """Count entries by category, subcategory, model and support."""
    from memcollab_cli.memory import bank_stats, read_bank

    with common.user_errors():
        s = bank_stats(read_bank(bank))
    if json_:
        common.print_json(s)
        return
    console = common.out_console()
    console.print(f"{bank}: {s['entries']} entries from {s['sources']} source pairs", markup=False)
    rows = {"category / subcategory": {f"{c} / {sub}": n for c, subs in s["subcategories"].items()
                                       for sub, n in subs.items()},
            "preferred model": s["preferred"], "unpreferred model": s["unpreferred"],
            "support": s["support"]}
    for title, counts in rows.items():
        if not counts:
            continue
        table = Table(title=title)
        table.add_column(title, no_wrap=True)
        table.add_column("entries", justify="right", no_wrap=True)
        for name, n in counts.items():
            table.add_row(str(name), str(n))
        console.print(table)


@app.command()
def validate(banks: Annotated[list[Path], typer.Argument(help="Banks to check.")]) -> None:
    """Check every line: JSON, known keys, types, non-empty fields, unique ids.

    Prints each problem as FILE:LINE: message; exits 1 when any bank has a problem.
    """
    problems = []
    for bank in banks:
        from memcollab_cli.memory import validate_bank

        with common.user_errors():
            problems += validate_bank(bank)
    err = common.err_console()
    for p in problems:
        err.print(p, markup=False)
    if problems:
        raise typer.Exit(code=1)
    err.print(f"{len(banks)} bank(s) valid", markup=False)


@app.command()
def diff(old: BankPath, new: BankPath, json_: common.JsonFlag = False) -> None:
    """Compare two banks entry by entry: added (+), removed (-) and changed (~)."""
    from memcollab_cli.memory import diff_banks, read_bank

    with common.user_errors():
        d = diff_banks(read_bank(old), read_bank(new))
    if json_:
        common.print_json({"added": [e.to_dict() for e in d.added],
                           "removed": [e.to_dict() for e in d.removed],
                           "changed": [{"old": o.to_dict(), "new": n.to_dict()} for o, n in d.changed]})
        return
    console = common.out_console()
    for line in d.render():
        console.print(line, markup=False)
    common.err_console().print(d.summary(), markup=False)


@app.command()
def merge(
    banks: Annotated[list[Path], typer.Argument(help="Banks to merge.", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Merged bank to write.", dir_okay=False)],
    threshold: Annotated[int, typer.Option("--merge-threshold", min=50, max=100)] = 90,
) -> None:
    """Merge banks: exact and near-duplicate constraints of one category become one entry whose
    support and sources add up.

    Examples:

      memcollab bank merge banks/a.jsonl banks/b.jsonl -o banks/ab.jsonl
    """
    from memcollab_cli.memory.dedup import merge_bank_files

    with common.user_errors():  # read-merge-write under OUT's lock: `merge X A -o X` loses nothing
        entries, report = merge_bank_files(banks, out, threshold=threshold)
    common.err_console().print(f"{out}: {len(entries)} entries ({len(report)} merges)", markup=False)


@app.command()
def blame(
    bank: BankPath,
    runs: Annotated[list[Path], typer.Argument(help="Transcripts of an eval that used BANK "
                                               "(.jsonl or .jsonl.gz).", exists=True, dir_okay=False)],
    model: Annotated[str | None, typer.Option("--model", "-m", help="The model whose transcripts "
                                              "to read, where they hold several.")] = None,
    json_: common.JsonFlag = False,
) -> None:
    """Per entry: the tasks that retrieved it, and how many of them the bank won and lost against
    no memory. Worst first. Descriptive only: entries are retrieved together, p is uncorrected,
    and pruning a bank by its test results fits it to the test set (`bank refine` uses training
    tasks).

    Examples:

      memcollab bank blame banks/gsm8k/collab-same.jsonl banks/gsm8k/eval/qwen2.5-coder-0.5b.jsonl.gz
    """
    from memcollab_cli.use.blame import blame as blame_entries
    from memcollab_cli.use.report import p_value

    with common.user_errors():
        found = blame_entries(bank, runs, model)
    if json_:
        common.print_json({"model": found.model, "condition": found.condition,
                           "tasks": found.tasks, "entries": [e.to_dict() for e in found.entries]})
        return
    table = Table(title=f"{found.model} · {found.condition} · {found.tasks} tasks against no memory",
                  caption=f"a task counts for every entry it retrieved; p uncorrected for "
                          f"{len(found.entries)} entries")
    for col in ("entry", "category", "tasks", "won", "lost", "p"):
        table.add_column(col, justify="left" if col in ("entry", "category") else "right",
                         no_wrap=True)
    for e in found.entries:
        table.add_row(e.id, e.category, str(e.n), str(e.won), str(e.lost), p_value(e.p_value))
    console = common.out_console()
    console.print(table)
    # the constraints below the figures, as `bank show` prints them: prose wraps between words
    for e in found.entries:
        console.print(Text(e.id, style="bold"))
        console.print(_indented(e.text, console.width), markup=False)


app.command(name="refine")(refine_cmd.refine)
