#!/usr/bin/env bash
# accuracy_sample.sh — issue 5's accuracy check on real data: train the same KRes classifier
# on the bundled PTB-XL sample twice, KRES_PRECISION=fp32 and KRES_PRECISION=bf16, with the
# same seed, split and thread count, and print both validation curves (train loss, fold-9
# loss and AUC per epoch) and both fold-10 AUCs side by side.
#
#   bash bench/accuracy_sample.sh            # after `make`; EPOCHS=8 THREADS=2 by default
#   EPOCHS=20 DATA=/path/to/ptbxl OUT=runs/acc bash bench/accuracy_sample.sh
#   TRAIN_ARGS="--model-config tiny.json --preprocess pre.json" ...   # more `kres train` flags
#
# On a CPU without native bf16 (AVX512-BF16 or AMX) kres runs the bf16 request in fp32 and
# says so; the script then reports that both curves are fp32 and checks that they are
# identical (same seed, same thread count: the same bits), which is itself a useful check.
# Writes $OUT/curves.tsv (epoch, then train loss / val loss / val AUC per precision), each
# side's fold-10 scores ($OUT/<precision>.scores.csv) and their paired DeLong comparison
# ($OUT/compare.txt, also printed); exits
# 1 if a run fails or, without native bf16, if the two curves differ.
set -euo pipefail
BUILD=${BUILD:-build}
KRES=${KRES:-$BUILD/kres}
DATA=${DATA:-data/ptbxl-sample}
OUT=${OUT:-$BUILD/accuracy-sample}
EPOCHS=${EPOCHS:-8}
THREADS=${THREADS:-2}
BATCH=${BATCH:-32}
SEED=${SEED:-1}
read -r -a EXTRA <<< "${TRAIN_ARGS:-}"
[ -x "$KRES" ] || { echo "accuracy_sample: $KRES not built (run make)" >&2; exit 2; }
mkdir -p "$OUT"

for prec in fp32 bf16; do
    rm -f "$OUT/$prec.safetensors" "$OUT/$prec.log.jsonl"
    KRES_PRECISION=$prec "$KRES" train --data "$DATA" --out "$OUT/$prec.safetensors" \
        --log "$OUT/$prec.log.jsonl" --epochs "$EPOCHS" --batch "$BATCH" --seed "$SEED" \
        --threads "$THREADS" --quiet "${EXTRA[@]}" > "$OUT/$prec.train.txt" 2> "$OUT/$prec.stderr" || {
        echo "accuracy_sample: training with $prec failed:" >&2
        cat "$OUT/$prec.stderr" >&2
        exit 1
    }
    KRES_PRECISION=$prec "$KRES" eval --model "$OUT/$prec.safetensors" --data "$DATA" --json \
        --scores-out "$OUT/$prec.scores.csv" > "$OUT/$prec.eval.json" 2>> "$OUT/$prec.stderr"
done

native=yes
grep -q 'no native bf16' "$OUT/bf16.stderr" && native=no

# The epoch lines of each training log (kres writes the keys in this order), as
# "epoch train_loss val_loss val_auc"; plain awk, so nothing beyond the base system is needed.
curve() {
    awk 'index($0, "\"event\":\"epoch\"") {
        n = split($0, f, /[,{}]/); ep = tl = vl = va = ""
        for (i = 1; i <= n; i++) {
            split(f[i], kv, ":")
            if (kv[1] == "\"epoch\"") ep = kv[2]
            else if (kv[1] == "\"train_loss\"") tl = kv[2]
            else if (kv[1] == "\"val_loss\"") vl = kv[2]
            else if (kv[1] == "\"val_auc\"") va = kv[2]
        }
        print ep, tl, vl, va
    }' "$OUT/$1.log.jsonl"
}
test_auc() { sed -n 's/.*"auc":\([^,]*\),.*/\1/p' "$OUT/$1.eval.json" | head -1; }
curve fp32 > "$OUT/fp32.curve"
curve bf16 > "$OUT/bf16.curve"
# both runs have the same epochs, in order: side by side line by line
both() { cut -d' ' -f2- "$OUT/bf16.curve" | paste -d' ' "$OUT/fp32.curve" -; }
{
    printf 'epoch\tfp32_train_loss\tfp32_val_loss\tfp32_val_auc\tbf16_train_loss\tbf16_val_loss\tbf16_val_auc\n'
    both | tr ' ' '\t'
} > "$OUT/curves.tsv"
echo "epoch  fp32: train loss  val loss  val AUC | bf16: train loss  val loss  val AUC"
both |
    awk '{ printf "%5d  %16.4f %9.4f %8.4f | %16.4f %9.4f %8.4f\n", $1, $2, $3, $4, $5, $6, $7 }'
echo "fold-10 AUC: fp32 $(test_auc fp32), bf16 $(test_auc bf16)"
# the two models on the same fold-10 ECGs: paired DeLong test of the AUC difference
"$KRES" eval --scores "$OUT/bf16.scores.csv" --compare "$OUT/fp32.scores.csv" > "$OUT/compare.txt"
echo "fold 10, bf16 - fp32 (paired DeLong): $(sed -n 's/^A - B  *//p' "$OUT/compare.txt"), p $(sed -n 's/^p  *\([^ ]*\).*/\1/p' "$OUT/compare.txt")"
if [ $native = no ]; then
    same=NO
    cmp -s "$OUT/fp32.curve" "$OUT/bf16.curve" && same=yes
    echo "no native bf16 on this CPU: both runs are fp32; curves identical: $same"
    [ $same = yes ]
fi
