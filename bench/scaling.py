"""Scaling curve: generated tokens/s with N sequences decoded together, memcollab's batched engine
beside llama.cpp's own aggregate throughput over the same prompts, in the same run.

For each model and each N it takes the first-turn solve prompts of N GSM8K test problems (their
stop string included) and times, one after the other, in one process:

- `engine`: `BatchedLlamaModel(parallel=N).complete_many(requests)`, memcollab's own path
  (chat formatting, slots, prefix bookkeeping, stop strings, greedy decoding);
- `reference`: the same prompt tokens through llama-cpp-python's low-level API in the leanest loop
  we can write: a context with the engine's parameters, every prompt read, then one token per live
  sequence per `llama_decode`, greedy by one numpy argmax over all rows of logits, a sequence
  ending at end-of-generation, its stop string or max_tokens. The same work as the engine minus
  its bookkeeping: what llama.cpp reaches through Python;
- `batched-bench` (optional, `--batched-bench PATH`): llama.cpp's `llama-batched-bench` binary, run
  with the mean prompt length and max_tokens, for the native decode ceiling (it never samples).

Generated tokens/s = completion tokens / wall seconds, prompt reading included. "same" counts
requests whose text the two loops agree on (greedy on identical batches should agree; a float
near-tie may not). The GPU figure that matters is engine/reference at N = 32 (goal: >= 0.8).

    .venv/bin/python bench/scaling.py -m qwen2.5-coder-0.5b -m qwen2.5-coder-1.5b \\
        --parallel 1 8 16 32 64 --max-tokens 256 --out bench/results
    MEMCOLLAB_THREADS=1 .venv/bin/python bench/scaling.py -m smollm2-135m --parallel 1 2 \\
        --max-tokens 16        # the CPU smoke test (make bench-gpu-smoke)
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import first_turn_requests, load, machine  # noqa: E402

WARMUP = [{"role": "user", "content": "Hi"}]


def engine_run(model, requests) -> dict:
    """memcollab's batched engine over `requests` (already warm)."""
    start = time.perf_counter()
    out = model.complete_many(requests)
    wall = time.perf_counter() - start
    return {"wall": wall, "tokens": sum(c.completion_tokens for c in out),
            "prompt_tokens": sum(c.prompt_tokens for c in out), "texts": [c.text for c in out]}


def forget_warmup(model) -> None:
    """Empty the engine's slots, so its first prompt shares no cached prefix with the warm-up
    (the reference starts from an empty context; a reused prefix changes the batch shapes)."""
    if hasattr(model, "reset"):
        model.reset()
        return
    model._llama_cpp.llama_memory_clear(model._mem, True)
    for slot in model._slots:
        slot.kv.clear()


