#!/usr/bin/env bash
# bench/throughput.sh — end-to-end throughput of the supervised pipeline (not a test):
#   training   'kres train' ECGs/s over all epochs: loading + preprocessing (cached after the
#              first epoch) + forward + backward + AdamW step, from the run's JSON result
#   inference  'kres eval --model' ECGs/s on fold 10 (checkpoint load, reading and
#              preprocessing every record, forward passes, metrics), wall clock
#   peak RSS   of each process (GNU time), the machine's load average before and after
# Default model (6.9 M parameters), 100 Hz, batch 64, 2 threads.
#
#   bench/throughput.sh                      # build/kres on data/ptbxl-sample
#   KRES=build-x/kres DATA=/path/ptbxl THREADS=4 EPOCHS=1 bench/throughput.sh
set -euo pipefail
KRES=${KRES:-build/kres}
DATA=${DATA:-data/ptbxl-sample}
THREADS=${THREADS:-2}
EPOCHS=${EPOCHS:-2}
BATCH=${BATCH:-64}
[ -x "$KRES" ] || { echo "bench/throughput.sh: $KRES not built (make)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench/throughput.sh: needs GNU time (/usr/bin/time)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

field() { grep -o "\"$1\":[^,}]*" "$2" | head -n 1 | cut -d: -f2; }
rss_mib() { awk '/Maximum resident set size/ {printf "%.0f", $NF / 1024}' "$1"; }

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (before)"
echo "kres train: default model, batch $BATCH, $THREADS threads, $EPOCHS epochs on $DATA ..."
/usr/bin/time -v "$KRES" train --data "$DATA" --out "$out/m.safetensors" --epochs "$EPOCHS" \
    --batch "$BATCH" --threads "$THREADS" --quiet --json >"$out/train.json" 2>"$out/train.time"
ntrain=$(field ntrain "$out/train.json")
printf 'training   %8.1f ECG/s  (%s records x %s epochs, %.0f s in all)  peak RSS %s MiB\n' \
    "$(field train_samples_per_s "$out/train.json")" "$ntrain" "$EPOCHS" \
    "$(field total_seconds "$out/train.json")" "$(rss_mib "$out/train.time")"

t0=$(date +%s.%N)
OMP_NUM_THREADS=$THREADS /usr/bin/time -v "$KRES" eval --model "$out/m.safetensors" --data "$DATA" \
    --json >"$out/eval.json" 2>"$out/eval.time"
t1=$(date +%s.%N)
n=$(field n "$out/eval.json")
printf 'inference  %8.1f ECG/s  (%s records of fold 10, %.1f s wall incl. loading)  peak RSS %s MiB\n' \
    "$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN {print n / (b - a)}')" "$n" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" "$(rss_mib "$out/eval.time")"
printf 'validation %8.1f ECG/s  (inside kres train, batch %s)\n' "$(field infer_samples_per_s "$out/train.json")" "$BATCH"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) (after)"
