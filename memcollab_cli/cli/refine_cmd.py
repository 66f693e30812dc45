"""`memcollab bank refine`: keep the entries that help on training tasks."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from memcollab_cli.cli import common
from memcollab_cli.cli.progress import stage_progress


def refine(
    bank: Annotated[Path, typer.Argument(help="The bank to refine (.jsonl).", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Refined bank to write (work files in "
                                      "OUT's name with .work).", dir_okay=False)],
    model: Annotated[str | None, typer.Option(
        "--model", "-m", help="The model the bank is meant for [default: the bank's unpreferred "
        "(weak) model, when there is one].", show_default=False)] = None,
    benchmark: common.Benchmark = "gsm8k",
    split: Annotated[str, typer.Option("--split", help="A training split; test is refused.")] = "train",
    tasks_per_entry: Annotated[int, typer.Option(
        "--tasks-per-entry", min=1, help="Training tasks each entry is tried on: its source task(s), "
        "then the most similar of its category.")] = 4,
    min_net: Annotated[int, typer.Option(
        "--min-net", help="Keep entries whose wins minus losses reach this.")] = 1,
    against: Annotated[str, typer.Option(
        "--against", help="What each entry must beat: none (no memory) or placebo (a constraint "
        "with no reasoning in it, in the entry's place; separates what an entry says from the "
        "effect of any memory block).")] = "none",
    categories: Annotated[list[Path] | None, typer.Option(
        "--categories", exists=True, dir_okay=False, help="Classification cache(s) naming the "
        "training tasks of each category (repeatable) [default: BANK's .work/categories.jsonl].",
        show_default=False)] = None,
    pool: Annotated[int, typer.Option(
        "--pool", min=0, help="Have the bank's labeller label the first N training tasks too "
        "(cached in the work files), so each category has tasks to try its entries on; 0 uses "
        "only the classification caches.")] = 0,
    labeller: Annotated[str | None, typer.Option(
        "--labeller", help="The model that labels the --pool tasks [default: the bank's labeller].",
        show_default=False)] = None,
    max_turns: common.MaxTurns = 3,
    max_tokens: common.MaxTokens = 512,
    seed: common.Seed = 42,
    parallel: common.Parallel = 1,
    n_ctx: common.NCtx = 4096,
    gpu_layers: common.GpuLayers = None,
    chat_format: common.ChatFormat = None,
    threads: common.Threads = None,
    mbpp_dir: common.MbppDir = None,
    json_: common.JsonFlag = False,
) -> None:
    """Try each entry on training tasks with and without it; keep those that win more than they lose.

    Each chosen task is solved once without memory (shared by all entries; with --against
    placebo, once per category with a content-free constraint) and once per entry with that entry
    alone in the prompt, at temperature 0. Kept entries carry `evidence` {tasks, won, lost, model,
    prompt, benchmark, split, baseline}. A rerun resumes from the work files.

    Examples:

      memcollab bank refine banks/gsm8k/collab-cross.jsonl -m qwen2.5-coder-0.5b -b gsm8k --split train \\
          -o banks/gsm8k/collab-cross.refined.jsonl --tasks-per-entry 16 --pool 500 -p 4
    """
    from memcollab_cli.agent import SolveParams
    from memcollab_cli.build.refine import check_training_split, label_pool
    from memcollab_cli.build.refine import refine as run_refine
    from memcollab_cli.memory import read_bank

    with common.user_errors():
        check_training_split(str(benchmark), split)  # before loading a model
        spec = model or default_model(read_bank(bank), bank)
        params = SolveParams(temperature=0.0, seed=seed, max_tokens=max_tokens, max_turns=max_turns,
                             parallel=parallel)
        with closing(common.Engine(n_ctx=n_ctx, gpu_layers=gpu_layers, chat_format=chat_format,
                                    threads=threads, parallel=parallel).open(spec)) as engine:
            pool_labels = {}
            if pool:
                with stage_progress(f"label {pool} training tasks", None) as advance:
                    pool_labels, _ = label_pool(bank, engine, out, benchmark=benchmark, split=split,
                                                size=pool, labeller=labeller or "", mbpp_dir=mbpp_dir,
                                                on_label=lambda total: advance(n=1, total=total))
            with stage_progress(f"refine · {engine.name}", None) as advance:
                summary = run_refine(bank, engine, out, benchmark=benchmark, split=split,
                                     tasks_per_entry=tasks_per_entry, min_net=min_net, against=against,
                                     params=params, categories=categories, pool_labels=pool_labels,
                                     mbpp_dir=mbpp_dir,
                                     on_record=lambda s, total: advance(n=1, total=total))
    render_refine(summary.to_dict(), json_)


def default_model(entries, bank: Path) -> str:
    from memcollab_cli.errors import DataError

    weak = sorted({m for e in entries for m in e.models["unpreferred"]})
    if len(weak) != 1:
        raise DataError(f"{bank}: cannot tell which model the bank is for (unpreferred models: "
                        f"{', '.join(weak) or 'none'}); pass -m MODEL")
    return weak[0]


def render_refine(s: dict, as_json: bool) -> None:
    if as_json:
        common.print_json(s)
        return
    table = Table(title=f"{s['bank']} · {s['model']} · {s['benchmark']} {s['split']}")
    for col in ("entry", "category\n/ subcategory", "tasks", "won", "lost", "kept"):
        table.add_column(col, justify="right" if col in ("tasks", "won", "lost") else "left",
                         no_wrap=True)
    for d in s["decisions"]:  # category over subcategory: two narrow lines fit 80 columns
        table.add_row(d["id"], f"{d['category']}\n/ {d['subcategory']}", str(len(d["task_ids"])),
                      str(d["won"]), str(d["lost"]), "yes" if d["kept"] else "no")
    console = common.out_console()
    console.print(table)
    baseline = "without memory" if s["against"] == "none" else f"with the {s['against']}"
    console.print(f"{s['out']}: kept {s['kept']} of {s['entries']} entries (net ≥ {s['min_net']}); "
                  f"{s['baseline_solves']} solves {baseline} + {s['trial_solves']} with an entry "
                  f"({s['solved_now']} run now) = {s['model_calls']} model calls, "
                  f"{s['prompt_tokens']} prompt + {s['completion_tokens']} completion tokens; "
                  f"{s['wall_seconds']:.0f} s; work files in {s['workdir']}", markup=False)
    if s["short"]:
        console.print(f"{s['short']} of {s['entries']} entries were tried on fewer than "
                      f"{s['tasks_per_entry']} tasks: their category has too few labelled training "
                      "tasks; label more with --pool N", markup=False)
