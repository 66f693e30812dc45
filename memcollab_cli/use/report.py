"""Rendering an `EvalResult`: Rich tables for the terminal, a GitHub Markdown table, JSON, and a
PNG forest plot of the differences from no memory.

- `eval_tables`: per model, several narrow tables (accuracy; the paired difference from no
  memory; turns against no memory; each bank against its placebo; tokens and time; routing),
  each readable in 80 columns.
- `transfer_tables` / `markdown_table`: conditions × models, each cell accuracy and the paired
  difference from no memory (the paper's Tables 1 and 2; the terminal turns them so that arms
  are rows and two models fit side by side).
- `forest_png`: every arm's difference with its interval, n, MDE and the noise floor, as a
  picture (matplotlib, Agg backend; optional dependency). `forest_layout` is what it draws.

Left out: computing anything (`evaluate`); printing (the CLI decides where output goes). Model
and bank names are wrapped in `rich.text.Text`, so brackets in them are never read as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.table import Table
from rich.text import Text

from memcollab_cli.errors import MemcollabError
from memcollab_cli.jsonl import atomic_open
from memcollab_cli.stats import PairedDifference, PairedMeans
from memcollab_cli.use.arms import EXAMPLES, NOISE_FLOOR, NONE
from memcollab_cli.use.results import ConditionResult, EvalResult

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
#
# Every table must read in 80 columns, piped as well as on a terminal: a row label (the memory
# arm, the model) is never wrapped or cut (`_label_column`), and a table that would not fit is
# split into narrower ones rather than squeezed. The widths to budget for: a label of about 30
# characters ("placebo:collab-cross.refined"), "28.7% [25.2, 32.4]" and "-0.7 [-4.0, +2.6]".
# tests/test_tables_80.py renders each of them at 80 columns from the shipped transcripts.

EVAL_CAPTION = ("Δ: paired difference from no memory over the same tasks, Newcombe interval; "
                "p: exact McNemar; W/L: tasks won/lost against no memory; MDE: smallest |Δ| "
                "these n tasks detect (80% power, α 0.05)")

ACCURACY_CAPTION = "accuracy: Wilson 95% interval; turns: mean model calls per task"

ROUTING_CAPTION = ("got memory: tasks that received entries; reused: tasks without memory that "
                   "took no memory's transcript, their prompt being the same")

WITH_MEMORY_CAPTION = ("Δ over the tasks that received memory alone (routing fixes them before "
                       "anything is solved), paired with no memory on the same tasks")


def _label_column(table: Table, header: str = "memory") -> None:
    """The row label: never wrapped, never cut, never squeezed to make room."""
    table.add_column(header, no_wrap=True, overflow="ignore")


def _number_columns(table: Table, *headers: str) -> None:
    """Figures: never wrapped, except an interval ("-0.7 [-4.0, +2.6]"), the one column that may
    break at its space when a long label or a wide interval leaves too little room (Rich
    narrows the columns that may wrap first, and cuts the others only if that is not enough)."""
    for header in headers:
        table.add_column(header, justify="right", no_wrap="[" not in header)


def detectable(c: ConditionResult) -> str:
    return "" if c.vs_none is None else _mde(c.vs_none)


def _mde(d: PairedDifference) -> str:
    found = d.detectable
    return "–" if found is None else f"{100 * found:.1f}"


def _interval(d: PairedDifference) -> str:
    return f"{pp(d.diff)} [{pp(d.low)}, {pp(d.high)}]"


def floor_text(result: EvalResult, model: str) -> str:
    f = result.noise_floor(model)
    if f is None:
        return "not run"
    return f"{f.wins + f.losses}/{f.n} ({result.noise_transcripts.get(model, 0)} differ)"


def floor_sentence(result: EvalResult, model: str) -> str:
    """The noise floor in words, for a caption (one figure per model, so not a column)."""
    f = result.noise_floor(model)
    if f is None:
        return "noise floor: not run (--noise-floor measures it)"
    return (f"noise floor: {f.wins + f.losses} of {f.n} tasks flip between no memory and no "
            f"memory on a shifted schedule, {result.noise_transcripts.get(model, 0)} transcripts "
            "differ")


def eval_tables(result: EvalResult) -> list[Table]:
    """Per model: accuracy; the paired difference from no memory; each bank against its placebo;
    tokens and time; routing. Several narrow tables rather than one wide one, so that each
    reads in 80 columns."""
    tables = []
    for model in result.models:
        rows = result.rows(model)
        if not rows:
            continue
        bench = ",".join(sorted({r.benchmark for r in rows}))
        acc = Table(title=Text(f"{model} · {bench} · accuracy"), caption=ACCURACY_CAPTION)
        _label_column(acc)
        _number_columns(acc, "n", "accuracy [95% CI]", "turns")
        for r in rows:
            acc.add_row(Text(r.label), str(r.n),
                        f"{pct(r.accuracy)} [{100 * r.ci_low:.1f}, {100 * r.ci_high:.1f}]",
                        f"{r.mean_turns:.2f}")
        tables.append(acc)
        paired = [r for r in rows if r.vs_none is not None]
        if paired:
            diff = Table(title=Text(f"{model} · against no memory, task by task"),
                         caption=f"{EVAL_CAPTION}; {floor_sentence(result, model)}")
            _label_column(diff)
            _number_columns(diff, "Δ pp [95% CI]", "p", "W/L", "MDE")
            for r in paired:
                diff.add_row(Text(r.label), *_paired_cells(r.vs_none))
            tables.append(diff)
        tables += _turns_table(rows, model)
        tables += _placebo_table(rows, model)
        cost = Table(title=Text(f"{model} · tokens and time"))
        _label_column(cost)
        _number_columns(cost, "prompt\ntokens", "cached", "completion\ntokens", "model\nseconds")
        for r in rows:
            cost.add_row(Text(r.label), str(r.prompt_tokens), str(r.cached_tokens),
                         str(r.completion_tokens), f"{r.model_seconds:.1f}")
        reused = sum((r.routing or {}).get("stand_ins", 0) for r in rows)
        if reused:  # their cost is the copied transcript's, not this run's
            cost.caption = (f"{reused} reused no-memory transcripts count their source's tokens "
                            "and seconds")
        tables.append(cost)
        tables += routing_tables(result, model)
    agree = agreement_table(result)
    if agree is not None:
        tables.append(agree)
    return tables


TURNS_CAPTION = ("turns: model calls per task (a feedback or retry turn adds one); per solved: "
                 "mean over the solved tasks; Δ: mean paired difference from no memory, normal "
                 "95% CI; fewer/more: tasks that took fewer/more turns; p: exact sign test")


def _turns_table(rows: list[ConditionResult], model: str) -> list[Table]:
    """Turns against no memory, task by task: memory that helps should need fewer."""
    paired = [r for r in rows if r.turns_vs_none is not None]
    if not paired:
        return []
    table = Table(title=Text(f"{model} · turns against no memory"), caption=TURNS_CAPTION)
    _label_column(table)
    _number_columns(table, "per\nsolved", "Δ turns [95% CI]", "fewer/\nmore", "p")
    for r in rows:
        d = r.turns_vs_none
        solved = "–" if r.turns_per_solved is None else f"{r.turns_per_solved:.2f}"
        if d is None:  # no memory itself: its turns per solved task, the reference
            table.add_row(Text(r.label), solved, "", "", "")
        else:
            table.add_row(Text(r.label), solved, Text(turns_interval(d), style=_style(-d.diff)),
                          f"{d.lower}/{d.higher}", p_value(d.p_value))
    return [table]


def turns_interval(d: PairedMeans) -> str:
    return f"{d.diff:+.2f} [{d.low:+.2f}, {d.high:+.2f}]"


PLACEBO_CAPTION = "Δ: bank minus its placebo, paired on the same tasks; W/L: won/lost against it"


def _placebo_table(rows: list[ConditionResult], model: str) -> list[Table]:
    """Each bank against its placebo: what its content adds beyond a memory block in the prompt."""
    rows = [r for r in rows if r.vs_placebo is not None]
    if not rows:
        return []
    table = Table(title=Text(f"{model} · each bank against its placebo"), caption=PLACEBO_CAPTION)
    _label_column(table)
    _number_columns(table, "n", "Δ pp [95% CI]", "p", "W/L", "MDE")
    for r in rows:
        table.add_row(Text(r.label), str(r.vs_placebo.n), *_paired_cells(r.vs_placebo))
    return [table]


def _paired_cells(d: PairedDifference) -> list:
    """Δ [CI], p, W/L and MDE of one paired difference, as table cells."""
    return [Text(_interval(d), style=_style(d.diff)), p_value(d.p_value), f"{d.wins}/{d.losses}",
            _mde(d)]


def routing_tables(result: EvalResult, model: str) -> list[Table]:
    """Per memory condition: the routing rule, its labeller and how many tasks got memory; then,
    where some got none, the paired difference from no memory over those that got it."""
    rows = [r for r in result.rows(model) if r.routing]
    if not rows:
        return []
    rules = {r.routing["routing"] for r in rows}
    labellers = {r.routing["labeller"] for r in rows} - {""}
    title = f"{model} · routing"
    if len(rules) == 1:  # the usual case: one rule for every arm, said once in the title
        title += f" · {next(iter(rules))}"
    if len(labellers) == 1:
        title += f" · labelled by {next(iter(labellers))}"
    table = Table(title=Text(title), caption=ROUTING_CAPTION)
    _label_column(table)
    if len(rules) > 1:
        table.add_column("rule", no_wrap=True)
    if len(labellers) > 1:
        table.add_column("labeller", no_wrap=True)
    _number_columns(table, "got memory", "no memory")
    for r in rows:
        f = r.routing
        cells = [Text(r.label)]
        if len(rules) > 1:
            cells.append(f["routing"])
        if len(labellers) > 1:
            cells.append(Text(f["labeller"]))
        table.add_row(*cells, f"{f['with_memory']}/{f['n']}", _without_memory(f))
    tables = [table]
    subgroup = [r for r in rows if r.with_memory is not None]
    if subgroup:
        sub = Table(title=Text(f"{model} · Δ pp with memory, over the tasks that got it"),
                    caption=WITH_MEMORY_CAPTION)
        _label_column(sub)
        _number_columns(sub, "n", "Δ pp [95% CI]", "p", "W/L", "MDE")
        for r in subgroup:
            sub.add_row(Text(r.label), str(r.with_memory.n), *_paired_cells(r.with_memory))
        tables.append(sub)
    return tables


def routing_table(result: EvalResult, model: str) -> Table | None:
    """The first of `routing_tables` (how many tasks got memory), or None."""
    found = routing_tables(result, model)
    return found[0] if found else None


def _without_memory(facts: dict) -> str:
    """The share of tasks without memory, and how many of them reused no memory's transcript."""
    share = pct(1 - facts["with_memory"] / facts["n"])
    reused = facts.get("stand_ins", 0)
    return f"{share}\n({reused} reused)" if reused else share


