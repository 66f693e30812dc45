"""Every table the READMEs report from shipped transcripts is what those transcripts give:
re-reported here without a model, cell by cell and label by label, so a figure edited by hand or
a transcript changed without its README fails.

Two markers, each a comment line just above the tables it covers (ARGS: memcollab arguments):

- `<!-- figures: ARGS -->`: the tables equal `memcollab ARGS --json | scripts/study-table.py`
  (an `eval --from-runs` report: one row per arm, then each bank against its placebo);
- `<!-- figures --FLAG: ARGS -->`: the same with `scripts/study-table.py --FLAG` (`--turns`:
  turns against no memory; `--with-memory`: the difference over the tasks that received memory);
- `<!-- figures-markdown: ARGS -->`: the tables equal what `memcollab ARGS` prints itself (ARGS
  ends in `--markdown`, as `transfer --from-runs FILES --markdown` does);
- `<!-- figures-route: ARGS -->`: the tables equal `memcollab ARGS --json | scripts/route-table.py`
  (a model-free retrieval report, `route --gold`).

Every marked table in README.md, docs/ and banks/*/README.md is checked here, and a table with
the header of either report must be marked. The retrieval tables (`route --gold`) have a test of
their own below."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "banks" / "gsm8k"
MARKER = re.compile(r"^<!-- figures((?: --[a-z-]+)*): (.+?) -->$", re.M)  # flags, arguments
MARKDOWN = re.compile(r"^<!-- figures-markdown: (.+?) -->$", re.M)
ROUTE = re.compile(r"^<!-- figures-route: (.+?) -->$", re.M)
# The header rows of the reports above: a table that starts with one must sit under a marker.
# "| model | arm |" is several eval reports in one table, which no marker can check: split it.
REPORT_HEADERS = ("| arm | n | accuracy [95% CI] |", "| bank against its placebo |",
                  "| arm | n | turns per solved |", "| arm | with memory: n |",
                  "| model | none |", "| model | arm |")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
         *sorted((ROOT / "banks").glob("*/README.md"))]


def marked(marker: re.Pattern = MARKER) -> list[tuple[str, str, str]]:
    """(page, memcollab arguments, the text after the marker) for every table so marked."""
    return [(page, args, after) for page, _, args, after in flagged(marker)]


def flagged(marker: re.Pattern = MARKER) -> list[tuple[str, list[str], str, str]]:
    """(page, study-table flags, memcollab arguments, the text after the marker)."""
    return [(str(page.relative_to(ROOT)), m.group(1).split() if m.re is MARKER else [],
             m.group(m.re.groups), text[m.end():])
            for page in PAGES for text in [page.read_text(encoding="utf-8")]
            for m in marker.finditer(text)]


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
    assert len(made) == 2 and len(made[0]) == 8  # header, rule, six rules
    assert shown == made


def data_missing(args: str, home: Path) -> str | None:
    """Why a report over ARGS's benchmark cannot run here, or None: MBPP comes from
    MEMCOLLAB_MBPP (the Makefile points it at the data beside the checkout), the others from the
    data packages CI pulls."""
    words = shlex.split(args)
    bench = words[words.index("-b") + 1]
    if bench.startswith("mbpp"):
        return None if os.environ.get("MEMCOLLAB_MBPP") else "MBPP not found (set MEMCOLLAB_MBPP)"
    needed = {"gsm8k": "gsm8k_test.jsonl", "humaneval": "HumanEval.jsonl"}.get(bench)
    if needed and not (home / "data" / needed).exists():
        return f"{needed} not pulled (memcollab data pull {bench})"
    return None


@pytest.mark.parametrize("page,args,after", marked(ROUTE), ids=lambda v: v if len(v) < 40 else None)
def test_marked_retrieval_tables_match_the_gold_set(own_home, page, args, after):
    if (why := data_missing(args, own_home)):
        pytest.skip(why)
    expected = tables_of(piped(args, "route-table.py"))
    assert expected and tables_of(after)[:len(expected)] == expected, page


def piped(args: str, script: str, *flags: str) -> str:
    """What `memcollab ARGS --json | scripts/SCRIPT FLAGS` prints."""
    report = subprocess.run([sys.executable, "-m", "memcollab_cli", *shlex.split(args), "--json"],
                            capture_output=True, text=True, check=True, cwd=ROOT)
    return subprocess.run([sys.executable, str(ROOT / "scripts" / script), *flags],
                          input=report.stdout, capture_output=True, text=True, check=True).stdout


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


@pytest.mark.parametrize("page,flags,args,after", flagged(),
                         ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None)
def test_marked_tables_match_the_transcripts(own_home, page, flags, args, after):
    if (why := data_missing(args, own_home)):
        pytest.skip(why)
    expected = tables_of(piped(args, "study-table.py", *flags))
    assert expected and tables_of(after)[:len(expected)] == expected, page


@pytest.mark.parametrize("page,args,after", marked(MARKDOWN),
                         ids=lambda v: v if len(v) < 40 else None)
def test_markdown_tables_match_the_transcripts(own_home, page, args, after):
    """`transfer --from-runs` reads only the shipped trajectories: no data package, no skip."""
    made = subprocess.run([sys.executable, "-m", "memcollab_cli", *shlex.split(args)],
                          capture_output=True, text=True, check=True, cwd=ROOT).stdout
    expected = tables_of(made)
    assert expected and tables_of(after)[:len(expected)] == expected, page


def unmarked_reports(text: str) -> list[str]:
    """The header line of every report table in `text` that no marker covers (a marker covers
    the tables right after it, separated by blank lines only). Code blocks show commands and
    their output, not tables, and are passed over."""
    found, covered, table, code = [], False, False, False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            code = not code
            covered = table = False
        elif code:
            continue
        elif MARKER.match(line) or MARKDOWN.match(line) or ROUTE.match(line):
            covered = True
        elif line.startswith("|"):
            if not table and not covered and line.startswith(REPORT_HEADERS):
                found.append(line)
            table = True
        elif line.strip():
            covered = table = False
        else:
            table = False
    return found


def test_every_report_table_is_marked():
    missing = {str(page.relative_to(ROOT)): unmarked_reports(page.read_text(encoding="utf-8"))
               for page in PAGES}
    assert not {page: lines for page, lines in missing.items() if lines}


def test_unmarked_reports_sees_a_table_without_its_marker():
    table = "| arm | n | accuracy [95% CI] | x |\n|---|---|---|---|\n| none | 1 | 0% | 1 |\n"
    assert unmarked_reports("Over 1 task:\n\n" + table) == [table.splitlines()[0]]
    assert unmarked_reports("<!-- figures: eval -->\n" + table + "\n" + table) == []
    assert len(unmarked_reports("<!-- figures: eval -->\n" + table + "\nThen:\n\n" + table)) == 1
    assert unmarked_reports("```\n$ memcollab transfer --markdown\n" + table + "```\n") == []
    turns = "| arm | n | turns per solved | x |\n|---|---|---|---|\n"
    assert unmarked_reports("<!-- figures --turns: eval -->\n" + turns) == []
    assert unmarked_reports("<!-- figures --bogus flag: eval -->\n" + turns) == [turns.splitlines()[0]]


def test_the_readme_headline_is_marked():
    assert any(page == "README.md" for page, _, _ in marked())
