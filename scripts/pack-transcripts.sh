#!/usr/bin/env bash
# Pack evaluation transcripts for committing: every FOLDER/*.jsonl but a label cache becomes
# FOLDER/*.jsonl.gz (joined to a .gz already there), and every .gz is recompressed as one stream
# (a resumed run appends one gzip member per record, about three times the size). A file whose
# run still holds its lock (`<file>.lock`, see memcollab_cli/filelock.py) is refused, with nothing
# changed: replacing a file a run appends to would lose what it writes meanwhile.
#
# Usage: scripts/pack-transcripts.sh FOLDER...      e.g. banks/code/eval/humaneval banks/gsm8k/eval
set -euo pipefail
(($#)) || { sed -n '2,8p' "$0"; exit 2; }
files=()
for dir in "$@"; do
  [[ -d $dir ]] || { echo "pack-transcripts: $dir is not a folder" >&2; exit 2; }
  for f in "$dir"/*.jsonl "$dir"/*.jsonl.gz; do
    [[ -e $f && $(basename "$f") != labels.jsonl ]] && files+=("$f")
  done
done
for f in "${files[@]}"; do  # check every lock before touching any file
  for lock in "${f%.gz}.lock" "${f%.gz}.gz.lock"; do  # a run may write either name
    if [[ -e $lock ]] && ! flock -n "$lock" true; then
      echo "pack-transcripts: a run is writing $f ($lock is held); stop it or wait" >&2; exit 1
    fi
  done
done
for f in "${files[@]}"; do
  [[ $f == *.gz ]] && continue
  [[ -e $f.gz ]] && gzip -dc "$f.gz" > "$f.tmp" && cat "$f" >> "$f.tmp" && mv "$f.tmp" "$f"
  rm -f "$f.gz"; gzip -9 "$f"
done
for dir in "$@"; do
  for f in "$dir"/*.jsonl.gz; do
    [[ -e $f ]] || continue
    gzip -dc "$f" | gzip -9 > "$f.tmp" && mv "$f.tmp" "$f"
  done
done
