"""Where the batched engine's time goes: inside llama_decode, or in Python around it.

Runs `BatchedLlamaModel(parallel=N).complete_many` over the first-turn prompts of N GSM8K test
problems (stop string included) under cProfile, timing every `llama_decode` call, and prints the
wall time, the decode time, what is left (the engine's own Python work per run) and the functions
that cost most by their own time. A digest of the texts shows that a change kept the outputs.

    MEMCOLLAB_THREADS=1 .venv/bin/python bench/engine_profile.py -m qwen2.5-coder-0.5b -n 8 \\
        --max-tokens 128
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import first_turn_requests  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-m", "--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("-n", "--parallel", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--n-ctx", type=int, default=2048)
    ap.add_argument("--top", type=int, default=12, help="functions listed")
    args = ap.parse_args(argv)

    from memcollab_cli.agent import SolveParams
    from memcollab_cli.runtime import load_model
    from memcollab_cli.runtime.base import Request
    from memcollab_cli.tasks import load_tasks

    requests = first_turn_requests(load_tasks("gsm8k", limit=args.parallel),
                                   SolveParams(max_tokens=args.max_tokens, max_turns=1))
    model = load_model(args.model, n_ctx=args.n_ctx, parallel=max(2, args.parallel))
    model.complete(Request(messages=[{"role": "user", "content": "Hi"}], max_tokens=4))
    lc = model._llama_cpp
    decode = lc.llama_decode
    in_decode = [0.0]

    def timed(ctx, batch):
        start = time.perf_counter()
        try:
            return decode(ctx, batch)
        finally:
            in_decode[0] += time.perf_counter() - start

    lc.llama_decode = timed
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    out = model.complete_many(requests)
    profile.disable()
    wall = time.perf_counter() - start
    lc.llama_decode = decode
    model.close()

    outside = wall - in_decode[0]
    print(f"{model.name} N={args.parallel} max_tokens={args.max_tokens}: "
          f"{sum(c.completion_tokens for c in out)} tokens, wall {wall:.2f} s, llama_decode "
          f"{in_decode[0]:.2f} s, outside {outside:.3f} s ({100 * outside / wall:.1f}%), "
          f"texts {hashlib.sha256(''.join(c.text for c in out).encode()).hexdigest()[:16]}")
    table = io.StringIO()
    pstats.Stats(profile, stream=table).sort_stats("tottime").print_stats(args.top)
    print(table.getvalue().split("\n\n", 1)[-1].strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
