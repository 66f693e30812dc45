"""scripts/study-status.py: how far each arm of a transcript has run, even mid-write."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "study-status.py"


def rec(arm: str, task_id: str) -> bytes:
    return (json.dumps({"model": {"name": "m"}, "condition": {"name": arm}, "benchmark": "b",
                        "task_id": task_id}) + "\n").encode()


def test_counts_and_the_contiguous_prefix_with_a_record_cut_off_at_the_end(tmp_path):
    path = tmp_path / "m.jsonl.gz"
    members = [rec("none", str(i)) for i in range(12)]  # 0..11, written out of order below
    members += [rec("bank", t) for t in ("0", "1", "2", "10")]  # a gap at 3
    body = b"".join(gzip.compress(m) for m in reversed(members))
    path.write_bytes(body + gzip.compress(rec("bank", "3"))[:20])  # a writer mid-record
    out = subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert out[2:] == ["| m.jsonl.gz | m | bank | b | 4 | 3 |",
                       "| m.jsonl.gz | m | none | b | 12 | 12 |"]


def test_without_files_it_says_how_to_call_it():
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 1 and "usage" in done.stderr
