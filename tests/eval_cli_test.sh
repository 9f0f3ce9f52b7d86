#!/usr/bin/env bash
# eval_cli_test.sh — 'kres eval --scores': table and JSON output, threshold rules,
# bootstrap determinism, and the exit codes for bad data (1) and bad usage (2).
. "$(dirname "$0")/lib.sh"

# scores 0.1 0.4 0.35 0.8, labels 0 0 1 1: AUC 0.75; at 0.5: TP 1 FP 0 TN 2 FN 1
cat >"$TMP/good.csv" <<'EOF'
id,score,label
a,0.1,0
b,0.4,0
"c,1",0.35,1
d,0.8,1
EOF
expect_exit 0 "good file" -- "$KRES" eval --scores "$TMP/good.csv"
check "table shows AUC 0.7500" grep -q '^AUC  *0.7500 .*DeLong' "$TMP/out"
check "table shows the confusion matrix" grep -q 'TP 1   FP 0   TN 2   FN 1' "$TMP/out"
check "table shows sensitivity 1/2" grep -q 'sensitivity  *0.5000 .* 1 / 2' "$TMP/out"

expect_exit 0 "json output" -- "$KRES" eval --scores "$TMP/good.csv" --json
check "json auc" grep -q '"auc":0.75,' "$TMP/out"
check "json confusion" grep -q '"confusion":{"tp":1,"fp":0,"tn":2,"fn":1}' "$TMP/out"
check "json is one line" test "$(wc -l <"$TMP/out")" -eq 1

expect_exit 0 "fixed threshold" -- "$KRES" eval --scores "$TMP/good.csv" --threshold 0.35 --json
check "threshold 0.35 counts ties as positive" grep -q '"tp":2,"fp":1' "$TMP/out"

# Youden on this file: J = 0.5 at 0.8 and at 0.35; the higher threshold is chosen
expect_exit 0 "youden rule" -- "$KRES" eval --scores "$TMP/good.csv" --threshold-rule youden
check "youden threshold" grep -q '^threshold  *0.8 ' "$TMP/out"
check "optimism warning" grep -q 'warning.*optimistic' "$TMP/err"
expect_exit 0 "sens rule" -- "$KRES" eval --scores "$TMP/good.csv" --threshold-rule sens=0.9 --json
check "sens=0.9 threshold is 0.35" grep -q -E '"threshold":(0.35|0.34999999[0-9]*),' "$TMP/out"
check "sens=0.9 catches both positives" grep -q '"tp":2,"fp":1,"tn":1,"fn":0' "$TMP/out"

expect_exit 0 "bootstrap 1" -- "$KRES" eval --scores "$TMP/good.csv" --ci bootstrap --boot 200 --seed 9 --json
cp "$TMP/out" "$TMP/boot1"
expect_exit 0 "bootstrap 2" -- "$KRES" eval --scores "$TMP/good.csv" --ci bootstrap --boot 200 --seed 9 --json
check "bootstrap is reproducible" cmp -s "$TMP/boot1" "$TMP/out"
check "bootstrap named in output" grep -q 'bootstrap percentile, B=200, seed=9' "$TMP/out"

# one class only: the table is printed, AUC is undefined, exit 1 with a message
printf 'label,score\n1,0.2\n1,0.7\n' >"$TMP/allpos.csv"
expect_exit 1 "all-positive labels" -- "$KRES" eval --scores "$TMP/allpos.csv"
check "AUC undefined message" grep -q 'AUC undefined' "$TMP/err"
check "sensitivity still printed" grep -q 'sensitivity  *0.5000' "$TMP/out"

# malformed files name the file and the line
printf 'label,score\n0,0.2\n1,abc\n' >"$TMP/bad.csv"
expect_exit 1 "malformed score" -- "$KRES" eval --scores "$TMP/bad.csv"
check "error names file and line" grep -q "bad.csv: line 3" "$TMP/err"
printf 'label,score\n0,0.2\n3,0.5\n' >"$TMP/badlab.csv"
expect_exit 1 "bad label" -- "$KRES" eval --scores "$TMP/badlab.csv"
check "label error names line" grep -q "badlab.csv: line 3: label must be 0 or 1" "$TMP/err"
printf 'y,score\n0,0.2\n' >"$TMP/nolabel.csv"
expect_exit 1 "missing label column" -- "$KRES" eval --scores "$TMP/nolabel.csv"
check "missing column named" grep -q "'label'" "$TMP/err"
expect_exit 1 "missing file" -- "$KRES" eval --scores "$TMP/does-not-exist.csv"
check "missing file named" grep -q "does-not-exist.csv" "$TMP/err"

# usage errors
expect_exit 2 "bad flag" -- "$KRES" eval --frobnicate
expect_exit 2 "no input" -- "$KRES" eval
expect_exit 2 "bad rule" -- "$KRES" eval --scores "$TMP/good.csv" --threshold-rule sens=1.5
expect_exit 2 "bad ci" -- "$KRES" eval --scores "$TMP/good.csv" --ci wald
expect_exit 2 "threshold and rule" -- "$KRES" eval --scores "$TMP/good.csv" --threshold 0.3 --threshold-rule youden
expect_exit 2 "missing value" -- "$KRES" eval --scores
expect_exit 0 "help" -- "$KRES" eval --help
check "help mentions --scores" grep -q -- '--scores' "$TMP/out"
finish
