"""Every table the READMEs report from shipped transcripts is what those transcripts give:
re-reported here without a model, cell by cell and label by label, so a figure edited by hand or
a transcript changed without its README fails.

A table made by `memcollab eval … --json | scripts/study-table.py` is marked in its Markdown
file by the comment `<!-- figures: ARGS -->` just above it (ARGS: the memcollab arguments);
every marked table in README.md, docs/ and banks/*/README.md is checked here. The retrieval
tables (`route --gold`) have a test of their own below."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "banks" / "gsm8k"
SECTION = "### The 0.5B over 600 tasks"
MARKER = re.compile(r"^<!-- figures: (.+?) -->$", re.M)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
         *sorted((ROOT / "banks").glob("*/README.md"))]


def marked() -> list[tuple[str, str, str]]:
    """(page, memcollab arguments, the text after the marker) for every marked table."""
    return [(str(page.relative_to(ROOT)), m.group(1), text[m.end():])
            for page in PAGES for text in [page.read_text(encoding="utf-8")]
            for m in MARKER.finditer(text)]


def table_rows(text: str) -> list[list[str]]:
    """Cells of the first Markdown table in `text`, header and rule dropped."""
    rows, started = [], False
    for line in text.splitlines():
        if line.startswith("|"):
            started = True
            rows.append([c.strip() for c in line.strip("|").split("|")])
        elif started:
            break
    return rows[2:]


def test_readme_table_matches_the_transcripts(own_home):
    if not (own_home / "data" / "gsm8k_test.jsonl").exists():
        pytest.skip("GSM8K test data not pulled (memcollab data pull gsm8k)")
    readme = (STUDY / "README.md").read_text(encoding="utf-8")
    shown = table_rows(readme[readme.index(SECTION):])
    report = subprocess.run(
        [sys.executable, "-m", "memcollab_cli", "eval", "--from-runs",
         str(STUDY / "eval" / "qwen2.5-coder-0.5b.jsonl.gz"), "-m", "qwen2.5-coder-0.5b",
         "-b", "gsm8k", "--split", "test", "-n", "600",
         "--bank", f"collab-cross={STUDY / 'collab-cross.jsonl'}",
         "--bank", f"collab-same={STUDY / 'collab-same.jsonl'}", "--placebo",
         "--bank", f"refined={STUDY / 'collab-cross.refined.jsonl'}",
         "--examples", str(STUDY / "runs" / "qwen2.5-coder-0.5b.jsonl.gz"), "--json"],
        capture_output=True, text=True, check=True, cwd=ROOT)
    table = subprocess.run([sys.executable, str(ROOT / "scripts" / "study-table.py")],
                           input=report.stdout, capture_output=True, text=True, check=True)
    made = table_rows(table.stdout)
    assert len(shown) == len(made) == 7
    for row_shown, row_made in zip(shown, made, strict=True):
        assert row_shown[1:] == row_made[1:], (row_shown[0], row_made[0])  # labels are reworded


def all_tables(text: str, count: int) -> list[list[list[str]]]:
    """The first `count` Markdown tables in `text`, each as rows of cells (header included)."""
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append([c.strip() for c in line.strip("|").split("|")])
        elif current:
            tables.append(current)
            current = []
            if len(tables) == count:
                break
    return tables


@pytest.mark.parametrize("first,heading", [(0, "Tasks 0–299 (where the thresholds were chosen):"),
                                           (300, "Tasks 300–599 (held out):")])
def test_retrieval_tables_match_the_gold_set(own_home, first, heading):
    """Every rule's precision, recall and reach, and each labeller's accuracy, labels included,
    as `route --gold` computes them from the shipped gold set and label caches (no model)."""
    if not (own_home / "data" / "gsm8k_test.jsonl").exists():
        pytest.skip("GSM8K test data not pulled (memcollab data pull gsm8k)")
    readme = (STUDY / "README.md").read_text(encoding="utf-8")
    shown = all_tables(readme[readme.index(heading):], 2)
    report = subprocess.run(
        [sys.executable, "-m", "memcollab_cli", "route", "-b", "gsm8k", "--split", "test",
         *[f"--id={i}" for i in range(first, first + 300)],
         "--bank", str(STUDY / "gold" / "hand-written.jsonl"),
         "--gold", str(STUDY / "gold" / "applies.jsonl"),
         "--hand-labels", str(STUDY / "gold" / "labels.jsonl"),
         "--nearest-from", str(STUDY / "collab-cross.refined.work" / "labels.jsonl"),
         "-o", str(STUDY / "eval"), "--json"],
        capture_output=True, text=True, check=True, cwd=ROOT)
    table = subprocess.run([sys.executable, str(ROOT / "scripts" / "route-table.py")],
                           input=report.stdout, capture_output=True, text=True, check=True)
    made = all_tables(table.stdout + "\n", 2)
    assert len(made) == 2 and len(made[0]) == 7  # header, rule, five rules
    assert shown == made


def tables_of(text: str) -> list[list[list[str]]]:
    """Every Markdown table at the start of `text` (tables separated by blank lines only)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in text.strip("\n").splitlines():
        if line.startswith("|"):
            current.append([c.strip() for c in line.strip("|").split("|")])
        elif line.strip() == "" and current:
            tables.append(current)
            current = []
        elif line.strip():
            break
    return tables + ([current] if current else [])


@pytest.mark.parametrize("page,args,after", marked(), ids=lambda v: v if len(v) < 40 else None)
def test_marked_tables_match_the_transcripts(own_home, page, args, after):
    if not (own_home / "data" / "gsm8k_test.jsonl").exists():
        pytest.skip("GSM8K test data not pulled (memcollab data pull gsm8k)")
    report = subprocess.run([sys.executable, "-m", "memcollab_cli", *shlex.split(args), "--json"],
                            capture_output=True, text=True, check=True, cwd=ROOT)
    made = subprocess.run([sys.executable, str(ROOT / "scripts" / "study-table.py")],
                          input=report.stdout, capture_output=True, text=True, check=True).stdout
    expected = tables_of(made)
    assert expected and tables_of(after)[:len(expected)] == expected, page


def test_the_readme_headline_is_marked():
    assert any(page == "README.md" for page, _, _ in marked())
