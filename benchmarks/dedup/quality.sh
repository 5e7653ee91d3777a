#!/bin/bash
# Precision/recall of kiln dedup on near-duplicates generated from real books, with and
# without verification (issue 3's quality check).
#   benchmarks/dedup/quality.sh BUILD_DIR [FAMILIES]
# Needs /work/shared/data/books/gitenberg_books.jsonl.zst (51 Project Gutenberg books).
set -euo pipefail
build=${1:?usage: quality.sh BUILD_DIR [FAMILIES]}
families=${2:-3000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
books=${KILN_BOOKS:-/work/shared/data/books/gitenberg_books.jsonl.zst}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
zstd -dc "$books" | /usr/bin/python3 -c 'import sys, json; [sys.stdout.write(json.loads(l)["text"] + "\n") for l in sys.stdin]' > "$tmp/books.txt"
/usr/bin/python3 "$root/scripts/fixtures/dedup/make_near_dups.py" "$tmp/books.txt" "$tmp/corpus.jsonl" "$tmp/truth.tsv" \
  --families "$families" --min-words 200 --max-words 800 --seed 11
echo "corpus: $(wc -l < "$tmp/corpus.jsonl") docs from $families book passages; $(($(wc -l < "$tmp/truth.tsv") - 1)) labelled pairs"
for verify in 0 0.8; do
  rm -rf "$tmp/out"
  "$build/kiln" dedup "$tmp/corpus.jsonl" -o "$tmp/out" --verify "$verify" > /dev/null
  echo "--verify $verify (14 bands x 8 rows, 5-word shingles):"
  /usr/bin/python3 "$here/quality.py" "$tmp/truth.tsv" "$tmp/out/clusters.jsonl"
done
