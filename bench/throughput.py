"""Throughput of `solve` at --parallel N against a plain llama-cpp-python loop, in one run.

For the first `--tasks` GSM8K problems it times, in one process and one repetition:

- `loop`: the plain baseline, `llama_cpp.Llama.create_chat_completion` over the first-turn
  prompts of those tasks, one after another (greedy, same max_tokens, repeat penalty off);
- `solve N`: the toolkit's own solve path (`use.solve.solve` with the engine that
  `load_model(..., parallel=N)` gives: the sequential `LlamaModel` at N = 1, the batched engine
  above), writing trajectories to a temporary file as the CLI does;
- optionally `server N` (`--server`): the same solve path through llama.cpp's own server
  (xllamacpp, in a child process, N slots), for comparison.

Each engine gets one short warm-up call before its timer starts (the first llama.cpp call in a
process is slow here). Generated tokens/s = completion tokens / wall seconds of the whole run
(tasks, sandbox and grading included for solve). Ratios are to the loop of the same repetition;
with several repetitions the table shows medians. `--max-turns 1` (the default) makes solve
send exactly the loop's prompts; the load average before each cell is printed because this
machine is shared.

    .venv/bin/python bench/throughput.py -m qwen2.5-coder-0.5b --tasks 16 --max-tokens 256
    .venv/bin/python bench/throughput.py -m smollm2-135m --tasks 8 --parallel 1 4 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import llama_cpp

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "llama_cpp": llama_cpp.__version__, "platform": platform.platform()}


def load() -> float:
    return round(os.getloadavg()[0], 2)


def first_turn_requests(tasks, params):
    from memcollab_cli.agent import Episode

    return [Episode(t, params).next_request() for t in tasks]


def run_loop(path: Path, requests, n_ctx: int, threads: int) -> dict:
    """The baseline: a plain Llama, create_chat_completion over the prompts one at a time."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads,
                          n_threads_batch=threads, seed=42, verbose=False)
    sampling = dict(temperature=0.0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0, seed=42)
    llm.create_chat_completion(messages=[{"role": "user", "content": "Hi"}], max_tokens=4, **sampling)
    start = time.perf_counter()
    tokens = 0
    for r in requests:
        out = llm.create_chat_completion(messages=list(r.messages), max_tokens=r.max_tokens, **sampling)
        tokens += out["usage"]["completion_tokens"]
    wall = time.perf_counter() - start
    llm.close()
    return {"tasks": len(requests), "tokens": tokens, "wall": wall}


def run_solve(model, tasks, params, workdir: Path, label: str) -> dict:
    """The toolkit path: use.solve.solve, as `memcollab solve` runs it."""
    from memcollab_cli.runtime.base import Request
    from memcollab_cli.use.solve import solve

    model.complete(Request(messages=[{"role": "user", "content": "Hi"}], max_tokens=4))  # warm-up
    out = workdir / f"{label}.jsonl"
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    summary = solve(model, tasks, out, params=params)
    wall = time.perf_counter() - start
    records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return {"tasks": summary.solved, "tokens": summary.completion_tokens, "wall": wall,
            "prompt_tokens": summary.prompt_tokens, "cached_tokens": summary.cached_tokens,
            "correct": summary.correct, "turns": summary.turns,
            "outputs": [(r["task_id"], [m["content"] for m in r["messages"]]) for r in records]}


SERVE = """
import sys, xllamacpp as xlc
p = xlc.CommonParams(); p.model.path = sys.argv[1]
p.n_parallel = int(sys.argv[3]); p.n_ctx = int(sys.argv[4]) * p.n_parallel
p.cpuparams.n_threads = p.cpuparams_batch.n_threads = int(sys.argv[5])
p.hostnames = ["127.0.0.1"]; p.port = int(sys.argv[2])
srv = xlc.Server(p)
sys.stdin.read()
"""


def start_server(path: Path, slots: int, n_ctx: int, threads: int, log: Path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with open(log, "ab") as fh:
        proc = subprocess.Popen([sys.executable, "-c", SERVE, str(path), str(port), str(slots),
                                 str(n_ctx), str(threads)], stdin=subprocess.PIPE, stdout=fh, stderr=fh)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"xllamacpp server did not start; see {log}")


