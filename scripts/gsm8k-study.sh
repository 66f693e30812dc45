#!/usr/bin/env bash
# The GSM8K study of issue 9: larger banks from GSM8K train, then paired evaluations with enough
# tasks to see an effect the size of the paper's. Every step resumes where it stopped, so the
# study can be spread over many sessions; run stages in order (or `all`).
#
#   runs    GSM8K train trajectories: qwen2.5-coder-0.5b and smollm2-135m on TRAIN_CROSS tasks,
#           qwen2.5-coder-1.5b on TRAIN_SAME (the 0.5B's first TRAIN_SAME are shared)
#   banks   collab-cross (0.5B + smollm2), collab-same (1.5B + 0.5B), self-qwen05, self-qwen15;
#           summarizer and labeller qwen2.5-coder-1.5b; no model call for what the runs hold
#   refine  collab-cross tried entry by entry on the 0.5B's training tasks, against a
#           content-free constraint (item 7)
#   eval    qwen2.5-coder-0.5b on TEST_05 test tasks: no memory, every bank built so far, a
#           placebo per collab bank, the refined bank, the worked-examples arm and the noise
#           floor; qwen2.5-coder-1.5b on TEST_15: no memory, the collab banks and their placebos,
#           and self-qwen15 (its own memory)
#   side F  the 0.5B's arms of `eval` on test tasks F .. F+BLOCK-1 into DIR/eval-side: a second
#           process beside `eval` on a machine with cores to spare (a transcript file has one
#           writer at a time); the tasks run in the order and batches `eval` would give them
#   pack    fold eval-side/ into eval/, gzip the eval transcripts, and recompress resumed ones
#           (eval and distill resume from MODEL.jsonl.gz in place); run it with no stage writing
#
# Usage: scripts/gsm8k-study.sh [runs|banks|refine|eval|side F|pack|all]
# Env: MC (memcollab), DIR (banks/gsm8k), TRAIN_CROSS (500), TRAIN_SAME (300), TEST_05 (600),
#      TEST_15 (300), PARALLEL (4: trajectories are reused only at the parallel they were made
#      with, so keep it fixed for a study), REFINE_TASKS (16 tasks per entry), BLOCK (100 test
#      tasks evaluated under every arm before the next 100).
set -euo pipefail
stage=${1:-all}
MC=${MC:-memcollab}
DIR=${DIR:-banks/gsm8k}
TRAIN_CROSS=${TRAIN_CROSS:-500}
TRAIN_SAME=${TRAIN_SAME:-300}
TEST_05=${TEST_05:-600}
TEST_15=${TEST_15:-300}
PARALLEL=${PARALLEL:-4}
REFINE_TASKS=${REFINE_TASKS:-16}
BLOCK=${BLOCK:-100}
Q05=qwen2.5-coder-0.5b Q15=qwen2.5-coder-1.5b SMOL=smollm2-135m
RUNS=$DIR/runs
train=(-b gsm8k --split train -p "$PARALLEL")
test=(-b gsm8k --split test -p "$PARALLEL")
distill=("${train[@]}" --runs-dir "$RUNS" --summarizer "$Q15")

want() { [[ $stage == "$1" || $stage == all ]]; }
transcript() { local f=$DIR/eval/$1.jsonl; [[ -e $f ]] || f=$f.gz; echo "$f"; }  # packed or not

