"""The task record shared by every benchmark, and the verdict a verifier returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Task:
    """One verifiable problem.

    Math tasks carry the gold `answer`. Code tasks carry the `tests` that grade the end (hidden
    from the model) and `public_tests` the model may run its code against while it works.
    `solution` is the dataset's worked reference (math: the reasoning that ends in the answer;
    code: the reference program), never shown to a solving model; "" where there is none.
    """

    id: str  # the dataset's own id (HumanEval/0, MBPP task_id, MATH unique_id, GSM8K line number)
    benchmark: str  # gsm8k | math500 | humaneval | mbpp | a user file's stem
    domain: str  # "math" | "code"
    question: str  # what the model is shown
    answer: str = ""  # math: gold answer; code: reference solution (never shown)
    entry_point: str = ""  # code: the function under test
    tests: str = ""  # code: hidden test program (asserts / check())
    public_tests: str = ""  # code: example asserts the model may run
    setup_code: str = ""  # code: MBPP test_setup_code, run after the solution
    category: str = ""  # ground-truth category where the dataset has one (MATH subject)
    solution: str = ""  # worked reference solution (GSM8K, MATH, HumanEval, MBPP); never shown
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Task":
        return cls(**d)


@dataclass(frozen=True)
class Verdict:
    """How a final answer was graded. `verdict` is one word: pass, fail, timeout, error, no_answer."""

    correct: bool
    verdict: str
    detail: str = ""
    isolation: str = ""  # code: the sandbox in force (execution.isolation()); "" when nothing ran
