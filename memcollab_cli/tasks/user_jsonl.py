"""A user's own tasks: one JSON object per line with an id and a question, and a gold answer
(math) or tests and an entry point (code); the file's stem is the benchmark name.
"""

from __future__ import annotations

from pathlib import Path

from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import jsonl_stem, stream_jsonl
from memcollab_cli.tasks.base import Task

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


def read_user_jsonl(path: Path) -> list[Task]:
    """The tasks of a user's JSONL file, every line checked (file:line errors say what to fix)."""
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
