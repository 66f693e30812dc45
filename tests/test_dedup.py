import random

from memcollab_cli.memory.bank import MemoryEntry
from memcollab_cli.memory.dedup import Merge, merge_banks, merge_entries


def make(when, enforce, avoid, task, category="Algebra", subcategory="Absolute Value",
         pos="big", neg="small", support=None):
    return MemoryEntry.create(
        category, subcategory, when, enforce, avoid,
        models={"preferred": [pos], "unpreferred": [neg]},
        sources=[{"task_id": task, "benchmark": "math500", "pos": f"p{task}", "neg": f"n{task}"}],
        support=support or 1, summarizer="big", prompt="h")


BASE = ("solving an absolute value equation", "splitting into both sign cases",
        "discarding the negative case")
NEAR = ("solving absolute value equations", "splitting into both sign cases",
        "discarding the negative case")  # one word differs: token_sort_ratio ~97
OTHER = ("counting arrangements around a circle", "dividing by the number of rotations",
         "counting rotations as distinct")


def test_exact_duplicates_merge():
    a = make(*BASE, task="t1")
    b = make(*BASE, task="t2", pos="small", neg="big")
    merged, report = merge_entries([a, b])
    assert len(merged) == 1
    e = merged[0]
    assert e.id == a.id
    assert e.support == 2
    assert [s["task_id"] for s in e.sources] == ["t1", "t2"]
    assert e.models == {"preferred": ["big", "small"], "unpreferred": ["big", "small"]}
    assert report == [Merge(a.id, (a.id,), "exact")]


def test_same_source_twice_counts_once():
    a = make(*BASE, task="t1")
    merged, _ = merge_entries([a, make(*BASE, task="t1")])
    assert merged[0].support == 1


def test_near_duplicates_merge_into_highest_support():
    a = make(*BASE, task="t1")
    b = make(*NEAR, task="t2", support=1)
    c = make(*NEAR, task="t3")  # exact copy of b: b/c first merge to support 2
    merged, report = merge_entries([a, b, c])
    assert len(merged) == 1
    assert merged[0].id == b.id  # support 2 beats support 1
    assert merged[0].when == NEAR[0]
    assert merged[0].support == 3
    assert report == sorted([Merge(b.id, (b.id,), "exact"), Merge(b.id, (a.id,), "near")],
                            key=lambda m: (m.kept, m.kind))
    assert report[0].render() == f"{b.id} <- {b.id} (exact)"


def test_tie_on_support_keeps_smallest_id():
    a, b = make(*BASE, task="t1"), make(*NEAR, task="t2")
    merged, report = merge_entries([a, b])
    assert merged[0].id == min(a.id, b.id)
    assert report == [Merge(min(a.id, b.id), (max(a.id, b.id),), "near")]


def test_different_text_or_bucket_not_merged():
    a = make(*BASE, task="t1")
    b = make(*OTHER, task="t2")
    c = make(*NEAR, task="t3", subcategory="Linear Equations & Inequalities")
    merged, report = merge_entries([a, b, c])
    assert len(merged) == 3 and report == []


def test_threshold():
    a, b = make(*BASE, task="t1"), make(*NEAR, task="t2")
    assert len(merge_entries([a, b], threshold=99)[0]) == 2
    assert len(merge_entries([a, b], threshold=90)[0]) == 1


def test_subset_text_is_not_swallowed():
    # token_set_ratio would score 100 here; token_sort_ratio does not.
    short = make("solving equations", "checking", "guessing", task="t1")
    long = make("solving equations with absolute values and radicals",
                "checking every candidate root in the original equation",
                "guessing and keeping extraneous roots", task="t2")
    assert len(merge_entries([short, long])[0]) == 2


def test_exact_duplicate_across_categories_goes_to_representative():
    a = make(*BASE, task="t1", category="Intermediate Algebra", subcategory="Complex Numbers")
    b = make(*BASE, task="t2")
    c = make(*BASE, task="t3")
    merged, report = merge_entries([a, b, c])
    assert [(e.category, e.subcategory, e.support) for e in merged] == [
        ("Algebra", "Absolute Value", 3)]
    assert report == [Merge(a.id, (a.id, a.id), "exact",
                            ("Intermediate Algebra/Complex Numbers",))]
    assert report[0].render() == (f"{a.id} <- {a.id}, {a.id} "
                                  "(exact; from Intermediate Algebra/Complex Numbers)")


def test_order_independent():
    entries = [make(*BASE, task="t1"), make(*NEAR, task="t2"), make(*NEAR, task="t3"),
               make(*OTHER, task="t4"), make(*OTHER, task="t5", category="Geometry"),
               make(*BASE, task="t6", subcategory="Other")]
    expected = merge_entries(entries)
    for seed in range(5):
        shuffled = entries[:]
        random.Random(seed).shuffle(shuffled)
        got = merge_entries(shuffled)
        assert [e.to_dict() for e in got[0]] == [e.to_dict() for e in expected[0]]
        assert got[1] == expected[1]


def test_merge_banks():
    merged, report = merge_banks([[make(*BASE, task="t1")], [make(*BASE, task="t2"),
                                                             make(*OTHER, task="t3")]])
    assert [e.support for e in merged] == [2, 1]
    assert len(report) == 1


def test_hand_written_entries_add_support():
    a = MemoryEntry.create("C", "S", *BASE, support=2)
    b = MemoryEntry.create("C", "S", *BASE, support=3)
    assert merge_entries([a, b])[0][0].support == 5


def test_blocked_clustering_matches_exact():
    # Large buckets use word blocking; on near-duplicate families it must agree with the
    # exhaustive comparison.
    rng = random.Random(7)
    # Words of random letters, so character similarity follows word overlap as in real text
    # (names like "word1", "word2" would look alike to a character-level ratio).
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
             for _ in range(40)]
    entries = []
    for fam in range(12):
        base = [rng.choice(words) for _ in range(12)]
        for k in range(4):
            variant = base[:]
            variant[rng.randrange(12)] = rng.choice(words)
            entries.append(make(" ".join(variant[:4]), " ".join(variant[4:8]),
                                " ".join(variant[8:]) + f" family {fam}",
                                task=f"t{fam}-{k}"))
    exact = merge_entries(entries, exact_max=10**6)
    blocked = merge_entries(entries, exact_max=0)
    assert [e.to_dict() for e in blocked[0]] == [e.to_dict() for e in exact[0]]
    assert blocked[1] == exact[1]
    assert len(exact[0]) < len(entries)