def agreement_table(result: EvalResult) -> Table | None:
    """How often two labellings of the same tasks agree (two models, or two routing rules).

    The two labellings are stacked in one cell (model · arm, each up to about 45 characters)."""
    if not result.agreement:
        return None
    table = Table(title="routing agreement on the same tasks", show_lines=True,
                  caption="same category / subcategory: tasks both labellings put in the same one")
    table.add_column("labellings a / b", no_wrap=True, overflow="ignore")
    _number_columns(table, "n", "same\ncategory", "same\nsubcategory")
    for a in result.agreement:
        table.add_row(Text(f"{a['a'][0]} · {result.label(a['a'][1])}\n"
                           f"{a['b'][0]} · {result.label(a['b'][1])}"), str(a["n"]),
                      f"{a['category']}\n({pct(a['category'] / a['n'])})",
                      f"{a['subcategory']}\n({pct(a['subcategory'] / a['n'])})")
    return table


TRANSFER_CAPTION = ("each cell: accuracy and n; Δ pp from no memory over the same tasks [Newcombe "
                    "95% CI]; exact McNemar p and MDE, the smallest |Δ| these n tasks detect")


def transfer_tables(result: EvalResult, models_per_table: int = 2) -> list[Table]:
    """Conditions × models (the paper's Tables 1 and 2, turned so that the arms are rows): each
    cell the accuracy, the paired difference from no memory and its p. Models beyond
    `models_per_table` go to another table, so that each reads in 80 columns."""
    tables = []
    for start in range(0, len(result.models), models_per_table):
        models = result.models[start:start + models_per_table]
        floors = "; ".join(f"{m}: {floor_text(result, m)}" for m in models)
        table = Table(title="accuracy · Δ vs no memory", show_lines=True, caption=f"{TRANSFER_CAPTION}; noise "
                      f"floor (tasks that flip, transcripts that differ): {floors}")
        _label_column(table)
        for model in models:
            table.add_column(Text(model), justify="right", no_wrap=True)
        for cond in result.conditions:
            cells: list[Text | str] = [Text(result.label(cond))]
            for model in models:
                c = result.cell(model, cond)
                if c is None:
                    cells.append("–")
                    continue
                text = Text(f"{pct(c.accuracy)} n={c.n}")
                if c.vs_none is not None:
                    text.append(f"\n{_interval(c.vs_none)}\np={p_value(c.vs_none.p_value)} "
                                f"MDE {detectable(c)}", style=_delta_style(c))
                cells.append(text)
            table.add_row(*cells)
        tables.append(table)
    return tables


