#!/usr/bin/env bash
# Pack throughput against the tokenizer's own encode throughput on the same input, same
# tokenizer, same threads, in the same run (medians of RUNS runs).
#
#   benchmarks/token_store/pack_vs_encode.sh [RUNS]
#
# Input: the curated sample (data/sample via `kiln curate`) repeated to ~40 MB; tokenizer:
# 8k-vocab byte-level BPE trained on it by `kiln tokenizer train`.
set -euo pipefail
cd "$(dirname "$0")/../.."
kiln=${KILN:-build/kiln}
runs=${1:-5}
work=$(mktemp -d /tmp/kiln-bench-pack.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$kiln" curate data/sample/recipe.toml -o "$work/curated" >/dev/null
"$kiln" tokenizer train "$work/curated" --vocab-size 8192 --special '<|endoftext|>' -o "$work/tok.json" 2>/dev/null
for i in $(seq 40); do "$kiln" cat "$work/curated" | sed "s/^{/{\"copy\":$i,/"; done | zstd -q -3 -o "$work/input.jsonl.zst"
bytes=$(zstd -dc "$work/input.jsonl.zst" | wc -c)
# Check: pack and encode produce the same tokens.
"$kiln" tokenizer encode -t "$work/tok.json" "$work/input.jsonl.zst" --ids-format text --special-mode text \
  -o "$work/ids.txt" 2>/dev/null
"$kiln" pack "$work/input.jsonl.zst" -t "$work/tok.json" -o "$work/check" --val-fraction 0 >/dev/null
encoded=$(awk '{n += NF} END {print n}' "$work/ids.txt")
packed=$("$kiln" store info "$work/check" | awk '/^train:/ {print $4}')
docs=$(wc -l < "$work/ids.txt")
[ "$packed" -eq $((encoded + docs)) ] || { echo "mismatch: pack $packed tokens, encode $encoded + $docs EOT"; exit 1; }
echo "input: $bytes bytes of JSONL, $docs documents, $encoded tokens (+ EOT each); check passed"

median() { sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
enc=""; pk=""
for i in $(seq "$runs"); do
  enc+="$(t "$kiln" tokenizer encode -t "$work/tok.json" "$work/input.jsonl.zst" --ids-format bin --special-mode text -o /dev/null)"$'\n'
  rm -rf "$work/store"
  pk+="$(t "$kiln" pack "$work/input.jsonl.zst" -t "$work/tok.json" -o "$work/store" --val-fraction 0.01)"$'\n'
done
e=$(printf '%s' "$enc" | median); p=$(printf '%s' "$pk" | median)
printf "kiln tokenizer encode (ids to /dev/null)  %7.3f s  %7.1f MB/s\n" "$e" "$(echo "$bytes / $e / 1000000" | bc -l)"
printf "kiln pack (shards, zstd, checksums)       %7.3f s  %7.1f MB/s\n" "$p" "$(echo "$bytes / $p / 1000000" | bc -l)"
printf "ratio pack / encode throughput            %7.3f\n" "$(echo "$e / $p" | bc -l)"
