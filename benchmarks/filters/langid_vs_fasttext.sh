#!/usr/bin/env bash
# Language ID: kiln's character n-gram model vs fastText (Debian `fasttext` 0.9.2) trained
# on the same training split and tested on the same held-out splits
# (scripts/fixtures/filters/make_langid_data.py). Prints one line per (system, test set):
# accuracy, and prediction docs/s on one thread (median of 3 runs; fastText's time is
# `fasttext predict` wall time minus the time to load its model, measured on a 1-line file).
#
#   benchmarks/filters/langid_vs_fasttext.sh [KILN_BINARY] [WORK_DIR]
# WORK_DIR keeps the splits and the fastText models between runs (training them takes minutes).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
kiln="${1:-$repo/build-filters/kiln}"
work="${2:-/tmp/kiln_langid_bench}"
mkdir -p "$work"
[ -f "$work/train.jsonl" ] || python3 "$repo/scripts/fixtures/filters/make_langid_data.py" "$work" >/dev/null
sets="udhr lingua_sentences lingua_word_pairs lingua_single_words"
# Speed runs use each test set repeated to at least 100,000 lines, so that process start
# and fastText's model loading (its models are 180-350 MB) are small next to prediction.
for s in $sets; do
  for ext in jsonl txt; do
    f="$work/test_$s.$ext"; out="$work/speed_$s.$ext"; n=$(wc -l < "$f"); reps=$(( (100000 + n - 1) / n ))
    [ -f "$out" ] || for i in $(seq $reps); do cat "$f"; done > "$out"
  done
done
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

# kiln: train (timed), then eval.
t0=$(now); "$kiln" langid train "$work/train.jsonl" -o "$work/kiln.kiln" >/dev/null; t1=$(now)
printf "kiln train: %.1f s, model %s bytes\n" "$(echo "$t1 - $t0" | bc)" "$(stat -c %s "$work/kiln.kiln")"
for s in $sets; do
  acc=""; rates=""
  out=$("$kiln" langid eval "$work/test_$s.jsonl" -m "$work/kiln.kiln")
  acc=$(echo "$out" | sed 's/.*"accuracy": \([0-9.]*\).*/\1/')
  for run in 1 2 3; do
    out=$("$kiln" langid eval "$work/speed_$s.jsonl" -m "$work/kiln.kiln")
    rates="$rates $(echo "$out" | sed 's/.*"docs_per_second": \([0-9]*\).*/\1/')"
  done
  printf "%-10s %-22s accuracy %.4f  %8.0f docs/s\n" kiln "$s" "$acc" "$(echo $rates | tr ' ' '\n' | median)"
done

# fastText: three configurations, each trained once and cached in WORK_DIR.
declare -A configs=(
  [ft_default]=""
  [ft_char]="-minn 2 -maxn 4 -dim 16 -epoch 5"
  [ft_tuned]="-minn 1 -maxn 4 -dim 32 -epoch 25 -lr 0.5 -loss hs"
)
for name in ft_default ft_char ft_tuned; do
  if [ ! -f "$work/$name.bin" ]; then
    t0=$(now); fasttext supervised -input "$work/train.txt" -output "$work/$name" ${configs[$name]} -thread 2 -verbose 0; t1=$(now)
    printf "%s train: %.1f s (%s)\n" "$name" "$(echo "$t1 - $t0" | bc)" "${configs[$name]:-defaults}"
  fi
  head -n 1 "$work/test_udhr.txt" > "$work/one.txt"
  loads=""; for run in 1 2 3; do t0=$(now); fasttext predict "$work/$name.bin" "$work/one.txt" >/dev/null; t1=$(now); loads="$loads $(echo "$t1 - $t0" | bc)"; done
  load=$(echo $loads | tr ' ' '\n' | median)
  for s in $sets; do
    acc=$(fasttext test "$work/$name.bin" "$work/test_$s.txt" | awk '/^P@1/ {print $2}')
    n=$(wc -l < "$work/speed_$s.txt")
    rates=""
    for run in 1 2 3; do
      t0=$(now); fasttext predict "$work/$name.bin" "$work/speed_$s.txt" >/dev/null; t1=$(now)
      rates="$rates $(echo "$n / ($t1 - $t0 - $load)" | bc -l)"
    done
    printf "%-10s %-22s accuracy %.4f  %8.0f docs/s\n" "$name" "$s" "$acc" "$(echo $rates | tr ' ' '\n' | median)"
  done
done
