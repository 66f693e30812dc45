"""The `bank` commands through the CLI, on the small hand-written bank in tests/data."""

import json
from pathlib import Path

from typer.testing import CliRunner

from memcollab_cli.cli.main import app

BANK = Path(__file__).parent / "data" / "tiny_bank.jsonl"


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_stats_counts_by_category_and_model():
    result = run("bank", "stats", BANK, "--json")
    stats = json.loads(result.stdout)
    assert result.exit_code == 0 and stats["entries"] == 4
    assert stats["categories"] == {"Geometry": 1, "Prealgebra": 3}
    text = run("bank", "stats", BANK).stdout
    assert "Prealgebra / Order of Operations & Arithmetic" in text and "qwen2.5-coder-0.5b" in text


def test_diff_shows_one_changed_entry(tmp_path):
    lines = BANK.read_text().splitlines()
    entry = json.loads(lines[0])
    entry["support"] = 3
    lines[0] = json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join(lines) + "\n")
    result = run("bank", "diff", BANK, edited)
    assert result.stdout.strip() == f"~ {entry['id']}: support 1 → 3"
    assert "0 added, 0 removed, 1 changed" in result.stderr


def test_validate_names_file_line_and_unknown_key(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(BANK.read_text().replace('"enforce"', '"enforse"', 1))
    result = run("bank", "validate", bad)
    assert result.exit_code == 1
    assert f"{bad}:1: unknown key 'enforse'" in result.stderr


def test_merge_of_a_bank_with_itself_keeps_every_entry_once(tmp_path):
    out = tmp_path / "merged.jsonl"
    assert run("bank", "merge", BANK, BANK, "-o", out).exit_code == 0
    assert out.read_text() == BANK.read_text()
