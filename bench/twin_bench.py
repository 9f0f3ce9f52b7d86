#!/usr/bin/env python3
"""twin_bench.py - the PyTorch side of bench/run.sh: one measurement per process.

Uses the KRes twin from bench/kres_twin.py (same architecture and tensor names as kres) and
prints one JSON line with the same fields as build/bench_kres, so the two can be compared:

    /usr/bin/python3 bench/twin_bench.py --mode train|infer|latency [--batch 64] [--reps 7]
        [--warmup 2] [--threads 2] [--len 1024] [--bf16]

train:   zero_grad + forward (training mode) + BCE-with-logits + backward + AdamW step
infer:   eval mode, torch.inference_mode(), batch --batch
latency: eval mode, batch 1 (give --threads 1)
--bf16:  torch.autocast("cpu", dtype=torch.bfloat16) around forward (and loss), fp32 master
         weights; only meaningful on CPUs with AVX512-BF16/AMX.
Peak RSS comes from getrusage (ru_maxrss) at the end of the process.
"""
import argparse
import contextlib
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kres_twin import DEFAULT_CONFIG, KRes  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["train", "infer", "latency"], default="train")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--len", type=int, default=1024)
    ap.add_argument("--bf16", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = dict(DEFAULT_CONFIG)
    cfg["in_len"] = a.len
    model = KRes(cfg)
    B = 1 if a.mode == "latency" else a.batch
    x = torch.randn(B, cfg["in_leads"], cfg["in_len"])
    y = (torch.arange(B) % 2).float().reshape(B, 1)
    training = a.mode == "train"
    model.train(training)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2) if training else None
    amp = (torch.autocast("cpu", dtype=torch.bfloat16) if a.bf16
           else contextlib.nullcontext())
    times, cpus = [], []
    check = 0.0
    for r in range(a.warmup + a.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        if training:
            opt.zero_grad(set_to_none=False)
            with amp:
                logits = model(x)["logits"]
            loss = F.binary_cross_entropy_with_logits(logits.float(), y)
            loss.backward()
            opt.step()
            check = loss.item()
        else:
            with torch.inference_mode(), amp:
                check = float(model(x)["logits"][0, 0])
        if r >= a.warmup:
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
    t = np.array(times)
    med = float(np.median(t))
    macs = macs_per_example(cfg)
    flops = 2.0 * macs * B * (3.0 if training else 1.0)
    print(json.dumps({
        "impl": "torch", "version": torch.__version__, "mode": a.mode,
        "precision": "bf16" if a.bf16 else "fp32", "batch": B,
        "threads": torch.get_num_threads(), "reps": a.reps, "seconds": med,
        "min": float(t.min()), "max": float(t.max()),
        "cpu_seconds": float(np.median(cpus)), "samples_per_s": B / med,
        "gflops": flops / med * 1e-9,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "mkldnn": bool(torch.backends.mkldnn.is_available()), "check": check}))


def macs_per_example(c):
    """Convolution and linear multiply-accumulates per ECG (kres_macs_per_example)."""
    k, L, s = c["kernel"], c["in_len"], c["downsample"]
    macs = c["stem_width"] * c["in_leads"] * k * L
    win = c["stem_width"]
    for w in c["widths"]:
        lout = L // s
        macs += w * win * k * L + w * w * k * lout + (w * win * lout if w != win else 0)
        win, L = w, lout
    e = c["widths"][-1]
    macs += c["n_outputs"] * e
    if c["proj_hidden"] > 0:
        macs += c["proj_hidden"] * e + c["proj_dim"] * c["proj_hidden"]
    return macs


if __name__ == "__main__":
    main()
