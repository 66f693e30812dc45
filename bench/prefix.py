"""Prompt-evaluation cost per call with and without prefix reuse, memory block on.

The solve system prompt is rendered with a memory block of about 600 tokens (constraints in the
bank's "When …, enforce …; avoid …" form), and each call asks a different GSM8K question after
it. The toolkit's sequential engine (`LlamaModel`, what `solve --parallel 1` uses) keeps the KV
cache of the previous call and evaluates only what follows the longest common prefix:

- `with reuse`: calls back to back, as `solve` orders them (same memory → same prefix);
- `without reuse`: the cache is dropped before every call (`Llama.reset()`), so the whole prompt
  is evaluated each time.

Prompt-evaluation time and tokens come from llama.cpp's own counters (`llama_perf_context`, reset
before each call); the first call of each scenario is a warm-up and is not counted. Medians over
all counted calls; the load average is printed because this machine is shared.

    .venv/bin/python bench/prefix.py -m qwen2.5-coder-0.5b --calls 8 --reps 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

CONSTRAINTS = [
    "When a problem states a rate per unit of time, enforce converting every quantity to the same "
    "unit before multiplying; avoid mixing minutes and hours in one product.",
    "When a quantity is described as a fraction of another, enforce identifying the whole it refers "
    "to; avoid applying the fraction to a running total that already changed.",
    "When a percentage increase follows a percentage decrease, enforce applying them in sequence to "
    "the updated amount; avoid adding or subtracting the two percentages directly.",
    "When counting items bought in groups, enforce multiplying the number of groups by the group "
    "size before adding single items; avoid counting a group as one item.",
    "When a problem asks how much more one amount is than another, enforce a subtraction of the two "
    "final amounts; avoid reporting either amount on its own.",
    "When money is spent in several steps, enforce tracking the remaining balance after each step; "
    "avoid subtracting every cost from the starting amount at once when costs depend on the balance.",
    "When an average is asked, enforce dividing the total by the number of items counted in that "
    "total; avoid dividing by a count that includes items outside it.",
    "When a problem involves ages at different times, enforce writing each person's age at the same "
    "moment before comparing; avoid comparing an age now with an age in the past.",
    "When a problem gives a total and asks for a share, enforce checking that the shares add back to "
    "the total; avoid rounding an intermediate share before the last step.",
    "When work is done by several people at different rates, enforce adding their rates rather than "
    "their times; avoid averaging the times.",
    "When a problem mentions 'twice as many' or 'half as many', enforce applying the factor to the "
    "quantity named after 'as'; avoid reversing the direction of the comparison.",
    "When distances and speeds are given, enforce time = distance / speed for each leg separately; "
    "avoid dividing the total distance by the average of the speeds.",
    "When the answer must be a whole number of objects, enforce rounding in the direction the story "
    "requires (buy enough, fill completely); avoid returning a fractional count.",
    "When a discount and a tax both apply, enforce the order the problem states; avoid applying "
    "them to different base prices.",
    "When a problem repeats an action every week or day, enforce counting the number of repetitions "
    "in the period exactly; avoid an off-by-one count of the first or last day.",
    "When the final answer is asked in a particular unit, enforce converting the result to that unit "
    "at the end; avoid reporting the value in the unit of the last calculation.",
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-m", "--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--calls", type=int, default=8, help="counted calls per scenario and rep")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--n-ctx", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--questions", choices=["gsm8k", "short"], default="gsm8k",
                    help="GSM8K questions (~60 tokens each) or one-line arithmetic questions")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    import llama_cpp

    from memcollab_cli import prompts
    from memcollab_cli.runtime import load_model
    from memcollab_cli.runtime.base import Request
    from memcollab_cli.tasks import load_tasks

    block = prompts.load("memory_block").render(
        kind="arithmetic / multi-step word problems",
        constraints="\n".join(f"{k}. {c}" for k, c in enumerate(CONSTRAINTS, start=1)))
    system = prompts.load("solve_math").render(memory=block)
    if args.questions == "short":
        questions = [f"What is {17 * i + 3} times {i + 2}?" for i in range(args.calls + 1)]
    else:
        questions = [t.question for t in load_tasks("gsm8k", limit=args.calls + 1)]

    model = load_model(args.model, n_ctx=args.n_ctx, n_threads=args.threads)  # parallel 1: LlamaModel
    llm = model.load()
    block_tokens = len(llm.tokenize(block.encode(), add_bos=False))
    system_tokens = len(llm.tokenize(system.encode(), add_bos=False))

    def call(question: str, reuse: bool) -> dict:
        if not reuse:
            llm.reset()  # forget the cached tokens: the whole prompt is evaluated
        llama_cpp.llama_perf_context_reset(llm.ctx)
        start = time.perf_counter()
        c = model.complete(Request(messages=[{"role": "system", "content": system},
                                             {"role": "user", "content": question}],
                                   max_tokens=args.max_tokens))
        wall = time.perf_counter() - start
        perf = llama_cpp.llama_perf_context(llm.ctx)
        return {"prompt_tokens": c.prompt_tokens, "cached": c.cached_tokens,
                "evaluated": c.prompt_tokens - c.cached_tokens, "p_eval_ms": perf.t_p_eval_ms,
                "p_eval_n": perf.n_p_eval, "wall_ms": wall * 1000}

    rows = {"without reuse": [], "with reuse": []}
    loads = []
    for _rep in range(args.reps):
        for scenario, reuse in (("without reuse", False), ("with reuse", True)):
            loads.append(round(os.getloadavg()[0], 2))
            call(questions[-1], reuse=False)  # warm-up; also puts the prefix in the cache
            for q in questions[: args.calls]:
                rows[scenario].append(call(q, reuse))
    model.close()

    med = {s: {k: statistics.median(r[k] for r in v) for k in v[0]} for s, v in rows.items()}
    mins = {s: min(r["p_eval_ms"] for r in v) for s, v in rows.items()}
    speedup = med["without reuse"]["p_eval_ms"] / max(med["with reuse"]["p_eval_ms"], 1e-9)
    if args.json:
        print(json.dumps({"model": model.name, "system_tokens": system_tokens,
                          "block_tokens": block_tokens, "median": med, "rows": rows,
                          "prompt_eval_speedup": speedup, "load": loads}, indent=2))
        return 0
    print(f"{model.name} · memory block {block_tokens} tokens, system prompt {system_tokens} · "
          f"{args.questions} questions · {args.calls} calls × {args.reps} reps per scenario · "
          f"max_tokens {args.max_tokens} · "
          f"{args.threads} threads · load {'/'.join(map(str, loads))}")
    print()
    print("| scenario | prompt tok/call | reused (cached) | evaluated "
          "| prompt-eval ms/call (min/median) | wall ms/call (median) |")
    print("|---|---|---|---|---|---|")
    for s, m in med.items():
        print(f"| {s} | {m['prompt_tokens']:.0f} | {m['cached']:.0f} | {m['evaluated']:.0f} | "
              f"{mins[s]:.0f} / {m['p_eval_ms']:.0f} | {m['wall_ms']:.0f} |")
    print(f"\nprompt evaluation per call: {speedup:.1f}× less with reuse "
          f"(wall {med['without reuse']['wall_ms'] / med['with reuse']['wall_ms']:.1f}× less)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
