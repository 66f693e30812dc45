"""Rendering an `EvalResult`: Rich tables for the terminal, a GitHub Markdown table, JSON, and a
PNG heatmap of the differences from no memory.

- `eval_tables`: per model, one row per condition with every figure `evaluate` computes
  (accuracy and the paired test in one table, turns and tokens in a second).
- `transfer_table` / `markdown_table`: models × conditions, each cell accuracy and the paired
  difference from no memory (the shape of the paper's Tables 1 and 2).
- `heatmap_png`: the same differences as colours (matplotlib, Agg backend; optional dependency).

Left out: computing anything (`evaluate`); printing (the CLI decides where output goes). Model
and bank names are wrapped in `rich.text.Text`, so brackets in them are never read as markup.
"""

from __future__ import annotations

import math
from pathlib import Path

from rich.table import Table
from rich.text import Text

from memcollab_cli.errors import MemcollabError
from memcollab_cli.jsonl import atomic_open
from memcollab_cli.pipeline.arms import NOISE_FLOOR
from memcollab_cli.pipeline.results import ConditionResult, EvalResult
from memcollab_cli.stats import PairedDifference

# ---------------------------------------------------------------------------------------------
# number formats: accuracy in percent, differences in percentage points


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def pp(x: float) -> str:
    """Signed percentage points; -0.0 prints as +0.0."""
    value = 100 * x
    return f"{'+' if value >= 0 or round(value, 1) == 0 else '-'}{abs(value):.1f}"


