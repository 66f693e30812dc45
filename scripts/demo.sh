#!/usr/bin/env bash
# What memcollab is and what it found, in about 10 minutes on 2 CPU cores (`make demo`):
#   1. the pipeline end to end on a few GSM8K problems: qwen2.5-coder-0.5b and smollm2-135m solve
#      train problems; where one is right and the other wrong, qwen2.5-coder-1.5b contrasts the
#      two attempts into constraints, and those make a bank;
#   2. the bank in use: qwen2.5-coder-0.5b on held-out test problems with no memory, with the
#      bank and with a random-memory placebo, compared task by task;
#   3. the comparison that means something: the shipped study's 600 test problems, reported from
#      its transcripts (no model time), with its placebos, worked examples, the noise floor and a
#      forest plot;
#   4. what was just shown, in plain words: every figure read from this run's reports.
# Outputs land in demo-out/ (a rerun resumes). Tables are sized for 80 columns.
# Env: MC, PY, OUT (demo-out), TRAIN (24), TEST (12), STRONG, WEAK, SUMMARIZER.
set -euo pipefail
MC=${MC:-.venv/bin/memcollab}
PY=${PY:-.venv/bin/python}
OUT=${OUT:-demo-out}
TRAIN=${TRAIN:-24}
TEST=${TEST:-12}
STRONG=${STRONG:-qwen2.5-coder-0.5b}
WEAK=${WEAK:-smollm2-135m}
SUMMARIZER=${SUMMARIZER:-qwen2.5-coder-1.5b}
STUDY=banks/gsm8k
export COLUMNS=${COLUMNS:-80}
mkdir -p "$OUT"

if [[ -t 1 ]]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD= PLAIN=; fi
say() { printf '\n%s== %s%s\n%s\n\n' "$BOLD" "$1" "$PLAIN" "$2" | fold -s -w 80; }

say "1/4 Build a memory bank from $TRAIN GSM8K train problems" \
"$STRONG and $WEAK solve each problem. Where exactly one of them is right, $SUMMARIZER \
compares the two attempts and writes short constraints (\"When ..., enforce ...; avoid ...\"); \
rules drop the ones that quote the problem's numbers or name its objects."
$MC distill --strong "$STRONG" --weak "$WEAK" --summarizer "$SUMMARIZER" \
    --benchmark gsm8k --split train --limit "$TRAIN" --max-tokens 384 --parallel 4 \
    --out "$OUT/collab-cross.jsonl"
$MC bank show "$OUT/collab-cross.jsonl"

say "2/4 Use it on $TEST held-out test problems" \
"$STRONG solves them with no memory, with the bank, and with a placebo (as many entries drawn \
at random from the bank, ignoring category). Each arm is paired with no memory task by task."
$MC eval --model "$STRONG" --benchmark gsm8k --split test --limit "$TEST" --max-tokens 384 \
    --parallel 4 --bank "collab-cross=$OUT/collab-cross.jsonl" --placebo --outdir "$OUT/eval"
$MC eval --from-runs "$OUT/eval/$STRONG.jsonl" --model "$STRONG" \
    --bank "collab-cross=$OUT/collab-cross.jsonl" --placebo --json > "$OUT/small.json"

study=(--from-runs "$STUDY/eval/qwen2.5-coder-0.5b.jsonl.gz" --model qwen2.5-coder-0.5b
       --benchmark gsm8k --split test --limit 600
       --bank "collab-cross=$STUDY/collab-cross.jsonl" --bank "collab-same=$STUDY/collab-same.jsonl"
       --placebo --examples "$STUDY/runs/qwen2.5-coder-0.5b.jsonl.gz" --noise-floor)
say "3/4 What the shipped study found: 600 test problems, from its transcripts" \
"The same comparison at a size that can see a few points: qwen2.5-coder-0.5b on GSM8K test \
problems 0-599 with the study's two contrastive banks (built from 500 and 300 train problems), \
their placebos, worked examples (verified solutions of similar train problems) and the noise \
floor (no memory again, in another batch order). No model runs here."
$MC eval "${study[@]}" --plot "$OUT/gsm8k-0.5b-forest.png"
$MC eval "${study[@]}" --json > "$OUT/study.json"

say "4/4 In plain words" ""
$PY scripts/demo_summary.py "$OUT/small.json" "$OUT/study.json" "$OUT/collab-cross.jsonl"
echo "Files: $OUT/collab-cross.jsonl (the bank), $OUT/eval/ (every transcript),"
echo "       $OUT/gsm8k-0.5b-forest.png (the study as a picture)."
