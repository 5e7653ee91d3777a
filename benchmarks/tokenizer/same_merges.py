#!/usr/bin/env python3
"""Exit 0 if two tokenizer.json files have the same merges and vocab; print where not."""
import json, sys
a, b = (json.load(open(p))["model"] for p in sys.argv[1:3])
norm = lambda ms: [m if isinstance(m, str) else " ".join(m) for m in ms]
ma, mb = norm(a["merges"]), norm(b["merges"])
for i, (x, y) in enumerate(zip(ma, mb)):
    if x != y:
        sys.exit(f"merge {i} differs: {x!r} vs {y!r}")
if len(ma) != len(mb):
    sys.exit(f"merge counts differ: {len(ma)} vs {len(mb)}")
if a["vocab"] != b["vocab"]:
    sys.exit("vocabularies differ")
print(f"same merges ({len(ma)}) and vocab ({len(a['vocab'])})")
