"""Task-aware retrieval (paper Algorithm 2): filter by category, rank by TF-IDF, take the top p.

`Retriever.retrieve` keeps the entries filed under the query's (category, subcategory); if none
is eligible it falls back to the category alone, then to no memory at all — never to a global
top-p, which the paper's ablation suggests is worse. Within the chosen bucket entries are ranked
by TF-IDF cosine between the query text and the entry text (ties: support desc, then id).

Two filters apply before the cut, so they can empty a bucket and trigger the fallback:
- the leakage guard: an entry distilled from the very problem being solved is never returned.
  It compares problem identities (`memory.problems`: the hash of the problem text, or
  benchmark/split/id), never bare task ids, which GSM8K's train and test splits share;
- the optional model filter (paper v2): keep entries whose pair involved the solving model.

TF-IDF is sklearn's default flavour, written out: raw term counts, smoothed idf
(ln((1+N)/(1+df)) + 1) over the whole bank, l2-normalized vectors, words = runs of [a-z0-9].
Each bucket keeps an inverted index (term -> entry positions, weights) so a query costs the
length of its terms' posting lists, not bucket size x vocabulary.

Left out: embedding similarity and LLM-selected retrieval (paper ablations), classification.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from memcollab_cli.memory.bank import MemoryEntry
from memcollab_cli.memory.problems import source_guard_keys, tokenize

_HEAD = 64  # matches sorted up front; more are sorted only if filters reject these
_TIE = 1e-9

__all__ = ["Retrieval", "Retriever", "entry_guard_keys", "random_entries",
           "render_memory_block", "tokenize"]


def entry_guard_keys(entry: MemoryEntry, problems: Mapping | None = None) -> set[tuple]:
    """Problem identities of every source of `entry` (see `memory.problems.source_guard_keys`)."""
    return set().union(*(source_guard_keys(s, problems) for s in entry.sources))


@dataclass
class Retrieval:
    """The entries to inject and the level that supplied them ("none" when empty)."""

    entries: list[MemoryEntry]
    level: str  # "subcategory", "category" (the fallback) or "none"

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.entries]


class _Bucket:
    """The entries of one (category, subcategory) or one category, with an inverted index."""

    def __init__(self, positions: list[int], entries: list[MemoryEntry],
                 vectors: list[dict[int, float]]):
        # Positions in the retriever's entry list, pre-sorted by (support desc, id) so that a
        # stable sort on score alone yields the full tie-breaking order.
        positions = sorted(positions, key=lambda i: (-entries[i].support, entries[i].id))
        self.positions = np.array(positions, dtype=np.int64)
        postings: dict[int, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        for local, i in enumerate(positions):
            for term, weight in vectors[i].items():
                postings[term][0].append(local)
                postings[term][1].append(weight)
        self.postings = {t: (np.array(ix, dtype=np.int64), np.array(w, dtype=np.float64))
                         for t, (ix, w) in postings.items()}

    def ranked(self, query: dict[int, float]) -> Iterator[int]:
        """Retriever positions, best first: matching entries by score, then the rest.

        Lazy: the best `_HEAD` matches are sorted first (argpartition), the remainder only if
        the filters reject that many, so a query on a huge bucket costs no full sort.
        """
        scores = np.zeros(len(self.positions))
        for term, qw in query.items():
            hit = self.postings.get(term)
            if hit is not None:
                scores[hit[0]] += hit[1] * qw  # a term occurs once per posting list
        matched = np.flatnonzero(scores > 0)  # ascending = (support desc, id) order
        if len(matched) > _HEAD:
            kth = np.partition(scores[matched], len(matched) - _HEAD)[len(matched) - _HEAD]
            # The slack keeps float-level ties together on one side of the cut.
            head = scores[matched] >= kth - _TIE
            parts = [matched[head], matched[~head]]
        else:
            parts = [matched]
        for part in parts:
            # Rounding makes equal scores tie exactly despite float summation order, so the
            # stable sort falls back on the (support desc, id) pre-order.
            order = np.argsort(-np.round(scores[part], 12), kind="stable")
            yield from self.positions[part[order]].tolist()
        if len(matched) < len(self.positions):
            rest = np.ones(len(self.positions), dtype=bool)
            rest[matched] = False
            yield from self.positions[rest].tolist()


class Retriever:
    """Built once per bank; `retrieve` is then cheap enough to call per task.

    `problems` maps (benchmark, task_id) of the bank's sources to problem hashes, for sources that
    do not carry their own (banks built before sources did); `unguarded` counts the entries with
    a source the leakage guard cannot identify.
    """

    def __init__(self, entries: Sequence[MemoryEntry], problems: Mapping | None = None):
        self.entries = list(entries)
        docs = [Counter(tokenize(e.text())) for e in self.entries]
        df: Counter = Counter(t for doc in docs for t in doc)
        n = len(docs)
        self.vocab = {t: i for i, t in enumerate(sorted(df))}
        self.idf = {self.vocab[t]: math.log((1 + n) / (1 + d)) + 1.0 for t, d in df.items()}
        vectors = [self._vector(doc) for doc in docs]
        by_sub: dict[tuple[str, str], list[int]] = defaultdict(list)
        by_cat: dict[str, list[int]] = defaultdict(list)
        for i, e in enumerate(self.entries):
            by_sub[(e.category, e.subcategory)].append(i)
            by_cat[e.category].append(i)
        self._subs = {k: _Bucket(v, self.entries, vectors) for k, v in by_sub.items()}
        self._cats = {k: _Bucket(v, self.entries, vectors) for k, v in by_cat.items()}
        self._guard_keys = [entry_guard_keys(e, problems) for e in self.entries]
        self.unguarded = sum(any(not source_guard_keys(s, problems) for s in e.sources)
                             for e in self.entries)
        self._models = [set(e.models["preferred"]) | set(e.models["unpreferred"])
                        for e in self.entries]

    def _vector(self, counts: Counter) -> dict[int, float]:
        """l2-normalized tf-idf weights by term id; unknown terms are dropped."""
        weights = {self.vocab[t]: c * self.idf[self.vocab[t]]
                   for t, c in counts.items() if t in self.vocab}
        norm = math.sqrt(sum(w * w for w in weights.values()))
        return {t: w / norm for t, w in weights.items()} if norm else {}

    def _excluded(self, i: int, exclude: set, model: str | None) -> bool:
        if exclude and not exclude.isdisjoint(self._guard_keys[i]):
            return True
        return model is not None and model not in self._models[i]

    def retrieve(self, query_text: str, category: str, subcategory: str, top_p: int = 3,
                 exclude: Iterable[tuple] = (), model: str | None = None,
                 model_filter: bool = False) -> Retrieval:
        """The top `top_p` eligible entries for a query, from the narrowest level that has any.

        `exclude` holds the guard keys of the task being solved (`problems.task_guard_keys`);
        an entry with a source of the same identity is never returned. With `model_filter`,
        only entries whose preferred or unpreferred models include `model` are eligible.
        """
        if model_filter and not model:
            raise ValueError("model_filter=True needs the solving model's name")
        exclude = set(exclude)
        only_model = model if model_filter else None
        query = self._vector(Counter(tokenize(query_text)))
        for level, bucket in (("subcategory", self._subs.get((category, subcategory))),
                              ("category", self._cats.get(category))):
            if bucket is None or top_p <= 0:
                continue
            found = []
            for i in bucket.ranked(query):
                if not self._excluded(i, exclude, only_model):
                    found.append(self.entries[i])
                    if len(found) == top_p:
                        break
            if found:
                return Retrieval(found, level)
        return Retrieval([], "none")


def random_entries(entries: Iterable[MemoryEntry], n: int, seed: int | str,
                   exclude: Iterable[tuple] = (), problems: Mapping | None = None
                   ) -> list[MemoryEntry]:
    """The placebo baseline: `n` entries drawn at random, ignoring category.

    Deterministic for a seed (an int, or a str such as "42:gsm8k:17", which `random` hashes
    with sha512, not the salted `hash()`) whatever the input order (entries are sorted by id);
    the leakage guard applies as in `Retriever.retrieve`.
    """
    exclude = set(exclude)
    pool = sorted((e for e in entries if exclude.isdisjoint(entry_guard_keys(e, problems))),
                  key=lambda e: e.id)
    return random.Random(seed).sample(pool, min(n, len(pool)))


def render_memory_block(entries: Iterable[MemoryEntry]) -> str:
    """Numbered constraint lines ("1. When …, enforce …; avoid ….") for the prompt template."""
    return "\n".join(f"{k}. {e.text()}" for k, e in enumerate(entries, start=1))
