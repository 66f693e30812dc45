#!/usr/bin/env python3
"""Two arms of one transcript file, paired task by task: what `eval` reports against no memory,
for a pair it does not tabulate (a bank against another bank, say). No model runs.

    scripts/paired.py banks/gsm8k/eval/qwen2.5-coder-0.5b.jsonl.gz -m qwen2.5-coder-0.5b \
        --arm hand-written --against collab-cross -b gsm8k --split test -n 100

Prints n, the difference in points with Newcombe's 95% interval, the exact McNemar p, tasks won
and lost, and the smallest difference n tasks can detect (paired, 80% power).
"""

from __future__ import annotations

import argparse
import sys

from memcollab_cli.errors import MemcollabError
from memcollab_cli.tasks import load_tasks
from memcollab_cli.use.results import paired_arms


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="trajectory files (.jsonl or .jsonl.gz)")
    ap.add_argument("-m", "--model", required=True, help="the recorded model name")
    ap.add_argument("--arm", required=True, help="the condition to measure")
    ap.add_argument("--against", required=True, help="the condition it is compared with")
    ap.add_argument("-b", "--benchmark", help="restrict to this benchmark's tasks (with --split, -n)")
    ap.add_argument("--split")
    ap.add_argument("-n", "--limit", type=int)
    args = ap.parse_args()
    try:
        tasks = (load_tasks(args.benchmark, split=args.split, limit=args.limit)
                 if args.benchmark else None)
        d = paired_arms(args.files, args.model, args.arm, args.against, tasks)
    except MemcollabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    found = "–" if d.detectable is None else f"{100 * d.detectable:.1f}"
    print(f"{args.arm} against {args.against}: n = {d.n}, {100 * d.diff:+.1f} points "
          f"[{100 * d.low:+.1f}, {100 * d.high:+.1f}], p = {d.p_value:.2f}, "
          f"{d.wins} won, {d.losses} lost, detectable {found}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
