#!/usr/bin/env python3
"""summarize.py RESULTS.jsonl - the table of bench/run.sh (no third-party modules).

For each label (e.g. "train kres dnnl fp32") the median over rounds of the per-process
medians; samples/s, GFLOP/s (conv + linear FLOPs; training counted as 3x the forward),
the share of the measured sgemm rate, peak RSS, and the ratio to PyTorch fp32 of the same
mode (throughput ratio for train/infer, latency ratio for latency, RSS ratio). Then, per
label, the same ratio round by round: each round runs kres and PyTorch back to back, so
these paired ratios show how much of the spread is the machine's phase rather than either
program."""
import json
import statistics
import sys


def main(path):
    rows, machine, end, acc = {}, {}, {}, []
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        d = json.loads(line)
        if d.get("mode") == "machine":
            machine = d
        elif d.get("mode") == "machine_end":
            end = d
        elif d.get("mode") == "accuracy":
            acc.append(d)
        elif "label" in d:
            rows.setdefault(d["label"], []).append(d)

    def med(label, key):
        v = [r[key] for r in rows.get(label, []) if key in r]
        return statistics.median(v) if v else None

    print(f"machine: {machine.get('cpu', '?')}; flags: {machine.get('flags', '').strip()}; "
          f"{machine.get('cpus', '?')} cpus; threads {machine.get('threads')}, batch "
          f"{machine.get('batch')}, {machine.get('reps')} reps after {machine.get('warmup')} "
          f"warm-up, {machine.get('rounds')} rounds")
    print(f"libraries: oneDNN {machine.get('onednn')}, OpenBLAS {machine.get('openblas')}, "
          f"torch {machine.get('torch')}; OPENBLAS_CORETYPE='{machine.get('openblas_coretype', '')}'")
    print(f"load average (1/5/15 min): before {machine.get('load_before')}, "
          f"after {end.get('load_after', '?')}")
    gemm_n = f"gemm sgemm {machine.get('threads')}t"
    g_mt, g_1t = med(gemm_n, "gflops"), med("gemm sgemm 1t", "gflops")
    if g_mt:
        cfg = rows[gemm_n][0]
        print(f"libraries loaded by kres: {cfg.get('openblas_config', '?')}; oneDNN "
              f"{cfg.get('onednn', '?')}")
        print(f"sgemm 1024^3 (OpenBLAS): {g_mt:.1f} GFLOP/s at {machine.get('threads')} threads, "
              f"{g_1t or 0:.1f} GFLOP/s at 1 thread")
    print()
    hdr = f"{'measurement':28s} {'median s':>9s} {'samples/s':>10s} {'GFLOP/s':>8s} " \
          f"{'% gemm':>7s} {'RSS MiB':>8s} {'vs torch fp32':>14s} {'RSS ratio':>9s}"
    print(hdr)
    print("-" * len(hdr))
    for mode in ("train", "infer", "latency"):
        base = f"{mode} torch fp32"
        bs, brss = med(base, "seconds"), med(base, "peak_rss_mib")
        labels = sorted(l for l in rows if l.startswith(mode + " "))
        for label in labels:
            s, sps = med(label, "seconds"), med(label, "samples_per_s")
            gf, rss = med(label, "gflops"), med(label, "peak_rss_mib")
            peak = g_1t if mode == "latency" else g_mt
            pct = f"{100 * gf / peak:6.0f}%" if gf and peak else "      -"
            ratio = f"{bs / s:13.2f}x" if bs and s else "             -"
            rr = f"{rss / brss:8.2f}x" if brss and rss else "        -"
            print(f"{label:28s} {s:9.4f} {sps:10.1f} {gf:8.1f} {pct} {rss:8.0f} {ratio} {rr}")
        print()
    print("vs torch fp32: how many times faster (train/infer: samples/s ratio; latency: time "
          "ratio). RSS ratio below 1: kres uses less memory.")
    per_round = []
    for mode in ("train", "infer", "latency"):
        base = {r["round"]: r["seconds"] for r in rows.get(f"{mode} torch fp32", [])}
        for label in sorted(l for l in rows if l.startswith(mode + " ") and l != f"{mode} torch fp32"):
            rr = [base[r["round"]] / r["seconds"] for r in sorted(rows[label], key=lambda r: r["round"])
                  if r["round"] in base and r.get("seconds")]
            if len(rr) > 1:
                per_round.append(f"  {label:28s} {' '.join(f'{x:.2f}' for x in rr)}"
                                 f"  (median {statistics.median(rr):.2f}x)")
    if per_round:
        print("\nvs torch fp32 round by round (each round runs both back to back):")
        print("\n".join(per_round))
    for a in acc:
        print(f"accuracy {a['precision']}: {a['steps']} steps, validation loss {a['val_loss']:.4f}, "
              f"AUC {a['val_auc']:.4f} ({a['train_seconds']:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1])