def reference_run(model, requests) -> dict:
    """The lean llama-cpp-python loop over the prompts the engine formats for `requests`."""
    import llama_cpp as lc
    import numpy as np

    engine = model  # a loaded BatchedLlamaModel: its weights, its context parameters
    llm = engine.single.load()
    formatted = [engine.format(r) for r in requests]
    prompts = [p for p, _ in formatted]
    stops = [[s.encode() for s in st if s] for _, st in formatted]
    n = len(prompts)
    cp = lc.llama_context_default_params()
    cp.n_ctx, cp.n_batch, cp.n_ubatch = engine.n_ctx * n, engine.n_batch, engine.n_ubatch
    cp.n_seq_max, cp.kv_unified = n, engine.kv_unified
    cp.n_threads = cp.n_threads_batch = engine.single.n_threads
    cp.flash_attn_type = (lc.LLAMA_FLASH_ATTN_TYPE_ENABLED if engine.flash_attn
                          else lc.LLAMA_FLASH_ATTN_TYPE_DISABLED)
    ctx = lc.llama_init_from_model(llm._model.model, cp)
    vocab = lc.llama_model_get_vocab(llm._model.model)
    n_vocab = lc.llama_vocab_n_tokens(vocab)
    batch = lc.llama_batch_init(engine.n_batch, 0, 1)
    piece = ctypes.create_string_buffer(256)

    def decode(entries) -> None:  # entries: (token, position, sequence, wants logits)
        for k, (token, position, seq, wants) in enumerate(entries):
            batch.token[k], batch.pos[k], batch.n_seq_id[k] = token, position, 1
            batch.seq_id[k][0], batch.logits[k] = seq, int(wants)
        batch.n_tokens = len(entries)
        if lc.llama_decode(ctx, batch) != 0:
            raise SystemExit(f"llama_decode failed with {len(entries)} tokens")

    def greedy(rows: int):  # one argmax over every row of logits of the last decode
        return np.ctypeslib.as_array(lc.llama_get_logits(ctx), shape=(rows, n_vocab)).argmax(axis=1)

    out: list[list[int]] = [[] for _ in range(n)]
    text = [b""] * n
    try:
        start = time.perf_counter()
        # read every prompt, n_batch tokens per decode, logits for each prompt's last token only
        queue = [(t, j, i, j == len(p) - 1) for i, p in enumerate(prompts) for j, t in enumerate(p)]
        pending = []
        for at in range(0, len(queue), engine.n_batch):
            part = queue[at:at + engine.n_batch]
            decode(part)
            ended = [i for _, _, i, last in part if last]
            if ended:
                pending += zip(ended, greedy(len(ended)).tolist(), strict=True)
        pos = [len(p) for p in prompts]
        while pending:
            live = []
            for i, token in pending:
                if lc.llama_vocab_is_eog(vocab, token):
                    continue
                out[i].append(token)
                m = lc.llama_token_to_piece(vocab, token, piece, 256, 0, False)
                text[i] += ctypes.string_at(piece, m)
                tail = text[i][-(max((len(s) for s in stops[i]), default=0) + m):]
                if any(s in tail for s in stops[i]) or len(out[i]) >= requests[i].max_tokens:
                    continue
                live.append(i)
            if not live:
                break
            decode([(out[i][-1], pos[i], i, True) for i in live])
            for i in live:
                pos[i] += 1
            pending = list(zip(live, greedy(len(live)).tolist(), strict=True))
        wall = time.perf_counter() - start
    finally:
        lc.llama_batch_free(batch)
        lc.llama_free(ctx)
    texts = []
    for i in range(n):
        t = llm.detokenize(out[i])
        for s in stops[i]:
            if s in t:
                t = t[: t.index(s)]
                break
        texts.append(t.decode("utf-8", errors="ignore"))
    return {"wall": wall, "tokens": sum(len(o) for o in out),
            "prompt_tokens": sum(len(p) for p in prompts), "texts": texts}


