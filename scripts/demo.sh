#!/usr/bin/env bash
# The main job, small: build a cross-model bank from GSM8K train problems with the catalog models
# (qwen2.5-coder-0.5b strong, smollm2-135m weak, qwen2.5-coder-1.5b summarizing), then evaluate
# qwen2.5-coder-0.5b on held-out GSM8K test problems with and without it, plus a random-memory
# placebo. About 10-15 minutes on 2 CPU cores. Outputs land in demo-out/ (a rerun resumes).
set -euo pipefail
MC=${MC:-.venv/bin/memcollab}
OUT=${OUT:-demo-out}
TRAIN=${TRAIN:-24}
TEST=${TEST:-12}

$MC distill --strong qwen2.5-coder-0.5b --weak smollm2-135m --summarizer qwen2.5-coder-1.5b \
    --benchmark gsm8k --split train --limit "$TRAIN" --max-tokens 384 --parallel 4 \
    --out "$OUT/collab-cross.jsonl"
$MC bank show "$OUT/collab-cross.jsonl"
$MC eval --model qwen2.5-coder-0.5b --benchmark gsm8k --split test --limit "$TEST" --max-tokens 384 \
    --parallel 4 --bank "collab-cross=$OUT/collab-cross.jsonl" --placebo --outdir "$OUT/eval"