def transfer_table(result: EvalResult) -> Table:
    """All models in one table (`transfer_tables` splits them two by two for 80 columns)."""
    return transfer_tables(result, models_per_table=max(1, len(result.models)))[0]


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


def _pyplot():
    """matplotlib.pyplot on the Agg backend (no display, never a GUI window from a CLI)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MemcollabError("--plot needs matplotlib, which is not installed: pip install "
                             "'memcollab[plot]' (or pip install matplotlib)") from None
    return plt


@dataclass(frozen=True)
class ForestRow:
    """One arm of one model in a forest plot: its paired difference from no memory, in pp."""

    model: str
    condition: str
    label: str  # the y-axis label's first line
    n: int
    diff: float
    low: float
    high: float
    mde: float | None
    control: bool  # a placebo or worked examples: drawn in grey


@dataclass(frozen=True)
class ForestPanel:
    """One model: its baseline, its arms top to bottom, and the noise floor's band if measured."""

    model: str
    title: str
    rows: list[ForestRow]
    band: tuple[float, float] | None  # the noise-floor arm's 95% interval, pp
    band_label: str


@dataclass(frozen=True)
class ForestPlot:
    """What `forest_png` drew (for tests and callers; the pixels are matplotlib's)."""

    path: Path
    title: str
    panels: list[ForestPanel]

    @property
    def rows(self) -> list[ForestRow]:
        return [r for p in self.panels for r in p.rows]


