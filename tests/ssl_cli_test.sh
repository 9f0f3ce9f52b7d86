#!/usr/bin/env bash
# ssl_cli_test.sh — 'kres pretrain', 'kres probe' and 'kres embed' end to end on the
# bundled sample with a tiny model; the probe model through 'kres eval' and 'kres predict';
# exit codes 1 (bad data, naming the file) and 2 (bad usage).
. "$(dirname "$0")/lib.sh"
S=data/ptbxl-sample
R1=$S/records100/00000/00001_lr; R2=$S/records100/00000/00002_lr; R3=$S/records100/00000/00003_lr

cat >"$TMP/tiny.json" <<'EOF'
{"in_leads": 12, "in_len": 256, "stem_width": 8, "kernel": 5, "widths": [16, 16], "downsample": 4,
 "dropout": 0.1, "n_outputs": 0, "proj_hidden": 16, "proj_dim": 8, "bn_momentum": 0.1, "bn_eps": 1e-05}
EOF
cat >"$TMP/pp.json" <<'EOF'
{"target_rate":100,"length":256,"highpass_hz":0.5,"lowpass_hz":40,"standardize":1,"allow_missing_leads":0}
EOF
TINY=(--model-config "$TMP/tiny.json" --preprocess "$TMP/pp.json" --threads 2 --batch 8 --limit 16)

# ---- usage errors: exit 2 ----
expect_exit 2 "pretrain without --data" -- "$KRES" pretrain --out "$TMP/e.safetensors"
expect_exit 2 "pretrain without --out" -- "$KRES" pretrain --data $S
expect_exit 2 "pretrain bad --pairs" -- "$KRES" pretrain --data $S --out "$TMP/e.safetensors" --pairs views
check "bad --pairs names the modes" grep -q 'augment, segments or patient' "$TMP/err"
expect_exit 2 "pretrain bad --exclude-folds" -- "$KRES" pretrain --data $S --out "$TMP/e.safetensors" --exclude-folds 9,11
expect_exit 2 "pretrain bad --temperature" -- "$KRES" pretrain --data $S --out "$TMP/e.safetensors" --temperature 0
expect_exit 2 "pretrain unknown flag" -- "$KRES" pretrain --data $S --out "$TMP/e.safetensors" --frobnicate 1
expect_exit 2 "probe without --encoder" -- "$KRES" probe --data $S --out "$TMP/p.safetensors"
expect_exit 2 "probe equal folds" -- "$KRES" probe --encoder x --data $S --out "$TMP/p.safetensors" --val-fold 10
expect_exit 2 "probe bad --lambdas" -- "$KRES" probe --encoder x --data $S --out "$TMP/p.safetensors" --lambdas 1,0.1,5
expect_exit 2 "probe bad --threshold-rule" -- "$KRES" probe --encoder x --data $S --out "$TMP/p.safetensors" --threshold-rule best
expect_exit 2 "embed bad --format" -- "$KRES" embed --encoder x $R1 --out "$TMP/e.csv" --format xml
expect_exit 2 "embed without records" -- "$KRES" embed --encoder x --out "$TMP/e.csv"
expect_exit 0 "pretrain --help" -- "$KRES" pretrain --help
check "help mentions the pair modes" grep -q 'segments' "$TMP/out"

# ---- bad data: exit 1, naming the file ----
expect_exit 1 "pretrain missing dir" -- "$KRES" pretrain --data "$TMP/nodir" --out "$TMP/e.safetensors"
check "names the directory" grep -q "nodir" "$TMP/err"
expect_exit 1 "probe missing encoder" -- "$KRES" probe --encoder "$TMP/missing-enc.safetensors" --data $S --out "$TMP/p.safetensors"
check "probe names the encoder" grep -q "missing-enc.safetensors" "$TMP/err"
check "no probe model written" test ! -e "$TMP/p.safetensors"
expect_exit 1 "embed missing encoder" -- "$KRES" embed --encoder "$TMP/missing-enc.safetensors" $R1 --out "$TMP/e.csv"
check "embed names the encoder" grep -q "missing-enc.safetensors" "$TMP/err"

# ---- pretrain ----
expect_exit 0 "pretrain tiny" -- "$KRES" pretrain --data $S --out "$TMP/enc.safetensors" "${TINY[@]}" --epochs 2 --quiet
check "encoder written" test -s "$TMP/enc.safetensors"
check "state written" test -s "$TMP/enc.safetensors.state.safetensors"
check "default log next to the encoder" test -s "$TMP/enc.safetensors.log.jsonl"
check "log has pair accuracy" grep -q '"pair_accuracy"' "$TMP/enc.safetensors.log.jsonl"
check "log has an end line" grep -q '"event":"end"' "$TMP/enc.safetensors.log.jsonl"
check "summary counts 16 ECGs" grep -q '^pretrained   16 ECGs' "$TMP/out"
check "summary says 4 of 4 steps" grep -q '^steps        4 of 4' "$TMP/out"
expect_exit 0 "resume a finished run" -- "$KRES" pretrain --data $S --out "$TMP/enc.safetensors" "${TINY[@]}" --epochs 2 --quiet --resume
check "nothing left to do" grep -q '^steps        4 of 4' "$TMP/out"
expect_exit 1 "resume with other options" -- "$KRES" pretrain --data $S --out "$TMP/enc.safetensors" "${TINY[@]}" --epochs 3 --quiet --resume
check "names the changed option" grep -q "option 'epochs'" "$TMP/err"
expect_exit 0 "stop before an epoch ends" -- "$KRES" pretrain --data $S --out "$TMP/part.safetensors" "${TINY[@]}" \
    --epochs 2 --max-steps 1 --quiet
