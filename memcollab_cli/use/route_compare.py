"""`route`: compare routing rules on the same tasks without solving anything.

For one bank and one solving model, each rule labels the tasks (`routing.route_tasks`); for each
rule we count the tasks that would receive memory (the leakage guard applied, as in `solve`) and
how often its labels agree with the bank's labeller's on the category and on both labels. The
labeller's labels are cached beside the output like `solve`'s, so comparing again is free.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from memcollab_cli.runtime.base import Model
from memcollab_cli.tasks import Task
from memcollab_cli.use.recall import Memory
from memcollab_cli.use.routing import agreement, route_tasks


def compare_rules(model: Model, tasks: Sequence[Task], bank: Path, rules: Sequence[str],
                  cache: Path, *, labeller: str = "", parallel: int = 1,
                  open_model: Callable[[str], AbstractContextManager[Model]] | None = None
                  ) -> dict:
    """{bank, model, labeller, n, rules: [{rule, labeller, with_memory, levels, agreement}]}."""
    memory = Memory(bank)
    reference, who = route_tasks("labeller", model, tasks, memory.sources, labeller=labeller,
                                 cache=cache, open_model=open_model, where=str(bank))
    rows = []
    for rule in rules:
        labels, by = (reference, who) if rule == "labeller" else route_tasks(
            rule, model, tasks, memory.sources, labeller=labeller, cache=cache,
            open_model=open_model, parallel=parallel, where=str(bank))
        levels: dict[str, int] = {}
        for t in tasks:
            level = memory.recall(t, *labels[t.id]).level
            levels[level] = levels.get(level, 0) + 1
        rows.append({"rule": rule, "labeller": by, "n": len(tasks),
                     "with_memory": len(tasks) - levels.get("none", 0),
                     "levels": dict(sorted(levels.items())),
                     "agreement": agreement(labels, reference)})
    return {"bank": str(bank), "model": model.name, "labeller": who, "n": len(tasks),
            "rules": rows}
