#!/usr/bin/env python3
"""Markdown tables from `memcollab route --gold … --json`, so the README's retrieval figures are
copied by a program, not by hand:

    memcollab route -b gsm8k --split test -n 600 --bank banks/gsm8k/gold/hand-written.jsonl \
        --gold banks/gsm8k/gold/applies.jsonl --hand-labels banks/gsm8k/gold/labels.jsonl \
        --nearest-from banks/gsm8k/collab-cross.refined.work/labels.jsonl -o banks/gsm8k/eval --json \
        | scripts/route-table.py
"""

from __future__ import annotations

import json
import sys


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def main() -> None:
    report = json.load(sys.stdin)
    print("| rule | tasks | given | reached | precision | recall |")
    print("|---|---|---|---|---|---|")
    for r in report["rules"]:
        print(f"| {r['rule']} | {r['n']} | {r['given']} | {r['reached']} | "
              f"{pct(r['correct'], r['delivered'])} ({r['correct']}/{r['delivered']}) | "
              f"{pct(r['correct'], r['applicable'])} ({r['correct']}/{r['applicable']}) |")
    if report["label_accuracy"]:
        print("\n| labelled by | tasks | same category | same subcategory |")
        print("|---|---|---|---|")
        for r in report["label_accuracy"]:
            print(f"| {r['labeller']} | {r['n']} | {pct(r['category'], r['n'])} ({r['category']}) | "
                  f"{pct(r['subcategory'], r['n'])} ({r['subcategory']}) |")


if __name__ == "__main__":
    main()