if want runs; then
  mkdir -p "$RUNS"
  for spec in "$Q05:$TRAIN_CROSS" "$SMOL:$TRAIN_CROSS" "$Q15:$TRAIN_SAME"; do
    model=${spec%%:*} n=${spec##*:}
    $MC solve -m "$model" "${train[@]}" -n "$n" -o "$RUNS/$model.jsonl.gz"
  done
fi

if want banks; then
  $MC distill --strong $Q05 --weak $SMOL "${distill[@]}" -n "$TRAIN_CROSS" -o "$DIR/collab-cross.jsonl"
  $MC distill --strong $Q05 --mode self "${distill[@]}" -n "$TRAIN_CROSS" -o "$DIR/self-qwen05.jsonl"
  $MC distill --strong $Q15 --weak $Q05 "${distill[@]}" -n "$TRAIN_SAME" -o "$DIR/collab-same.jsonl"
  $MC distill --strong $Q15 --mode self "${distill[@]}" -n "$TRAIN_SAME" -o "$DIR/self-qwen15.jsonl"
fi

if want refine; then
  # --pool: the bank's cache labels only the 12 tasks that gave its entries; its labeller labels
  # the train tasks the bank was built from, so each entry meets REFINE_TASKS of its category
  $MC bank refine "$DIR/collab-cross.jsonl" -m $Q05 "${train[@]}" --against placebo \
      --tasks-per-entry "$REFINE_TASKS" --pool "$TRAIN_CROSS" -o "$DIR/collab-cross.refined.jsonl"
fi

if want eval || [[ $stage == side ]]; then
  existing() {  # --bank NAME=PATH for each bank built so far
    local spec; for spec; do [[ -e ${spec#*=} ]] && printf -- '--bank\n%s\n' "$spec"; done; true
  }
  mapfile -t collab < <(existing "collab-cross=$DIR/collab-cross.jsonl" "collab-same=$DIR/collab-same.jsonl")
  mapfile -t refined < <(existing "refined=$DIR/collab-cross.refined.jsonl")
  mapfile -t self05 < <(existing "self-qwen05=$DIR/self-qwen05.jsonl" "self-qwen15=$DIR/self-qwen15.jsonl")
  # The 1.5B under its own memory: the paper's case of a bank from one model's traces alone
  mapfile -t other15 < <(existing "self-qwen15=$DIR/self-qwen15.jsonl")
  # The worked-examples pool: the 0.5B's own verified train solutions, which collab-cross and
  # self-qwen05 are built from (smollm2 solves about 1 in 100, so it would add next to nothing).
  examples=(--examples "$RUNS/$Q05.jsonl.gz")
  eval05() {  # the 0.5B's arms on the tasks "$@" selects; what the issue asks for first. Several
    # calls into one transcript file, so that only the collab banks get a placebo.
    $MC eval -m $Q05 "$@" "${collab[@]}" --placebo
    $MC eval -m $Q05 "$@" "${refined[@]}" "${examples[@]}"
    $MC eval -m $Q05 "$@" "${self05[@]}" --noise-floor
  }
fi

if want eval; then
  test+=(-o "$DIR/eval")
  # Blocks of BLOCK tasks: every arm finishes a block before the next block starts, so a study
  # cut short is still paired. A bank built later is added by rerunning this stage.
  for ((n = BLOCK; n < TEST_05 + BLOCK; n += BLOCK)); do
    n05=$((n < TEST_05 ? n : TEST_05)) n15=$((n < TEST_15 ? n : TEST_15))
    eval05 "${test[@]}" -n "$n05"
    $MC eval -m $Q15 "${test[@]}" -n "$n15" "${collab[@]}" --placebo
    if (( ${#other15[@]} )); then $MC eval -m $Q15 "${test[@]}" -n "$n15" "${other15[@]}"; fi
  done
  for model in $Q05 $Q15; do  # one report of every condition, from the transcripts
    $MC eval --from-runs "$(transcript "$model")" -m $model
  done
fi

if [[ $stage == side ]]; then  # --id keeps dataset order: the tasks meet the batches of `eval`
  first=${2:?usage: gsm8k-study.sh side FIRST_TASK (e.g. 400)}
  mapfile -t ids < <(seq -f '--id=%g' "$first" $((first + BLOCK - 1)))
  eval05 "${test[@]}" -o "$DIR/eval-side" "${ids[@]}"
fi

if want pack; then  # with no run writing to them
  for f in "$DIR"/eval-side/*.jsonl; do  # a side block joins its model's transcript
    [[ -e $f ]] || continue
    main=$(transcript "$(basename "$f" .jsonl)")
    [[ $(basename "$f") == labels.jsonl ]] && main=$DIR/eval/labels.jsonl
    if [[ $main == *.gz ]]; then gzip -9c "$f" >> "$main"; else cat "$f" >> "$main"; fi
    rm "$f"
  done
  rm -f "$DIR"/eval-side/*.lock; rmdir "$DIR/eval-side" 2>/dev/null || true
  for f in "$DIR"/eval/*.jsonl; do  # transcripts only: eval reads its label cache plain
    [[ -e $f && $(basename "$f") != labels.jsonl ]] && gzip -9 "$f"
  done
  # a resumed .gz grows one gzip member per record; one stream is about a third of the size
  for f in "$DIR"/eval/*.jsonl.gz; do
    [[ -e $f ]] && gzip -dc "$f" | gzip -9 > "$f.tmp" && mv "$f.tmp" "$f"
  done; true
fi
