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
# Writes $OUT/curves.tsv (epoch, then train loss / val loss / val AUC per precision); exits
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
        > "$OUT/$prec.eval.json" 2>> "$OUT/$prec.stderr"
done

native=yes
grep -q 'no native bf16' "$OUT/bf16.stderr" && native=no

python3 - "$OUT" "$native" <<'PY'
import json, sys
out, native = sys.argv[1], sys.argv[2]
def curve(prec):
    rows = {}
    for line in open(f"{out}/{prec}.log.jsonl"):
        e = json.loads(line)
        if e.get("event") == "epoch":
            rows[e["epoch"]] = (e["train_loss"], e["val_loss"], e["val_auc"])
    return rows
def test_auc(prec):
    d = json.load(open(f"{out}/{prec}.eval.json"))
    return d.get("auc", d.get("metrics", {}).get("auc"))
a, b = curve("fp32"), curve("bf16")
with open(f"{out}/curves.tsv", "w") as f:
    f.write("epoch\tfp32_train_loss\tfp32_val_loss\tfp32_val_auc\tbf16_train_loss\tbf16_val_loss\tbf16_val_auc\n")
    print("epoch  fp32: train loss  val loss  val AUC | bf16: train loss  val loss  val AUC")
    for ep in sorted(a):
        x, y = a[ep], b.get(ep, (float("nan"),) * 3)
        f.write(f"{ep}\t" + "\t".join(f"{v:.6g}" for v in x + y) + "\n")
        print(f"{ep:5d}  {x[0]:16.4f} {x[1]:9.4f} {x[2]:8.4f} | {y[0]:16.4f} {y[1]:9.4f} {y[2]:8.4f}")
print(f"fold-10 AUC: fp32 {test_auc('fp32')}, bf16 {test_auc('bf16')}")
if native == "no":
    same = a == b
    print("no native bf16 on this CPU: both runs are fp32; curves identical:", "yes" if same else "NO")
    sys.exit(0 if same else 1)
PY
