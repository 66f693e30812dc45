from collections import Counter

import pytest

from memcollab_cli.errors import DataError
from memcollab_cli.memory.pairing import make_pairs


def rec(task, model, correct, verdict=None, benchmark="gsm8k"):
    return {"task_id": task, "benchmark": benchmark, "model": {"name": model, "sha256": "x"},
            "correct": correct, "verdict": verdict or ("pass" if correct else "fail"),
            "id": f"{model}-{task}"}


# Outcomes per task: strong, weak
OUTCOMES = {"t1": (True, False), "t2": (False, True), "t3": (True, True), "t4": (False, False),
            "t5": (True, False)}


def runs():
    strong = [rec(t, "strong", s) for t, (s, _) in OUTCOMES.items()]
    weak = [rec(t, "weak", w) for t, (_, w) in OUTCOMES.items() if t != "t5"]
    return [strong, weak]


def summary(pairs):
    return [(p.task_id, p.pos["id"], p.neg["id"]) for p in pairs]


def test_mixed():
    pairs, skipped = make_pairs(runs(), "mixed", strong="strong")
    assert summary(pairs) == [("t1", "strong-t1", "weak-t1"), ("t2", "weak-t2", "strong-t2")]
    assert skipped == Counter({"both-correct": 1, "both-wrong": 1, "missing-in-some-run": 1})
    assert (pairs[0].benchmark, pairs[0].task_id) == ("gsm8k", "t1")


def test_mixed_is_the_default_and_needs_no_strong():
    pairs, _ = make_pairs(runs())
    assert len(pairs) == 2


def test_prefer_strong():
    pairs, skipped = make_pairs(runs(), "prefer-strong", strong="strong")
    assert summary(pairs) == [("t1", "strong-t1", "weak-t1"), ("t2", "weak-t2", "strong-t2"),
                              ("t3", "strong-t3", "weak-t3"), ("t4", "strong-t4", "weak-t4")]
    assert skipped == Counter({"missing-in-some-run": 1})


def test_prefer_strong_needs_a_known_strong_model():
    with pytest.raises(DataError, match="needs the strong model's name, one of: strong, weak"):
        make_pairs(runs(), "prefer-strong", strong="nobody")


def test_order_follows_first_run():
    strong, weak = runs()
    pairs, _ = make_pairs([list(reversed(strong)), weak], "mixed")
    assert [p.task_id for p in pairs] == ["t2", "t1"]


def test_three_runs():
    a = [rec("t1", "a", True), rec("t2", "a", True)]
    b = [rec("t1", "b", True), rec("t2", "b", False)]
    c = [rec("t1", "c", False), rec("t2", "c", False)]
    pairs, _ = make_pairs([a, b, c], "mixed", strong="b")
    # The strong model's correct trajectory is pos; one pair per wrong trajectory.
    assert summary(pairs) == [("t1", "b-t1", "c-t1"), ("t2", "a-t2", "b-t2"),
                              ("t2", "a-t2", "c-t2")]
    pairs, _ = make_pairs([a, b, c], "all")
    assert summary(pairs) == [("t1", "a-t1", "c-t1"), ("t1", "b-t1", "c-t1"),
                              ("t2", "a-t2", "b-t2"), ("t2", "a-t2", "c-t2")]
    pairs, _ = make_pairs([a, b, c], "prefer-strong", strong="c")
    assert summary(pairs) == [("t1", "a-t1", "c-t1"), ("t2", "a-t2", "b-t2"),
                              ("t2", "a-t2", "c-t2")]


def test_errored_and_duplicates_and_benchmarks():
    a = [rec("t1", "a", True), rec("t1", "a", False), rec("t2", "a", True),
         rec("t1", "a", True, benchmark="math500")]
    b = [rec("t1", "b", False, verdict="error"), rec("t2", "b", False),
         rec("t1", "b", False, benchmark="math500")]
    pairs, skipped = make_pairs([a, b])
    # Same task id in another benchmark is another task.
    assert [(p.benchmark, p.task_id) for p in pairs] == [("gsm8k", "t2"), ("math500", "t1")]
    assert skipped == Counter({"duplicate": 1, "errored": 1})


def test_bad_arguments():
    with pytest.raises(DataError, match="unknown pair policy 'some'"):
        make_pairs(runs(), "some")
    with pytest.raises(DataError, match="at least two runs"):
        make_pairs(runs()[:1])
