from dataclasses import replace

from memcollab_cli.memory.bank import MemoryEntry
from memcollab_cli.memory.diff import diff_banks


def make(when, task="t1", category="Algebra", subcategory="Absolute Value"):
    return MemoryEntry.create(
        category, subcategory, when, "splitting into sign cases", "dropping a case",
        models={"preferred": ["big"], "unpreferred": ["small"]},
        sources=[{"task_id": task, "benchmark": "math500", "pos": "p", "neg": "n"}],
        support=1, summarizer="big", prompt="h1")


A, B, C = make("solving |x| equations"), make("bounding |x|", "t2"), make("nesting |x|", "t3")


def test_identical_banks():
    d = diff_banks([A, B], [B, A])
    assert d.empty
    assert d.render() == []
    assert d.summary() == "0 added, 0 removed, 0 changed"


def test_added_removed_changed():
    grown = replace(B, support=3, sources=B.sources + [
        {"task_id": "t7", "benchmark": "math500", "pos": "p", "neg": "n"},
        {"task_id": "t8", "benchmark": "math500", "pos": "p", "neg": "n"}],
        models={"preferred": ["big", "mid"], "unpreferred": []})
    d = diff_banks([A, B], [grown, C])
    assert [e.id for e in d.added] == [C.id]
    assert [e.id for e in d.removed] == [A.id]
    assert [(o.id, n.id) for o, n in d.changed] == [(B.id, B.id)]
    assert d.summary() == "1 added, 1 removed, 1 changed"
    assert d.render() == [
        f"- {A.id} [Algebra/Absolute Value] When solving |x| equations, enforce splitting into "
        "sign cases; avoid dropping a case.",
        f"+ {C.id} [Algebra/Absolute Value] When nesting |x|, enforce splitting into sign cases; "
        "avoid dropping a case.",
        f"~ {B.id}: support 1 → 3; sources +2 -0; preferred +mid; unpreferred -small",
    ]


def test_recategorized_and_hand_edited():
    moved = replace(A, category="Intermediate Algebra", subcategory="Complex Numbers")
    edited = replace(B, enforce="checking both signs", prompt="h2")
    d = diff_banks([A, B], [moved, edited])
    assert d.render() == [
        f"~ {B.id}: enforce 'splitting into sign cases' → 'checking both signs'; prompt h1 → h2",
        f"~ {A.id}: category Algebra/Absolute Value → Intermediate Algebra/Complex Numbers",
    ]
