import math

import pytest

from memcollab_cli.memory.bank import MemoryEntry
from memcollab_cli.memory.problems import problem_hash, task_guard_keys
from memcollab_cli.memory.retrieval import (
    Retriever,
    random_entries,
    render_memory_block,
    tokenize,
)


def make(when, enforce="checking every case", avoid="skipping cases", category="Counting",
         subcategory="Circles", task="t1", support=1, pos="big", neg="small", benchmark="math500"):
    return MemoryEntry.create(
        category, subcategory, when, enforce, avoid,
        models={"preferred": [pos], "unpreferred": [neg]},
        sources=[{"task_id": task, "benchmark": benchmark, "pos": "p", "neg": "n",
                  "problem": problem_hash(f"problem of {task}")}],
        support=support)


def solving(task, benchmark="math500", split=""):
    """Guard keys of a task being solved whose text is that of source `task`."""
    return task_guard_keys(benchmark, task, f"problem of {task}", split)


BANK = [
    make("seating people around a round table", task="t1"),
    make("arranging beads on a necklace", task="t2"),
    make("counting committees", task="t3", subcategory="Committees"),
    make("drawing cards without replacement", task="t4", category="Probability",
         subcategory="Cards", pos="other", neg="third"),
    make("placing flowers on a table", task="t5", support=3),
]


def whens(result):
    return [e.when for e in result.entries]


def test_tokenize():
    assert tokenize("When x^2-1, ENFORCE 2 cases!") == ["when", "x", "2", "1", "enforce", "2",
                                                         "cases"]


def test_ranking_by_tfidf_then_support():
    r = Retriever(BANK)
    got = r.retrieve("How many ways can 6 people sit around a round table?", "Counting",
                     "Circles")
    assert got.level == "subcategory"
    # "round" and "table" match the first; "table" alone the third; the necklace matches nothing
    # and comes last.
    assert whens(got) == ["seating people around a round table", "placing flowers on a table",
                          "arranging beads on a necklace"]
    assert got.ids == [e.id for e in got.entries]


def test_zero_score_ties_by_support_then_id():
    r = Retriever(BANK)
    got = r.retrieve("zzz unrelated", "Counting", "Circles", top_p=3)
    rest = sorted(BANK[:2], key=lambda e: e.id)
    assert whens(got) == ["placing flowers on a table"] + [e.when for e in rest]


def test_top_p():
    r = Retriever(BANK)
    assert len(r.retrieve("table", "Counting", "Circles", top_p=1).entries) == 1
    assert r.retrieve("table", "Counting", "Circles", top_p=0).level == "none"


def test_fallback_levels():
    r = Retriever(BANK)
    got = r.retrieve("committees of people", "Counting", "Unknown Sub", top_p=2)
    assert got.level == "category"
    assert whens(got) == ["counting committees", "seating people around a round table"]
    none = r.retrieve("anything", "Geometry", "Triangles")
    assert (none.level, none.entries) == ("none", [])


def test_leakage_guard_is_keyed_on_the_problem_not_the_id():
    r = Retriever(BANK)
    got = r.retrieve("round table", "Counting", "Circles", exclude=solving("t1"))
    assert "seating people around a round table" not in whens(got)
    # The same problem under another id or benchmark is still the same problem.
    got = r.retrieve("round table", "Counting", "Circles",
                     exclude=task_guard_keys("gsm8k", "99", "Problem  of T1"))
    assert "seating people around a round table" not in whens(got)
    # The same id with another problem text (GSM8K test 7 is not train 7) is another task.
    got = r.retrieve("round table", "Counting", "Circles",
                     exclude=task_guard_keys("math500", "t1", "a different problem"))
    assert whens(got)[0] == "seating people around a round table"
    assert r.unguarded == 0


def test_leakage_guard_on_a_gsm8k_train_entry_and_test_task_of_the_same_id():
    train7, test7 = "Train problem seven: 3 apples.", "Test problem seven: 4 pears."
    bank = [MemoryEntry.create("Money", "Cost", "adding prices", "x", "y",
                               sources=[{"task_id": "7", "benchmark": "gsm8k", "pos": "p",
                                         "neg": "n", "problem": problem_hash(train7)}])]
    r = Retriever(bank)
    assert len(r.retrieve("prices", "Money", "Cost", exclude=task_guard_keys(
        "gsm8k", "7", test7, "test")).entries) == 1
    assert r.retrieve("prices", "Money", "Cost",
                      exclude=task_guard_keys("gsm8k", "7", train7, "train")).entries == []


