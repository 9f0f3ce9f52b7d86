#!/usr/bin/env bash
# bench/run.sh — kres against its PyTorch twin on this CPU, back to back (`make bench`).
#
# Measures, for kres (fast and dnnl backends; bf16 too where the CPU has it) and for the
# twin (bench/kres_twin.py, same architecture and sizes):
#   train    samples/s of forward + backward + AdamW at batch $BATCH, 12 x 1024, $THREADS threads
#   infer    samples/s of inference at batch $BATCH, $THREADS threads
#   latency  seconds per single-ECG inference on one thread
# and the peak RSS of each (one process per measurement), then prints the kres/PyTorch
# ratios. Every process does $WARMUP untimed and $REPS timed repetitions and reports the
# median; the whole list runs $ROUNDS times, interleaved (kres, torch, kres, torch, ...) so
# that load from other jobs hits both alike; the table shows the median over rounds.
# Both sides get the same thread settings and CPU affinity (taskset).
#
# Environment: BUILD (build dir, default build), KRES_PYTHON (default /usr/bin/python3),
# THREADS (2), BATCH (64), REPS (5), WARMUP (1), ROUNDS (2), MODES ("train infer latency"),
# BENCH_OUT (results folder, default $BUILD/bench), ACCURACY=1 adds the bf16-vs-fp32 training
# check (only meaningful where bf16 is native), KRES_LIB_PATH (an LD_LIBRARY_PATH for the kres
# binary only, e.g. libraries carried to a machine without them; PyTorch keeps its own),
# FAST=0 skips the fast backend (short runs).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${KRES_PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-2}
BATCH=${BATCH:-64}
REPS=${REPS:-5}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-2}
MODES=${MODES:-train infer latency}
OUT=${BENCH_OUT:-$BUILD/bench}
BIN=$BUILD/bench_kres
KENV=()
[ -n "${KRES_LIB_PATH:-}" ] && KENV=(env "LD_LIBRARY_PATH=$KRES_LIB_PATH")

if ! "$PY" -c "import torch, numpy" >/dev/null 2>&1; then
    echo "bench: $PY cannot import torch; installing it (scripts/setup.sh --bench)"
    bash scripts/setup.sh --bench
fi
[ -x "$BIN" ] || make BUILD="$BUILD" "$BIN"
mkdir -p "$OUT"
RES=$OUT/results.jsonl
: > "$RES"

# Same CPUs for everybody: the first $THREADS (or all of them, if fewer).
NCPU=$(nproc)
[ "$THREADS" -gt "$NCPU" ] && THREADS=$NCPU
PIN=""
PIN1=""
if command -v taskset >/dev/null 2>&1 && taskset -c 0 true 2>/dev/null; then
    PIN="taskset -c 0-$((THREADS - 1))"
    PIN1="taskset -c 0"
fi

CORETYPE_SET=${OPENBLAS_CORETYPE:-}
# OpenBLAS 0.3.21's runtime dispatch does not know every CPU (under some hypervisors it saw
# a Sapphire Rapids as "Prescott" and ran a generic SSE3 kernel at 1/8 speed). Where it
# reports such a core on a CPU with AVX2/AVX-512, name the right one for kres's OpenBLAS
# (the fast backend; PyTorch brings its own BLAS). An OPENBLAS_CORETYPE already set wins.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    core=$("${KENV[@]}" "$BIN" --mode gemm --reps 1 --warmup 0 --gemm-n 64 2>/dev/null | sed -E 's/.*DYNAMIC_ARCH NO_AFFINITY ([A-Za-z0-9]+) .*/\1/')
    want=""
    if grep -qw avx512f /proc/cpuinfo; then want=SkylakeX; elif grep -qw avx2 /proc/cpuinfo; then want=Haswell; fi
    case "$core" in
        Prescott|Core2|Penryn|Dunnington|Nehalem|Katmai|Coppermine|Northwood|Atom|Banias)
            if [ -n "$want" ]; then
                echo "bench: OpenBLAS detected core '$core' on a CPU with $want-class SIMD: OPENBLAS_CORETYPE=$want for kres"
                KENV=(env "OPENBLAS_CORETYPE=$want" "${KENV[@]}")
                CORETYPE_SET="$want (set by bench/run.sh: OpenBLAS saw $core)"
            fi ;;
    esac
fi

