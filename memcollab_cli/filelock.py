"""One writer per file: an exclusive flock on `<file>.lock`, held for a whole run.

flock locks belong to the open file, so they vanish when their process dies (even by kill -9):
a leftover `.lock` file is harmless and is never deleted (deleting it would let two writers
lock two different files). Any other holder, another process or another thread of this one (a
flock belongs to an open file, not to a process), is refused at once or after `timeout` seconds.
Where flock does not exist (Windows), writes go unguarded.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from memcollab_cli.errors import DataError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

def lock_path(path: str | Path) -> Path:
    """The lock file of `path`, beside the file it guards (resolved, so two spellings share it)."""
    path = Path(path).expanduser().resolve()
    return path.with_name(path.name + ".lock")


@contextmanager
def hold_lock(path: str | Path, *, timeout: float = 0.0, busy: str = "") -> Iterator[Path]:
    """Hold the exclusive lock of `path`; DataError(`busy`) if another holder keeps it past `timeout`."""
    lock = lock_path(path)
    if fcntl is None:  # pragma: no cover
        yield lock
        return
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise DataError(f"{path}: cannot create the lock file {lock} ({e.strerror}); check that its "
                        "directory is writable") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked = True
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DataError(busy or f"{path}: another process is writing this file (lock "
                                    f"{lock}); wait for it to finish and retry") from None
                time.sleep(0.05)
            except OSError as e:
                if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                locked = False  # a file system without flock (some NFS): run unguarded, as before
                break
        try:
            yield lock
        finally:
            if locked:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
