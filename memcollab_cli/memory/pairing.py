"""Contrastive pairing: which (preferred, unpreferred) trajectory pairs `contrast` summarizes.

Input is two or more runs (each a list of trajectory records as `records.read_trajectories`
reads them, usually one file per model) over the
same tasks; a task is identified by (benchmark, task_id). Policies (`--pair-policy`):

- `mixed` (default, the paper's v1 setting): only tasks where at least one trajectory is verified
  correct and one wrong. pos = one correct trajectory (the strong model's if it is correct,
  otherwise the first correct one in run order); one pair per wrong trajectory. With two runs
  that is exactly one pair per mixed task.
- `prefer-strong` (our reading of the paper's v2): mixed tasks as above; when all trajectories
  agree (all correct or all wrong) the strong model's trajectory is pos and every other one is
  neg. Nothing is skipped for agreement, so this needs `strong`.
- `all`: every (correct, wrong) combination — for more than two runs.

Skipped tasks are counted by reason: "both-correct", "both-wrong" (also for more than two runs),
"missing-in-some-run" (a task must be in every run), "errored" (a trajectory with verdict
"error" — an engine failure says nothing about reasoning, so the task is left out), and
"duplicate" (a second record of the same task in one run; the first is used).

Left out: reading the task texts and calling the summarizer (the pipeline does that).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from memcollab_cli.errors import DataError

POLICIES = ("mixed", "prefer-strong", "all")


@dataclass
class Pair:
    """One contrastive pair: `pos` was verified right (or preferred), `neg` wrong (or not)."""

    task_id: str
    benchmark: str
    pos: dict  # a trajectory record
    neg: dict


def _model(record: dict) -> str:
    return record["model"]["name"]


def make_pairs(runs: list[list[dict]], policy: str = "mixed", strong: str | None = None
               ) -> tuple[list[Pair], Counter]:
    """Pair trajectories task by task; returns (pairs, Counter of skipped-task reasons).

    Order is deterministic: tasks in the order of the first run (then tasks first seen in later
    runs), and within a task pos/neg follow run order.
    """
    if policy not in POLICIES:
        raise DataError(f"unknown pair policy {policy!r}: use one of {', '.join(POLICIES)}")
    if len(runs) < 2:
        raise DataError(f"pairing needs at least two runs, got {len(runs)}")
    skipped: Counter = Counter()
    indexed: list[dict[tuple[str, str], dict]] = []
    order: dict[tuple[str, str], None] = {}  # insertion-ordered set of task keys
    for run in runs:
        index: dict[tuple[str, str], dict] = {}
        for record in run:
            key = (record["benchmark"], record["task_id"])
            if key in index:
                skipped["duplicate"] += 1
                continue
            index[key] = record
            order.setdefault(key)
        indexed.append(index)
    models = {_model(r) for index in indexed for r in index.values()}
    if policy == "prefer-strong" and strong not in models:
        raise DataError(f"pair policy 'prefer-strong' needs the strong model's name, one of: "
                        f"{', '.join(sorted(models))} (got {strong!r})")

    pairs: list[Pair] = []
    for key in order:
        records = [index.get(key) for index in indexed]
        if any(r is None for r in records):
            skipped["missing-in-some-run"] += 1
            continue
        if any(r["verdict"] == "error" for r in records):
            skipped["errored"] += 1
            continue
        right = [r for r in records if r["correct"]]
        wrong = [r for r in records if not r["correct"]]
        if right and wrong:
            if policy == "all":
                combos = [(p, n) for p in right for n in wrong]
            else:
                pos = next((r for r in right if _model(r) == strong), right[0])
                combos = [(pos, n) for n in wrong]
        elif policy == "prefer-strong" and any(_model(r) == strong for r in records):
            pos = next(r for r in records if _model(r) == strong)
            combos = [(pos, n) for n in records if n is not pos]
        else:
            skipped["both-correct" if right else "both-wrong"] += 1
            continue
        pairs.extend(Pair(key[1], key[0], p, n) for p, n in combos)
    return pairs, skipped
