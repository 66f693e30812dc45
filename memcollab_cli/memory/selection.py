"""Choosing a task's entries without filing it under a label: the gold set, and matching `when`.

Category routing (`use.routing`) asks a model to file a task under one of the taxonomy's
subcategories and hands it that bucket's entries. The rules here skip the label and pick entries
by whether their `when` clause fits the problem:

- `gold`: the entries a person decided apply to the problem (`GoldSet`, read from a gold file).
  An oracle: it measures what correct memory does when it reaches the tasks it is about.
- `lexical`: TF-IDF cosine between the problem and each entry's `when` clause (content words
  only), every entry at or above a threshold, best first. No model call.
- `global`: the same over the whole constraint sentence: the paper's global top-p retrieval,
  with the threshold that lets a task receive nothing.
- `choose`: a model reads every `when` clause and names those that hold (`use.choose`).

A gold file is JSONL, one line per task: {"benchmark", "split", "task_id", "problem" (its
`problem_hash`), "applies": [entry ids], "why": optional reasons}. Tasks are matched by problem hash, so a gold file
cannot be applied to another problem that happens to share an id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from memcollab_cli.errors import DataError
from memcollab_cli.jsonl import sha256_file, stream_jsonl
from memcollab_cli.memory.bank import MemoryEntry
from memcollab_cli.memory.problems import ProblemIndex, problem_hash, tokenize

DIRECT_RULES = ("gold", "lexical", "global", "choose")
GOLD_KEYS = {"benchmark", "split", "task_id", "problem", "applies"}
GOLD_OPTIONAL = {"why"}  # the reader's reasons, for people
# Defaults: the thresholds of best recall on GSM8K test tasks 0-299 of the gold set, ties to the
# higher (`memcollab route --gold`, banks/gsm8k/README.md); 300-599 were left to check them.
THRESHOLDS = {"lexical": 0.10, "global": 0.05}

# Words that carry no situation: without them a problem "matches" every clause through "the".
STOPWORDS = frozenset("""
a an the and or of to in on at by for from with as is are be been being it its this that these
those there their they them he she his her we you your our i me my one two some any each every
other than then so such no not only own same too very can will just do does did has have had
was were what which who whom when where why how all both few more most into out up down over
under again further once here about against between through during before after above below
off while if because until per asks asked question given find get gets give gives using use
""".split())


@dataclass(frozen=True)
class GoldSet:
    """Which entries apply to which problems, as decided by reading them."""

    path: Path
    applies: dict[str, tuple[str, ...]]  # problem hash -> entry ids
    sha256: str

    @classmethod
    def read(cls, path: str | Path, bank_ids: Sequence[str] | None = None) -> "GoldSet":
        """Read and check a gold file; with `bank_ids`, every id it names must be in the bank."""
        path = Path(path)
        if not path.exists():
            raise DataError(f"{path}: no such gold file; give the path of a gold JSONL file "
                            "(e.g. banks/gsm8k/gold/applies.jsonl)")
        known = set(bank_ids) if bank_ids is not None else None
        applies: dict[str, tuple[str, ...]] = {}
        for lineno, row in stream_jsonl(path):
            where = f"{path}:{lineno}"
            if not GOLD_KEYS <= set(row) <= GOLD_KEYS | GOLD_OPTIONAL:
                raise DataError(f"{where}: a gold line has the keys {', '.join(sorted(GOLD_KEYS))} "
                                f"(and optionally 'why'); got {', '.join(sorted(row))}")
            ids = row["applies"]
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise DataError(f"{where}: 'applies' must be a list of entry ids")
            if known is not None and not set(ids) <= known:
                missing = ", ".join(sorted(set(ids) - known))
                raise DataError(f"{where}: entries {missing} are not in the bank; the gold file "
                                "and the bank must come together")
            if row["problem"] in applies:
                raise DataError(f"{where}: problem {row['problem']} appears twice")
            applies[row["problem"]] = tuple(ids)
        return cls(path=path, applies=applies, sha256=sha256_file(path)[:12])

    def entries_for(self, question: str) -> tuple[str, ...]:
        """The ids that apply to this problem; an error for a problem the gold set never read."""
        key = problem_hash(question)
        if key not in self.applies:
            raise DataError(f"{self.path}: the gold set has no line for the problem "
                            f"{question[:60]!r}…; route only the tasks it covers")
        return self.applies[key]


class ClauseMatcher:
    """Entries whose clause (`when`, or the whole sentence) is close to the problem's words."""

    def __init__(self, entries: Sequence[MemoryEntry], field: str = "when",
                 threshold: float = 0.3):
        self.entries = list(entries)
        self.threshold = threshold
        texts = [e.when if field == "when" else e.text() for e in self.entries]
        self.index = ProblemIndex([_content(t) for t in texts])

    def scores(self, question: str) -> list[tuple[MemoryEntry, float]]:
        """Every entry sharing a content word with the problem, best first."""
        found = self.index.nearest(_content(question), k=len(self.entries))
        return [(self.entries[i], s) for i, s in found]

    def match(self, question: str) -> list[MemoryEntry]:
        """The entries at or above the threshold, best first."""
        return [e for e, s in self.scores(question) if s >= self.threshold]


def _content(text: str) -> str:
    """The text's content words, plural -s folded, so 'prices' meets 'price'."""
    return " ".join(_fold(w) for w in tokenize(text) if w not in STOPWORDS)


def _fold(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word
