#!/usr/bin/env python3
"""The `--id` options for the tasks of a gold file that receive at least one entry: the
pre-registered secondary comparison of a ceiling (tasks that receive memory), as
`memcollab eval --from-runs FILE … $(scripts/gold-ids.py GOLD --first 0 --last 599)`.

Usage: scripts/gold-ids.py GOLD.jsonl [--first N] [--last N] [--benchmark NAME]
Task ids are compared as numbers where they are numbers (GSM8K, MBPP), else as given.
"""

import argparse
import json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("gold")
    ap.add_argument("--first", type=int, default=None)
    ap.add_argument("--last", type=int, default=None)
    ap.add_argument("--benchmark", default=None)
    args = ap.parse_args()
    for line in open(args.gold, encoding="utf-8"):
        row = json.loads(line)
        if not row["applies"] or (args.benchmark and row["benchmark"] != args.benchmark):
            continue
        tid = row["task_id"]
        if tid.isdigit() and ((args.first is not None and int(tid) < args.first)
                              or (args.last is not None and int(tid) > args.last)):
            continue
        print(f"--id={tid}")


if __name__ == "__main__":
    main()
