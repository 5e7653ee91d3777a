#!/bin/sh
# Tokenizer benchmark: kiln vs npm tiktoken (wasm) and npm tokenizers (HF, native) on the
# same documents in the same run; ids are checked equal before anything is timed.
#
#   benchmarks/tokenizer/run.sh [BUILD_DIR] [ENGLISH_MB] [RUNS] [TRAIN_MB]
#
# Needs node + npm (installs tiktoken and tokenizers into scripts/fixtures/tokenizer),
# python3, zstd, /usr/bin/time, and shared/data (KILN_SHARED_DATA, default ../shared/data).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
mb=${2:-5}
runs=${3:-3}
train_mb=${4:-40}
shared=${KILN_SHARED_DATA:-$repo/../shared/data}
work=$repo/out/bench-tokenizer
mkdir -p "$work"
fixtures=$repo/scripts/fixtures/tokenizer
[ -d "$fixtures/node_modules/tokenizers" ] || (cd "$fixtures" && npm install --no-audit --no-fund >/dev/null)
node "$fixtures/extract_ranks.mjs" "$work"
python3 "$here/prepare_docs.py" "$shared" "$work" "$mb" 3 "$train_mb"
kiln=$build/kiln
bench=$build/benchmarks/tokenizer/bench_tokenizer
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for enc in gpt2 cl100k_base o200k_base; do
  "$kiln" tokenizer convert "$work/$enc.tiktoken" -o "$work/$enc.json"
  for text in english code multilingual; do
    node "$here/peers.mjs" "$work/$text.docs" $enc "$work/$enc.json" "$runs" "$work/$text.$enc.ids"
    "$bench" --tiktoken "$work/$enc.tiktoken" --pattern $enc --docs "$work/$text.docs" \
      --expect "$work/$text.$enc.ids" --runs "$runs" --label "$enc $text"
  done
done
echo "# training, vocab 30000, GPT-2 pattern, alphabet = bytes seen (HF's node trainer defaults)"
/usr/bin/time -f "hf-tokenizers train peak_rss_kB=%M wall_s=%e" node "$here/train_peer.mjs" "$work/english.txt" "$work/hf_trained.json" 2>&1 | grep -v '^\[' || true
/usr/bin/time -f "kiln train peak_rss_kB=%M wall_s=%e" "$bench" --train "$work/english.txt" --vocab 30000 --runs 1 \
  --save "$work/kiln_trained.json" --label english
python3 "$here/same_merges.py" "$work/hf_trained.json" "$work/kiln_trained.json"
if command -v spm_train >/dev/null; then
  /usr/bin/time -f "sentencepiece spm_train bpe peak_rss_kB=%M wall_s=%e" spm_train --input="$work/english.txt" \
    --model_prefix="$work/spm" --vocab_size=30000 --model_type=bpe --input_sentence_size=100000000 \
    --minloglevel=2 >/dev/null 2>"$work/spm.log" || true
  tail -n 1 "$work/spm.log"
fi
