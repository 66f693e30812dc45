"""Which bank entries were retrieved where a bank arm won or lost against no memory.

From transcripts alone (no model): for each entry of a bank, the tasks whose record under that
bank's condition retrieved it, and how many of those the arm won and lost against the same
task's no-memory record. The records are matched to the bank by its content hash, so a bank
edited since the run is not blamed for the old one's results.

This describes, it does not decide. Entries are retrieved together (the top few per task), so a
loss counts against every entry retrieved with it, and each p (McNemar's exact test on the
entry's own won/lost) is uncorrected for the number of entries tested. On test transcripts,
choosing entries by this table fits the bank to the test set: `bank refine` decides on training
tasks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from memcollab_cli.errors import DataError
from memcollab_cli.memory import read_bank
from memcollab_cli.stats import mcnemar_exact
from memcollab_cli.use.arms import NONE, PLACEBO, bank_sha256
from memcollab_cli.use.results import read_runs


@dataclass(frozen=True)
class EntryBlame:
    id: str
    category: str
    text: str
    n: int  # tasks that retrieved the entry and have a no-memory record
    won: int  # right with the bank, wrong without
    lost: int  # wrong with the bank, right without

    @property
    def p_value(self) -> float:
        return mcnemar_exact(self.won, self.lost)

    def to_dict(self) -> dict:
        return {"id": self.id, "category": self.category, "text": self.text, "n": self.n,
                "won": self.won, "lost": self.lost, "mcnemar_p": round(self.p_value, 6)}


@dataclass(frozen=True)
class Blame:
    model: str
    condition: str
    tasks: int  # tasks of the arm that have a no-memory record
    entries: list[EntryBlame]  # worst net first


def blame(bank: str | Path, runs: Iterable[str | Path], model: str | None = None) -> Blame:
    """Per entry of `bank`: won and lost against no memory on the tasks that retrieved it."""
    entries = read_bank(bank)
    sha = bank_sha256(bank)
    records, models = read_runs(runs)
    if model is None:
        if len(models) != 1:
            raise DataError(f"the transcripts hold {len(models)} models ({', '.join(models)}); "
                            "choose one with --model")
        model = models[0]
    if model not in models:
        raise DataError(f"the transcripts hold no records of {model!r} (they hold "
                        f"{', '.join(models)})")
    # per condition, only the records made with this very bank (a condition may hold older ones)
    made_with = {c: {k: r for k, r in recs.items() if r["condition"].get("bank_sha256") == sha}
                 for (m, c), recs in records.items() if m == model and not c.startswith(PLACEBO)}
    arms = sorted(c for c, recs in made_with.items() if recs)
    if len(arms) != 1:
        found = f"conditions {', '.join(arms)}" if arms else "no condition"
        raise DataError(f"{bank}: {found} of {model!r} in the transcripts used this bank "
                        f"(content hash {sha}); blame needs exactly one")
    base = records.get((model, NONE))
    if not base:
        raise DataError(f"the transcripts hold no no-memory records of {model!r} to compare with")
    arm = made_with[arms[0]]
    shared = arm.keys() & base.keys()
    tally = {e.id: [0, 0, 0] for e in entries}  # n, won, lost
    for key in shared:
        mine, theirs = bool(arm[key]["correct"]), bool(base[key]["correct"])
        for entry_id in arm[key]["condition"].get("memory_ids", []):
            if entry_id in tally:
                counts = tally[entry_id]
                counts[0] += 1
                counts[1] += mine and not theirs
                counts[2] += theirs and not mine
    rows = [EntryBlame(e.id, e.category, e.text(), *tally[e.id]) for e in entries]
    rows.sort(key=lambda r: (r.won - r.lost, -r.n, r.id))
    return Blame(model=model, condition=arms[0], tasks=len(shared), entries=rows)