def forest_layout(result: EvalResult, path: str | Path = "") -> ForestPlot:
    """Each model's arms as rows: Δ vs no memory with its 95% interval, n and MDE per arm; the
    noise-floor arm, where it ran, as a band instead of a row."""
    panels = []
    for model in result.models:
        rows = []
        for c in result.rows(model):
            d = c.vs_none
            if d is None or c.condition == NOISE_FLOOR:
                continue
            rows.append(ForestRow(model, c.condition, c.label, d.n, 100 * d.diff, 100 * d.low,
                                  100 * d.high, None if d.detectable is None else 100 * d.detectable,
                                  c.is_placebo or c.condition == EXAMPLES))
        if not rows:
            continue
        none = result.cell(model, NONE)
        bench = ",".join(sorted({c.benchmark for c in result.rows(model)}))
        title = f"{model} · {bench}"
        if none is not None:
            title += f" · no memory {pct(none.accuracy)} (n={none.n})"
        floor, band, band_label = result.noise_floor(model), None, ""
        if floor is not None:
            band = (100 * floor.low, 100 * floor.high)
            band_label = (f"noise floor: no memory vs itself on a shifted schedule, n={floor.n}, "
                          f"{_interval(floor)}")
        panels.append(ForestPanel(model, title, rows, band, band_label))
    if not panels:
        raise MemcollabError("nothing to plot: the plot shows each memory arm against no memory, "
                             "and these results have no arm with a paired no-memory run")
    return ForestPlot(Path(path), "Accuracy change vs no memory (percentage points, paired, "
                      "95% interval)", panels)


