"""Every table the CLI prints reads in 80 columns, piped (not a terminal) as well as on a screen.

Each command or renderer runs on realistic data (the shipped GSM8K transcripts and banks where
they exist) with a recording console 80 columns wide, and every table it prints is checked: no
line wider than 80, nothing cut with "…", every column header whole word by word (a header may
break between words), and every row label (the first column: the memory arm, the model, the
entry) whole on one line, so a label is never squeezed to nothing or wrapped mid-word
("placebo:collab-cros" / "s"). `--json` is the machine interface and is not concerned.

"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.testing import CliRunner

from memcollab_cli.cli import common
from memcollab_cli.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "banks" / "gsm8k"
PILOT = ROOT / "banks" / "pilot"
WIDTH = 80


class Recorder:
    """Stands in for `common.out_console`: an 80-column console writing to a pipe-like buffer,
    keeping every Table printed."""

    def __init__(self):
        self.tables: list[Table] = []
        self.buffer = io.StringIO()

    def console(self) -> Console:
        recorder = self

        class Recording(Console):
            def print(self, *objects, **kwargs):
                recorder.tables += [o for o in objects if isinstance(o, Table)]
                super().print(*objects, **kwargs)

        return Recording(width=WIDTH, file=self.buffer, highlight=False)  # a StringIO: no TTY


@pytest.fixture
def recorder(monkeypatch):
    found = Recorder()
    monkeypatch.setattr(common, "out_console", found.console)
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    return found


def _plain(cell) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def assert_readable(table: Table) -> str:
    """Render `table` alone at 80 columns; check widths, ellipses, headers and row labels."""
    out = io.StringIO()
    Console(width=WIDTH, file=out, highlight=False).print(table)
    text = out.getvalue()
    lines = text.splitlines()
    title = _plain(table.title or "")
    assert max(len(line) for line in lines) <= WIDTH, f"{title}: wider than {WIDTH}\n{text}"
    assert "…" not in text, f"{title}: a cell is cut\n{text}"
    words = {w for line in lines for w in line.replace("┃", " ").replace("│", " ").split()}
    for header in (_plain(c.header) for c in table.columns):  # may break between words
        for word in header.split():
            assert word in words, f"{title}: header word {word!r} is not whole\n{text}"
    for label in (_plain(c) for c in table.columns[0].cells):  # never breaks
        for part in filter(None, (p.strip() for p in label.splitlines())):
            assert any(part in line for line in lines), f"{title}: {part!r} is not whole\n{text}"
    return text


def check_all(recorder: Recorder, at_least: int) -> str:
    assert len(recorder.tables) >= at_least, [_plain(t.title or "") for t in recorder.tables]
    for table in recorder.tables:
        assert_readable(table)
    return recorder.buffer.getvalue()


def run(*args):
    res = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


# -- eval and transfer, from the shipped transcripts ---------------------------------------------


def test_eval_tables_of_the_600_task_study(recorder):
    run("eval", "--from-runs", STUDY / "eval" / "qwen2.5-coder-0.5b.jsonl.gz",
        "-m", "qwen2.5-coder-0.5b")
    text = check_all(recorder, at_least=6)
    for arm in ("none", "noise-floor", "collab-cross", "placebo:collab-cross", "collab-same",
                "placebo:collab-same", "collab-cross.refined", "hand-written", "self-qwen05",
                "self-qwen15", "examples"):
        assert f"│ {arm} " in text, arm
    assert "-0.7 [-4.0, +2.6]" in text  # collab-cross over 600 tasks, as banks/gsm8k/README.md


def test_eval_labels_of_named_banks(recorder, monkeypatch):
    # NAME=PATH labels, the longest a study uses: "placebo:collab-cross.refined" (28 characters)
    from memcollab_cli.use import report
    from memcollab_cli.use.evaluate import results_from_runs

    labels = {"collab-cross.refined": "collab-cross.refined",
              "placebo:collab-cross": "placebo:collab-cross.refined"}
    result = results_from_runs([STUDY / "eval" / "qwen2.5-coder-0.5b.jsonl.gz"], labels=labels)
    for table in report.eval_tables(result):
        assert_readable(table)


def test_transfer_tables_of_both_studies(recorder):
    run("transfer", "--from-runs", *sorted((STUDY / "eval").glob("*.jsonl.gz")))
    text = check_all(recorder, at_least=4)
    assert "qwen2.5-coder-1.5b" in text and "routing agreement" in text
    recorder.tables.clear()
    run("transfer", "--from-runs", *sorted((PILOT / "transfer").glob("*.jsonl")))
    check_all(recorder, at_least=3)


def test_transfer_with_three_models_splits_the_table():
    from memcollab_cli.use import report
    from memcollab_cli.use.evaluate import results_from_runs

    result = results_from_runs(sorted((STUDY / "eval").glob("*.jsonl.gz")))
    result.models.append("smollm2-135m")  # a third column: no cells, shown as "–"
    tables = report.transfer_tables(result)
    assert len(tables) == 2
    for table in tables:
        assert_readable(table)


# -- the other commands' tables --------------------------------------------------------------


def test_bank_stats_and_blame(recorder):
    run("bank", "stats", STUDY / "collab-same.jsonl")
    run("bank", "blame", STUDY / "collab-same.jsonl", STUDY / "eval" / "qwen2.5-coder-0.5b.jsonl.gz")
    text = check_all(recorder, at_least=5)
    first = json.loads((STUDY / "collab-same.jsonl").read_text().splitlines()[0])
    assert first["enforce"].split()[0] in text  # the constraints follow the figures, wrapped


def test_models_and_data_lists(recorder):
    run("models", "list")
    run("data", "list")
    text = check_all(recorder, at_least=2)
    assert "qwen2.5-coder-0.5b" in text and "mbpp-sanitized" in text


def _contrast_summary(log: Path) -> dict:
    """A contrast stage summary with the rejection reasons a real contrast log holds."""
    rejected = Counter()
    pairs = 0
    for line in log.read_text().splitlines():
        rec = json.loads(line)
        pairs += 1
        for r in rec.get("rejected") or []:
            rejected[r["reason"].split(" (")[0]] += 1
    return {"pairs": pairs, "skipped": {"both-correct": 60, "both-wrong": 293}, "resumed": pairs,
            "localized": pairs, "dropped_unlogged": 0, "proposed": 147 + sum(rejected.values()),
            "rejected": dict(rejected), "no_lesson": 40, "accepted": 12}


def test_solve_distill_contrast_summaries(recorder):
    from memcollab_cli.cli.distill_cmd import render_distill
    from memcollab_cli.cli.solve_cmd import render_summary

    # figures of the README's solve example (qwen2.5-coder-0.5b, 50 GSM8K tasks)
    render_summary({"model": "qwen2.5-coder-0.5b", "benchmark": "gsm8k", "condition":
                    "placebo:collab-cross", "graded": 50, "correct": 10, "accuracy": 0.2,
                    "mean_turns": 1.08, "prompt_tokens": 10347, "cached_tokens": 6650,
                    "completion_tokens": 15636, "tokens_per_second": 24.6,
                    "wall_seconds": 635.0, "skipped": 0}, as_json=False)
    render_distill({
        "solve": [{"model": "qwen2.5-coder-0.5b", "graded": 500, "correct": 145, "mean_turns": 1.31,
                   "tokens_per_second": 24.6, "wall_seconds": 20512.0},
                  {"model": "smollm2-135m", "graded": 500, "correct": 6, "mean_turns": 1.63,
                   "tokens_per_second": 61.2, "wall_seconds": 9921.0}],
        "contrast": _contrast_summary(STUDY / "collab-cross.work" / "contrast-log.jsonl"),
        "build": {"constraints": 12, "dropped": 0, "merged": 0, "kept": 12},
        "bank": "banks/gsm8k/collab-cross.jsonl", "workdir": "banks/gsm8k/collab-cross.work"})
    text = check_all(recorder, at_least=3)
    assert "10/50 = 20.0%" in text and "names the task's objects" in text


def test_refine_table(recorder):
    from memcollab_cli.cli.refine_cmd import render_refine

    entries = [json.loads(line) for line in (STUDY / "collab-cross.jsonl").read_text().splitlines()]
    decisions = [{"id": e["id"], "category": e["category"], "subcategory": e["subcategory"],
                  "task_ids": [str(i) for i in range(16)], "won": i % 3, "lost": 2,
                  "kept": i % 3 > 2} for i, e in enumerate(entries)]
    render_refine({"bank": "banks/gsm8k/collab-cross.jsonl", "model": "qwen2.5-coder-0.5b",
                   "benchmark": "gsm8k", "split": "train", "decisions": decisions,
                   "out": "banks/gsm8k/collab-cross.refined.jsonl", "kept": 2,
                   "entries": len(entries), "min_net": 1, "baseline_solves": 166,
                   "against": "placebo", "trial_solves": 192, "solved_now": 358,
                   "model_calls": 488, "prompt_tokens": 400000, "completion_tokens": 150000,
                   "wall_seconds": 4320, "workdir": "banks/gsm8k/collab-cross.refined.work",
                   "short": 0, "tasks_per_entry": 16}, as_json=False)
    check_all(recorder, at_least=1)


def test_route_gold_tables(recorder, own_home):
    """`route --gold`: every rule and labeller whole, from the shipped gold set (no model)."""
    if not (own_home / "data" / "gsm8k_test.jsonl").exists():
        pytest.skip("GSM8K test data not pulled")
    run("route", "-b", "gsm8k", "--split", "test", "-n", "600",
        "--bank", STUDY / "gold" / "hand-written.jsonl", "--gold", STUDY / "gold" / "applies.jsonl",
        "--hand-labels", STUDY / "gold" / "labels.jsonl",
        "--nearest-from", STUDY / "collab-cross.refined.work" / "labels.jsonl",
        "-o", STUDY / "eval")
    text = check_all(recorder, at_least=2)
    for rule in ("labels: qwen2.5-coder-1.5b", "nearest (qwen2.5-coder-1.5b)", "hand labels",
                 "lexical ≥0.10", "global ≥0.05"):
        assert f"│ {rule} " in text, rule
