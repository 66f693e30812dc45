#!/usr/bin/env bash
# The code study of issue 29: training runs every code bank will be distilled from, no-memory
# baselines with turns, and the code ceiling (the hand-written code bank delivered by the gold
# set, with a same-size placebo). Every stage resumes where it stopped; eval stages run blocks
# of BLOCK tasks under every arm before the next block, so a study cut short is still paired.
#
#   runs      MBPP train+validation (464 tasks): qwen2.5-coder-0.5b, smollm2-135m,
#             qwen2.5-coder-1.5b -> DIR/runs/MODEL.jsonl.gz
#   baseline  no memory and the noise floor: the 0.5B on HumanEval (164) and MBPP test (500),
#             the 1.5B on HumanEval and MBPP test tasks 0-199
#   ceiling   the hand-written bank through --routing gold, with its placebo: the 0.5B on
#             HumanEval and MBPP test 0-199, the 1.5B on HumanEval
#   rule      the same bank through RULE (global: the best non-oracle rule of the GSM8K
#             retrieval work), same models and tasks as the ceiling
#
# Usage: scripts/code-study.sh runs|baseline|ceiling|rule [05|15|smol]   (a model: that only)
# Env: MC (memcollab), DIR (banks/code), PARALLEL (4), BLOCK (50), MBPP (MBPP directory,
#      default $MEMCOLLAB_MBPP), RULE (global).
set -euo pipefail
stage=${1:?usage: code-study.sh runs|baseline|ceiling|rule [05|15|smol]}
only=${2:-}
MC=${MC:-memcollab}
DIR=${DIR:-banks/code}
PARALLEL=${PARALLEL:-4}
BLOCK=${BLOCK:-50}
RULE=${RULE:-global}
MBPP=${MBPP:-${MEMCOLLAB_MBPP:?set MEMCOLLAB_MBPP (or MBPP) to the MBPP directory}}
Q05=qwen2.5-coder-0.5b Q15=qwen2.5-coder-1.5b SMOL=smollm2-135m
common=(-p "$PARALLEL" --mbpp-dir "$MBPP")
gold=(--bank "$DIR/hand-written.jsonl" --routing gold --gold "$DIR/gold/applies.jsonl" --placebo)
rule=(--bank "$DIR/hand-written.jsonl" --routing "$RULE")

wants() { [[ -z $only || $only == "$1" ]]; }
blocks() {  # "$@" -n N for N = BLOCK, 2*BLOCK, ... up to SIZE (first argument)
  local size=$1; shift
  for ((n = BLOCK; n < size + BLOCK; n += BLOCK)); do "$@" -n $((n < size ? n : size)); done
}
on() {  # on MODEL BENCHMARK SIZE ARGS...: eval of MODEL on BENCHMARK's test split, in blocks
  local model=$1 bench=$2 size=$3; shift 3
  blocks "$size" $MC eval -m "$model" -b "$bench" --split test "${common[@]}" \
      -o "$DIR/eval/$bench" "$@"
}

case $stage in
  runs)
    mkdir -p "$DIR/runs"
    for spec in 05:$Q05 smol:$SMOL 15:$Q15; do
      wants "${spec%%:*}" || continue
      $MC solve -m "${spec#*:}" -b mbpp --split train+validation "${common[@]}" \
          -o "$DIR/runs/${spec#*:}.jsonl.gz"
    done ;;
  baseline)
    if wants 05; then on $Q05 humaneval 164 --noise-floor; on $Q05 mbpp 500 --noise-floor; fi
    if wants 15; then on $Q15 humaneval 164 --noise-floor; on $Q15 mbpp 200 --noise-floor; fi ;;
  ceiling)
    if wants 05; then on $Q05 humaneval 164 "${gold[@]}"; on $Q05 mbpp 200 "${gold[@]}"; fi
    if wants 15; then on $Q15 humaneval 164 "${gold[@]}"; fi ;;
  rule)
    if wants 05; then on $Q05 humaneval 164 "${rule[@]}"; on $Q05 mbpp 200 "${rule[@]}"; fi
    if wants 15; then on $Q15 humaneval 164 "${rule[@]}"; fi ;;
  *) sed -n '2,19p' "$0"; exit 2 ;;
esac
