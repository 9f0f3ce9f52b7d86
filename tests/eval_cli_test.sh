#!/usr/bin/env bash
# eval_cli_test.sh — 'kres eval --scores': table and JSON output, threshold rules,
# bootstrap determinism, the paired comparison of two files (--compare), and the exit
# codes for bad data (1) and bad usage (2).
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

# ---- --compare: paired DeLong test of two scores files of the same cases ----------------
# The hand-worked case of tests/test_metrics.c: AUC_A 8/9, AUC_B 5/6, diff 1/18,
# var(diff) 13/162, z = 1/sqrt(26) = 0.196, p = 0.8445, 95% CI -0.4997 .. 0.6108.
printf 'id,label,score\np1,1,0.9\np2,1,0.6\np3,1,0.4\nn1,0,0.5\nn2,0,0.3\nn3,0,0.1\n' >"$TMP/ca.csv"
printf 'score,label,id\n0.8,1,p1\n0.4,1,p2\n0.7,1,p3\n0.4,0,n1\n0.6,0,n2\n0.2,0,n3\n' >"$TMP/cb.csv"
expect_exit 0 "compare" -- "$KRES" eval --scores "$TMP/ca.csv" --compare "$TMP/cb.csv"
check "compare: AUC A with its CI" grep -q '^AUC A  *0.8889   95% CI .*DeLong' "$TMP/out"
check "compare: AUC B" grep -q '^AUC B  *0.8333   95% CI' "$TMP/out"
check "compare: difference and CI" grep -q '^A - B  *+0.0556   95% CI -0.4997 to +0.6108' "$TMP/out"
check "compare: z" grep -q '^z  *0.196$' "$TMP/out"
check "compare: p" grep -q '^p  *0.8445 .*two-sided' "$TMP/out"
check "compare: names the files" grep -q "^A  *$TMP/ca.csv" "$TMP/out"
expect_exit 0 "compare json" -- "$KRES" eval --scores "$TMP/ca.csv" --compare "$TMP/cb.csv" --json
check "compare json: one line" test "$(wc -l <"$TMP/out")" -eq 1
check "compare json: diff" grep -q '"diff":0.05555555555555[0-9]*,' "$TMP/out"
check "compare json: p" grep -q '"p":0.8445192674729[0-9]*,' "$TMP/out"
check "compare json: a" grep -q '"a":{"name":"[^"]*ca.csv","auc":0.888888' "$TMP/out"
# swapped: the difference and z change sign, p does not
expect_exit 0 "compare swapped" -- "$KRES" eval --scores "$TMP/cb.csv" --compare "$TMP/ca.csv"
check "swapped: difference negated" grep -q '^A - B  *-0.0556   95% CI -0.6108 to +0.4997' "$TMP/out"
check "swapped: same p" grep -q '^p  *0.8445 ' "$TMP/out"
# the same file twice: difference 0, p 1
expect_exit 0 "compare with itself" -- "$KRES" eval --scores "$TMP/ca.csv" --compare "$TMP/ca.csv"
check "itself: p 1" grep -q '^p  *1.0000 ' "$TMP/out"
check "itself: note" grep -q '^note: .*alike' "$TMP/out"
# a file without ids is matched by position and label, with a warning
printf 'label,score\n1,0.8\n1,0.4\n1,0.7\n0,0.4\n0,0.6\n0,0.2\n' >"$TMP/cnoid.csv"
expect_exit 0 "compare without ids" -- "$KRES" eval --scores "$TMP/ca.csv" --compare "$TMP/cnoid.csv"
check "without ids: same p" grep -q '^p  *0.8445 ' "$TMP/out"
check "without ids: warning" grep -q 'warning.*cnoid.csv has no id column' "$TMP/err"
expect_exit 0 "compare: the first file without ids" -- "$KRES" eval --scores "$TMP/cnoid.csv" --compare "$TMP/ca.csv"
check "first without ids: the warning names it" grep -q 'warning.*cnoid.csv has no id column' "$TMP/err"
check "first without ids: the difference negated" grep -q '^A - B  *-0.0556 ' "$TMP/out"
expect_exit 0 "compare: neither file with ids" -- "$KRES" eval --scores "$TMP/cnoid.csv" --compare "$TMP/cnoid.csv"
check "neither with ids: no warning" test ! -s "$TMP/err"
# not the same cases: exit 1, naming the second file and the first differing row
head -n 6 "$TMP/cb.csv" >"$TMP/cshort.csv"
expect_exit 1 "compare: fewer rows" -- "$KRES" eval --scores "$TMP/ca.csv" --compare "$TMP/cshort.csv"
check "fewer rows: message" grep -q "^kres: error: $TMP/cshort.csv: 5 data rows, but $TMP/ca.csv has 6" "$TMP/err"
check "fewer rows: nothing on stdout" test ! -s "$TMP/out"
sed 's/^0.6,0,n2$/0.6,1,n2/' "$TMP/cb.csv" >"$TMP/clab.csv"
expect_exit 1 "compare: a label differs" -- "$KRES" eval --scores "$TMP/ca.csv" --compare "$TMP/clab.csv"
check "label differs: file, line and row named" \
    grep -q "clab.csv: line 6: label 1, but $TMP/ca.csv line 6 has label 0 (row 5)" "$TMP/err"
