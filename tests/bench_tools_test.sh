#!/bin/bash
# bench_tools_test.sh — the benchmark tools build and run (tiny sizes; no timing is judged):
# bench_kres prints one JSON line per measurement, layer_profile one line per layer call.
. "$(dirname "$0")/lib.sh"
BIN=$(dirname "$KRES")
BK=$BIN/bench_kres; LP=$BIN/layer_profile
check "bench_kres built" test -x "$BK"
check "layer_profile built" test -x "$LP"

for mode in latency infer train; do
    expect_exit 0 "bench_kres $mode" -- env OMP_NUM_THREADS=1 "$BK" --mode $mode --backend dnnl \
        --batch 2 --len 256 --warmup 0 --reps 1
    check "bench_kres $mode: JSON with seconds" grep -q '"seconds": [0-9]' "$TMP/out"
    check "bench_kres $mode: mode echoed" grep -q "\"mode\": \"$mode\"" "$TMP/out"
done
expect_exit 2 "bench_kres bad mode" -- "$BK" --mode nonsense
expect_exit 0 "layer_profile" -- env OMP_NUM_THREADS=1 "$LP" --reps 1
# default KRes: stem + 4 units x (conv1, conv2, skip) = 13 convolutions per forward
check "layer_profile: 13 convolutions" test "$(grep -c ' conv ' "$TMP/out")" -eq 13
check "layer_profile: total line" grep -q '^total [0-9.]* ms per forward' "$TMP/out"
expect_exit 2 "layer_profile bad option" -- "$LP" --bogus 1

# accuracy_sample.sh: both precisions train on the sample (a tiny model, one epoch) and it
# prints both curves; without native bf16 both are fp32 and must be the same bits.
write_tiny_json
write_pre_json
expect_exit 0 "accuracy_sample.sh" -- env KRES="$KRES" OUT="$TMP/acc" EPOCHS=1 THREADS=1 BATCH=16 \
    TRAIN_ARGS="--model-config $TMP/tiny.json --preprocess $TMP/pre.json --label-fraction 0.3" \
    bash bench/accuracy_sample.sh
check "accuracy_sample: both curves printed" grep -q '^    1 .* | ' "$TMP/out"
check "accuracy_sample: fold-10 AUCs" grep -q '^fold-10 AUC: fp32 [0-9.]*, bf16 [0-9.]*' "$TMP/out"
check "accuracy_sample: curves.tsv" test "$(wc -l < "$TMP/acc/curves.tsv")" -eq 2
check "accuracy_sample: paired comparison of the fold-10 scores" \
    grep -q '^fold 10, bf16 - fp32 (paired DeLong): [+-][0-9.]* .*, p [0-9.]*$' "$TMP/out"
check "accuracy_sample: scores written" test "$(wc -l < "$TMP/acc/fp32.scores.csv")" -eq 46
if ! grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo; then
    check "accuracy_sample: identical without bf16" grep -q 'curves identical: yes' "$TMP/out"
fi

# avx512_check.sh: on a CPU without AVX-512 it says so and stops; FORCE=1 runs every step
# (both sides the AVX2 build then) on tiny sizes, so that the script cannot rot.
if ! grep -q ' avx512f ' /proc/cpuinfo; then
    expect_exit 0 "avx512_check.sh without AVX-512" -- env BUILD="$BIN" bash bench/avx512_check.sh
    check "avx512_check: says there is nothing to compare" grep -q 'no AVX-512F+VL; nothing to compare' "$TMP/out"
fi
expect_exit 0 "avx512_check.sh, every step" -- env FORCE=1 BUILD="$BIN" ROUNDS=2 LAT_REPS=1 INFER_REPS=1 \
    BATCH=2 LEN=256 THREADS=1 bash bench/avx512_check.sh
check "avx512_check: bit-for-bit test passed" grep -q '^[0-9]* passed, 0 failed' "$TMP/out"
check "avx512_check: names each side's kernel build" grep -q '^KRES_AVX512_KERNELS=1: own kernels avx' "$TMP/out"
if ! grep -q ' avx512vl ' /proc/cpuinfo; then # the switch is ignored without AVX-512F+VL
    check "avx512_check: KRES_AVX512_KERNELS=1 ignored here" grep -q '^KRES_AVX512_KERNELS=1: own kernels avx2$' "$TMP/out"
fi
check "avx512_check: latency median and ratio" grep -q '^median: avx2 [0-9.]* ms, avx512 [0-9.]* ms: [0-9.]*x$' "$TMP/out"
check "avx512_check: per-layer tables of both" test "$(grep -c '^total [0-9.]* ms per forward' "$TMP/out")" -eq 2
check "avx512_check: inference rounds" test "$(grep -c '^round [12]: default [0-9.]*  own avx512 kernels [0-9.]*$' "$TMP/out")" -eq 2

# summarize.py (bench/run.sh's table) on a made-up two-round result: the ratio of medians
# and the paired per-round ratios. Needs python3; skipped without it.
if command -v python3 >/dev/null 2>&1; then
    cat > "$TMP/res.jsonl" <<'JSONL'
{"mode": "machine", "cpu": "test", "threads": 2, "batch": 64, "reps": 5, "warmup": 1, "rounds": 2}
{"label": "train torch fp32", "round": 1, "mode": "train", "seconds": 2.0, "samples_per_s": 32, "gflops": 60, "peak_rss_mib": 800}
{"label": "train kres dnnl fp32", "round": 1, "mode": "train", "seconds": 1.0, "samples_per_s": 64, "gflops": 120, "peak_rss_mib": 600}
{"label": "train torch fp32", "round": 2, "mode": "train", "seconds": 3.0, "samples_per_s": 21, "gflops": 40, "peak_rss_mib": 800}
{"label": "train kres dnnl fp32", "round": 2, "mode": "train", "seconds": 1.0, "samples_per_s": 64, "gflops": 120, "peak_rss_mib": 600}
{"mode": "machine_end", "load_after": "0"}
JSONL
    expect_exit 0 "summarize.py" -- python3 bench/summarize.py "$TMP/res.jsonl"
    check "summarize: ratio of the medians (2.5 / 1.0)" grep -q '^train kres dnnl fp32 .* 2.50x  *0.75x$' "$TMP/out"
    check "summarize: paired per-round ratios" grep -q '^  train kres dnnl fp32  *2.00 3.00  (median 2.50x)$' "$TMP/out"
else
    echo "bench_tools_test: summarize.py checks skipped: no python3"
fi
finish
