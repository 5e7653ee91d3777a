#!/usr/bin/env bash
# Text classifier: `kiln classify` vs Debian `fasttext supervised` on the same split, one of
#   davidson  hate/offensive/neither tweets, 80/20 (scripts/fixtures/filters/make_classify_data.py)
#   quality   book and Wikipedia passages vs Usenet and web-page passages, split by book/page
#             (scripts/fixtures/filters/make_quality_data.py; options chosen on its dev split)
# Reports accuracy, macro-F1, training seconds and prediction docs/s (one thread; fastText's
# prediction time is `fasttext predict` wall time minus its model-load time), medians of 3.
#
#   benchmarks/filters/classify_vs_fasttext.sh [KILN_BINARY] [WORK_DIR] [davidson|quality]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
kiln="${1:-$repo/build-filters/kiln}"
work="${2:-/tmp/kiln_classify_bench}"
dataset="${3:-davidson}"
mkdir -p "$work"
case "$dataset" in
  davidson)
    python3 "$repo/scripts/fixtures/filters/make_classify_data.py" "$work"
    train="$work/davidson_train.txt"; test="$work/davidson_test.txt"
    kiln_configs=("") ;;
  quality)
    python3 "$repo/scripts/fixtures/filters/make_quality_data.py" "$work" > /dev/null
    train="$work/quality_train.txt"; test="$work/quality_test.txt"
    # Chosen on the dev split (benchmarks/filters/README.md): word unigrams, fastText's
    # default features, and 50 epochs (dev 0.956; kiln's defaults 0.916).
    kiln_configs=("" "--minn 0 --maxn 0 --epochs 50") ;;
  *) echo "dataset must be davidson or quality" >&2; exit 2 ;;
esac
# Speed is measured on the test split repeated 20 times (97k tweets), so that process
# start and model loading are small next to prediction.
for i in $(seq 20); do cat "$test"; done > "$work/speed.txt"
n=$(wc -l < "$work/speed.txt")
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
macro_f1() {  # gold file, predicted labels file
  python3 - "$1" "$2" <<'PY'
import sys
gold = [l.split(" ", 1)[0] for l in open(sys.argv[1], encoding="utf-8")]
pred = [l.strip() for l in open(sys.argv[2], encoding="utf-8")]
labels = sorted(set(gold))
f1s = []
for c in labels:
    tp = sum(g == c and p == c for g, p in zip(gold, pred)); fp = sum(g != c and p == c for g, p in zip(gold, pred))
    fn = sum(g == c and p != c for g, p in zip(gold, pred))
    pr = tp / (tp + fp) if tp + fp else 0.0; rc = tp / (tp + fn) if tp + fn else 0.0
    f1s.append(2 * pr * rc / (pr + rc) if pr + rc else 0.0)
acc = sum(g == p for g, p in zip(gold, pred)) / len(gold)
print(f"{acc:.4f} {sum(f1s) / len(f1s):.4f}")
PY
}

# kiln
for cfg in "${kiln_configs[@]}"; do
  times=""; for r in 1 2 3; do t0=$(now); "$kiln" classify train "$train" -o "$work/kiln.kiln" $cfg >/dev/null; t1=$(now); times="$times $(echo "$t1 - $t0" | bc)"; done
  train_s=$(echo $times | tr ' ' '\n' | median)
  out=$("$kiln" classify eval "$test" -m "$work/kiln.kiln")
  acc=$(echo "$out" | sed 's/.*"accuracy": \([0-9.]*\).*/\1/'); f1=$(echo "$out" | sed 's/.*"macro_f1": \([0-9.]*\).*/\1/')
  rates=""; for r in 1 2 3; do out=$("$kiln" classify eval "$work/speed.txt" -m "$work/kiln.kiln"); rates="$rates $(echo "$out" | sed 's/.*"docs_per_second": \([0-9]*\).*/\1/')"; done
  printf "%-34s accuracy %s  macro-F1 %s  train %6.2f s  predict %8.0f docs/s\n" "kiln ${cfg:-defaults}" "$acc" "$f1" "$train_s" "$(echo $rates | tr ' ' '\n' | median)"
done

# fastText
for cfg in "" "-minn 3 -maxn 5" "-minn 3 -maxn 5 -epoch 20 -lr 0.5"; do
  times=""; for r in 1 2 3; do t0=$(now); fasttext supervised -input "$train" -output "$work/ft" $cfg -thread 1 -verbose 0; t1=$(now); times="$times $(echo "$t1 - $t0" | bc)"; done
  train_s=$(echo $times | tr ' ' '\n' | median)
  fasttext predict "$work/ft.bin" "$test" > "$work/ft_pred.txt"
  read acc f1 < <(macro_f1 "$test" "$work/ft_pred.txt")
  head -n 1 "$test" > "$work/one.txt"
  loads=""; for r in 1 2 3; do t0=$(now); fasttext predict "$work/ft.bin" "$work/one.txt" >/dev/null; t1=$(now); loads="$loads $(echo "$t1 - $t0" | bc)"; done
  load=$(echo $loads | tr ' ' '\n' | median)
  rates=""; for r in 1 2 3; do t0=$(now); fasttext predict "$work/ft.bin" "$work/speed.txt" >/dev/null; t1=$(now); rates="$rates $(echo "$n / ($t1 - $t0 - $load)" | bc -l)"; done
  printf "%-34s accuracy %s  macro-F1 %s  train %6.2f s  predict %8.0f docs/s\n" "fasttext ${cfg:-defaults} (1 thread)" "$acc" "$f1" "$train_s" "$(echo $rates | tr ' ' '\n' | median)"
done