sed 's/,n3$/,n9/' "$TMP/cb.csv" >"$TMP/cid.csv"
expect_exit 1 "compare: an id differs" -- "$KRES" eval --scores "$TMP/ca.csv" --compare "$TMP/cid.csv"
check "id differs: named" grep -q "cid.csv: line 7: id 'n9', but .*ca.csv line 7 has id 'n3' (row 6)" "$TMP/err"
expect_exit 1 "compare: missing file" -- "$KRES" eval --scores "$TMP/ca.csv" --compare "$TMP/nope.csv"
check "missing compare file named" grep -q "nope.csv" "$TMP/err"
expect_exit 1 "compare: bad second file" -- "$KRES" eval --scores "$TMP/ca.csv" --compare "$TMP/bad.csv"
check "bad second file: line named" grep -q "bad.csv: line 3" "$TMP/err"
printf 'label,score\n1,0.2\n1,0.7\n' >"$TMP/call1.csv"
expect_exit 1 "compare: one class only" -- "$KRES" eval --scores "$TMP/allpos.csv" --compare "$TMP/call1.csv"
check "one class: AUC undefined" grep -q "AUC undefined" "$TMP/err"
expect_exit 2 "compare without --scores" -- "$KRES" eval --compare "$TMP/cb.csv"
expect_exit 2 "compare with a threshold" -- "$KRES" eval --scores "$TMP/ca.csv" --compare "$TMP/cb.csv" --threshold 0.5
expect_exit 2 "compare with bootstrap" -- "$KRES" eval --scores "$TMP/ca.csv" --compare "$TMP/cb.csv" --ci bootstrap
expect_exit 2 "compare missing value" -- "$KRES" eval --scores "$TMP/ca.csv" --compare

# usage errors
expect_exit 2 "bad flag" -- "$KRES" eval --frobnicate
expect_exit 2 "no input" -- "$KRES" eval
expect_exit 2 "bad rule" -- "$KRES" eval --scores "$TMP/good.csv" --threshold-rule sens=1.5
expect_exit 2 "bad ci" -- "$KRES" eval --scores "$TMP/good.csv" --ci wald
expect_exit 2 "threshold and rule" -- "$KRES" eval --scores "$TMP/good.csv" --threshold 0.3 --threshold-rule youden
expect_exit 2 "missing value" -- "$KRES" eval --scores
expect_exit 0 "help" -- "$KRES" eval --help
check "help mentions --scores" grep -q -- '--scores' "$TMP/out"
check "help mentions --compare" grep -q -- '--compare B.csv' "$TMP/out"
finish