def test_leakage_guard_falls_back_to_problem_texts_then_split_never_bare_ids():
    train7 = "Train problem seven: 3 apples."
    old = [MemoryEntry.create("Money", "Cost", "adding prices", "x", "y",
                              sources=[{"task_id": "7", "benchmark": "gsm8k", "pos": "p",
                                        "neg": "n"}])]
    # The bank's own problem texts (its contrast log) identify the source.
    r = Retriever(old, problems={("gsm8k", "7"): problem_hash(train7)})
    assert r.retrieve("prices", "Money", "Cost",
                      exclude=task_guard_keys("gsm8k", "7", train7)).entries == []
    # Without them, a bare id identifies nothing: counted as unguarded, never dropped.
    r = Retriever(old)
    assert r.unguarded == 1
    assert len(r.retrieve("prices", "Money", "Cost",
                          exclude=task_guard_keys("gsm8k", "7", "Test seven")).entries) == 1
    # A source with its split is guarded on (benchmark, split, id).
    split = [MemoryEntry.create("Money", "Cost", "adding prices", "x", "y",
                                sources=[{"task_id": "7", "benchmark": "gsm8k", "pos": "p",
                                          "neg": "n", "split": "train"}])]
    r = Retriever(split)
    assert r.retrieve("prices", "Money", "Cost",
                      exclude=task_guard_keys("gsm8k", "7", "?", "train")).entries == []
    assert len(r.retrieve("prices", "Money", "Cost",
                          exclude=task_guard_keys("gsm8k", "7", "?", "test")).entries) == 1


def test_leakage_guard_empties_bucket_and_falls_back():
    r = Retriever(BANK)
    got = r.retrieve("committees", "Counting", "Committees", exclude=solving("t3"))
    assert got.level == "category"
    assert "counting committees" not in whens(got)


def test_model_filter():
    r = Retriever(BANK)
    got = r.retrieve("cards", "Probability", "Cards", model="small", model_filter=True)
    assert (got.level, got.entries) == ("none", [])
    got = r.retrieve("cards", "Probability", "Cards", model="third", model_filter=True)
    assert whens(got) == ["drawing cards without replacement"]
    # Without the flag the model is ignored.
    assert len(r.retrieve("cards", "Probability", "Cards", model="small").entries) == 1
    with pytest.raises(ValueError):
        r.retrieve("cards", "Probability", "Cards", model_filter=True)


def test_tfidf_weights_match_formula():
    # Two entries; "rare" occurs in one. Check the cosine against a hand computation.
    a = make("rare word", enforce="x", avoid="y", task="a")
    b = make("common word", enforce="x", avoid="y", task="b")
    r = Retriever([a, b])
    q = r._vector({"rare": 1})
    idf_rare = math.log(3 / 2) + 1
    doc = {t: (math.log(3 / 3) + 1) for t in tokenize(a.text())}
    doc["rare"] = idf_rare
    norm = math.sqrt(sum(v * v for v in doc.values()))
    rare_id = r.vocab["rare"]
    assert q == {rare_id: 1.0}
    bucket = r._subs[("Counting", "Circles")]
    idx, w = bucket.postings[rare_id]
    assert len(idx) == 1
    assert w[0] == pytest.approx(idf_rare / norm)


def test_random_entries_deterministic():
    first = random_entries(BANK, 2, seed=1)
    assert [e.id for e in first] == [e.id for e in random_entries(list(reversed(BANK)), 2, 1)]
    assert len({e.id for e in first}) == 2
    assert random_entries(BANK, 10, seed=1) != []
    assert len(random_entries(BANK, 10, seed=1)) == 5
    seeds = {tuple(e.id for e in random_entries(BANK, 2, s)) for s in range(10)}
    assert len(seeds) > 1
    guarded = random_entries(BANK, 5, seed=1, exclude=solving("t1"))
    assert "seating people around a round table" not in [e.when for e in guarded]


def test_render_memory_block():
    text = render_memory_block(BANK[:2])
    assert text == (
        "1. When seating people around a round table, enforce checking every case; "
        "avoid skipping cases.\n"
        "2. When arranging beads on a necklace, enforce checking every case; "
        "avoid skipping cases.")
    assert render_memory_block([]) == ""


def test_large_bucket_uses_lazy_sort():
    # More matches than the sorted head (64): filters that reject the head must still find
    # the rest, in order.
    entries = [make(f"topic{i} table", task=f"t{i}", support=1 + (i % 3)) for i in range(150)]
    r = Retriever(entries)
    everything = r.retrieve("table", "Counting", "Circles", top_p=150)
    assert len(everything.entries) == 150
    excluded = set().union(*(solving(e.sources[0]["task_id"]) for e in everything.entries[:100]))
    tail = r.retrieve("table", "Counting", "Circles", top_p=3, exclude=excluded)
    assert tail.ids == everything.ids[100:103]
    supports = [e.support for e in everything.entries]
    assert supports == sorted(supports, reverse=True)  # equal scores: support desc
