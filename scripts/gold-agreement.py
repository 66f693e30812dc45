#!/usr/bin/env python3
"""Agreement between two readings of a gold set: Cohen's kappa over (task, entry) pairs.

Usage: scripts/gold-agreement.py FIRST.jsonl SECOND.jsonl [--bank BANK.jsonl]
Pairs range over the tasks of SECOND and the entries of BANK (default: gold/hand-written.jsonl
beside FIRST).
"""
import argparse
import json
from pathlib import Path


def read(path):
    return {r["task_id"]: set(r["applies"]) for r in map(json.loads, open(path)) if r}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("first")
    ap.add_argument("second")
    ap.add_argument("--bank")
    args = ap.parse_args()
    bank = Path(args.bank or Path(args.first).with_name("hand-written.jsonl"))
    entries = [json.loads(line)["id"] for line in open(bank)]
    first, second = read(args.first), read(args.second)
    both = only1 = only2 = neither = 0
    for task, b in second.items():
        a = first[task]
        for e in entries:
            both += e in a and e in b
            only1 += e in a and e not in b
            only2 += e in b and e not in a
            neither += e not in a and e not in b
    n = both + only1 + only2 + neither
    observed = (both + neither) / n
    chance = ((both + only1) * (both + only2) + (only2 + neither) * (only1 + neither)) / n / n
    kappa = (observed - chance) / (1 - chance)
    same = sum(first[t] == second[t] for t in second)
    print(f"{len(second)} tasks, {n} pairs: both {both}, first only {only1}, second only {only2}; "
          f"kappa {kappa:.2f}; identical sets {same}/{len(second)}")


if __name__ == "__main__":
    main()
