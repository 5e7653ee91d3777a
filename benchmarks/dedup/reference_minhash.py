#!/usr/bin/python3
"""Reference MinHash-LSH in Python + numpy: the same algorithm as kiln dedup, written
plainly, as a correctness cross-check and a throughput floor.

Same normalization (lowercase, punctuation removed, digits -> 0, whitespace collapsed),
same 5-word shingles hashed with xxh3-64, same permutations (splitmix64 from the seed,
a in [1, p), b in [0, p), p = 2^61 - 1; pi(h) = low 32 bits of (a*h + b mod 2^64) folded
mod p, as datasketch and text-dedup compute it), same band keys (xxh3-128 of each band's
8 little-endian uint32 values), same exact hash (xxh3-128
of whitespace-collapsed text), union-find with the smallest ordinal as root.

  reference_minhash.py CORPUS.jsonl[.zst] [--clusters kiln_out/clusters.jsonl] [--limit N]

Prints signature throughput (docs/s, MB/s on one core) and, with --clusters, whether the
clusters equal kiln's. Needs Debian's python3-numpy and python3-xxhash.
"""
import argparse
import json
import string
import subprocess
import sys
import time
import unicodedata

import numpy as np
import xxhash

P = (1 << 61) - 1
M64 = (1 << 64) - 1
ASCII_PUNCT = set(string.punctuation)
UNICODE_SPACES = {0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000}
ASCII_SPACES = set(' \t\n\r\f\v')


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def permutations(k, seed=1):
    state, a, b = seed, [], []
    for _ in range(k):
        while True:
            state, v = splitmix64(state)
            v >>= 3
            if 0 < v < P:
                break
        a.append(v)
        while True:
            state, v = splitmix64(state)
            v >>= 3
            if v < P:
                break
        b.append(v)
    return np.array(a, dtype=np.uint64), np.array(b, dtype=np.uint64)


def normalize(text, lower=True, space=True, punct=True, digits=True):
    out, pending = [], False
    for ch in text:
        o = ord(ch)
        if (ch in ASCII_SPACES or o in UNICODE_SPACES) and space:
            pending = True
            continue
        if o < 128:
            if punct and ch in ASCII_PUNCT:
                continue
            if digits and '0' <= ch <= '9':
                ch = '0'
            elif lower:
                ch = ch.lower()
        elif not (o in UNICODE_SPACES):
            cat = unicodedata.category(ch)
            if punct and cat.startswith('P'):
                continue
            if digits and cat == 'Nd':
                ch = '0'
            elif lower:
                low = ch.lower()
                ch = low if len(low) == 1 else ch
        if pending and out:
            out.append(' ')
        pending = False
        out.append(ch)
    return ''.join(out)


def shingles(norm, n=5):
    words = norm.split(' ') if norm else []
    words = [w for w in words if w]
    if not words:
        return []
    if len(words) <= n:
        return [' '.join(words)]
    return [' '.join(words[i:i + n]) for i in range(len(words) - n + 1)]


def signature(hashes, a, b):
    # datasketch / text-dedup: (a * h + b) wrapping in uint64, mod p, & 0xFFFFFFFF; the
    # modulus as one Mersenne fold (v & p) + (v >> 61), as kiln computes it.
    v = a[None, :] * hashes[:, None] + b[None, :]
    v = (v & np.uint64(P)) + (v >> np.uint64(61))
    return (v & np.uint64(0xFFFFFFFF)).astype(np.uint32).min(axis=0)


def read_docs(path, limit):
    if path.endswith('.zst'):
        data = subprocess.run(['zstd', '-dc', path], check=True, capture_output=True).stdout
    else:
        data = open(path, 'rb').read()
    docs = []
    for line in data.decode('utf-8', errors='replace').splitlines():
        if line.strip():
            d = json.loads(line)
            docs.append((str(d.get('id', len(docs))), d.get('text', '')))
            if limit and len(docs) >= limit:
                break
    return docs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('corpus')
    ap.add_argument('--clusters')
    ap.add_argument('--limit', type=int, default=0)
    ap.add_argument('--bands', type=int, default=14)
    ap.add_argument('--rows', type=int, default=8)
    args = ap.parse_args()
    docs = read_docs(args.corpus, args.limit)
    a, b = permutations(args.bands * args.rows)
    nbytes = sum(len(t.encode('utf-8')) for _, t in docs)
    t0 = time.perf_counter()
    keys, exact = [], []
    for _, text in docs:
        exact.append(xxhash.xxh3_128_intdigest(normalize(text, False, True, False, False).encode('utf-8')))
        sh = shingles(normalize(text))
        if not sh:
            keys.append(None)
            continue
        h = np.fromiter((xxhash.xxh3_64_intdigest(s.encode('utf-8')) for s in sh), dtype=np.uint64, count=len(sh))
        sig = signature(h, a, b)
        keys.append([xxhash.xxh3_128_intdigest(sig[j * args.rows:(j + 1) * args.rows].astype('<u4').tobytes())
                     for j in range(args.bands)])
    secs = time.perf_counter() - t0
    print(f'reference (python+numpy, 1 core): {len(docs)} docs, {nbytes / 1e6:.1f} MB: signatures + band keys '
          f'{secs:.2f}s = {len(docs) / secs:.0f} docs/s, {nbytes / 1e6 / secs:.2f} MB/s')
    if not args.clusters:
        return
    parent = list(range(len(docs)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def unite(x, y):
        x, y = find(x), find(y)
        if x != y:
            parent[max(x, y)] = min(x, y)

    buckets = {}
    for i, h in enumerate(exact):
        buckets.setdefault(('exact', h), []).append(i)
    for i, ks in enumerate(keys):
        for j, k in enumerate(ks or []):
            buckets.setdefault((j, k), []).append(i)
    for members in buckets.values():
        for m in members[1:]:
            unite(members[0], m)
    mine = {}
    for i in range(len(docs)):
        mine.setdefault(find(i), []).append(docs[i][0])
    mine = sorted(sorted(m) for m in mine.values() if len(m) > 1)
    theirs = sorted(sorted(json.loads(line)['members']) for line in open(args.clusters))
    same = mine == theirs
    print(f'clusters: reference {len(mine)}, kiln {len(theirs)}: {"IDENTICAL" if same else "DIFFERENT"}')
    if not same:
        sys.exit(1)


if __name__ == '__main__':
    main()
