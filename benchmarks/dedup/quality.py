#!/usr/bin/env python3
"""Precision and recall of kiln dedup's clustered pairs against ground truth.

  quality.py TRUTH.tsv CLUSTERS.jsonl [--threshold 0.8]

TRUTH.tsv comes from scripts/fixtures/dedup/make_near_dups.py (true Jaccard of every pair
inside a family; pairs across families are unrelated text). A true pair is one with
Jaccard >= threshold; a predicted pair is two documents in one cluster. Also prints
recall per Jaccard bucket, which should follow the S-curve without verification.
"""
import argparse
import json

ap = argparse.ArgumentParser()
ap.add_argument('truth')
ap.add_argument('clusters')
ap.add_argument('--threshold', type=float, default=0.8)
args = ap.parse_args()
truth = {}
for line in open(args.truth).read().splitlines()[1:]:
    a, b, j = line.split('\t')
    truth[tuple(sorted((a, b)))] = float(j)
pred = set()
for line in open(args.clusters):
    m = sorted(json.loads(line)['members'])
    pred.update((m[i], m[k]) for i in range(len(m)) for k in range(i + 1, len(m)))
pos = {p for p, j in truth.items() if j >= args.threshold}
tp = len(pred & pos)
precision = tp / len(pred) if pred else 1.0
recall = tp / len(pos) if pos else 1.0
print(f'J>={args.threshold}: {len(pos)} true pairs, {len(pred)} clustered pairs: '
      f'precision {precision:.4f}, recall {recall:.4f}')
buckets = {}
for p, j in truth.items():
    b = min(int(j * 10), 9) / 10
    n, hit = buckets.get(b, (0, 0))
    buckets[b] = (n + 1, hit + (p in pred))
print('  true J bucket  pairs  clustered')
for b in sorted(buckets):
    n, hit = buckets[b]
    print(f'  [{b:.1f}, {b + 0.1:.1f})  {n:6d}  {hit / n:8.3f}')
