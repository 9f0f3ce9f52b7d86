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
finish
