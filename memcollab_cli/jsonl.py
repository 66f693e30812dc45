"""JSONL in and out: canonical lines, streaming reads with line numbers, atomic writes.

Every file memcollab writes is UTF-8 JSONL with sorted keys and one object per line, so the same
records always give the same bytes and a changed record is a one-line diff.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from memcollab_cli.errors import DataError


def dumps(record: dict) -> str:
    """One canonical JSONL line (no newline)."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def stream_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for every non-blank line; malformed lines raise DataError."""
    path = Path(path)
    try:
        fh = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    with fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{lineno}: not valid JSON ({e.msg}); fix or delete the line") from None
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def read_jsonl(path: str | Path) -> list[dict]:
    return [obj for _, obj in stream_jsonl(path)]


@contextmanager
def atomic_open(path: str | Path, mode: str = "w"):
    """Write to a temporary file beside `path`, fsync it, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_jsonl(path: str | Path, records: Iterable[dict]) -> None:
    """Atomically replace `path` with `records`, one canonical line each."""
    with atomic_open(path) as fh:
        for record in records:
            fh.write(dumps(record) + "\n")


def append_jsonl(path: str | Path, record: dict) -> None:
    """Append one finished record and fsync, so a kill never loses it nor leaves half a line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(dumps(record) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def repair_tail(path: str | Path) -> None:
    """Drop a partial last line left by a crash mid-write, so appending can resume safely."""
    path = Path(path)
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with atomic_open(path, "wb") as fh:
            fh.write(data[: data.rfind(b"\n") + 1])


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
