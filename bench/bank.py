"""Bank scale: retrieval latency and merge/dedup time for banks of 1k, 10k and 100k entries.

The banks are synthetic but shaped like real ones: constraint phrases drawn from a Zipf-weighted
vocabulary of reasoning words, spread over 70 subcategory buckets in 7 categories (the MATH
taxonomy's size), a fifth of the entries near-duplicates of a recent one. A worst case puts every
entry in one bucket. Retrieval is timed per query (subcategory level, then the category fallback)
with the leakage guard on; the `Retriever` is built once per bank, as `solve` does. A model call
takes seconds here, so anything under a few milliseconds is invisible next to it.

    .venv/bin/python bench/bank.py                 # 1k, 10k, 100k
    .venv/bin/python bench/bank.py --sizes 1000 10000 --buckets 70
"""

from __future__ import annotations

import argparse
import os
import random
import time

from memcollab_cli.memory import MemoryEntry, Retriever, merge_entries
from memcollab_cli.memory.problems import task_guard_keys

WORDS = ("sum product term factor root equation case sign check verify count order divide multiply "
         "fraction ratio rate unit total remainder modulo prime digit angle side area volume circle "
         "probability event independent condition enumerate complement overcount symmetry boundary "
         "inequality interval domain range function inverse compose substitute simplify expand "
         "cancel denominator numerator exponent logarithm base vector matrix determinant").split()
VOCAB = WORDS + [f"w{i}" for i in range(3000)]
ZIPF = [1 / (rank + 1) for rank in range(len(VOCAB))]


def synthetic_bank(n: int, buckets: int, seed: int = 0) -> list[MemoryEntry]:
    rng = random.Random(seed)

    def phrase(lo: int, hi: int) -> str:
        return " ".join(rng.choices(VOCAB, weights=ZIPF, k=rng.randint(lo, hi)))

    out: list[MemoryEntry] = []
    for i in range(n):
        if out and rng.random() < 0.2:  # a near-duplicate of a recent entry: one word changed
            src = rng.choice(out[-200:])
            words = src.enforce.split()
            words[rng.randrange(len(words))] = rng.choice(VOCAB)
            when, enforce, avoid, cat, sub = src.when, " ".join(words), src.avoid, src.category, src.subcategory
        else:
            when, enforce, avoid = phrase(4, 9), phrase(5, 12), phrase(4, 10)
            b = rng.randrange(buckets)
            cat, sub = f"C{b % 7}", f"S{b}"
        out.append(MemoryEntry.create(
            cat, sub, when, enforce, avoid, models={"preferred": ["strong"], "unpreferred": ["weak"]},
            sources=[{"task_id": f"t{i}", "benchmark": "gsm8k", "pos": f"p{i}", "neg": f"n{i}"}]))
    return out


def bench(n: int, buckets: int, queries: int = 200) -> dict:
    entries = synthetic_bank(n, buckets)
    rng = random.Random(1)
    t = time.perf_counter()
    retriever = Retriever(entries)
    build = time.perf_counter() - t
    picks = [(" ".join(rng.choices(VOCAB, weights=ZIPF, k=40)), rng.choice(entries)) for _ in range(queries)]
    guard = task_guard_keys("gsm8k", "t5", "the problem of t5")
    t = time.perf_counter()
    for query, e in picks:
        retriever.retrieve(query, e.category, e.subcategory, top_p=3, exclude=guard)
    sub_ms = (time.perf_counter() - t) / queries * 1000
    t = time.perf_counter()
    for query, e in picks:
        retriever.retrieve(query, e.category, "(unknown)", top_p=3)
    cat_ms = (time.perf_counter() - t) / queries * 1000
    t = time.perf_counter()
    merged, merges = merge_entries(entries)
    merge_s = time.perf_counter() - t
    return {"entries": n, "buckets": buckets, "build_s": build, "sub_ms": sub_ms, "cat_ms": cat_ms,
            "merge_s": merge_s, "kept": len(merged), "merges": len(merges)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--buckets", type=int, nargs="+", default=[70, 1])
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}\n")
    print("| entries | buckets | build index s | retrieve ms/query (subcategory) | retrieve ms/query "
          "(category fallback) | merge s | kept | merges |")
    print("|---|---|---|---|---|---|---|---|")
    for buckets in args.buckets:
        for n in args.sizes:
            r = bench(n, buckets)
            print(f"| {r['entries']:,} | {r['buckets']} | {r['build_s']:.2f} | {r['sub_ms']:.2f} | "
                  f"{r['cat_ms']:.2f} | {r['merge_s']:.2f} | {r['kept']:,} | {r['merges']:,} |", flush=True)


if __name__ == "__main__":
    main()
