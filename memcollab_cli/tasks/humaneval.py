"""HumanEval (Chen et al.): 164 functions to complete, graded by hidden tests; the public tests a
model may run are the examples in each prompt's docstring.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from memcollab_cli.jsonl import stream_jsonl
from memcollab_cli.tasks.base import Task


def read_humaneval(path: Path) -> list[Task]:
    """Every task of HumanEval; public tests are the prompt's own examples (`docstring_examples`)."""
    tasks = []
    for _, row in stream_jsonl(path):
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