def p_value(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _style(diff: float) -> str:
    return "" if diff == 0 else "green" if diff > 0 else "red"


def _delta_style(c: ConditionResult) -> str:
    return "" if c.vs_none is None else _style(c.vs_none.diff)


# ---------------------------------------------------------------------------------------------
# terminal

EVAL_CAPTION = ("Δ: paired difference from no memory, Newcombe interval; p: exact McNemar; "
                "W/L: tasks won/lost against no memory; MDE: smallest |Δ| these n tasks detect "
                "(80% power, α 0.05); floor: tasks that flip between no memory and no memory on "
                "a shifted schedule (--noise-floor), and how many of their transcripts differ")


ROUTING_CAPTION = ("Δ with memory: the paired difference from no memory over the tasks that "
                   "received memory alone (routing fixes them before anything is solved); "
                   "reused: tasks without memory that took no memory's transcript, their prompt "
                   "being the same")


def detectable(c: ConditionResult) -> str:
    return "" if c.vs_none is None else _mde(c.vs_none)


def _mde(d: PairedDifference) -> str:
    found = d.detectable
    return "–" if found is None else f"{100 * found:.1f}"


def floor_text(result: EvalResult, model: str) -> str:
    f = result.noise_floor(model)
    if f is None:
        return "not run"
    return f"{f.wins + f.losses}/{f.n} ({result.noise_transcripts.get(model, 0)} differ)"


def eval_tables(result: EvalResult) -> list[Table]:
    """Per model two tables: accuracy with intervals and the paired test, then turns and cost.

    Two narrow tables rather than one wide one, so both stay readable in 80 columns.
    """
    tables = []
    for model in result.models:
        rows = result.rows(model)
        if not rows:
            continue
        bench = ",".join(sorted({r.benchmark for r in rows}))
        acc = Table(title=Text(f"{model} · {bench}"), caption=EVAL_CAPTION)
        acc.add_column("memory", overflow="fold")
        cost = Table(title=Text(f"{model} · turns and cost"))
        cost.add_column("memory", overflow="fold")
        for col in ("n", "accuracy [95% CI]", "Δ pp [95% CI]", "p", "W/L", "MDE", "floor"):
            acc.add_column(col, justify="right", no_wrap=True)
        floor = floor_text(result, model)
        for col in ("turns", "prompt tok", "cached", "completion tok", "model s"):
            cost.add_column(col, justify="right")
        for r in rows:
            d = r.vs_none
            delta = (Text(f"{pp(d.diff)} [{pp(d.low)}, {pp(d.high)}]", style=_delta_style(r))
                     if d else "")
            acc.add_row(Text(r.label), str(r.n),
                        f"{pct(r.accuracy)} [{100 * r.ci_low:.1f}, {100 * r.ci_high:.1f}]", delta,
                        p_value(d.p_value) if d else "", f"{d.wins}/{d.losses}" if d else "",
                        detectable(r), floor if d and r.condition != NOISE_FLOOR else "")
            cost.add_row(Text(r.label), f"{r.mean_turns:.2f}", str(r.prompt_tokens),
                         str(r.cached_tokens), str(r.completion_tokens), f"{r.model_seconds:.1f}")
        reused = sum((r.routing or {}).get("stand_ins", 0) for r in rows)
        if reused:  # their cost is the copied transcript's, not this run's
            cost.caption = (f"{reused} reused no-memory transcripts count their source's tokens "
                            "and seconds")
        tables += [acc, *_placebo_table(rows, model), cost]
        routing = routing_table(result, model)
        if routing is not None:
            tables.append(routing)
    agree = agreement_table(result)
    if agree is not None:
        tables.append(agree)
    return tables


PLACEBO_CAPTION = "Δ: bank minus its placebo, paired on the same tasks; W/L: won/lost against it"


def _placebo_table(rows: list[ConditionResult], model: str) -> list[Table]:
    """Each bank against its placebo: what its content adds beyond a memory block in the prompt."""
    rows = [r for r in rows if r.vs_placebo is not None]
    if not rows:
        return []
    table = Table(title=Text(f"{model} · each bank against its placebo"), caption=PLACEBO_CAPTION)
    table.add_column("memory", overflow="fold")
    for col in ("n", "Δ pp [95% CI]", "p", "W/L", "MDE"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        table.add_row(Text(r.label), str(r.vs_placebo.n), *_paired_cells(r.vs_placebo))
    return [table]


def _paired_cells(d: PairedDifference) -> list:
    """Δ [CI], p, W/L and MDE of one paired difference, as table cells."""
    return [Text(f"{pp(d.diff)} [{pp(d.low)}, {pp(d.high)}]", style=_style(d.diff)),
            p_value(d.p_value), f"{d.wins}/{d.losses}", _mde(d)]


def routing_table(result: EvalResult, model: str) -> Table | None:
    """Per memory condition: the routing rule, its labeller, how many tasks got memory, and the
    paired difference from no memory over those tasks alone (where some got none)."""
    rows = [r for r in result.rows(model) if r.routing]
    if not rows:
        return None
    table = Table(title=Text(f"{model} · routing"), caption=ROUTING_CAPTION)
    for col in ("memory", "routing", "labeller"):
        table.add_column(col, overflow="fold")
    for col in ("with memory", "no memory", "Δ pp with memory [95% CI]", "p", "W/L", "MDE"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in rows:
        f, d = r.routing, r.with_memory
        subgroup = ["", "", "", ""] if d is None else _paired_cells(d)
        table.add_row(Text(r.label), f["routing"], Text(f["labeller"]),
                      f"{f['with_memory']}/{f['n']}", _without_memory(f),
                      *subgroup)
    return table


def _without_memory(facts: dict) -> str:
    """The share of tasks without memory, and how many of them reused no memory's transcript."""
    share = pct(1 - facts["with_memory"] / facts["n"])
    reused = facts.get("stand_ins", 0)
    return f"{share} ({reused} reused)" if reused else share


def agreement_table(result: EvalResult) -> Table | None:
    """How often two labellings of the same tasks agree (two models, or two routing rules)."""
    if not result.agreement:
        return None
    table = Table(title="routing agreement on the same tasks")
    for col in ("a", "b", "n", "category", "subcategory"):
        table.add_column(col, justify="right" if col not in ("a", "b") else "left", overflow="fold")
    for a in result.agreement:
        table.add_row(Text(f"{a['a'][0]} · {result.label(a['a'][1])}"),
                      Text(f"{a['b'][0]} · {result.label(a['b'][1])}"), str(a["n"]),
                      f"{a['category']} ({pct(a['category'] / a['n'])})",
                      f"{a['subcategory']} ({pct(a['subcategory'] / a['n'])})")
    return table


def transfer_table(result: EvalResult) -> Table:
    """Models × conditions: accuracy, and below it the difference from no memory and its p."""
    table = Table(title="accuracy · Δ vs no memory (pp, paired) [95% CI] · McNemar p · MDE",
                  caption=EVAL_CAPTION)
    table.add_column("model")
    for cond in result.conditions:
        table.add_column(Text(result.label(cond)), justify="right")
    for model in result.models:
        cells: list[Text | str] = [Text(model)]
        for cond in result.conditions:
            c = result.cell(model, cond)
            if c is None:
                cells.append("–")
                continue
            text = Text(f"{pct(c.accuracy)} n={c.n}")
            if c.vs_none is not None:
                text.append(f"\n{pp(c.vs_none.diff)} [{pp(c.vs_none.low)}, {pp(c.vs_none.high)}]"
                            f"\np={p_value(c.vs_none.p_value)} MDE {detectable(c)}"
                            f"\nfloor {floor_text(result, model)}",
                            style=_delta_style(c))
            cells.append(text)
        table.add_row(*cells)
    return table


# ---------------------------------------------------------------------------------------------
# Markdown


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(result: EvalResult) -> str:
    """A GitHub table, models × conditions: `acc% (Δpp), n=N` per cell, and a note below it."""
    header = ["model"] + [_md_escape(result.label(c)) for c in result.conditions]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "---|" + "---:|" * len(result.conditions)]
    for model in result.models:
        cells = [_md_escape(model)]
        for cond in result.conditions:
            c = result.cell(model, cond)
            if c is None:
                cells.append("–")
            elif c.vs_none is None:
                cells.append(f"{pct(c.accuracy)}, n={c.n}")
            else:
                cells.append(f"{pct(c.accuracy)} ({pp(c.vs_none.diff)}), n={c.n}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Accuracy; in parentheses the paired difference from no memory in percentage "
                 "points, over the tasks both ran; n tasks per cell. Intervals, McNemar "
                 "p-values and the smallest detectable differences: `--json`.")
    floors = [f"{_md_escape(m)} {floor_text(result, m)}" for m in result.models
              if result.noise_floor(m) is not None]
    if floors:
        lines.append("Noise floor (tasks that flip between no memory and no memory on a shifted "
                     "schedule): " + "; ".join(floors) + ".")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# PNG


def heatmap_png(result: EvalResult, path: str | Path) -> Path:
    """Write a heatmap of Δ vs no memory (models × banks, percentage points) to `path`."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed, and never a GUI window from a CLI
        import matplotlib.pyplot as plt
    except ImportError:
        raise MemcollabError("--png needs matplotlib, which is not installed; install it with "
                             "pip install 'memcollab[plot]' (or pip install matplotlib)") from None
    banks = result.bank_conditions
    if not banks or not result.models:
        raise MemcollabError("nothing to plot: the heatmap shows banks against no memory, and "
                             "these results have no bank condition")
    deltas = [[_delta_pp(result.cell(m, b)) for b in banks] for m in result.models]
    finite = [abs(v) for row in deltas for v in row if not math.isnan(v)]
    span = max(finite + [1.0])  # symmetric colour scale: white is "no change"
    fig, ax = plt.subplots(figsize=(3.0 + 1.6 * len(banks), 1.4 + 0.8 * len(result.models)))
    cmap = plt.get_cmap("RdBu").with_extremes(bad="#dddddd")  # grey: no result
    image = ax.imshow(deltas, cmap=cmap, vmin=-span, vmax=span, aspect="auto")
    ax.set_xticks(range(len(banks)), [result.label(b) for b in banks], rotation=30, ha="right")
    ax.set_yticks(range(len(result.models)), result.models)
    for i, model in enumerate(result.models):
        for j, bank in enumerate(banks):
            c = result.cell(model, bank)
            value = deltas[i][j]
            text = "–" if math.isnan(value) else f"{pp(c.vs_none.diff)}\n{pct(c.accuracy)}, n={c.n}"
            dark = not math.isnan(value) and abs(value) > 0.6 * span  # white text on deep colour
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
    fig.colorbar(image, ax=ax, label="pp")
    ax.set_title("Accuracy change vs no memory (pp)", fontsize=10)
    path = Path(path)
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def _delta_pp(c: ConditionResult | None) -> float:
    return math.nan if c is None or c.vs_none is None else 100 * c.vs_none.diff

