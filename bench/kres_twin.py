#!/usr/bin/env python3
"""kres_twin.py - the PyTorch twin of kres's KRes network.

The module below is the architecture of src/nn/kres.h written in PyTorch, with the same
parameter and buffer names as kres's tensor table, so a kres checkpoint (a safetensors file
whose __metadata__["kres_config"] holds the model config) loads into it by name:

    from kres_twin import load_kres_safetensors
    model, meta = load_kres_safetensors("model.safetensors")
    out = model(x)              # dict: "embed" (B, E), "logits" (B, O), "proj" (B, P)

It needs only torch and numpy (Debian: python3-torch, python3-numpy; `bash scripts/setup.sh
--bench`). Use /usr/bin/python3 where another python3 without torch comes first on PATH.

Command line:
    kres_twin.py check DIR NAME...   compare against files written by
                                     `test_kres --twin-dump DIR` (see tests/twin_test.sh)
    kres_twin.py summary FILE        load a checkpoint and print its tensors and config
    kres_twin.py time [--preset 100hz|400hz] [--batch B] [--steps N] [--threads T]
                                     seconds per training step (forward + backward) on CPU
"""
import argparse
import json
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_CONFIG = {
    "in_leads": 12, "in_len": 1024, "stem_width": 64, "kernel": 17,
    "widths": [128, 196, 256, 320], "downsample": 4, "dropout": 0.2, "n_outputs": 1,
    "proj_hidden": 320, "proj_dim": 128, "bn_momentum": 0.1, "bn_eps": 1e-5,
}


# ---------------------------------------------------------------------------------------
# The network (kres.h): stem, residual units, global average pool, head, projection.

