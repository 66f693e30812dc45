#!/usr/bin/env bash
# The GSM8K ceiling of issue 28: the hand-written bank delivered by the gold set (each task gets
# exactly the entries that apply to it, top 3; none where none applies), paired against no
# memory, with a same-size placebo (as many entries that do not apply) and the noise floor.
# Then the same bank through a non-oracle rule (RULE, default global: the best recall on test
# tasks 0-299 of the gold set, `memcollab route --gold`) on the same tasks.
# Every step resumes; blocks of BLOCK tasks finish under every arm before the next block.
#
#   05      qwen2.5-coder-0.5b over test tasks 0..TEST_05-1 (600)
#   15      qwen2.5-coder-1.5b over test tasks 0..TEST_15-1 (300)
#   rule M  the bank through RULE on model 05 or 15, same tasks
#   floor M the noise floor on model 05 or 15 up to its size
#
# Usage: scripts/gsm8k-ceiling.sh 05|15|rule 05|rule 15|floor 05|floor 15
# Env: MC (memcollab), DIR (banks/gsm8k), TEST_05 (600), TEST_15 (300), BLOCK (100),
#      PARALLEL (4, as the study's other arms), RULE (global).
set -euo pipefail
MC=${MC:-memcollab}
DIR=${DIR:-banks/gsm8k}
TEST_05=${TEST_05:-600} TEST_15=${TEST_15:-300} BLOCK=${BLOCK:-100} PARALLEL=${PARALLEL:-4}
RULE=${RULE:-global}
bank=(--bank "$DIR/gold/hand-written.jsonl")
test=(-b gsm8k --split test -p "$PARALLEL" -o "$DIR/eval")

model_of() { case $1 in 05) echo qwen2.5-coder-0.5b;; 15) echo qwen2.5-coder-1.5b;;
                        *) echo "model 05 or 15, not '$1'" >&2; exit 2;; esac; }
size_of() { case $1 in 05) echo "$TEST_05";; 15) echo "$TEST_15";; esac; }
blocks() {  # run "$@" -n N for N = BLOCK, 2*BLOCK, ... up to the model's size
  local size=$1; shift
  for ((n = BLOCK; n < size + BLOCK; n += BLOCK)); do "$@" -n $((n < size ? n : size)); done
}

case ${1:-} in
  05|15)
    m=$(model_of "$1")
    blocks "$(size_of "$1")" $MC eval -m "$m" "${test[@]}" "${bank[@]}" --routing gold \
        --gold "$DIR/gold/applies.jsonl" --placebo ;;
  rule)
    m=$(model_of "${2:-}")
    blocks "$(size_of "$2")" $MC eval -m "$m" "${test[@]}" "${bank[@]}" --routing "$RULE" ;;
  floor)
    m=$(model_of "${2:-}")
    blocks "$(size_of "$2")" $MC eval -m "$m" "${test[@]}" --noise-floor ;;
  *) sed -n '2,17p' "$0"; exit 2 ;;
esac
