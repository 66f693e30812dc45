"""Task-aware retrieval at solve time: a task is labelled (see `routing`), the bank answers.

Retrieval itself (filter, TF-IDF rank, fallback, leakage guard)
lives in `memory.retrieval`; the guard compares problem identities (`memory.problems`), taken
from the sources themselves or, for older banks, from the problem texts in the bank's work
directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from memcollab_cli import prompts
from memcollab_cli.memory import (
    MemoryEntry,
    Retriever,
    random_entries,
    read_bank,
    render_memory_block,
)
from memcollab_cli.memory.problems import task_guard_keys
from memcollab_cli.memory.retrieval import entry_guard_keys
from memcollab_cli.tasks import Task


@dataclass
class Recall:
    """What one task got from the bank: the block to inject and the facts to record."""

    block: str
    memory_ids: list[str]
    level: str  # subcategory | category | none | placebo


class Memory:
    """A bank loaded once, answering `recall(task, category, subcategory)` for many tasks."""

    def __init__(self, bank_path: Path, top_p: int = 3, model_filter: str | None = None,
                 placebo: bool = False, seed: int = 42):
        from memcollab_cli.use.routing import BankSources

        self.path = Path(bank_path)
        self.entries = read_bank(self.path)
        self.sources = BankSources.of_bank(self.path, self.entries)
        self.problems = self.sources.hashes
        self.retriever = Retriever(self.entries, problems=self.problems)
        self.top_p = top_p
        self.model_filter = model_filter
        self.placebo = placebo
        self.seed = seed

    def recall(self, task: Task, category: str, subcategory: str) -> Recall:
        if self.placebo:
            # Same number of entries as real retrieval would give, drawn at random, any category.
            n = len(self._retrieve(task, category, subcategory).entries)
            chosen = self._draw(task, self.entries, n)
            level = "placebo"
        else:
            found = self._retrieve(task, category, subcategory)
            chosen, level = found.entries, found.level
        # The placebo's block names the task's label too, so the two differ only in entries.
        return _recall(chosen, f"{category} / {subcategory}", level)

    def deliver(self, task: Task, ranked: list[MemoryEntry], matched: set[str], rule: str
                ) -> Recall:
        """The top `top_p` of `ranked`, entries chosen for the task by a direct rule
        (`memory.selection`), under the label of the first; the placebo draws as many at random
        from the entries the rule did not match (`matched`: every id it found fitting)."""
        guard = _guard(task)  # an entry distilled from this very problem is never delivered
        chosen = [e for e in ranked if guard.isdisjoint(entry_guard_keys(e, self.problems))]
        chosen = chosen[:self.top_p]
        if not chosen:
            return Recall("", [], "none")
        kind = f"{chosen[0].category} / {chosen[0].subcategory}"
        if not self.placebo:
            return _recall(chosen, kind, rule)
        pool = [e for e in self.entries if e.id not in matched]
        return _recall(self._draw(task, pool, len(chosen)), kind, "placebo")

    def _draw(self, task: Task, pool: list[MemoryEntry], n: int) -> list[MemoryEntry]:
        """The placebo's `n` entries from `pool`, seeded by the task, never from its own problem."""
        return random_entries(pool, n, seed=f"{self.seed}:{task.benchmark}:{task.id}",
                              exclude=_guard(task), problems=self.problems)

    def _retrieve(self, task: Task, category: str, subcategory: str):
        return self.retriever.retrieve(
            task.question, category, subcategory, top_p=self.top_p,
            exclude=_guard(task), model=self.model_filter,
            model_filter=self.model_filter is not None)


def _recall(chosen: list[MemoryEntry], kind: str, level: str) -> Recall:
    if not chosen:
        return Recall("", [], "none")
    block = prompts.load("memory_block").render(kind=kind, constraints=render_memory_block(chosen))
    return Recall(block, [e.id for e in chosen], level)


def _guard(task: Task) -> set[tuple]:
    return task_guard_keys(task.benchmark, task.id, task.question, task.meta.get("split", ""))
