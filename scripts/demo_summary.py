#!/usr/bin/env python3
"""The demo's closing words: what the two evaluations it just ran found, in plain sentences.

    python scripts/demo_summary.py SMALL.json STUDY.json [BANK.jsonl]

SMALL.json and STUDY.json are `memcollab eval --json` reports (the demo's own few tasks, and the
shipped study's transcripts); BANK.jsonl is the bank the demo built. Every figure printed is
read from those files; the wording follows the figures (an interval that excludes zero is said
to, one that does not is said not to).
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

CONTROLS = ("placebo:", "noise-floor", "examples")


def pp(x: float) -> str:
    return f"{100 * x:+.1f}"


def interval(d: dict) -> str:
    low, high = d["ci95"]
    return f"{pp(d['diff'])} points [{pp(low)}, {pp(high)}]"


def excludes_zero(d: dict) -> bool:
    low, high = d["ci95"]
    return low > 0 or high < 0


def rows(report: dict) -> dict[str, dict]:
    return {r["condition"]: r for r in report["results"]}


def say(text: str) -> None:
    print(textwrap.fill(text, width=78))
    print()


def small_run(report: dict, bank: Path | None) -> None:
    found = rows(report)
    none = found.get("none")
    banks = [r for c, r in found.items() if r.get("vs_none") and not c.startswith(CONTROLS)]
    if none is None or not banks:
        say("The small run left no paired comparison to report.")
        return
    entries = sum(1 for line in bank.read_text().splitlines() if line.strip()) if bank else None
    built = ("a bank" if entries is None else
             f"a bank of {entries} constraint{'' if entries == 1 else 's'}")
    for r in banks:
        d = r["vs_none"]
        mde = d.get("detectable")
        size = (f"a paired difference must be about {100 * mde:.0f} points to be seen"
                if mde else "no task changed its verdict, so nothing can be seen")
        say(f"1. The pipeline, end to end: two models solved training problems, the stronger "
            f"one's contrasts became {built}, and qwen2.5-coder-0.5b then solved {none['n']} "
            f"held-out test problems: {none['correct']}/{none['n']} with no memory, "
            f"{r['correct']}/{r['n']} with the bank ({interval(d)}, {d['wins']} won, "
            f"{d['losses']} lost). With so few problems {size}: this part shows the machinery "
            "working, not whether memory helps.")


def study(report: dict) -> None:
    found = rows(report)
    none = found.get("none")
    if none is None:
        say("The study's transcripts held no no-memory arm.")
        return
    arms = [r for r in found.values() if r.get("vs_none") and r["condition"] != "noise-floor"]
    parts = [f"{r['label']} {interval(r['vs_none'])}" for r in arms]
    say(f"2. The comparison that means something: the shipped study, qwen2.5-coder-0.5b on "
        f"{none['n']} GSM8K test problems, {100 * none['accuracy']:.1f}% right with no memory. "
        "Against no memory, task by task: " + "; ".join(parts) + ".")
    clear = [r["label"] for r in arms if excludes_zero(r["vs_none"])]
    widest = max(abs(r["vs_none"]["diff"]) for r in arms)
    top = max(r["vs_none"]["ci95"][1] for r in arms)
    mdes = [r["vs_none"]["detectable"] for r in arms if r["vs_none"].get("detectable")]
    verdict = ("No arm's interval excludes zero" if not clear else
               f"Only {', '.join(clear)} has an interval that excludes zero")
    say(f"{verdict}: every arm lies within {100 * widest:.1f} points of no memory, and the "
        f"largest gain any interval allows is {100 * top:.1f} points"
        + (f", while these tasks detect differences of about {100 * min(mdes):.1f}–"
           f"{100 * max(mdes):.1f} points (80% power)." if mdes else "."))
    against = [(r["label"], r["vs_placebo"]) for r in arms if r.get("vs_placebo")]
    if against:
        say("Each bank against its own placebo (as many entries drawn at random from it, so the "
            "prompt is as long): " + "; ".join(f"{label} {interval(d)}" for label, d in against)
            + ". That is what the bank's content adds beyond a memory block in the prompt.")
    floor = report.get("noise_floor", {}).get(none["model"])
    if floor:
        say(f"The noise floor: no memory run again in another batch order flips "
            f"{floor['discordant']} of {floor['n']} verdicts and changes "
            f"{floor['transcripts_differ']} transcripts, with the prompts identical.")
    beat_placebo = [label for label, d in against if excludes_zero(d)]
    words = ("In plain words: the whole method runs on a CPU, from two models' attempts to a "
             "bank to a paired evaluation. ")
    if not clear:
        words += "On this model no memory arm moved accuracy beyond chance"
    else:
        words += f"On this model {', '.join(clear)} moved accuracy beyond chance, the rest did not"
    if against and not beat_placebo:
        words += ", and no bank did better than random entries drawn from itself"
    say(words + ". banks/gsm8k/README.md has the whole study.")


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    small, big = (json.loads(Path(p).read_text()) for p in argv[:2])
    small_run(small, Path(argv[2]) if len(argv) == 3 else None)
    study(big)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
