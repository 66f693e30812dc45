"""scripts/demo_summary.py, the demo's closing words: every figure it prints comes from the
reports it is given, and its verdict follows them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from memcollab_cli.use.evaluate import results_from_runs

ROOT = Path(__file__).resolve().parents[1]


def test_summary_of_shipped_reports(tmp_path):
    small = results_from_runs([ROOT / "banks/pilot/transfer/qwen2.5-coder-0.5b.jsonl"],
                              conditions=["none", "collab-cross"])
    study = results_from_runs([ROOT / "banks/gsm8k/eval/qwen2.5-coder-0.5b.jsonl.gz"],
                              conditions=["none", "collab-cross", "placebo:collab-cross"])
    paths = []
    for name, result in (("small", small), ("study", study)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(result.to_dict()))
    out = subprocess.run([sys.executable, ROOT / "scripts/demo_summary.py", *paths,
                          ROOT / "banks/pilot/collab-cross.jsonl"],
                         capture_output=True, text=True, check=True).stdout
    words = " ".join(out.split())
    assert "a bank of 4 constraints" in words  # banks/pilot/collab-cross.jsonl has 4 entries
    assert "21/100 with no memory, 19/100 with the bank (-2.0 points [-9.3, +5.2]" in words
    cross = study.cell("qwen2.5-coder-0.5b", "collab-cross").vs_none
    assert f"collab-cross {100 * cross.diff:+.1f} points" in words
    assert "No arm's interval excludes zero" in words
    assert "no bank did better than random entries drawn from itself" in words
