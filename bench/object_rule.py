"""The "names its task's objects" rule at several thresholds, against a hand reading of a bank.

A word of a constraint counts as its task's object when the constraint's source problem uses it
and fewer than `min_share` of the benchmark's problems do (taxonomy words excepted;
build/vocabulary.py). memcollab runs the rule at 1%. This script asks which threshold agrees
with a person who read every entry (`names_objects` in a hand-audit JSONL), without a model:

    .venv/bin/python bench/object_rule.py banks/gsm8k/hand-audit.jsonl \
        banks/gsm8k/collab-cross.jsonl banks/gsm8k/collab-same.jsonl

For each threshold: entries flagged, how many of them the reader flagged too, how many the reader
flagged that the rule misses, and the words that tripped it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from memcollab_cli.build.vocabulary import benchmark_vocabulary
from memcollab_cli.memory import read_bank, task_objects
from memcollab_cli.memory.bank import constraint_sentence
from memcollab_cli.memory.problems import problem_hash
from memcollab_cli.tasks.data import BENCHMARKS, load_tasks


def problems_by_hash(benchmark: str) -> dict[str, str]:
    return {problem_hash(t.question): t.question
            for split in BENCHMARKS[benchmark].splits for t in load_tasks(benchmark, split=split)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hand_audit", type=Path, help="JSONL: id, names_objects (true/false)")
    parser.add_argument("banks", nargs="+", type=Path)
    parser.add_argument("--shares", default="0.01,0.02,0.05,0.10", help="thresholds to try")
    args = parser.parse_args()
    by_hand = {r["id"]: r["names_objects"] for r in map(json.loads, args.hand_audit.open())}
    entries = [e for bank in args.banks for e in read_bank(bank) if e.id in by_hand]
    if not entries:
        raise SystemExit(f"no entry of {', '.join(map(str, args.banks))} is in {args.hand_audit}")
    benchmark = entries[0].sources[0]["benchmark"]
    problems = problems_by_hash(benchmark)
    # each entry's sentence and source problem, the same at every threshold
    texts = {e.id: (constraint_sentence(e.when, e.enforce, e.avoid), problems[e.sources[0]["problem"]])
             for e in entries}
    print(f"{len(entries)} entries read by hand, {sum(by_hand[e.id] for e in entries)} name their task's objects")
    print("| threshold | flagged | also by hand | missed | words |")
    print("|---|---:|---:|---:|---|")
    for share in map(float, args.shares.split(",")):
        vocabulary = benchmark_vocabulary(benchmark, min_share=share)
        flagged = {i: words for i, (sentence, problem) in texts.items()
                   if (words := task_objects(sentence, problem, vocabulary))}
        agree = sum(by_hand[i] for i in flagged)
        missed = sum(by_hand[e.id] and e.id not in flagged for e in entries)
        words = ", ".join(sorted({w for ws in flagged.values() for w in ws}))
        print(f"| {share:.0%} | {len(flagged)} | {agree} | {missed} | {words} |")


if __name__ == "__main__":
    main()
