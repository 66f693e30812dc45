#!/usr/bin/env python3
"""The study's Markdown tables from `memcollab eval --from-runs … --json`, so README figures are
copied by a program, not by hand:

    memcollab eval --from-runs banks/gsm8k/eval/qwen2.5-coder-0.5b.jsonl.gz -m qwen2.5-coder-0.5b \
        -b gsm8k --split test -n 200 --json | scripts/study-table.py

One row per arm (paired difference from no memory), then each bank against its placebo. With
`--turns`: instead, turns against no memory (per solved task, the paired mean difference and the
sign test) and completion tokens per task, over all tasks and over the tasks that received
memory. With `--with-memory`: the paired difference from no memory over the tasks that received
memory alone (a pre-registered secondary comparison).
"""

from __future__ import annotations

import json
import sys


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"  # None: too few tasks to detect anything


def diff_cells(d: dict | None) -> list[str]:
    if not d:
        return ["", "", "", ""]
    lo, hi = d["ci95"]
    return [f"{100 * d['diff']:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]".replace("-", "−"),
            f"{d['mcnemar_p']:.2f}", f"{d['wins']}/{d['losses']}", pct(d["detectable"])]


def turns_cells(d: dict | None) -> list[str]:
    if not d:
        return ["", "", ""]
    lo, hi = d["ci95"]
    return [f"{d['diff']:+.2f} [{lo:+.2f}, {hi:+.2f}]".replace("-", "−"),
            f"{d['lower']}/{d['higher']}", "<0.001" if d["sign_p"] < 0.001 else f"{d['sign_p']:.3f}"]


def turns(report: dict) -> None:
    print("| arm | n | turns per solved | tokens per task | Δ turns vs none [95% CI] | fewer/more "
          "| p | with memory: n | Δ turns | fewer/more | p |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in report["results"]:
        solved = "–" if r["turns_per_solved"] is None else f"{r['turns_per_solved']:.2f}"
        sub = r["turns_vs_none_with_memory"]
        tokens = f"{r['completion_tokens'] / r['n']:.0f}" if r["n"] else "–"
        cells = [r["label"], str(r["n"]), solved, tokens, *turns_cells(r["turns_vs_none"]),
                 str(sub["n"]) if sub else "", *turns_cells(sub)]
        print("| " + " | ".join(cells) + " |")


def with_memory(report: dict) -> None:
    print("| arm | with memory: n | Δ vs none, pp [95% CI] | p | won/lost | detectable |")
    print("|---|---|---|---|---|---|")
    for r in report["results"]:
        if r["vs_none_with_memory"]:
            cells = [r["label"], str(r["vs_none_with_memory"]["n"]), *diff_cells(r["vs_none_with_memory"])]
            print("| " + " | ".join(cells) + " |")


def main() -> None:
    report = json.load(sys.stdin)
    flags = {"--turns": turns, "--with-memory": with_memory}
    if sys.argv[1:]:
        if len(sys.argv) != 2 or sys.argv[1] not in flags:
            sys.exit(f"usage: study-table.py [{' | '.join(flags)}] < REPORT.json")
        return flags[sys.argv[1]](report)
    print("| arm | n | accuracy [95% CI] | Δ vs none, pp [95% CI] | p | won/lost | detectable | mean turns |")
    print("|---|---|---|---|---|---|---|---|")
    for r in report["results"]:
        lo, hi = r["ci95"]
        cells = [r["label"], str(r["n"]), f"{pct(r['accuracy'])}% [{pct(lo)}, {pct(hi)}]",
                 *diff_cells(r["vs_none"]), f"{r['mean_turns']:.2f}"]
        print("| " + " | ".join(cells) + " |")
    paired = [r for r in report["results"] if r.get("vs_placebo")]
    if paired:
        print("\n| bank against its placebo | n | Δ pp [95% CI] | p | won/lost | detectable |")
        print("|---|---|---|---|---|---|")
        for r in paired:
            print("| " + " | ".join([r["label"], str(r["vs_placebo"]["n"]), *diff_cells(r["vs_placebo"])]) + " |")


if __name__ == "__main__":
    main()
