"""`memcollab route`: how each routing rule would file the tasks, without solving them."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from memcollab_cli.cli import common


def route(
    benchmark: common.Benchmark,
    bank: Annotated[Path, typer.Option("--bank", exists=True, dir_okay=False,
                                       help="The bank whose entries the tasks are routed to.")],
    model: Annotated[str | None, typer.Option(
        "--model", "-m", show_default=False,
        help="GGUF path, catalog name or server URL: the solving model (not with --gold).")] = None,
    rule: Annotated[list[str] | None, typer.Option(
        "--rule", help="Routing rule to compare (repeatable) [default: all three].",
        show_default=False)] = None,
    labeller: common.Labeller = None,
    labels_from: Annotated[list[Path] | None, typer.Option(
        "--labels-from", exists=True, dir_okay=False, show_default=False,
        help="Trajectory files whose solving model labelled its own tasks (routing self): their "
        "labels fill the cache first, so those models are not asked again (repeatable).")] = None,
    outdir: Annotated[Path, typer.Option(
        "--outdir", "-o", file_okay=False,
        help="Where the labeller's cache (labels.jsonl) is kept; share it with eval's.")
    ] = Path("runs/eval"),
    split: common.Split = None,
    limit: common.Limit = None,
    ids: common.Ids = None,
    shard: common.Shard = None,
    n_ctx: common.NCtx = 4096,
    gpu_layers: common.GpuLayers = None,
    chat_format: common.ChatFormat = None,
    threads: common.Threads = None,
    mbpp_dir: common.MbppDir = None,
    gold: Annotated[Path | None, typer.Option(
        "--gold", exists=True, dir_okay=False, show_default=False,
        help="Score delivery against this gold file instead (no model): precision, recall and "
        "tasks reached per rule, labels read from OUTDIR/labels.jsonl.")] = None,
    hand_labels: Annotated[Path | None, typer.Option(
        "--hand-labels", exists=True, dir_okay=False, show_default=False,
        help="With --gold: hand-checked labels; adds the 'hand' rule and each labeller's "
        "accuracy.")] = None,
    nearest_from: Annotated[Path | None, typer.Option(
        "--nearest-from", exists=True, dir_okay=False, show_default=False,
        help="With --gold: a labels cache of training tasks (of --nearest-split); adds "
        "'nearest', the label of the most similar of them.")] = None,
    nearest_split: Annotated[str, typer.Option(
        "--nearest-split", help="The split of --nearest-from's tasks.")] = "train",
    choose_with: Annotated[list[str] | None, typer.Option(
        "--choose-with", show_default=False,
        help="With --gold: this model picks entries (routing 'choose') for the tasks not yet in "
        "OUTDIR/choices.jsonl; repeatable. Choices already cached are reported without it.")] = None,
    top_p: common.TopP = 3,
    json_: common.JsonFlag = False,
) -> None:
    """Compare routing rules: share of tasks that get memory, and agreement with the labeller.

    Each rule labels the tasks: self (the solving model, MODEL), labeller (the model that
    labelled the bank's entries), nearest (the label of the most similar training task). For
    each, the table shows how many tasks would receive memory from BANK and how often the
    labels agree with the bank's labeller's (category; category and subcategory). Nothing is
    solved; every model's labels are cached in OUTDIR/labels.jsonl, and --labels-from fills that
    cache from earlier runs.

    With --gold, no model runs: each rule's delivery of BANK's entries is scored against the
    gold file (which entries apply to which problem): precision (delivered entries that apply),
    recall (applicable pairs delivered), tasks reached (given an applicable entry). Label rules
    read their labels from OUTDIR/labels.jsonl (one rule per classifier found there).

    Examples:

    \b
      memcollab route -m qwen2.5-coder-0.5b -b gsm8k -n 100 --bank banks/gsm8k/collab-same.jsonl
      memcollab route -b gsm8k --split test -n 600 --bank banks/gsm8k/gold/hand-written.jsonl \\
          --gold banks/gsm8k/gold/applies.jsonl --hand-labels banks/gsm8k/gold/labels.jsonl -o banks/gsm8k/eval
    """
    if gold is not None:
        selection = common.Selection(benchmark, split, limit, tuple(ids or ()), shard, mbpp_dir)
        with common.user_errors():
            if choose_with:
                _fill_choices(bank, selection, outdir, choose_with, top_p, n_ctx, gpu_layers,
                              chat_format, threads)
            found = _gold_report(bank, gold, selection, outdir, hand_labels, nearest_from,
                                 nearest_split, top_p)
        _print_gold(found, json_)
        return
    if model is None:
        raise typer.BadParameter("required unless scoring against --gold", param_hint="'--model'")
    from memcollab_cli.use.route_compare import compare_rules
    from memcollab_cli.use.routing import labels_from_runs

    rules = rule or list(common.ROUTINGS[:3])
    for r in rules:
        common.check_routing(r)
    engine = common.Engine(n_ctx=n_ctx, gpu_layers=gpu_layers, chat_format=chat_format, threads=threads)
    with common.user_errors():
        tasks = common.Selection(benchmark, split, limit, tuple(ids or ()), shard, mbpp_dir).load()
        cache = Path(outdir) / "labels.jsonl"
        if labels_from:
            seeded = labels_from_runs(labels_from, cache)
            common.err_console().print(
                f"Labels from runs: {seeded['added']} added, {seeded['known']} already cached, "
                f"{seeded['conflicts']} conflicting (first kept)", markup=False)
        with closing(engine.open(model)) as solver:
            found = compare_rules(solver, tasks, bank, rules, cache,
                                  labeller=labeller or "", open_model=engine.open_labeller)
    if json_:
        common.print_json(found)
        return
    table = Table(title=f"{found['model']} · {bank.name} · {found['n']} tasks · "
                        f"labeller {found['labeller']}")
    for col in ("rule", "labelled by", "with memory", "levels", "same category",
                "same subcategory"):
        table.add_column(col, justify="left" if col in ("rule", "labelled by", "levels")
                         else "right")
    for row in found["rules"]:
        a, n = row["agreement"], row["n"]
        table.add_row(row["rule"], row["labeller"], f"{row['with_memory']}/{n}",
                      ", ".join(f"{k} {v}" for k, v in row["levels"].items()),
                      f"{a['category']}/{a['n']}", f"{a['subcategory']}/{a['n']}")
    common.out_console().print(table)


def _fill_choices(bank: Path, selection: common.Selection, outdir: Path, choosers: list[str],
                  top_p: int, n_ctx: int, gpu_layers, chat_format, threads) -> None:
    from memcollab_cli.cli.progress import stage_progress
    from memcollab_cli.memory import read_bank
    from memcollab_cli.use.choose import choose_entries

    engine = common.Engine(n_ctx=n_ctx, gpu_layers=gpu_layers, chat_format=chat_format,
                           threads=threads)
    entries, tasks = read_bank(bank), selection.load()
    for chooser in choosers:
        with stage_progress(f"choose · {chooser}", len(tasks)) as advance:
            choose_entries(chooser, engine.open_labeller, entries, tasks,
                           Path(outdir) / "choices.jsonl", k=top_p,
                           on_task=lambda name=chooser: advance(name))


def _gold_report(bank: Path, gold_path: Path, selection: common.Selection, outdir: Path,
                 hand_path: Path | None, nearest_from: Path | None, nearest_split: str,
                 top_p: int) -> dict:
    from memcollab_cli.tasks import load_tasks
    from memcollab_cli.use.gold_report import gold_report

    pool = (load_tasks(selection.benchmark, split=nearest_split, mbpp_dir=selection.mbpp_dir)
            if nearest_from is not None else [])
    return gold_report(bank, gold_path, selection.load(), Path(outdir), hand_path=hand_path,
                       nearest_from=nearest_from, pool=pool, top_p=top_p)


def _print_gold(found: dict, json_: bool) -> None:
    if json_:
        common.print_json(found)
        return
    console = common.out_console()
    table = Table(title=f"{found['bank']} · {found['gold']} · {found['n']} tasks · "
                        f"top {found['top_p']}")
    table.add_column("rule", no_wrap=True, min_width=12)
    for col in ("tasks", "given", "reached", "precision", "recall"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in found["rules"]:  # counts behind the shares are in --json
        table.add_row(r["rule"], str(r["n"]), str(r["given"]), str(r["reached"]),
                      f"{100 * r['precision']:.0f}%", f"{100 * r['recall']:.0f}%")
    console.print(table)
    if found["label_accuracy"]:
        acc = Table(title="labels against the hand labels")
        acc.add_column("labelled by", no_wrap=True)
        for col in ("tasks", "category", "subcategory"):
            acc.add_column(col, justify="right", no_wrap=True)
        for r in found["label_accuracy"]:
            n = r["n"] or 1
            acc.add_row(r["labeller"], str(r["n"]), f"{100 * r['category'] / n:.0f}%",
                        f"{100 * r['subcategory'] / n:.0f}%")
        console.print(acc)
    console.print("precision: delivered entries that apply; recall: applicable (task, entry) "
                  "pairs delivered; reached: tasks given at least one applicable entry.",
                  markup=False)