def batched_bench(binary: str, path: Path, parallel: list[int], prompt_tokens: int,
                  max_tokens: int, n_ctx: int, threads: int) -> dict[int, dict]:
    """llama.cpp's own llama-batched-bench: {N: {"S_TG t/s": .., "S t/s": ..}} parsed from its table."""
    cmd = [binary, "-m", str(path), "-c", str(n_ctx * max(parallel)), "-b", "2048", "-ub", "512",
           "-npp", str(prompt_tokens), "-ntg", str(max_tokens), "-npl", ",".join(map(str, parallel)),
           "-ngl", "99", "-fa", "on", "-t", str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        print(f"batched-bench failed ({done.returncode}): {done.stderr.strip()[-300:]}", file=sys.stderr)
        return {}
    return parse_batched_bench(done.stdout)


def parse_batched_bench(table: str) -> dict[int, dict]:
    """Rows of llama-batched-bench's Markdown table, keyed by B (the number of sequences)."""
    header, rows = None, {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if "B" in cells and "S_TG t/s" in cells:
            header = cells
        elif header and len(cells) == len(header) and re.fullmatch(r"\d+", cells[header.index("B")]):
            row = dict(zip(header, cells, strict=True))
            rows[int(row["B"])] = {k: float(v) for k, v in row.items() if re.fullmatch(r"[\d.]+", v)}
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-m", "--model", action="append", help="catalog name or GGUF path (repeatable)")
    ap.add_argument("--parallel", type=int, nargs="+", default=[1, 8, 16, 32, 64])
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--n-ctx", type=int, default=2048, help="tokens per sequence")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("MEMCOLLAB_THREADS", 0))
                    or os.cpu_count() or 1)
    ap.add_argument("--batched-bench", help="path of a llama-batched-bench binary to run as well")
    ap.add_argument("--out", type=Path, help="also write the table to OUT/scaling-DATE.md (and .json)")
    ap.add_argument("--json", action="store_true", help="print the cells as JSON")
    args = ap.parse_args(argv)

    from memcollab_cli.agent import SolveParams
    from memcollab_cli.runtime import load_model
    from memcollab_cli.runtime.base import Request
    from memcollab_cli.runtime.batched import BatchedLlamaModel
    from memcollab_cli.tasks import load_tasks

    models = args.model or ["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]
    tasks = load_tasks("gsm8k", limit=max(args.parallel))
    base = first_turn_requests(tasks, SolveParams(max_tokens=args.max_tokens, max_turns=1))
    info = machine() | {"max_tokens": args.max_tokens, "n_ctx": args.n_ctx, "threads": args.threads,
                        "date": datetime.date.today().isoformat()}
    print(f"# {info}", file=sys.stderr)
    cells = []
    for spec in models:
        probe = load_model(spec)
        path, name = probe.path, probe.name
        for n in args.parallel:
            requests = [replace(r, max_tokens=args.max_tokens) for r in base[:n]]
            before = load()
            model = BatchedLlamaModel(path, name=name, parallel=n, n_ctx=args.n_ctx,
                                      n_threads=args.threads)
            try:
                model.complete(Request(messages=WARMUP, max_tokens=4))  # load, first kernels
                forget_warmup(model)
                gpu = model.describe()["gpu_offload"]
                eng = engine_run(model, requests)
                ref = reference_run(model, requests)
            finally:
                model.close()
            same = sum(a == b for a, b in zip(eng["texts"], ref["texts"], strict=True))
            cell = {"model": name, "parallel": n, "gpu_offload": gpu, "load": before,
                    "prompt_tokens": eng["prompt_tokens"], "same_text": same}
            for key, r in (("engine", eng), ("reference", ref)):
                cell[key] = {"tokens": r["tokens"], "wall_s": round(r["wall"], 3),
                             "tok_per_s": round(r["tokens"] / r["wall"], 2)}
            cell["ratio"] = round(cell["engine"]["tok_per_s"] / cell["reference"]["tok_per_s"], 3)
            cells.append(cell)
            print(f"{name} N={n}: engine {cell['engine']['tok_per_s']} tok/s, reference "
                  f"{cell['reference']['tok_per_s']} tok/s, x{cell['ratio']}, same {same}/{n} "
                  f"(load {before})", file=sys.stderr)
        if args.batched_bench:
            mean_prompt = round(sum(c["prompt_tokens"] / c["parallel"] for c in cells
                                    if c["model"] == name) / len(args.parallel))
            native = batched_bench(args.batched_bench, path, args.parallel, mean_prompt,
                                   args.max_tokens, args.n_ctx, args.threads)
            for c in cells:
                if c["model"] == name and c["parallel"] in native:
                    c["batched_bench"] = native[c["parallel"]]

    table = render(cells, info)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        stem = args.out / f"scaling-{info['date']}"
        stem.with_suffix(".md").write_text(table)
        stem.with_suffix(".json").write_text(json.dumps({"machine": info, "cells": cells}, indent=2) + "\n")
        print(f"wrote {stem}.md and .json", file=sys.stderr)
    print(json.dumps({"machine": info, "cells": cells}, indent=2) if args.json else table, end="")
    return 0


def render(cells: list[dict], info: dict) -> str:
    lines = [f"Scaling curve, {info['date']}: {info['cpu']} ({info['cores']} cores), llama-cpp-python "
             f"{info['llama_cpp']}, max_tokens {info['max_tokens']}, {info['threads']} threads, GPU "
             f"offload {'yes' if any(c['gpu_offload'] for c in cells) else 'no'}", "",
             "| model | N | engine tok/s | reference tok/s | engine / reference | batched-bench "
             "S_TG tok/s | tokens (engine/ref) | same text | load |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c in cells:
        native = c.get("batched_bench", {}).get("S_TG t/s")
        lines.append(f"| {c['model']} | {c['parallel']} | {c['engine']['tok_per_s']:.1f} | "
                     f"{c['reference']['tok_per_s']:.1f} | {c['ratio']:.2f} | "
                     f"{'-' if native is None else f'{native:.1f}'} | {c['engine']['tokens']}/"
                     f"{c['reference']['tokens']} | {c['same_text']}/{c['parallel']} | {c['load']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
