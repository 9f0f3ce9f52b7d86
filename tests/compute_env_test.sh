#!/usr/bin/env bash
# compute_env_test.sh — KRES_BACKEND / KRES_PRECISION: bad values are usage errors, the three
# backends give the same predictions for the same model (the fast paths agree with the naive
# reference end to end), and bf16 falls back to fp32 with a note where the CPU lacks it.
. "$(dirname "$0")/lib.sh"

D=data/ptbxl-sample
R=$D/records100/00000
write_tiny_json
write_pre_json
M=$TMP/m.safetensors

expect_exit 2 "bad KRES_BACKEND" -- env KRES_BACKEND=gpu "$KRES" model
check "bad backend message names the variable" grep -q 'KRES_BACKEND' "$TMP/err"
expect_exit 2 "bad KRES_PRECISION" -- env KRES_PRECISION=fp8 "$KRES" model
check "bad precision message names the variable" grep -q 'KRES_PRECISION' "$TMP/err"

expect_exit 0 "train tiny (default dnnl backend)" -- "$KRES" train --data "$D" --out "$M" \
    --model-config "$TMP/tiny.json" --preprocess "$TMP/pre.json" --epochs 1 --batch 16 \
    --label-fraction 0.2 --threads 1 --quiet
for be in ref fast dnnl; do
    expect_exit 0 "predict with KRES_BACKEND=$be" -- env KRES_BACKEND=$be "$KRES" predict --model "$M" --csv \
        "$R/00001_lr" "$R/00008_lr" "$R/00050_lr"
    cp "$TMP/out" "$TMP/pred_$be.csv"
done
# Same probabilities (to 1e-4) from every backend; the CSV's probability is in column 2.
agree() {
    paste -d, "$TMP/pred_$1.csv" "$TMP/pred_$2.csv" | awk -F, -v n="$(head -1 "$TMP/pred_$1.csv" | tr ',' '\n' | wc -l)" '
        NR > 1 { d = $2 - $(n + 2); if (d < 0) d = -d; if (d > 1e-4) bad = 1; rows++ }
        END { exit (bad || rows != 3) }'
}
check "fast backend agrees with the reference" agree ref fast
check "dnnl backend agrees with the reference" agree ref dnnl

if grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo; then
    expect_exit 0 "bf16 predict where the CPU has bf16" -- env KRES_PRECISION=bf16 "$KRES" predict --model "$M" --csv "$R/00001_lr"
else
    expect_exit 0 "bf16 asked on a CPU without it still runs" -- env KRES_PRECISION=bf16 "$KRES" predict --model "$M" --csv "$R/00001_lr"
    check "and says it uses fp32" grep -q 'no native bf16.*fp32' "$TMP/err"
fi
finish
