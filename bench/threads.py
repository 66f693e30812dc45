"""Does the thread count change what a model writes? Solve the same tasks at each thread count.

A study that runs over many sessions resumes its transcripts, and `refine` and `eval` reuse
finished records, checking the model and the solve settings but not the CPU thread count. That
is safe only if llama.cpp's greedy output does not depend on how many threads computed it. This
runs `use.solve.solve` (the path `memcollab solve` takes) on the same tasks at every
`--threads` value, same `--parallel`, and compares every message of every trajectory.

    .venv/bin/python bench/threads.py -m qwen2.5-coder-0.5b --tasks 8 --threads 1 2 --parallel 4
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from throughput import load, machine, run_solve  # bench/ is on sys.path when run as a script


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-m", "--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("-b", "--benchmark", default="gsm8k")
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args(argv)

    from memcollab_cli.agent import SolveParams
    from memcollab_cli.runtime import load_model
    from memcollab_cli.tasks import load_tasks

    tasks = load_tasks(args.benchmark, limit=args.tasks)
    params = SolveParams(max_tokens=args.max_tokens, parallel=args.parallel)
    print(f"# {machine() | {'model': args.model, 'tasks': len(tasks), 'parallel': args.parallel}}",
          file=sys.stderr)
    runs = {}  # threads -> run_solve's result, with the load average before it
    with tempfile.TemporaryDirectory() as tmp:
        for t in args.threads:
            before = load()
            model = load_model(args.model, n_threads=t, parallel=args.parallel)
            try:
                runs[t] = run_solve(model, tasks, params, Path(tmp), f"threads{t}") | {"load": before}
            finally:
                model.close()
    first = runs[args.threads[0]]["outputs"]
    print("| threads | gen tokens | gen tok/s | wall s | same text as first | load |")
    print("|---|---|---|---|---|---|")
    differing = 0
    for t, r in runs.items():
        same = sum(a == b for a, b in zip(r["outputs"], first, strict=True))
        differing += len(first) - same
        print(f"| {t} | {r['tokens']} | {r['tokens'] / r['wall']:.1f} | {r['wall']:.1f} | "
              f"{same}/{len(first)} | {r['load']} |")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
