"""Where does the wrong attempt first leave the reference? A hint for the summarizer.

A small summarizer cannot compare two transcripts reliably, but it can generalise a mistake that
is pointed out to it. Where the benchmark carries a reference, `locate` names the first point at
which τ⁻ departs from it:

- GSM8K rationales annotate every intermediate result (`<<48/2=24>>`): the first result, in the
  reference's order, that τ⁻'s text never produces ("gsm8k-steps");
- worked solutions (MATH): the same over the numbers the solution introduces, in order
  ("solution-numbers");
- code: the failing hidden test and its message, from the verdict of τ⁻ ("failing-test").

The hint also returns the reference's values, so `contrast` can keep them out of the constraints
(they are the task's numbers in all but name). Left out: symbolic departures (MATH solutions
whose steps are expressions, not numbers) — no hint then, and the prompt is the paper's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from memcollab_cli.build.transcript import attempt_text, task_text
from memcollab_cli.errors import MemcollabError
from memcollab_cli.tasks import Task
from memcollab_cli.tasks.data import BENCHMARKS, load_tasks

# A GSM8K calculator annotation: <<expression=result>>.
_STEP = re.compile(r"<<([^<>=]*)=([^<>]*)>>")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
HINT_CHARS = 300  # a reference step is quoted up to this length


@dataclass(frozen=True)
class Hint:
    kind: str  # "gsm8k-steps" | "solution-numbers" | "failing-test"
    text: str  # one or two sentences for the prompt
    values: str  # reference text whose numbers must stay out of the constraints


def _value(token: str) -> float | None:
    try:
        return round(float(token.replace(",", "")), 6)
    except ValueError:
        return None


def numbers_in(text: str) -> set[float]:
    """Every number in `text`, normalised ("1,000" = "1000.00" = 1000.0)."""
    return {v for t in _NUMBER.findall(text) if (v := _value(t)) is not None}


def _format(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def gsm8k_steps(solution: str) -> list[tuple[float, str]]:
    """(result, reference step with its annotations removed) for each `<<a=b>>`, in order."""
    steps = []
    for line in solution.splitlines():
        readable = _STEP.sub("", line).strip()
        for m in _STEP.finditer(line):
            if (v := _value(m.group(2).strip())) is not None:
                steps.append((v, readable))
    return steps


def solution_numbers(solution: str, problem: str) -> list[tuple[float, str]]:
    """(number, its sentence) for each number a worked solution introduces, in order of first
    appearance; numbers the problem already states are not steps."""
    given, seen, out = numbers_in(problem), set(), []
    for sentence in re.split(r"(?<=[.;:])\s+|\n+", solution):
        for token in _NUMBER.findall(sentence):
            v = _value(token)
            if v is None or v in given or v in seen:
                continue
            seen.add(v)
            out.append((v, sentence.strip()))
    return out


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= HINT_CHARS else text[:HINT_CHARS - 1] + "…"


def first_departure(steps: list[tuple[float, str]], attempt: str, problem: str) -> tuple[float, str] | None:
    """The first step whose value the attempt never writes (values the problem states skipped).

    Compared to the cent, so 0.333 and 0.3333 (a rounded repeating decimal) are one value."""
    reached = {round(v, 2) for v in numbers_in(attempt)}
    given = {round(v, 2) for v in numbers_in(problem)}
    for value, step in steps:
        if round(value, 2) not in given and round(value, 2) not in reached:
            return value, step
    return None


def locate(task: Task | None, neg: dict) -> Hint | None:
    """The hint for the wrong trajectory `neg` of `task`, or None where there is no reference."""
    if task is None:
        return None
    if task.domain == "code":
        detail = (neg.get("detail") or "").strip()
        if not detail or neg.get("verdict") == "pass":
            return None
        return Hint("failing-test", f"B's final program fails a hidden test: {_clip(detail)}", detail)
    solution = str(getattr(task, "solution", "") or task.meta.get("solution") or "")
    if not solution:
        return None
    if task.benchmark == "gsm8k" and _STEP.search(solution):
        kind, steps = "gsm8k-steps", gsm8k_steps(solution)
    else:
        kind, steps = "solution-numbers", solution_numbers(solution, task.question)
    attempt, problem = attempt_text(neg, limit=10**9), task_text(neg)
    found = first_departure(steps, attempt, problem)
    if found is None:
        text = ("B's reasoning reaches every intermediate result of the reference solution; "
                "its mistake is in the last step or in how it states the final answer.")
    else:
        value, step = found
        text = (f"B's reasoning never reaches the intermediate result {_format(value)} "
                f"(reference step: {_clip(step)})")
    return Hint(kind, text, solution)


@lru_cache(maxsize=8)
def _tasks_by_id(benchmark: str) -> dict[str, tuple[Task, ...]]:
    by_id: dict[str, list[Task]] = {}
    for split in BENCHMARKS[benchmark].splits:
        try:
            tasks = load_tasks(benchmark, split=split)
        except MemcollabError:  # data not pulled here: no hint, never an error
            continue
        for t in tasks:
            by_id.setdefault(t.id, []).append(t)
    return {k: tuple(v) for k, v in by_id.items()}


def reference_task(record: dict) -> Task | None:
    """The benchmark task a trajectory was solved from, found by id and problem text.

    Ids repeat across splits (GSM8K numbers both from 0), so the problem the solver saw decides.
    Tasks from a user's file have no reference here.
    """
    benchmark = record.get("benchmark", "")
    if benchmark not in BENCHMARKS:
        return None
    shown = task_text(record)
    for task in _tasks_by_id(benchmark).get(str(record.get("task_id")), ()):
        if task.question.strip() and task.question.strip() in shown:
            return task
    return None
