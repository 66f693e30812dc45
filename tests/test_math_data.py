"""Training data for every domain: MATH train (no MATH-500 problem among it), MBPP train+validation,
worked solutions on every task, and `data list` showing them."""

import json

import pytest
from typer.testing import CliRunner

from memcollab_cli.cli.main import app
from memcollab_cli.errors import DataError, DataUnavailable
from memcollab_cli.paths import data_dir
from memcollab_cli.tasks import load_tasks
from memcollab_cli.tasks.math_data import (
    final_answer,
    load_math_train,
    normalize_problem,
    read_math_train,
)

SUBJECTS = {"Algebra", "Intermediate Algebra", "Prealgebra", "Number Theory", "Precalculus",
            "Geometry", "Counting & Probability"}


def _load(benchmark, split=None, **kw):
    try:
        return load_tasks(benchmark, split, **kw)
    except DataUnavailable as e:  # no network for the first pull, or no MBPP directory here
        pytest.skip(str(e))


def test_math_train_fields():
    tasks = _load("math", "train")
    assert len(tasks) == 7498 and [t.id for t in tasks[:2]] == ["0", "1"]
    assert {t.category for t in tasks} == SUBJECTS
    assert {t.meta["level"] for t in tasks} == {1, 2, 3, 4, 5, None}
    assert all(t.answer and t.answer in t.solution for t in tasks)
    assert _load("math")[0] == tasks[0]  # train is the default split of `math`


def test_no_math500_problem_is_a_training_problem():
    train = {normalize_problem(t.question) for t in _load("math", "train")}
    test = {normalize_problem(t.question) for t in _load("math500")}
    assert len(test) == 500 and not train & test
    # the check at load time finds none either, and the two empty-box solutions are all it drops
    read = read_math_train(data_dir() / "math_train.jsonl", data_dir() / "math500_test.jsonl")
    assert (read.overlapping, read.unboxed, len(read.tasks)) == ([], ["5341", "5343"], 7498)


def test_the_last_box_rule_reproduces_math500_answers():
    # MATH train has no answer field; the rule that gives it one must agree with MATH-500's own.
    tasks = _load("math500")
    assert all(final_answer(t.solution) == t.answer for t in tasks)
    assert final_answer("so there are $\\boxed{}$ primes") is None  # two MATH train solutions


def _rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_overlapping_and_unboxed_problems_are_dropped_and_counted(tmp_path):
    math500 = _rows(tmp_path / "m500.jsonl", [{"problem": "What is $1+1$?"}])
    train = _rows(tmp_path / "train.jsonl", [
        {"problem": "What is 2+2?", "solution": "It is $\\boxed{4}$.", "type": "Algebra",
         "level": "Level 1"},
        {"problem": "What  is 1 + 1?", "solution": "$\\boxed{2}$", "type": "Algebra",
         "level": "Level 2"},  # the MATH-500 problem, retyped
        {"problem": "Say hi.", "solution": "Hi.", "type": "Prealgebra", "level": "Level ?"},
    ])
    read = read_math_train(train, math500)
    assert [(t.id, t.answer, t.meta["level"]) for t in read.tasks] == [("0", "4", 1)]
    assert (read.overlapping, read.unboxed) == (["1"], ["2"])
    with pytest.warns(UserWarning, match=r"left out 1 problem\(s\) that MATH-500 also holds"):
        assert len(load_math_train(train, math500)) == 1


def test_normalize_problem_ignores_typesetting_only():
    assert normalize_problem("What is  $x^2$\nfor x=3?") == normalize_problem("what is x^2 for x=3?")
    assert normalize_problem("x+1") != normalize_problem("x-1")


def test_mbpp_train_and_validation_are_the_code_training_set():
    train, validation = _load("mbpp", "train"), _load("mbpp", "validation")
    assert (len(train), len(validation)) == (374, 90)
    both = _load("mbpp", "train+validation")
    assert both == train + validation
    assert all(t.solution == t.answer and t.tests and t.entry_point for t in both)
    with pytest.raises(DataError, match="mbpp has no split 'dev'"):
        load_tasks("mbpp", "train+dev")


def test_every_benchmark_keeps_its_worked_solution():
    gsm8k = _load("gsm8k", "train", limit=1)[0]
    assert gsm8k.solution.endswith("#### 72") and gsm8k.answer == "72"
    assert _load("math500", limit=1)[0].solution.startswith("We have that $r =")
    he = _load("humaneval", limit=1)[0]
    assert he.solution == he.answer and "def has_close_elements" in he.solution


def test_data_list_shows_math_train():
    result = CliRunner().invoke(app, ["data", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["math"]["splits"] == {"train": 7498} and rows["math"]["default_split"] == "train"
    assert rows["math500"]["splits"] == {"test": 500}
