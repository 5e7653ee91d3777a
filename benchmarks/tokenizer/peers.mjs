// The peers on the same documents: npm tiktoken (wasm) and npm tokenizers (HF, native).
//   node peers.mjs <docs> <encoding> <hf tokenizer.json> <runs> <ids out>
// Prints "tiktoken ... MB/s=" and "hf ... MB/s=" lines (medians); writes tiktoken's ids
// (uint32 LE, all documents concatenated) for bench_tokenizer --expect, and checks that
// HF's ids equal tiktoken's.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../scripts/fixtures/tokenizer/package.json"));
const { get_encoding } = require("tiktoken");
const { Tokenizer } = require("tokenizers");

const [docsPath, encoding, hfJson, runsStr, idsOut] = process.argv.slice(2);
const runs = parseInt(runsStr || "3", 10);
const raw = fs.readFileSync(docsPath);
const docs = raw.toString("utf8").split("\x1e");
const mb = raw.length / 1e6;
const median = (v) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)];
const label = path.basename(docsPath).replace(/\.docs$/, "");

const enc = get_encoding(encoding);
let ref = [];
for (const d of docs) ref.push(enc.encode_ordinary(d));
const total = ref.reduce((n, a) => n + a.length, 0);
const flat = new Uint32Array(total);
let k = 0;
for (const a of ref) { flat.set(a, k); k += a.length; }
fs.writeFileSync(idsOut, Buffer.from(flat.buffer));
// Wall time and CPU time (user+system of the process; wasm runs on this one thread).
const cpuSeconds = (u) => (u.user + u.system) / 1e6;
const t = [], tc = [];
for (let r = 0; r < runs; r++) {
  const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
  for (const d of docs) enc.encode_ordinary(d);
  t.push(mb / (Number(process.hrtime.bigint() - t0) / 1e9));
  tc.push(mb / cpuSeconds(process.cpuUsage(c0)));
}
console.log(`tiktoken-wasm ${encoding} ${label} threads=1 MB/s=${median(t).toFixed(2)} cpu_MB/s=${median(tc).toFixed(2)} tokens=${total}`);
enc.free();

if (hfJson) {
  const tok = Tokenizer.fromFile(hfJson);
  // Check: HF's ids equal tiktoken's.
  const hfIds = [];
  for (const d of docs) hfIds.push((await tok.encode(d, null, { addSpecialTokens: false })).getIds());
  let same = true;
  let i = 0;
  for (const a of hfIds) for (const id of a) if (flat[i++] !== id) same = false;
  if (i !== total) same = false;
  if (!same) console.log(`hf ${encoding} ${label}: ids DIFFER from tiktoken`);
  const ts = [], tsc = [], tb = [];
  for (let r = 0; r < runs; r++) {
    let t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (const d of docs) await tok.encode(d, null, { addSpecialTokens: false });
    ts.push(mb / (Number(process.hrtime.bigint() - t0) / 1e9));
    tsc.push(mb / cpuSeconds(process.cpuUsage(c0)));
    t0 = process.hrtime.bigint();
    await tok.encodeBatch(docs, { addSpecialTokens: false });
    tb.push(mb / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  console.log(`hf-tokenizers ${encoding} ${label} threads=1 MB/s=${median(ts).toFixed(2)} cpu_MB/s=${median(tsc).toFixed(2)} ids_equal=${same}`);
  console.log(`hf-tokenizers ${encoding} ${label} batch(all threads) MB/s=${median(tb).toFixed(2)}`);
}
