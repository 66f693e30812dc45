"""JSONL in and out: canonical lines, streaming reads with line numbers, atomic writes.

Every file memcollab writes is UTF-8 JSONL with sorted keys and one object per line, so the same
records always give the same bytes and a changed record is a one-line diff. Any reader also takes
gzip-compressed JSONL (recognised by its magic bytes, whatever the name); a writer compresses when
the name ends in `.gz`. Appending to `x.jsonl.gz` adds one gzip member per record, which every
gzip reader concatenates, so a long run compresses as it goes and still resumes.

Bad input is a DataError naming the file and line, never a traceback: bytes that are not UTF-8,
JSON too deep or with integers too long for Python to read, a damaged gzip stream. A write that
fails (a full disk) leaves no partial line behind and says so.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import secrets
import stat
import sys
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from memcollab_cli.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
# Errors of the disk rather than of the program: reported as one line, not a traceback.
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EACCES,
                errno.EPERM}


def dumps(record: dict) -> str:
    """One canonical JSONL line (no newline)."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def _line_bytes(record: dict) -> bytes:
    try:
        return (dumps(record) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the input): keep it escaped
        return (json.dumps(record, sort_keys=True, separators=(", ", ": ")) + "\n").encode("ascii")


def is_gzip_name(path: str | Path) -> bool:
    return str(path).endswith(".gz")


def jsonl_stem(path: str | Path) -> str:
    """The name without `.jsonl` / `.jsonl.gz`: `runs/qwen.jsonl.gz` -> `qwen`."""
    name = Path(path).name
    if name.endswith(".gz"):
        name = name[:-3]
    return Path(name).stem


def is_jsonl_name(path: str | Path) -> bool:
    return str(path).endswith((".jsonl", ".jsonl.gz"))


# ---------------------------------------------------------------------------------------------
# reading


@contextmanager
def open_bytes(path: str | Path) -> Iterator:
    """`path` opened for binary reading, decompressed when it is gzip; one-line errors."""
    path = Path(path)
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory; give a .jsonl file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror}); check its permissions") from None
    with fh:
        if fh.peek(2)[:2] == GZIP_MAGIC:
            with gzip.GzipFile(filename="", fileobj=fh, mode="rb") as gz:
                yield gz
        else:
            yield fh


def parse_line(raw: bytes) -> tuple[dict | None, str | None]:
    """(object, None), or (None, what is wrong and how to fix it); (None, None) for a blank line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, (f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1}); "
                      "save the file as UTF-8 or delete the line")
    if not text.strip():
        return None, None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        return None, f"not valid JSON ({e.msg}); fix or delete the line"
    except RecursionError:
        return None, ("JSON nested too deeply to read (over Python's recursion limit); flatten "
                      "the record or delete the line")
    except ValueError as e:  # int parsing limit: "Exceeds the limit (4300 digits) ..."
        limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 4300
        return None, (f"a number too long to read ({str(e).split(':')[0]}); write integers of "
                      f"over {limit} digits as strings, or delete the line")
    if not isinstance(obj, dict):
        return None, f"expected a JSON object, got {type(obj).__name__}"
    return obj, None


def iter_lines(path: str | Path) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line number, object or None, problem or None) for every non-blank line.

    A line's own problems (encoding, JSON) are yielded so that a validator can go on to the next
    line; a file that cannot be read on (damaged gzip) raises DataError.
    """
    path = Path(path)
    with open_bytes(path) as fh:
        lineno = 0
        lines = iter(fh)
        while True:
            try:
                raw = next(lines)
            except StopIteration:
                return
            except (EOFError, OSError, zlib.error) as e:
                raise DataError(f"{path}:{lineno + 1}: the gzip data is damaged or cut short ({e}); "
                                "rerun the command that wrote it, or recover the readable part with "
                                "`gzip -dc`") from None
            lineno += 1
            obj, problem = parse_line(raw)
            if obj is not None or problem is not None:
                yield lineno, obj, problem


def stream_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for every non-blank line; the first bad line raises DataError."""
    for lineno, obj, problem in iter_lines(path):
        if problem:
            raise DataError(f"{path}:{lineno}: {problem}")
        yield lineno, obj


def read_jsonl(path: str | Path) -> list[dict]:
    return [obj for _, obj in stream_jsonl(path)]


def read_content(path: str | Path) -> bytes:
    """The file's bytes, decompressed if it is gzip (what its hash and its text are made of)."""
    with open_bytes(path) as fh:
        try:
            return fh.read()
        except (EOFError, OSError, zlib.error) as e:
            raise DataError(f"{path}: the gzip data is damaged or cut short ({e})") from None


