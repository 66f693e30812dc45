"""`bank diff`: what changed between two banks, entry by entry, keyed by id.

An id is the hash of the constraint text, so a reworded constraint shows as one removal plus
one addition, while a constraint that gained support, sources, models or a new category keeps
its id and shows as one "~" line listing what changed.

Left out: reading the files (use `bank.read_bank`) and colour (the CLI adds it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from memcollab_cli.memory.bank import MemoryEntry, sort_key


@dataclass
class BankDiff:
    added: list[MemoryEntry]
    removed: list[MemoryEntry]
    changed: list[tuple[MemoryEntry, MemoryEntry]]  # (old, new), same id

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def summary(self) -> str:
        return f"{len(self.added)} added, {len(self.removed)} removed, {len(self.changed)} changed"

    def render(self) -> list[str]:
        """Readable lines: removals, then additions, then changes, each in bank order."""
        lines = [f"- {e.id} [{e.category}/{e.subcategory}] {e.text()}" for e in self.removed]
        lines += [f"+ {e.id} [{e.category}/{e.subcategory}] {e.text()}" for e in self.added]
        lines += [f"~ {old.id}: {'; '.join(describe_change(old, new))}"
                  for old, new in self.changed]
        return lines


def _names(values: Iterable[str]) -> str:
    return ", ".join(values)


def describe_change(old: MemoryEntry, new: MemoryEntry) -> list[str]:
    """One phrase per field that differs between two versions of an entry."""
    out = []
    if (old.category, old.subcategory) != (new.category, new.subcategory):
        out.append(f"category {old.category}/{old.subcategory} → {new.category}/{new.subcategory}")
    for name in ("when", "enforce", "avoid"):
        if getattr(old, name) != getattr(new, name):
            out.append(f"{name} {getattr(old, name)!r} → {getattr(new, name)!r}")
    if old.support != new.support:
        out.append(f"support {old.support} → {new.support}")
    old_src = {tuple(sorted(s.items())) for s in old.sources}
    new_src = {tuple(sorted(s.items())) for s in new.sources}
    if old_src != new_src:
        out.append(f"sources +{len(new_src - old_src)} -{len(old_src - new_src)}")
    for side in ("preferred", "unpreferred"):
        gained = sorted(set(new.models[side]) - set(old.models[side]))
        lost = sorted(set(old.models[side]) - set(new.models[side]))
        if gained or lost:
            parts = ([f"+{_names(gained)}"] if gained else []) + ([f"-{_names(lost)}"] if lost
                                                                  else [])
            out.append(f"{side} {' '.join(parts)}")
    for name in ("summarizer", "prompt", "format"):
        if getattr(old, name) != getattr(new, name):
            out.append(f"{name} {getattr(old, name)} → {getattr(new, name)}")
    if old.evidence != new.evidence:
        out.append(f"evidence {_evidence(old.evidence)} → {_evidence(new.evidence)}")
    return out


def _evidence(ev: dict | None) -> str:
    return f"+{ev['won']}/-{ev['lost']} of {ev['tasks']}" if ev else "none"


def diff_banks(old: Iterable[MemoryEntry], new: Iterable[MemoryEntry]) -> BankDiff:
    """Compare two banks by id; entries equal in every field are not reported."""
    before = {e.id: e for e in old}
    after = {e.id: e for e in new}
    added = sorted((after[i] for i in after.keys() - before.keys()), key=sort_key)
    removed = sorted((before[i] for i in before.keys() - after.keys()), key=sort_key)
    changed = sorted(((before[i], after[i]) for i in before.keys() & after.keys()
                      if before[i].to_dict() != after[i].to_dict()), key=lambda p: sort_key(p[1]))
    return BankDiff(added, removed, changed)
