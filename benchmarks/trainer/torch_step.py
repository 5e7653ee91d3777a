#!/usr/bin/python3
"""One training step of the same GPT in PyTorch (CPU): forward, backward, clip, AdamW, timed.

The model is scripts/fixtures/trainer/make_gpt_fixture.py's (the one kiln's tests are checked
against): nanoGPT's architecture with its non-flash attention path (PyTorch 1.13 has no
scaled_dot_product_attention). Prints one JSON line like train_step_bench.
"""
import argparse
import importlib.util
import json
import math
import os
import statistics
import sys
import time

import torch

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "fixture", os.path.join(here, "..", "..", "scripts", "fixtures", "trainer", "make_gpt_fixture.py"))
fixture = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fixture)

p = argparse.ArgumentParser()
for name, default in [("layers", 4), ("heads", 4), ("embd", 128), ("seq", 64), ("batch", 12), ("vocab", 65),
                      ("threads", 1), ("steps", 20), ("warmup", 3)]:
    p.add_argument("--" + name, type=int, default=default)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)
cfg = dict(maxT=a.seq, V=a.vocab, L=a.layers, NH=a.heads, C=a.embd, T=a.seq, rope=False, rms=False)
model = fixture.GPT(cfg)
with torch.no_grad():
    for prm in model.parameters():
        if prm.dim() == 2:
            prm.normal_(0.0, 0.02)
        else:
            prm.zero_()
    for m in model.modules():
        if isinstance(m, fixture.Norm):
            m.weight.fill_(1.0)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
x = torch.randint(0, a.vocab, (a.batch, a.seq))
y = torch.randint(0, a.vocab, (a.batch, a.seq))


def step():
    _, loss = model(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item()


first = step()
assert abs(first - math.log(a.vocab)) < 0.5, first
for _ in range(a.warmup - 1):
    step()
ms, cpu = [], []
for _ in range(a.steps):
    t0, c0 = time.perf_counter(), time.process_time()
    last = step()
    cpu.append((time.process_time() - c0) * 1000)
    ms.append((time.perf_counter() - t0) * 1000)
assert last < first
med = statistics.median(ms)
blas = os.environ.get("LD_LIBRARY_PATH", "")
print(json.dumps(dict(impl="torch " + torch.__version__ + (" openblas" if "openblas" in blas else " default-blas"),
                      L=a.layers, NH=a.heads, C=a.embd, T=a.seq, B=a.batch, V=a.vocab, threads=a.threads,
                      ms_per_step=round(med, 2), min_ms=round(min(ms), 2),
                      cpu_ms_per_step=round(statistics.median(cpu), 2),
                      tokens_per_second=round(a.batch * a.seq / (med / 1000)), loss_first=round(first, 4),
                      loss_last=round(last, 4))))
