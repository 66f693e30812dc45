"""Math answers: extraction from real-looking replies, and equivalence on whole benchmarks."""

import json
import threading
from pathlib import Path

import pytest

from memcollab_cli.errors import DataError
from memcollab_cli.tasks import check_math, extract_answer, load_tasks
from memcollab_cli.tasks.mathcheck import _normalize

OUTPUTS = Path(__file__).parent / "data" / "math_outputs.jsonl"


def _load(benchmark):
    try:
        return load_tasks(benchmark)
    except DataError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def math500():
    return _load("math500")


@pytest.fixture(scope="module")
def gsm8k():
    return _load("gsm8k")


@pytest.mark.parametrize(
    "case",
    [json.loads(line) for line in OUTPUTS.read_text().splitlines()],
    ids=lambda c: c["text"][-30:],
)
def test_extraction_from_model_outputs(case):
    assert extract_answer(case["text"]) == case["expected"]


def test_math500_answers_verify_against_themselves_and_in_a_sentence(math500):
    for t in math500:
        assert check_math(t.answer, t.answer).correct, t.id
        reply = f"Putting it together, the result is $\\boxed{{{t.answer}}}$. I hope it is correct."
        assert check_math(t.answer, reply).correct, t.id
        assert check_math(t.answer, t.meta["solution"]).correct, t.id  # the reference solution


def test_math500_answers_reject_other_answers(math500):
    # Each gold answer against the next task's: all must fail, except genuine equivalents.
    passed = [
        (a.answer, b.answer)
        for a, b in zip(math500, math500[1:], strict=False)
        if _normalize(a.answer) != _normalize(b.answer) and check_math(a.answer, b.answer).correct
    ]
    assert passed == [("5", "x=5")]  # math-verify reads "x=5" as its value


def test_gsm8k_answers(gsm8k):
    for t in gsm8k:
        n = int(t.answer)
        assert check_math(t.answer, t.meta["solution"]).correct, t.id  # "... #### N"
        assert check_math(t.answer, f"The answer is ${n:,}.").correct, t.id
        assert check_math(t.answer, f"{n} dollars").correct, t.id
        assert not check_math(t.answer, str(n + 1)).correct, t.id


@pytest.mark.parametrize(
    "gold,predicted",
    [
        ("\\frac{1}{2}", "0.5"), ("\\frac{1}{2}", "1/2"), ("\\dfrac{3}{4}", "\\frac34"),
        ("(3,\\frac{\\pi}{2})", "(3, \\pi/2)"), ("[-2,7)", "[-2, 7)"), ("2\\sqrt{2}", "\\sqrt{8}"),
        ("10", "10.0"), ("1000", "\\$1,000"), ("1000", "1{,}000"), ("18", "\\$18.00"),
        ("25", "25\\%"), ("x^2+1", "1+x^2"), ("\\{1,2\\}", "\\{2,1\\}"), ("5", "\\text{5 cm}"),
        ("\\frac{1}{3}", "0.3333333"),
    ],
)  # fmt: skip
def test_equivalent_forms(gold, predicted):
    assert check_math(gold, predicted).verdict == "pass"


@pytest.mark.parametrize(
    "gold,predicted",
    [
        ("[-2,7)", "(-2,7)"), ("2", "2x"), ("2", "2\\pi"), ("1450000", "1450001"),
        ("(1,2)", "(2,1)"), ("\\frac{1}{2}", "\\frac{1}{3}"), ("18", "1,8"),
    ],
)  # fmt: skip
def test_wrong_answers_fail(gold, predicted):
    assert check_math(gold, predicted).verdict == "fail"


def test_no_answer():
    assert check_math("5", None).verdict == "no_answer"
    assert check_math("5", "  ").verdict == "no_answer"
    assert extract_answer(None) is None


def test_works_outside_the_main_thread():
    # math-verify's signal.alarm would raise here; the checker must pass timeouts as None.
    results = []
    thread = threading.Thread(target=lambda: results.append(check_math("x^2+1", "1+x^2")))
    thread.start()
    thread.join()
    assert results[0].verdict == "pass"


def test_a_math_verify_timeout_is_an_error_and_a_breakdown_a_fail(monkeypatch):
    # On a busy machine the 5 s parse can run out: that says nothing of the answer.
    import math_verify
    from math_verify.errors import TimeoutException

    assert check_math("x^2+1", "1+x^2").verdict == "pass"

    def slow(*args, **kwargs):
        raise TimeoutException("timeout")

    monkeypatch.setattr(math_verify, "parse", slow)
    verdict = check_math("x^2+1", "1+x^2")
    assert (verdict.correct, verdict.verdict) == (False, "error")
    assert "TimeoutError: no result within 5 s" in verdict.detail

    def broken(*args, **kwargs):  # math-verify choking on an answer: that answer is not right
        raise ValueError("cannot parse")

    monkeypatch.setattr(math_verify, "parse", broken)
    assert check_math("x^2+1", "1+x^2").verdict == "fail"
