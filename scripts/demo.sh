#!/usr/bin/env bash
# The main job, small: build a cross-model bank from GSM8K train problems with the default catalog
# models, then evaluate the weak-side Qwen model on held-out GSM8K test problems with and without it.
# About 15 minutes on 2 CPU cores. Outputs land in demo-out/ (delete it to start over; a rerun resumes).
set -euo pipefail
MC=${MC:-.venv/bin/memcollab}
OUT=${OUT:-demo-out}
TRAIN=${TRAIN:-16}
TEST=${TEST:-12}

$MC distill --strong qwen2.5-coder-0.5b --weak smollm2-135m \
    --benchmark gsm8k --split train --limit "$TRAIN" --max-tokens 384 \
    --out "$OUT/collab-cross.jsonl"
$MC bank show "$OUT/collab-cross.jsonl"
$MC eval --model qwen2.5-coder-0.5b --benchmark gsm8k --split test --limit "$TEST" --max-tokens 384 \
    --bank "collab-cross=$OUT/collab-cross.jsonl" --outdir "$OUT/eval"