check "no epoch's loss to show, said so (not nan)" grep -q '^last epoch   none finished in this run' "$TMP/out"
expect_exit 0 "kres help pretrain" -- "$KRES" help pretrain

# ---- probe, then eval and predict on its model ----
expect_exit 0 "probe" -- "$KRES" probe --encoder "$TMP/enc.safetensors" --data $S --out "$TMP/probe.safetensors" \
    --label-fraction 0.3 --scores "$TMP/scores.csv" --json --quiet
check "probe json has val_auc" grep -q '"val_auc":' "$TMP/out"
check "probe json has a 13-point grid" test "$(grep -o '"iters"' "$TMP/out" | wc -l)" -eq 13
check "probe model written" test -s "$TMP/probe.safetensors"
check "scores: header + 45 test rows" test "$(wc -l <"$TMP/scores.csv")" -eq 46
probe_auc=$(grep -o '"test":{"n":45,"npos":11,"nneg":34,"auc":[0-9.]*' "$TMP/out" | sed 's/.*"auc"://')
check "probe reports a test AUC" test -n "$probe_auc"
expect_exit 0 "eval --model on the probe" -- "$KRES" eval --model "$TMP/probe.safetensors" --data $S --json
eval_auc=$(grep -o '"auc":[0-9.]*' "$TMP/out" | head -1 | sed 's/.*"auc"://')
check "eval's forward-pass AUC equals the probe's ($eval_auc vs $probe_auc)" \
    awk -v a="$eval_auc" -v b="$probe_auc" 'BEGIN { d = a - b; exit !(a != "" && d < 1e-9 && d > -1e-9) }'
check "eval uses the stored threshold" grep -q '"threshold_rule":"stored' "$TMP/out"
expect_exit 0 "predict with the probe" -- "$KRES" predict --model "$TMP/probe.safetensors" $R1 $R2
check "predict prints two records" test "$(grep -c '_lr ' "$TMP/out")" -eq 2

# ---- one unreadable record: probe and eval leave it out, as the trainer does ----
# A copy of the sample (records linked) whose fold-10 record ecg_id 9 has a truncated .dat:
# the trainer reads every header and leaves such a record out (check_files 2); so must the
# probe, eval and the experiment's own cohort, or they fail on it or score other records.
B="$TMP/bad"
mkdir -p "$B/records100/00000" && cp "$S"/*.csv "$B/" && ln -s "$PWD/$S/records100/00000/"* "$B/records100/00000/"
rm "$B/records100/00000/00009_lr.dat" && head -c 10000 "$S/records100/00000/00009_lr.dat" >"$B/records100/00000/00009_lr.dat"
expect_exit 0 "dataset on the damaged tree" -- "$KRES" dataset "$B"
check "dataset: fold 10 has 44 usable records" grep -q -E "^ +10 +test +11 +33 +44$" "$TMP/out"
expect_exit 0 "probe on the damaged tree" -- "$KRES" probe --encoder "$TMP/enc.safetensors" --data "$B" \
    --out "$TMP/probe-bad.safetensors" --json --quiet
check "probe: the same 268/44/44 records as training" grep -q '"ntrain":268,"ntrain_pos":52,"nval":44,"nval_pos":8,"ntest":44,' "$TMP/out"
expect_exit 0 "eval on the damaged tree" -- "$KRES" eval --model "$TMP/probe.safetensors" --data "$B" --json
check "eval: 44 records of fold 10" grep -q '"n":44,"npos":11,"nneg":33' "$TMP/out"
check "eval: says one record was left out" grep -q "1 unreadable record left out.*ecg_id 9" "$TMP/err"

# ---- embed ----
expect_exit 0 "embed csv" -- "$KRES" embed --encoder "$TMP/enc.safetensors" $R1 $R2.hea $R3 --out "$TMP/e.csv"
check "csv: header + 3 rows" test "$(wc -l <"$TMP/e.csv")" -eq 4
check "csv header" grep -q '^record,e0,e1,.*,e15$' "$TMP/e.csv"
check "csv rows name records" grep -q "^$R2," "$TMP/e.csv"
expect_exit 0 "embed npy" -- "$KRES" embed --encoder "$TMP/enc.safetensors" $R1 $R2 $R3 --out "$TMP/e.npy"
check "npy magic" test "$(head -c 6 "$TMP/e.npy" | tail -c 5)" = "NUMPY"
check "npy shape" grep -a -q "'shape': (3, 16)" "$TMP/e.npy"
check "npy size = 128 header + 3*16*4" test "$(stat -c %s "$TMP/e.npy")" -eq $((128 + 192))
check "npy sidecar" test "$(wc -l <"$TMP/e.npy.txt")" -eq 3
expect_exit 0 "embed a PTB-XL tree" -- "$KRES" embed --encoder "$TMP/enc.safetensors" --data $S --out "$TMP/all.csv" --quiet
check "all 488 records" test "$(wc -l <"$TMP/all.csv")" -eq 489
expect_exit 1 "embed missing record" -- "$KRES" embed --encoder "$TMP/enc.safetensors" $R1 "$TMP/nope" --out "$TMP/e2.csv"
check "names the record" grep -q "nope.hea" "$TMP/err"
check "no partial output" test ! -e "$TMP/e2.csv"

finish