def cell(name: str, n: int, r: dict, base: dict, load_before: float) -> dict:
    tps = r["tokens"] / r["wall"] if r["wall"] else 0.0
    base_tps = base["tokens"] / base["wall"] if base["wall"] else 0.0
    return {"engine": name, "parallel": n, "tasks": r["tasks"], "tokens": r["tokens"],
            "wall_s": round(r["wall"], 2), "tasks_per_s": round(r["tasks"] / r["wall"], 4),
            "tok_per_s": round(tps, 2), "ratio": round(tps / base_tps, 3) if base_tps else None,
            "load": load_before, "cached_tokens": r.get("cached_tokens"),
            "prompt_tokens": r.get("prompt_tokens"), "correct": r.get("correct")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-m", "--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("-b", "--benchmark", default="gsm8k")
    ap.add_argument("--tasks", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--max-turns", type=int, default=1)
    ap.add_argument("--parallel", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--n-ctx", type=int, default=4096, help="tokens per sequence")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--server", action="store_true", help="also solve through xllamacpp's server")
    ap.add_argument("--check-determinism", action="store_true",
                    help="run the largest N a second time and compare every trajectory")
    ap.add_argument("--json", action="store_true", help="print the cells as JSON")
    args = ap.parse_args(argv)

    from memcollab_cli.agent import SolveParams
    from memcollab_cli.runtime import load_model
    from memcollab_cli.tasks import load_tasks

    tasks = load_tasks(args.benchmark, limit=args.tasks)
    spec = args.model
    probe = load_model(spec, n_ctx=args.n_ctx, n_threads=args.threads)
    path, name = probe.path, probe.name
    info = machine() | {"model": name, "tasks": len(tasks), "max_tokens": args.max_tokens,
                        "max_turns": args.max_turns, "threads": args.threads, "n_ctx": args.n_ctx}
    print(f"# {info}", file=sys.stderr)

    cells: list[dict] = []
    determinism = None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for rep in range(args.reps):
            params = lambda n: SolveParams(max_tokens=args.max_tokens, max_turns=args.max_turns,  # noqa: E731
                                           parallel=n)
            before = load()
            base = run_loop(path, first_turn_requests(tasks, params(1)), args.n_ctx, args.threads)
            cells.append(cell("loop", 1, base, base, before) | {"rep": rep})
            print(f"rep {rep} loop: {cells[-1]['tok_per_s']} tok/s (load {before})", file=sys.stderr)
            outputs = {}
            for n in args.parallel:
                before = load()
                model = load_model(spec, n_ctx=args.n_ctx, n_threads=args.threads, parallel=n)
                try:
                    r = run_solve(model, tasks, params(n), work, f"solve{n}")
                finally:
                    model.close()
                outputs[n] = r["outputs"]
                cells.append(cell("solve", n, r, base, before) | {"rep": rep})
                print(f"rep {rep} solve N={n}: {cells[-1]['tok_per_s']} tok/s, "
                      f"x{cells[-1]['ratio']} (load {before})", file=sys.stderr)
            if args.check_determinism and rep == 0:
                n = max(args.parallel)
                model = load_model(spec, n_ctx=args.n_ctx, n_threads=args.threads, parallel=n)
                try:
                    again = run_solve(model, tasks, params(n), work, f"again{n}")["outputs"]
                finally:
                    model.close()
                determinism = {"parallel": n, "identical": again == outputs[n],
                               "records": len(again)}
                print(f"determinism N={n}: {determinism}", file=sys.stderr)
            if args.server:
                for n in args.parallel:
                    before = load()
                    proc, port = start_server(path, n, args.n_ctx, args.threads, work / "server.log")
                    try:
                        model = load_model(f"http://127.0.0.1:{port}#{name}", parallel=n)
                        r = run_solve(model, tasks, params(n), work, f"server{n}")
                    finally:
                        proc.kill()
                        proc.wait()
                    cells.append(cell("server", n, r, base, before) | {"rep": rep})
                    print(f"rep {rep} server N={n}: {cells[-1]['tok_per_s']} tok/s, "
                          f"x{cells[-1]['ratio']} (load {before})", file=sys.stderr)

    if args.json:
        print(json.dumps({"machine": info, "cells": cells, "determinism": determinism}, indent=2))
        return 0
    print(f"{name} · {args.benchmark} × {len(tasks)} · max_tokens {args.max_tokens} · "
          f"max_turns {args.max_turns} · {args.threads} threads · {info['cpu']} ({info['cores']} cores) "
          f"· llama-cpp-python {info['llama_cpp']} · reps {args.reps}")
    print()
    print("| engine | N | tasks/s | gen tok/s | × loop | tokens | wall s | cached/prompt tok | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    keys = []
    for c in cells:
        if (c["engine"], c["parallel"]) not in keys:
            keys.append((c["engine"], c["parallel"]))
    for engine, n in keys:
        group = [c for c in cells if (c["engine"], c["parallel"]) == (engine, n)]
        def med(k, group=group):
            return statistics.median(c[k] for c in group)
        ratios = "/".join(f"{c['ratio']:.2f}" for c in group)
        cached = (f"{group[-1]['cached_tokens']}/{group[-1]['prompt_tokens']}"
                  if group[-1]["prompt_tokens"] is not None else "-")
        print(f"| {engine} | {n} | {med('tasks_per_s'):.3f} | {med('tok_per_s'):.1f} | "
              f"{ratios} | {group[-1]['tokens']} | {med('wall_s'):.1f} | {cached} | "
              f"{'/'.join(str(c['load']) for c in group)} |")
    if determinism:
        print(f"\nsame N = {determinism['parallel']}, same order, run twice: "
              f"{'identical' if determinism['identical'] else 'DIFFERENT'} "
              f"({determinism['records']} trajectories)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
