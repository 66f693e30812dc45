"""MBPP (Austin et al.): short Python problems with three asserts each, in its full and sanitized
sets. It is in no registry package: it is read from a directory holding `mbpp.jsonl` and
`sanitized-mbpp.json` (from google-research/google-research, folder mbpp/), named by `--mbpp-dir`
or `MEMCOLLAB_MBPP`. MBPP's `challenge_test_list` is kept in `meta` only.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

from memcollab_cli.errors import DataError, DataUnavailable
from memcollab_cli.jsonl import stream_jsonl
from memcollab_cli.tasks.base import Task
from memcollab_cli.tasks.codecheck import parse_quietly

# MBPP's split is a range of task ids (upstream mbpp/README.md); the sanitized set inherits it.
MBPP_SPLITS = {
    "prompt": range(1, 11),
    "test": range(11, 511),
    "validation": range(511, 601),
    "train": range(601, 975),
}


def mbpp_directory(mbpp_dir: str | Path | None = None) -> Path:
    """Where MBPP is read from: the argument, else `MEMCOLLAB_MBPP`."""
    for value, source in ((mbpp_dir, "--mbpp-dir"), (os.environ.get("MEMCOLLAB_MBPP"), "MEMCOLLAB_MBPP")):
        if not value:
            continue
        directory = Path(value).expanduser()
        if (directory / "mbpp.jsonl").is_file():
            return directory
        raise DataError(  # an explicit choice that is wrong is an error, never a fallback
            f"{directory} (from {source}) has no mbpp.jsonl; point it at a directory holding "
            "mbpp.jsonl and sanitized-mbpp.json from google-research/mbpp"
        )
    raise DataUnavailable(
        "MBPP data not found; download mbpp.jsonl and sanitized-mbpp.json from "
        "google-research/google-research (folder mbpp/) into a directory and set MEMCOLLAB_MBPP "
        "to it (or pass --mbpp-dir)"
    )


def _mbpp_task(benchmark: str, row: dict, text: str, setup: str) -> Task:
    tests = row["test_list"]
    meta = {"challenge_tests": row["challenge_test_list"]} if row.get("challenge_test_list") else {}
    return Task(
        id=str(row["task_id"]),
        benchmark=benchmark,
        domain="code",
        question=f"{text.strip()}\nYour code should pass this test:\n{tests[0]}",
        answer=row["code"],
        solution=row["code"],
        entry_point=_called_function(row["code"], tests),
        tests="".join(f"{t}\n" for t in tests),
        public_tests=f"{tests[0]}\n",
        setup_code=setup,
        meta=meta,
    )


def read_mbpp(split: str, mbpp_dir: str | Path | None) -> list[Task]:
    """The tasks of one split of the full set, in task-id order."""
    path = mbpp_directory(mbpp_dir) / "mbpp.jsonl"
    return [
        _mbpp_task("mbpp", row, row["text"], row["test_setup_code"])
        for _, row in stream_jsonl(path)
        if row["task_id"] in MBPP_SPLITS[split]
    ]


def read_mbpp_sanitized(split: str, mbpp_dir: str | Path | None) -> list[Task]:
    """The tasks of one split of the sanitized set, in task-id order."""
    path = mbpp_directory(mbpp_dir) / "sanitized-mbpp.json"
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: cannot read the sanitized MBPP set ({e})") from None
    rows = sorted(
        (r for r in rows if r["task_id"] in MBPP_SPLITS[split]), key=lambda r: r["task_id"]
    )
    return [
        _mbpp_task("mbpp-sanitized", r, r["prompt"], "\n".join(r["test_imports"])) for r in rows
    ]


def _called_function(code: str, tests: list[str]) -> str:
    """The function the asserts call that the reference solution defines (MBPP has no field)."""
    try:
        defined = {n.name for n in parse_quietly(code).body if isinstance(n, ast.FunctionDef)}
        calls = [
            n.func.id
            for n in ast.walk(parse_quietly("\n".join(tests)))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        ]
    except SyntaxError:
        return ""
    return next((c for c in calls if c in defined), next(iter(calls), ""))