class Stem(nn.Module):
    """h = relu(bn(conv_K(x))); h is both x_main and x_skip of the first unit."""

    def __init__(self, c):
        super().__init__()
        k = c["kernel"]
        self.conv = nn.Conv1d(c["in_leads"], c["stem_width"], k, padding=(k - 1) // 2, bias=False)
        self.bn = nn.BatchNorm1d(c["stem_width"], eps=c["bn_eps"], momentum=c["bn_momentum"])

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Unit(nn.Module):
    """a = dropout(relu(bn1(conv1_K(x_main)))); a = conv2_K_strideS(a)
    s = conv1x1(maxpool_S(x_skip))   (the 1x1 only where the width changes)
    x_skip = a + s;  x_main = dropout(relu(bn2(x_skip)))"""

    def __init__(self, c, win, w):
        super().__init__()
        k, s = c["kernel"], c["downsample"]
        eps, mom = c["bn_eps"], c["bn_momentum"]
        self.stride, self.p = s, c["dropout"]
        self.conv1 = nn.Conv1d(win, w, k, padding=(k - 1) // 2, bias=False)
        self.bn1 = nn.BatchNorm1d(w, eps=eps, momentum=mom)
        self.conv2 = nn.Conv1d(w, w, k, stride=s, padding=(k - 1) // 2, bias=False)
        self.skip = nn.Conv1d(win, w, 1, bias=False) if win != w else None
        self.bn2 = nn.BatchNorm1d(w, eps=eps, momentum=mom)

    def forward(self, x_main, x_skip):
        a = F.dropout(F.relu(self.bn1(self.conv1(x_main))), self.p, self.training)
        a = self.conv2(a)
        s = F.max_pool1d(x_skip, self.stride)
        if self.skip is not None:
            s = self.skip(s)
        x_skip = a + s
        x_main = F.dropout(F.relu(self.bn2(x_skip)), self.p, self.training)
        return x_main, x_skip


class Proj(nn.Module):
    """z = fc2(relu(fc1(e))): the contrastive projection head."""

    def __init__(self, e, h, p):
        super().__init__()
        self.fc1 = nn.Linear(e, h)
        self.fc2 = nn.Linear(h, p)

    def forward(self, e):
        return self.fc2(F.relu(self.fc1(e)))


class KRes(nn.Module):
    def __init__(self, config=None):
        super().__init__()
        c = dict(DEFAULT_CONFIG)
        c.update(config or {})
        self.config = c
        self.stem = Stem(c)
        widths = c["widths"]
        ins = [c["stem_width"]] + widths[:-1]
        self.units = nn.ModuleList(Unit(c, win, w) for win, w in zip(ins, widths))
        e = widths[-1]
        self.head = nn.Linear(e, c["n_outputs"]) if c["n_outputs"] > 0 else None
        self.proj = Proj(e, c["proj_hidden"], c["proj_dim"]) if c["proj_hidden"] > 0 else None

    def forward(self, x):
        h = self.stem(x)
        x_main, x_skip = h, h
        for unit in self.units:
            x_main, x_skip = unit(x_main, x_skip)
        e = x_main.mean(dim=2)
        out = {"embed": e}
        if self.head is not None:
            out["logits"] = self.head(e)
        if self.proj is not None:
            out["proj"] = self.proj(e)
        return out


# ---------------------------------------------------------------------------------------
# safetensors without the safetensors package: u64 header length, JSON header, raw data.

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
           "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}


def read_safetensors(path):
    """Return ({name: torch.Tensor}, {metadata key: value}) from a safetensors file."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", buf[:8])
    if 8 + n > len(buf):
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    data = memoryview(buf)[8 + n:]
    tensors = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = np.dtype(_DTYPES[info["dtype"]])
        arr = np.frombuffer(data[b:e], dtype=dt).reshape(info["shape"])
        tensors[name] = torch.from_numpy(arr.astype(dt.newbyteorder("=")).copy())
    return tensors, meta


def load_kres_safetensors(path):
    """Build the twin from the file's kres_config and load every parameter and buffer by
    name. Returns (model, metadata). Extra tensors in the file (e.g. a probe) are ignored;
    a missing or misshapen model tensor is an error."""
    tensors, meta = read_safetensors(path)
    if "kres_config" not in meta:
        raise ValueError(f"{path}: no kres_config in __metadata__")
    model = KRes(json.loads(meta["kres_config"]))
    state = model.state_dict()
    for name, t in state.items():
        if name.endswith("num_batches_tracked"):
            continue  # PyTorch bookkeeping, not part of kres's table
        if name not in tensors:
            raise ValueError(f"{path}: missing tensor {name}")
        if tuple(tensors[name].shape) != tuple(t.shape):
            raise ValueError(f"{path}: {name} has shape {tuple(tensors[name].shape)}, "
                             f"the model needs {tuple(t.shape)}")
        with torch.no_grad():
            t.copy_(tensors[name].to(t.dtype))
    return model, meta


# ---------------------------------------------------------------------------------------
# Cross-check against test_kres --twin-dump output.

def rel_err(a, b):
    """max |a - b| / max |b|: the error relative to the tensor's scale."""
    a, b = a.detach().double(), b.detach().double()
    scale = b.abs().max().item()
    return (a - b).abs().max().item() / max(scale, 1e-12)


class Tally:
    def __init__(self):
        self.passed = self.failed = 0
        self.worst = {}

    def check(self, group, what, err, tol):
        self.worst[group] = max(self.worst.get(group, 0.0), err)
        if err <= tol:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {what}: relative error {err:.3e} > {tol:g}", file=sys.stderr)


def check_one(d, name, tally, out_tol=1e-4, grad_tol=1e-3):
    torch.manual_seed(0)
    model, _ = load_kres_safetensors(f"{d}/{name}.safetensors")
    io, _ = read_safetensors(f"{d}/{name}.io.safetensors")
    if model.config["dropout"] != 0:
        raise ValueError("the twin check needs dropout 0 (masks cannot be matched)")
    x = io["input"]
    # Training mode: batch statistics, running-statistic updates, one backward step.
    model.train()
    out = model(x)
    loss = 0
    for key, r in (("logits", "R1"), ("proj", "R2"), ("embed", "R3")):
        if key in out:
            tally.check("train outputs", f"{name} train.{key}", rel_err(out[key], io["train." + key]), out_tol)
            loss = loss + (out[key] * io[r]).sum()
    loss.backward()
    for pname, p in model.named_parameters():
        tally.check("param grads", f"{name} grad.{pname}", rel_err(p.grad, io["grad." + pname]), grad_tol)
    for bname, b in model.named_buffers():
        if not bname.endswith("num_batches_tracked"):
            tally.check("running stats", f"{name} after.{bname}", rel_err(b, io["after." + bname]), out_tol)
    # Inference mode, with the running statistics that step left behind.
    model.eval()
    with torch.no_grad():
        out = model(x)
    for key in ("logits", "proj", "embed"):
        if key in out:
            tally.check("eval outputs", f"{name} eval.{key}", rel_err(out[key], io["eval." + key]), out_tol)


def cmd_check(args):
    tally = Tally()
    for name in args.names:
        check_one(args.dir, name, tally)
    for group, err in tally.worst.items():
        print(f"twin: worst relative error, {group}: {err:.2e}")
    print(f"{tally.passed} passed, {tally.failed} failed")
    return 1 if tally.failed else 0


def cmd_summary(args):
    model, meta = load_kres_safetensors(args.file)
    print("config:", json.dumps(model.config))
    for k, v in meta.items():
        if k != "kres_config":
            print(f"meta {k}: {v[:120]}")
    n = sum(p.numel() for p in model.parameters())
    for pname, t in model.state_dict().items():
        print(f"  {pname:40s} {tuple(t.shape)}")
    print(f"parameters: {n}")
    return 0


def cmd_time(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = dict(DEFAULT_CONFIG)
    if args.preset == "400hz":
        cfg["in_len"] = 4096
    model = KRes(cfg)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(args.batch, cfg["in_leads"], cfg["in_len"])
    y = (torch.rand(args.batch, 1) > 0.5).float()
    times = []
    for step in range(args.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(x)["logits"], y)
        loss.backward()
        opt.step()
        if step > 0:  # the first step pays for allocation and warm-up
            times.append(time.perf_counter() - t0)
    print(json.dumps({"framework": f"torch {torch.__version__}", "threads": args.threads,
                      "batch": args.batch, "in_len": cfg["in_len"],
                      "seconds_per_step": float(np.median(times))}))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch twin of the KRes network")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="compare against test_kres --twin-dump output")
    c.add_argument("dir")
    c.add_argument("names", nargs="+")
    s = sub.add_parser("summary", help="load a kres checkpoint and list its tensors")
    s.add_argument("file")
    t = sub.add_parser("time", help="seconds per training step on CPU")
    t.add_argument("--preset", choices=["100hz", "400hz"], default="100hz")
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--steps", type=int, default=5)
    t.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    return {"check": cmd_check, "summary": cmd_summary, "time": cmd_time}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