# Machine facts into the results (the summary prints them).
{
    model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
    flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512_bf16|amx_bf16|amx_tile)$' | tr '\n' ' ')
    dnnl=$(dpkg-query -W -f='${Version}' libdnnl2 2>/dev/null || echo "?")
    oblas=$(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo "?")
    torchv=$("$PY" -c "import torch; print(torch.__version__)" 2>/dev/null || echo "?")
    [ -n "${KRES_LIB_PATH:-}" ] && dnnl="$dnnl (carried)" && oblas="$oblas (carried)"
    printf '{"mode": "machine", "cpu": "%s", "flags": "%s", "cpus": %d, "threads": %d, "batch": %d, "reps": %d, "warmup": %d, "rounds": %d, "onednn": "%s", "openblas": "%s", "torch": "%s", "openblas_coretype": "%s", "load_before": "%s"}\n' \
        "$model" "$flags" "$NCPU" "$THREADS" "$BATCH" "$REPS" "$WARMUP" "$ROUNDS" "$dnnl" "$oblas" "$torchv" \
        "$CORETYPE_SET" "$(cut -d' ' -f1-3 /proc/loadavg)"
} >> "$RES"

BF16=0
if "${KENV[@]}" "$BIN" --mode infer --backend dnnl --precision auto --batch 1 --reps 1 --warmup 0 --len 256 2>&1 \
        | grep -q 'precision auto -> bf16'; then
    BF16=1
fi
echo "bench: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $NCPU cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench: bf16 native: $([ $BF16 = 1 ] && echo yes || echo 'no (kres runs fp32 only; see docs/performance.md)')"

# One measurement: a labelled JSON line appended to the results (stderr kept in a log).
run() { # label round cmd...
    local label=$1 round=$2
    shift 2
    local line
    if line=$("$@" 2>>"$OUT/stderr.log" | tail -n 1) && [ -n "$line" ]; then
        echo "$line" | sed "s/^{/{\"label\": \"$label\", \"round\": $round, /" >> "$RES"
        echo "  $label: $(echo "$line" | sed -E 's/.*"seconds": ([0-9.]+).*/\1 s/')"
    else
        echo "  $label: FAILED (see $OUT/stderr.log)"
    fi
}

# GEMM peak for the GFLOP/s comparison.
export OMP_NUM_THREADS=$THREADS
run "gemm sgemm ${THREADS}t" 0 $PIN "${KENV[@]}" "$BIN" --mode gemm --reps "$REPS" --warmup "$WARMUP"
OMP_NUM_THREADS=1 run "gemm sgemm 1t" 0 $PIN1 "${KENV[@]}" "$BIN" --mode gemm --reps "$REPS" --warmup "$WARMUP"

for round in $(seq 1 "$ROUNDS"); do
    echo "bench: round $round of $ROUNDS (load $(cut -d' ' -f1-3 /proc/loadavg))"
    for mode in $MODES; do
        if [ "$mode" = latency ]; then t=1; pin=$PIN1; else t=$THREADS; pin=$PIN; fi
        k=(--mode "$mode" --batch "$BATCH" --reps "$REPS" --warmup "$WARMUP")
        p=(--mode "$mode" --batch "$BATCH" --reps "$REPS" --warmup "$WARMUP" --threads "$t")
        export OMP_NUM_THREADS=$t
        [ "${FAST:-1}" = 0 ] ||
            run "$mode kres fast fp32" "$round" $pin "${KENV[@]}" "$BIN" "${k[@]}" --backend fast --precision fp32
        run "$mode torch fp32" "$round" $pin "$PY" bench/twin_bench.py "${p[@]}"
        run "$mode kres dnnl fp32" "$round" $pin "${KENV[@]}" "$BIN" "${k[@]}" --backend dnnl --precision fp32
        if [ $BF16 = 1 ]; then
            run "$mode torch bf16" "$round" $pin "$PY" bench/twin_bench.py "${p[@]}" --bf16
            run "$mode kres dnnl bf16" "$round" $pin "${KENV[@]}" "$BIN" "${k[@]}" --backend dnnl --precision bf16
        fi
    done
done
if [ "${ACCURACY:-0}" = 1 ]; then
    export OMP_NUM_THREADS=$THREADS
    "${KENV[@]}" "$BIN" --mode accuracy --len 256 --batch 32 --steps "${ACC_STEPS:-60}" 2>>"$OUT/stderr.log" \
        | sed 's/^{/{"label": "accuracy", "round": 0, /' >> "$RES" || true
fi
printf '{"mode": "machine_end", "load_after": "%s"}\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >> "$RES"
"$PY" bench/summarize.py "$RES" | tee "$OUT/summary.txt"
