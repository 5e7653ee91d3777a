// HF tokenizers (npm) training on a text file with the node binding's trainer (BpeTrainer
// defaults: vocab 30000, min_frequency 0, alphabet = characters seen), ByteLevel GPT-2
// pre-tokenizer; saves tokenizer.json and prints the time.
//   node train_peer.mjs corpus.txt out.json
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../scripts/fixtures/tokenizer/package.json"));
const { Tokenizer } = require("tokenizers");
const [corpus, out] = process.argv.slice(2);
const bl = (p, r) => ({ type: "ByteLevel", add_prefix_space: p, trim_offsets: true, use_regex: r });
const tok = Tokenizer.fromString(JSON.stringify({
  version: "1.0", truncation: null, padding: null, added_tokens: [], normalizer: null, pre_tokenizer: bl(false, true),
  post_processor: null, decoder: bl(true, true),
  model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
    fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: {}, merges: [] },
}));
const t0 = process.hrtime.bigint();
tok.train([corpus]);
const s = Number(process.hrtime.bigint() - t0) / 1e9;
tok.save(out, false);
console.log(`hf-tokenizers train total_s=${s.toFixed(2)}`);