def forest_png(result: EvalResult, path: str | Path) -> ForestPlot:
    """Write a forest plot of every arm's paired difference from no memory to `path` (PNG).

    One panel per model; a row per arm with its 95% interval, labelled with n and the smallest
    difference n detects (MDE); the noise floor as a shaded band where it was measured; the
    difference and interval printed at the right. Returns what it drew."""
    layout = forest_layout(result, path)
    plt = _pyplot()
    heights = [len(p.rows) + 1.2 for p in layout.panels]  # rows, plus room for the titles
    fig, axes = plt.subplots(len(layout.panels), 1, squeeze=False, sharex=True,
                             figsize=(8.5, 1.2 + 0.5 * sum(heights)),
                             gridspec_kw={"height_ratios": heights})
    lows = [r.low for r in layout.rows] + [b for p in layout.panels if p.band for b in p.band]
    highs = [r.high for r in layout.rows] + [b for p in layout.panels if p.band for b in p.band]
    span = max([abs(v) for v in lows + highs] + [1.0])
    for ax, panel in zip((row[0] for row in axes), layout.panels, strict=True):
        ys = list(range(len(panel.rows)))[::-1]  # the first arm at the top
        if panel.band is not None:
            ax.axvspan(*panel.band, color="#f2c14e", alpha=0.35, lw=0)
        ax.axvline(0, color="black", lw=0.8)
        for y, r in zip(ys, panel.rows, strict=True):
            colour = "#888888" if r.control else "#1f5fa8"
            ax.errorbar(r.diff, y, xerr=[[r.diff - r.low], [r.high - r.diff]], fmt="o",
                        color=colour, ecolor=colour, capsize=3, ms=5, lw=1.5)
            ax.annotate(f"{r.diff:+.1f} [{r.low:+.1f}, {r.high:+.1f}]", xy=(1.0, y),
                        xycoords=("axes fraction", "data"), xytext=(6, 0),
                        textcoords="offset points", va="center", fontsize=8)
        labels = [f"{r.label}\nn={r.n}, MDE {'–' if r.mde is None else f'{r.mde:.1f}'}"
                  for r in panel.rows]
        ax.set_yticks(ys, labels, fontsize=8)
        ax.set_ylim(-0.8, len(panel.rows) - 0.2)
        title = panel.title if panel.band is None else f"{panel.title}\n{panel.band_label} (shaded)"
        ax.set_title(title, fontsize=9, loc="left")
        ax.grid(axis="x", color="#dddddd", lw=0.6)
        ax.set_axisbelow(True)
    last = axes[-1][0]
    last.set_xlim(-1.15 * span, 1.15 * span)
    last.set_xlabel("Δ accuracy vs no memory (pp); grey: controls (placebo, worked examples)",
                    fontsize=8)
    fig.suptitle(layout.title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return layout
