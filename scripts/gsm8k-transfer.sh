#!/usr/bin/env bash
# The GSM8K transfer experiment (the shape of the paper's Tables 1 and 2):
#   banks     build collab-same, self-qwen05 and self-qwen15 from GSM8K train (collab-cross is
#             built by its own command in banks/pilot/README.md); trajectories are shared via
#             banks/pilot/runs
#   transfer  qwen2.5-coder-0.5b and -1.5b on GSM8K test, no memory and every bank
# Usage: scripts/gsm8k-transfer.sh [banks|transfer|all]
# Env: TRAIN_N (100), TEST_N (100), PARALLEL (16, test stage), BANKS (banks/pilot), OUTDIR
#      (runs/transfer-gsm8k), MC (memcollab). Every step resumes where it stopped.
set -euo pipefail
stage=${1:-all}
MC=${MC:-memcollab}
BANKS=${BANKS:-banks/pilot}
OUTDIR=${OUTDIR:-runs/transfer-gsm8k}
TRAIN_N=${TRAIN_N:-100}
TEST_N=${TEST_N:-100}
PARALLEL=${PARALLEL:-16}

# The trajectories shipped in banks/pilot/runs were made with --parallel 4; reusing them needs the same.
train=(-b gsm8k --split train -n "$TRAIN_N" --runs-dir "$BANKS/runs" -p 4
       --summarizer qwen2.5-coder-1.5b)

if [[ $stage == banks || $stage == all ]]; then
  $MC distill --strong qwen2.5-coder-1.5b --weak qwen2.5-coder-0.5b "${train[@]}" \
      -o "$BANKS/collab-same.jsonl"
  $MC distill --strong qwen2.5-coder-0.5b --mode self "${train[@]}" -o "$BANKS/self-qwen05.jsonl"
  $MC distill --strong qwen2.5-coder-1.5b --mode self "${train[@]}" -o "$BANKS/self-qwen15.jsonl"
fi

if [[ $stage == transfer || $stage == all ]]; then
  $MC transfer -m qwen2.5-coder-0.5b -m qwen2.5-coder-1.5b -b gsm8k --split test -n "$TEST_N" \
      --bank "self-qwen05=$BANKS/self-qwen05.jsonl" --bank "self-qwen15=$BANKS/self-qwen15.jsonl" \
      --bank "collab-cross=$BANKS/collab-cross.jsonl" --bank "collab-same=$BANKS/collab-same.jsonl" \
      -p "$PARALLEL" -o "$OUTDIR" --markdown --plot "$OUTDIR/transfer.png"
fi
