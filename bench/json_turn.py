"""The summarizer's two turns, with its JSON turn batched or on the sequential engine.

`contrast` asks the summarizer for a free-text analysis of each pair, then for constraints under
a JSON schema (a grammar), in the same conversation. The batched engine decodes both turns of
`--parallel` pairs together, and each JSON turn finds its analysis turn's KV in its slot. Before
grammar calls were batched they ran one at a time on the wrapped sequential engine, which had
to evaluate each conversation (the two trajectories, about 1,500 tokens) again from the start:
`sequential JSON` reproduces that path, `batched JSON` is the current one.

Both run the real `contrast` on the same first `--pairs` pairs of two trajectory files, from an
empty cache, alternately `--reps` times; the table gives wall seconds per pair (medians), the
replies that are byte-identical between the two, and the load average (the machine is shared).

    .venv/bin/python bench/json_turn.py --pairs 4 --parallel 4 \\
        --runs banks/gsm8k/runs/qwen2.5-coder-1.5b.jsonl.gz banks/gsm8k/runs/qwen2.5-coder-0.5b.jsonl.gz
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memcollab_cli.build.contrast import contrast, log_path  # noqa: E402
from memcollab_cli.jsonl import read_jsonl, write_jsonl  # noqa: E402
from memcollab_cli.memory.pairing import make_pairs  # noqa: E402
from memcollab_cli.records import read_trajectories  # noqa: E402
from memcollab_cli.runtime import load_model  # noqa: E402


class SequentialJson:
    """The batched engine, except that grammar calls run one by one on its sequential engine
    (what `BatchedLlamaModel` did before it batched them)."""

    def __init__(self, engine):
        self.engine = engine

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def complete_many(self, requests):
        if all(r.json_schema is not None for r in requests):
            return [self.engine.single.complete(r) for r in requests]
        return self.engine.complete_many(requests)


def first_pairs(paths: list[Path], strong: str, n: int, tmp: Path) -> list[Path]:
    """Copies of `paths` that hold only the tasks of their first `n` pairs."""
    pairs, _ = make_pairs([read_trajectories(p) for p in paths], policy="mixed", strong=strong)
    keep = {(p.benchmark, p.task_id) for p in pairs[:n]}
    out = []
    for i, path in enumerate(paths):
        copy = tmp / f"run{i}.jsonl"
        write_jsonl(copy, [r for r in read_jsonl(path) if (r["benchmark"], r["task_id"]) in keep])
        out.append(copy)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--summarizer", default="qwen2.5-coder-1.5b")
    ap.add_argument("--runs", nargs=2, type=Path, required=True, help="the stronger model's first")
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    engine = load_model(args.summarizer, parallel=args.parallel, n_threads=args.threads,
                        n_ctx=4096)
    strong = read_jsonl(args.runs[0])[0]["model"]["name"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        runs = first_pairs(list(args.runs), strong, args.pairs, tmp)
        seconds: dict[str, list[float]] = {"sequential JSON": [], "batched JSON": []}
        replies: dict[str, list[str]] = {}
        loads = []
        for rep in range(args.reps):
            for label, model in (("sequential JSON", SequentialJson(engine)), ("batched JSON", engine)):
                engine.reset()
                out = tmp / f"{label.split()[0]}-{rep}.jsonl"
                start = time.perf_counter()
                summary = contrast(runs, model, out, strong=strong, parallel=args.parallel)
                seconds[label].append((time.perf_counter() - start) / max(1, summary.pairs))
                replies[label] = [json.loads(line)["reply"] for line in log_path(out).open()]
                loads.append(os.getloadavg()[0])
        same = sum(a == b for a, b in zip(*replies.values(), strict=True))
        print(f"{args.summarizer}, {summary.pairs} pairs, --parallel {args.parallel}, "
              f"{engine.describe()['n_threads']} threads, {args.reps} rep(s); "
              f"load {min(loads):.2f}–{max(loads):.2f}\n")
        print("| JSON turn | s / pair, both turns | × sequential |")
        print("|---|---|---|")
        base = statistics.median(seconds["sequential JSON"])
        for label, values in seconds.items():
            med = statistics.median(values)
            print(f"| {label} | {med:.1f} | {base / med:.2f} |")
        print(f"\nJSON replies identical between the two: {same}/{summary.pairs}")
    engine.close()


if __name__ == "__main__":
    main()