def sha256_file(path: str | Path) -> str:
    """sha256 of the content: equal to `sha256_text` of the file's text, gzip or not."""
    return hashlib.sha256(read_content(path)).hexdigest()


# ---------------------------------------------------------------------------------------------
# writing


def _write_error(path: Path, e: OSError, what: str) -> DataError:
    return DataError(f"{path}: cannot {what} ({e.strerror or e}); nothing partial was left in it — "
                     "free some disk space (or fix the permissions) and rerun the same command")


def temp_file_beside(path: Path, suffix: str = ".tmp") -> tuple[int, Path]:
    """A new, empty file beside `path` (fd, name) with the permissions `path` will need.

    Not mkstemp: its 0600 would make every bank and transcript private after the rename. The
    file takes the mode `path` has now, or what a plain open() gives under the umask.
    """
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}{suffix}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    with suppress(FileNotFoundError):
        os.fchmod(fd, stat.S_IMODE(os.stat(path).st_mode))
    return fd, tmp


@contextmanager
def atomic_open(path: str | Path, mode: str = "w"):
    """Write to a temporary file beside `path`, fsync it, then rename it over `path`.

    If anything fails, the temporary file is removed and `path` keeps its old content; a disk
    error (full, read-only, quota) becomes a one-line DataError.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file_beside(path)
    except OSError as e:
        raise _write_error(path, e, "write") from None
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno in _DISK_ERRNOS:
            raise _write_error(path, e, "write") from None
        raise


def write_jsonl(path: str | Path, records: Iterable[dict]) -> None:
    """Atomically replace `path` with `records`, one canonical line each (gzip for `.gz`)."""
    with atomic_open(path, "wb") as fh:
        if is_gzip_name(path):
            with gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as gz:
                for record in records:
                    gz.write(_line_bytes(record))
        else:
            for record in records:
                fh.write(_line_bytes(record))


def append_jsonl(path: str | Path, record: dict) -> None:
    """Append one finished record and fsync, so a kill never loses it nor leaves half a line.

    A failed write (a full disk) cuts the file back to where it was and raises DataError.
    """
    path = Path(path)
    data = _line_bytes(record)
    if is_gzip_name(path):
        data = gzip.compress(data, mtime=0)  # one member per record
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as e:
        raise DataError(f"{path}: cannot open it for appending ({e.strerror}); check the directory "
                        "and its permissions") from None
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as e:
            with suppress(OSError):  # not every file can be truncated (/dev/full)
                os.ftruncate(fd, start)
            raise _write_error(path, e, "append a record") from None
    finally:
        os.close(fd)


def _gzip_complete_prefix(path: Path, data: bytes) -> tuple[int, bytes]:
    """(end offset of the last whole gzip member, their decompressed content)."""
    pos, content = 0, []
    view = memoryview(data)
    while pos < len(data):
        d = zlib.decompressobj(wbits=31)
        try:
            chunk = d.decompress(view[pos:])
        except zlib.error as e:
            raise DataError(f"{path}: the gzip data is damaged at byte {pos} ({e}), not just cut "
                            "short by a crash; recover the readable part with `gzip -dc` into a "
                            "new file") from None
        if not d.eof:  # the member was being written when the run stopped
            break
        content.append(chunk)
        pos = len(data) - len(d.unused_data)
    return pos, b"".join(content)


def repair_tail(path: str | Path) -> None:
    """Drop a partial last line (or gzip member) left by a crash mid-write, so appending can resume."""
    path = Path(path)
    if not path.exists():
        return
    data = path.read_bytes()
    if data[:2] == GZIP_MAGIC:
        end, content = _gzip_complete_prefix(path, data)
        if content and not content.endswith(b"\n"):  # a whole member holding a partial line
            with atomic_open(path, "wb") as fh:
                fh.write(gzip.compress(content[: content.rfind(b"\n") + 1], mtime=0))
        elif end < len(data):
            with open(path, "r+b") as fh:
                fh.truncate(end)
                os.fsync(fh.fileno())
        return
    if data and not data.endswith(b"\n"):
        with atomic_open(path, "wb") as fh:
            fh.write(data[: data.rfind(b"\n") + 1])


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
