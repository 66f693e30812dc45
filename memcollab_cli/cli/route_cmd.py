"""`memcollab route`: how each routing rule would file the tasks, without solving them."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from memcollab_cli.cli import common


def route(
    model: common.ModelSpec,
    benchmark: common.Benchmark,
    bank: Annotated[Path, typer.Option("--bank", exists=True, dir_okay=False,
                                       help="The bank whose entries the tasks are routed to.")],
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
    json_: common.JsonFlag = False,
) -> None:
    """Compare routing rules: share of tasks that get memory, and agreement with the labeller.

    Each rule labels the tasks: self (the solving model, MODEL), labeller (the model that
    labelled the bank's entries), nearest (the label of the most similar training task). For
    each, the table shows how many tasks would receive memory from BANK and how often the
    labels agree with the bank's labeller's (category; category and subcategory). Nothing is
    solved; every model's labels are cached in OUTDIR/labels.jsonl, and --labels-from fills that
    cache from earlier runs.

    Example:

    \b
      memcollab route -m qwen2.5-coder-0.5b -b gsm8k -n 100 --bank banks/collab-same.jsonl
    """
    from memcollab_cli.pipeline.route_compare import compare_rules
    from memcollab_cli.pipeline.routing import labels_from_runs

    rules = rule or list(common.ROUTINGS)
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
