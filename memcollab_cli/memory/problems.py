"""What identifies a problem, and which known problems are most like a new one.

- `problem_hash(text)`: 16 hex digits of sha256 over the problem text lowercased with its
  whitespace collapsed. Task ids do not identify problems: GSM8K's train and test splits both
  number their lines from 0, so "gsm8k/7" names two different problems.
- `guard_keys(...)`: the keys the leakage guard compares, for a task being solved and for a bank
  entry's source: ("problem", hash) where the text (or its hash) is known, else
  ("task", benchmark, split, id) where the split is known. Never a bare id across splits: a
  source with neither key is left unguarded (counted, so the caller can say so).
- `ProblemIndex`: TF-IDF cosine (the same flavour as `retrieval`) over problem texts, answering
  "which indexed problems are nearest to this one" for routing by the nearest training task and
  for the worked-examples arm.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from memcollab_cli.jsonl import sha256_text

_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Words for TF-IDF: runs of [a-z0-9] of the lowercased text."""
    return _TOKEN.findall(text.lower())


def problem_hash(text: str) -> str:
    return sha256_text(" ".join(text.lower().split()))[:16]


def task_guard_keys(benchmark: str, task_id: str, question: str, split: str = "") -> set[tuple]:
    """Keys of a task being solved: its problem hash, plus (benchmark, split, id) if the split is known."""
    keys: set[tuple] = {("problem", problem_hash(question))}
    if split:
        keys.add(("task", benchmark, split, task_id))
    return keys


def source_guard_keys(source: Mapping, problems: Mapping[tuple[str, str], str] | None = None
                      ) -> set[tuple]:
    """Keys of one bank source: its `problem` hash, or the hash of the problem text found for
    (benchmark, task_id) in `problems` (the bank's own contrast log), or (benchmark, split, id)."""
    keys: set[tuple] = set()
    digest = source.get("problem") or (problems or {}).get((source["benchmark"], source["task_id"]))
    if digest:
        keys.add(("problem", digest))
    if source.get("split"):
        keys.add(("task", source["benchmark"], source["split"], source["task_id"]))
    return keys


class ProblemIndex:
    """Nearest problems by TF-IDF cosine; ties go to the earlier item, so results are stable."""

    def __init__(self, texts: Sequence[str]):
        docs = [Counter(tokenize(t)) for t in texts]
        df: Counter = Counter(term for doc in docs for term in doc)
        n = len(docs)
        self.idf = {t: math.log((1 + n) / (1 + d)) + 1.0 for t, d in df.items()}
        self.vectors = [self._vector(doc) for doc in docs]
        self.postings: dict[str, list[tuple[int, float]]] = {}
        for i, vec in enumerate(self.vectors):
            for term, weight in vec.items():
                self.postings.setdefault(term, []).append((i, weight))

    def _vector(self, counts: Counter) -> dict[str, float]:
        weights = {t: c * self.idf[t] for t, c in counts.items() if t in self.idf}
        norm = math.sqrt(sum(w * w for w in weights.values()))
        return {t: w / norm for t, w in weights.items()} if norm else {}

    def nearest(self, text: str, k: int = 1, skip: Iterable[int] = ()) -> list[tuple[int, float]]:
        """Up to `k` (position, cosine) pairs, best first; positions in `skip` are left out and
        so are problems sharing no word with `text`."""
        query = self._vector(Counter(tokenize(text)))
        scores: dict[int, float] = {}
        for term, qw in query.items():
            for i, w in self.postings.get(term, ()):
                scores[i] = scores.get(i, 0.0) + qw * w
        skip = set(skip)
        ranked = sorted(((i, s) for i, s in scores.items() if i not in skip and s > 0),
                        key=lambda p: (-round(p[1], 12), p[0]))
        return ranked[:k]
