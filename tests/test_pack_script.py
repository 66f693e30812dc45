"""scripts/pack-transcripts.sh: transcripts packed for committing, never while a run writes them."""

from __future__ import annotations

import fcntl
import gzip
import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "pack-transcripts.sh"


def pack(*dirs: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *map(str, dirs)], capture_output=True, text=True)


def test_plain_and_resumed_transcripts_become_one_gzip_stream_each(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"n": 1}\n{"n": 2}\n')
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(b'{"n": 0}\n'))  # packed earlier
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(b'{"n": 3}\n') + gzip.compress(b'{"n": 4}\n'))
    (tmp_path / "labels.jsonl").write_text('{"label": 1}\n')
    done = pack(tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl.gz", "b.jsonl.gz", "labels.jsonl"]
    assert gzip.decompress((tmp_path / "a.jsonl.gz").read_bytes()) == b'{"n": 0}\n{"n": 1}\n{"n": 2}\n'
    b = (tmp_path / "b.jsonl.gz").read_bytes()
    assert gzip.decompress(b) == b'{"n": 3}\n{"n": 4}\n'
    assert b.count(b"\x1f\x8b\x08") == 1  # one gzip member, not one per record
    assert (tmp_path / "labels.jsonl").read_text() == '{"label": 1}\n'  # eval reads it plain


def test_a_transcript_whose_run_holds_the_lock_is_refused_and_nothing_changes(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"n": 1}\n')
    (tmp_path / "b.jsonl").write_text('{"n": 2}\n')
    fd = os.open(tmp_path / "b.jsonl.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as `solve` holds it for a whole run
    try:
        done = pack(tmp_path)
    finally:
        os.close(fd)
    assert done.returncode == 1 and "a run is writing" in done.stderr and "b.jsonl" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "b.jsonl", "b.jsonl.lock"]
    assert pack(tmp_path).returncode == 0  # the run is over: packed


def test_no_folder_is_a_usage_error(tmp_path):
    assert pack().returncode == 2
    assert pack(tmp_path / "missing").returncode == 2
