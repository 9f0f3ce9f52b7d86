#!/usr/bin/env bash
# bench/avx512_check.sh — the AVX-512 build of kres's own kernels (nn/simd.h) on a CPU that
# has AVX-512 (not a test; prepared so that one short run on such a machine answers it):
#   1. test_backend: every build of the kernels gives the AVX2 build's bits, the AVX-512
#      build included (it only runs where the CPU has AVX-512F and VL);
#   2. batch-1 latency (1 thread) with KRES_AVX512_KERNELS=0 and =1, interleaved, ROUNDS
#      times, and the median ratio;
#   3. batch-1 per-layer times of both (layer_profile), to see which kernels gained;
#   4. batch-64 inference (THREADS threads) with the own kernels at every batch
#      (KRES_OWN_KERNELS_MAX_BATCH=64) in their AVX-512 build against the default (oneDNN
#      beyond batch 2 on AVX-512 CPUs).
# The AVX-512 build is opt-in (KRES_AVX512_KERNELS=1) until this has run on such a CPU.
#
#   bench/avx512_check.sh                   # build/ binaries (made if missing)
#   BUILD=build-x ROUNDS=5 THREADS=16 OUT=/tmp/o bench/avx512_check.sh
# Smaller runs: LAT_REPS (30), INFER_REPS (5), BATCH (64), LEN (1024). FORCE=1 runs the
# whole script on a CPU without AVX-512 (both sides are then the AVX2 build: for testing
# the script itself).
set -euo pipefail
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-5}
THREADS=${THREADS:-$(nproc)}
OUT=${OUT:-}
LAT_REPS=${LAT_REPS:-30}
INFER_REPS=${INFER_REPS:-5}
BATCH=${BATCH:-64}
LEN=${LEN:-1024}
for b in bench_kres layer_profile tests/test_backend; do
    [ -x "$BUILD/$b" ] || make BUILD="$BUILD" "$BUILD/$b" >/dev/null
done
if [ "${FORCE:-0}" != 1 ] && { ! grep -q ' avx512f ' /proc/cpuinfo || ! grep -q ' avx512vl ' /proc/cpuinfo; }; then
    echo "bench/avx512_check.sh: this CPU has no AVX-512F+VL; nothing to compare (the AVX-512"
    echo "blocking is still checked here, compiled for AVX2, by test_backend)"
    exit 0
fi
log() { if [ -n "$OUT" ]; then tee -a "$OUT/avx512_check.txt"; else cat; fi; }
seconds() { grep -o '"seconds": [0-9.]*' | cut -d' ' -f2; }
latency() {
    OMP_NUM_THREADS=1 "$BUILD/bench_kres" --mode latency --len "$LEN" --reps "$LAT_REPS" --warmup 3 2>/dev/null
}
infer() {
    OMP_NUM_THREADS=$THREADS "$BUILD/bench_kres" --mode infer --batch "$BATCH" --len "$LEN" \
        --reps "$INFER_REPS" --warmup 1 2>/dev/null
}
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo "== 1. test_backend (all kernel builds, bit for bit)" | log
"$BUILD/tests/test_backend" 2>&1 | grep -E 'FAIL|passed|skipped|not run' | log

echo "== 2. batch-1 latency, 1 thread, $ROUNDS interleaved rounds (seconds per forward)" | log
for k in 0 1; do # which build each side runs (bench_kres says it on stderr)
    KRES_AVX512_KERNELS=$k OMP_NUM_THREADS=1 "$BUILD/bench_kres" --mode latency --len "$LEN" --reps 1 \
        --warmup 0 2>&1 >/dev/null | grep -o 'own kernels .*' | sed "s/^/KRES_AVX512_KERNELS=$k: /" | log
done
a2=() a5=()
for r in $(seq "$ROUNDS"); do
    t2=$(KRES_AVX512_KERNELS=0 latency | seconds)
    t5=$(KRES_AVX512_KERNELS=1 latency | seconds)
    a2+=("$t2") a5+=("$t5")
    echo "round $r: avx2 $t2  avx512 $t5" | log
done
m2=$(printf '%s\n' "${a2[@]}" | median) m5=$(printf '%s\n' "${a5[@]}" | median)
awk -v a="$m2" -v b="$m5" 'BEGIN {printf "median: avx2 %.2f ms, avx512 %.2f ms: %.2fx\n", a * 1e3, b * 1e3, a / b}' | log

echo "== 3. batch-1 layers, 1 thread (ms)" | log
for k in 0 1; do
    echo "KRES_AVX512_KERNELS=$k" | log
    KRES_AVX512_KERNELS=$k OMP_NUM_THREADS=1 "$BUILD/layer_profile" --batch 1 --reps "$LAT_REPS" 2>&1 | log
done

echo "== 4. batch-$BATCH inference, $THREADS threads (seconds per batch)" | log
for r in $(seq "$ROUNDS"); do
    d=$(infer | seconds)
    o=$(KRES_AVX512_KERNELS=1 KRES_OWN_KERNELS_MAX_BATCH=$BATCH infer | seconds)
    echo "round $r: default $d  own avx512 kernels $o" | log
done
