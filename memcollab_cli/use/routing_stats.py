"""Routing as recorded in trajectories: which rule labelled a condition's tasks, how many tasks
received memory, and how often two labellings of the same tasks agree.

Read from the records alone, so `eval --from-runs` reports it without a model. Records made
before routing was recorded were all labelled by their solving model (`self`).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

Label = tuple[str, str]


def routing_facts(model: str, records: Mapping) -> dict | None:
    """{routing, labeller, n, with_memory, stand_ins} for a condition whose records retrieve
    memory; stand_ins: tasks without memory that took the no-memory transcript (`solve`)."""
    conds = [r.get("condition") or {} for r in records.values()]
    conds = [c for c in conds if "memory_ids" in c]
    if not conds:
        return None
    rules = {c.get("routing") or ("self" if "category" in c else "similar problems")
             for c in conds}  # no rule recorded: an old labelled arm, or worked examples
    labellers = {c.get("labeller") or (model if c.get("routing", "self") == "self" else "")
                 for c in conds if "category" in c}
    return {"routing": ",".join(sorted(rules)), "labeller": ",".join(sorted(labellers - {""})),
            "n": len(conds), "with_memory": sum(bool(c["memory_ids"]) for c in conds),
            "stand_ins": sum("stand_in" in c for c in conds)}


def labels_of(records: Mapping) -> dict[tuple, Label]:
    """(benchmark, task_id) -> (category, subcategory) for the records that were labelled."""
    return {key: (r["condition"]["category"], r["condition"].get("subcategory", ""))
            for key, r in records.items() if "category" in (r.get("condition") or {})}


def agreement(a: Mapping[tuple, Label], b: Mapping[tuple, Label]) -> dict:
    """How often two labellings of the same tasks agree on the category and on both labels."""
    shared = a.keys() & b.keys()
    return {"n": len(shared), "category": sum(a[k][0] == b[k][0] for k in shared),
            "subcategory": sum(a[k] == b[k] for k in shared)}


def agreements(labels: Mapping[tuple[str, str], Mapping], facts: Mapping[tuple[str, str], dict]
               ) -> list[dict]:
    """Pairs worth comparing among (model, condition) labellings: the same condition under two
    models, and one model's conditions that were labelled by different rules or labellers."""
    out = []
    for (m1, c1), (m2, c2) in combinations(sorted(labels), 2):
        if c1 == c2 or (m1 == m2 and _who(facts[(m1, c1)]) != _who(facts[(m2, c2)])):
            found = agreement(labels[(m1, c1)], labels[(m2, c2)])
            if found["n"]:
                out.append({"a": [m1, c1], "b": [m2, c2], **found})
    return out


def _who(facts: dict) -> tuple[str, str]:
    return facts["routing"], facts["labeller"]
