"""Deduplication: fold repeated and near-identical constraints into one entry with more support.

The paper builds its bank once and never merges (paper.md §3.7); we merge so that a constraint
that many pairs rediscover is stored once with `support` = the number of distinct pairs.

Two passes, both deterministic whatever the input order:

1. Exact: entries with the same id (the same normalized text) become one, across the whole bank
   — ids must be unique in a bank. If copies sit in different categories, the representative's
   category wins (highest support, then the smallest (category, subcategory)).
2. Near: within one (category, subcategory) bucket, entries whose texts score at least
   `threshold` with rapidfuzz `token_sort_ratio` are clustered greedily: walking the bucket by
   (support desc, id asc), an entry joins the first earlier representative it matches, or becomes
   one. token_sort_ratio ignores case, punctuation and word order, but unlike token_set_ratio it
   does not score 100 when one text's words are a subset of another's — a short generic
   constraint must not swallow longer, more specific ones.

A merged entry keeps the representative's text, category, summarizer and prompt, and takes the
union of models and sources. Nothing is dropped silently: every merge is a `Merge` in the report.

Scaling: only entries of one bucket are compared, and only texts whose lengths allow the
threshold. Buckets up to EXACT_MAX entries score all such pairs with `process.cdist`; larger ones
score only pairs that share a rare word (prefix filtering), against cluster leaders only, which
keeps a 10k-entry bucket to seconds instead of minutes. Left out: semantic (embedding) similarity.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process, utils

from memcollab_cli.memory.bank import MemoryEntry, read_bank, sort_key, update_bank

DEFAULT_THRESHOLD = 90
_BLOCK = 512  # rows scored per cdist call: bounds memory at _BLOCK x bucket bytes
EXACT_MAX = 500  # buckets up to this size are compared exhaustively (at most ~125k pairs)
_JACCARD = 0.5  # word-overlap floor assumed by the blocking of large buckets


@dataclass(frozen=True)
class Merge:
    """One merge: `kept` absorbed `merged`; kind is "exact" (same id) or "near" (similar text)."""

    kept: str
    merged: tuple[str, ...]
    kind: str
    # "category/subcategory" of absorbed copies filed elsewhere than the kept entry (exact
    # merges only): such a constraint is no longer retrieved in those buckets.
    moved_from: tuple[str, ...] = ()

    def render(self) -> str:
        moved = f"; from {', '.join(self.moved_from)}" if self.moved_from else ""
        return f"{self.kept} <- {', '.join(self.merged)} ({self.kind}{moved})"


def _rank(entry: MemoryEntry) -> tuple:
    """Representative order: highest support first, then smallest id (then bucket, for exact)."""
    return (-entry.support, entry.id, entry.category, entry.subcategory)


def _combine(group: list[MemoryEntry]) -> MemoryEntry:
    """Fold a group into its first member (the representative), uniting models and sources."""
    head = group[0]
    models = {k: sorted({m for e in group for m in e.models[k]}) for k in head.models}
    sources = [s for e in group for s in e.sources]
    merged = replace(head, models=models, sources=sources)  # __post_init__ dedups and sorts
    # Entries written by hand have no sources; then support adds up instead.
    merged.support = len(merged.sources) or sum(e.support for e in group)
    return merged


def _sorted_tokens(entry: MemoryEntry) -> str:
    # token_sort_ratio == ratio on the processed, token-sorted strings; precomputing them lets
    # cdist use the plain (faster) ratio.
    return " ".join(sorted(utils.default_process(entry.text()).split()))


def _length_ratio(threshold: float) -> float:
    # fuzz.ratio = 100 * (1 - indel / (la + lb)) and indel >= lb - la, so a score >= t needs
    # la / lb >= t / (200 - t): texts of very different length can be skipped unscored.
    return threshold / (200.0 - threshold) if threshold < 200 else 1.0


def _leaders_exact(texts: list[str], threshold: float) -> list[int]:
    """Greedy leader clustering scoring every length-compatible pair (small buckets)."""
    n = len(texts)
    earlier: list[list[int]] = [[] for _ in range(n)]
    lengths = np.array([len(t) for t in texts])
    by_len = np.argsort(lengths, kind="stable")
    sorted_len = lengths[by_len]
    ratio = _length_ratio(threshold)
    for start in range(0, n, _BLOCK):
        rows = by_len[start:start + _BLOCK]
        lo_len, hi_len = sorted_len[start], sorted_len[min(start + _BLOCK, n) - 1]
        lo = np.searchsorted(sorted_len, lo_len * ratio, side="left")
        hi = np.searchsorted(sorted_len, hi_len / ratio if ratio else np.inf, side="right")
        cols = by_len[lo:hi]
        scores = process.cdist([texts[i] for i in rows], [texts[j] for j in cols],
                               scorer=fuzz.ratio, processor=None, score_cutoff=threshold,
                               dtype=np.uint8, workers=1)
        for r, c in zip(*np.nonzero(scores), strict=True):
            i, j = int(rows[r]), int(cols[c])
            if j < i:
                earlier[i].append(j)
    leader_of: list[int] = []
    for i in range(n):
        leader_of.append(min((j for j in earlier[i] if leader_of[j] == j), default=i))
    return leader_of


def _leaders_blocked(texts: list[str], threshold: float) -> list[int]:
    """Greedy leader clustering that scores only pairs sharing a rare word (large buckets).

    Prefix filtering: with words ordered rarest first, two word sets of Jaccard similarity
    >= J must share a word among the first |x| - ceil(J|x|) + 1 of each. Texts at
    token_sort_ratio >= 90 share far more than half their words, so J = 0.5 loses no
    realistic near-duplicate while cutting the candidates to a fraction of the leaders.
    """
    words = [t.split() for t in texts]
    df = Counter(w for ws in words for w in set(ws))
    ratio = _length_ratio(threshold)
    lengths = np.array([len(t) for t in texts])
    index: dict[str, list[int]] = defaultdict(list)  # word -> leaders with it in their prefix
    leader_of: list[int] = []
    for i, ws in enumerate(words):
        ordered = sorted(set(ws), key=lambda w: (df[w], w))
        prefix = ordered[:len(ordered) - math.ceil(_JACCARD * len(ordered)) + 1]
        candidates = np.array(sorted({j for w in prefix for j in index.get(w, ())}), dtype=int)
        leader = i
        if len(candidates):
            cand_len = lengths[candidates]
            li = lengths[i]
            fits = candidates[(np.minimum(cand_len, li) >= ratio * np.maximum(cand_len, li))]
            if len(fits):
                scores = process.cdist([texts[i]], [texts[j] for j in fits], scorer=fuzz.ratio,
                                       processor=None, score_cutoff=threshold, dtype=np.uint8,
                                       workers=1)[0]
                hits = np.flatnonzero(scores)
                if len(hits):
                    leader = int(fits[hits[0]])  # candidates are sorted: the earliest leader
        leader_of.append(leader)
        if leader == i:
            for w in prefix:
                index[w].append(i)
    return leader_of


def merge_entries(entries: Iterable[MemoryEntry], threshold: float = DEFAULT_THRESHOLD,
                  exact_max: int = EXACT_MAX) -> tuple[list[MemoryEntry], list[Merge]]:
    """Merge exact and near duplicates; returns (entries sorted as in a bank, merge report).

    Buckets of up to `exact_max` entries compare every plausible pair; larger ones use word
    blocking (`_leaders_blocked`).
    """
    report: list[Merge] = []

    # Pass 1: exact duplicates by id, across the whole bank.
    by_id: dict[str, list[MemoryEntry]] = defaultdict(list)
    for e in entries:
        by_id[e.id].append(e)
    unique = []
    for eid in sorted(by_id):
        group = sorted(by_id[eid], key=_rank)
        if len(group) > 1:
            # Identical ids: the merged list names the id once per extra copy.
            home = (group[0].category, group[0].subcategory)
            moved = sorted({f"{e.category}/{e.subcategory}" for e in group[1:]
                            if (e.category, e.subcategory) != home})
            report.append(Merge(eid, tuple(e.id for e in group[1:]), "exact", tuple(moved)))
        unique.append(_combine(group) if len(group) > 1 else group[0])

    # Pass 2: near duplicates within each (category, subcategory).
    buckets: dict[tuple[str, str], list[MemoryEntry]] = defaultdict(list)
    for e in unique:
        buckets[(e.category, e.subcategory)].append(e)
    merged: list[MemoryEntry] = []
    for key in sorted(buckets):
        bucket = sorted(buckets[key], key=_rank)
        texts = [_sorted_tokens(e) for e in bucket]
        cluster = _leaders_exact if len(bucket) <= exact_max else _leaders_blocked
        members: dict[int, list[int]] = {}
        for i, leader in enumerate(cluster(texts, threshold)):
            members.setdefault(leader, []).append(i)
        for idx in members.values():
            group = [bucket[i] for i in idx]
            if len(group) > 1:
                report.append(Merge(group[0].id, tuple(sorted(e.id for e in group[1:])), "near"))
                merged.append(_combine(group))
            else:
                merged.append(group[0])
    report.sort(key=lambda m: (m.kept, m.kind))
    return sorted(merged, key=sort_key), report


def merge_banks(banks: Iterable[Iterable[MemoryEntry]], threshold: float = DEFAULT_THRESHOLD
                ) -> tuple[list[MemoryEntry], list[Merge]]:
    """`bank merge`: several banks into one, merged as `merge_entries` does."""
    return merge_entries([e for bank in banks for e in bank], threshold)


def merge_bank_files(paths: Iterable[str | Path], out: str | Path,
                     threshold: float = DEFAULT_THRESHOLD, lock_timeout: float = 30.0
                     ) -> tuple[list[MemoryEntry], list[Merge]]:
    """`bank merge A B -o OUT`: read, merge and write while holding OUT's lock.

    OUT may be one of the inputs (`bank merge X A -o X`): a second merge into X waits for the
    first to finish and then reads its result, so neither update is lost.
    """
    report: list[Merge] = []

    def merged() -> list[MemoryEntry]:
        entries, found = merge_banks([read_bank(p) for p in paths], threshold)
        report.extend(found)
        return entries

    return update_bank(out, merged, lock_timeout), report
