#!/usr/bin/env python3
"""Where long runs stand: per transcript file, model, arm and benchmark, how many tasks have a
record and how far the dataset's order is covered without a gap (a resumable run fills the
first N tasks in blocks, so "first 292 of 300" says where it will resume).

    scripts/study-status.py banks/gsm8k/eval/*.jsonl.gz banks/code/eval/*/*.jsonl*

Reads transcripts as they are, also while a run appends to them (a record cut off at the end
is left out). No model, no dataset: the order is the natural order of the task ids.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import zlib
from collections import defaultdict
from pathlib import Path


def natural(task_id: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", task_id))


def records(path: Path):
    """The whole lines of `path`; a gzip stream cut off by a writer ends the reading quietly."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                if line.endswith("\n"):
                    yield json.loads(line)
    except (EOFError, zlib.error, gzip.BadGzipFile):
        return


def main(paths: list[str]) -> None:
    if not paths:
        sys.exit(__doc__.splitlines()[0] + "\nusage: study-status.py TRANSCRIPT...")
    print("| file | model | arm | benchmark | tasks | contiguous from the first |")
    print("|---|---|---|---|---|---|")
    for path in map(Path, paths):
        seen = defaultdict(set)
        for rec in records(path):
            seen[(rec["model"]["name"], rec["condition"]["name"], rec["benchmark"])].add(rec["task_id"])
        union = defaultdict(set)  # a benchmark's tasks as far as any arm of the file reached
        for (_, _, bench), ids in seen.items():
            union[bench] |= ids
        for (model, arm, bench), ids in sorted(seen.items()):
            order = sorted(union[bench], key=natural)
            run = next((i for i, t in enumerate(order) if t not in ids), len(order))
            print(f"| {path.name} | {model} | {arm} | {bench} | {len(ids)} | {run} |")


if __name__ == "__main__":
    main(sys.argv[1:])
