#!/usr/bin/env bash
# train_cli_test.sh — 'kres train', 'kres eval --model', 'kres predict' and 'kres train --cv'
# end to end on the bundled sample with a tiny model (--model-config/--preprocess), plus
# the errors: missing lead, corrupted or truncated model, usage mistakes.
. "$(dirname "$0")/lib.sh"

D=data/ptbxl-sample
R100=$D/records100/00000
R500=../shared/data/ptbxl/records500/00000
cat >"$TMP/tiny.json" <<'EOF'
{"in_leads": 12, "in_len": 256, "stem_width": 8, "kernel": 5, "widths": [8, 8], "downsample": 4, "dropout": 0.1}
EOF
write_pre_json
TINY=(--model-config "$TMP/tiny.json" --preprocess "$TMP/pre.json" --epochs 1 --batch 16
      --label-fraction 0.3 --threads 1 --quiet)
M=$TMP/m.safetensors

# ---- train ----
expect_exit 0 "train tiny" -- "$KRES" train --data "$D" --out "$M" "${TINY[@]}"
check "checkpoint written" test -s "$M"
check "log written next to it" test -s "$M.log.jsonl"
check "log starts with the start event" grep -q '^{"event":"start","task":"heart-block"' "$M.log.jsonl"
check "log ends with the end event" sh -c "tail -n 1 '$M.log.jsonl' | grep -q '^{\"event\":\"end\"'"
check "summary: 81 training records" grep -q 'train 81 (16 positive), validation 44 (8 positive), test fold 10: 45' "$TMP/out"
check "summary: threshold rule" grep -q '^threshold .*youden on validation fold 9' "$TMP/out"
check "quiet: nothing on stderr" test ! -s "$TMP/err"
check "no temporary files left" sh -c "! ls '$TMP' | grep -q '\.tmp\.'"

expect_exit 0 "train --json" -- "$KRES" train --data "$D" --out "$TMP/m2.safetensors" --log "$TMP/m2.log" --json "${TINY[@]}"
check "json result" grep -q '"best_val_auc":.*"ntest":45' "$TMP/out"
check "json is one line" test "$(wc -l <"$TMP/out")" -eq 1
check "--log path used" test -s "$TMP/m2.log"

# ---- eval --model ----
expect_exit 0 "eval --model" -- "$KRES" eval --model "$M" --data "$D"
check "eval: fold 10 of the paper cohort" grep -q '^examples  *45  (11 positive, 34 negative)' "$TMP/out"
check "eval: AUC with DeLong CI" grep -q '^AUC  *[01]\.[0-9]*   95% CI .*DeLong' "$TMP/out"
check "eval: stored threshold" grep -q 'stored: youden on validation fold 9' "$TMP/out"
check "eval: sensitivity with its interval" grep -q 'sensitivity .* / 11' "$TMP/out"
expect_exit 0 "eval --model --json" -- "$KRES" eval --model "$M" --data "$D" --json
check "eval json" grep -q '"auc":.*"confusion":' "$TMP/out"
check "eval json is one line" test "$(wc -l <"$TMP/out")" -eq 1
expect_exit 0 "eval --fold 9" -- "$KRES" eval --model "$M" --data "$D" --fold 9
check "eval: fold 9 has 44 records" grep -q '^examples  *44  (8 positive, 36 negative)' "$TMP/out"
check "eval: warns that fold 9 chose the epoch and threshold" grep -q 'warning: eval: fold 9 is the validation fold' "$TMP/err"
expect_exit 0 "eval with a threshold override" -- "$KRES" eval --model "$M" --data "$D" --threshold 0.5
check "override is used" grep -q '^threshold  *0.5 ' "$TMP/out"
# --scores-out: the fold's scores, which give the same AUC through --scores and pair with
# themselves through --compare (difference 0)
expect_exit 0 "eval --scores-out" -- "$KRES" eval --model "$M" --data "$D" --json --scores-out "$TMP/s10.csv"
auc_model=$(sed -E 's/.*"auc": ?([-0-9.e]+).*/\1/' "$TMP/out")
check "scores csv header" test "$(head -1 "$TMP/s10.csv")" = "id,label,score"
check "scores csv: 45 rows, 11 positive" test "$(awk -F, 'NR > 1 {n++; p += $2} END {print n, p}' "$TMP/s10.csv")" = "45 11"
expect_exit 0 "eval --scores on the written file" -- "$KRES" eval --scores "$TMP/s10.csv" --json
check "same AUC from the file ($auc_model)" test "$(sed -E 's/.*"auc": ?([-0-9.e]+).*/\1/' "$TMP/out")" = "$auc_model"
expect_exit 0 "compare the file with itself" -- "$KRES" eval --scores "$TMP/s10.csv" --compare "$TMP/s10.csv"
check "difference 0" grep -q -E '^A - B  *[+-]?0\.0000 ' "$TMP/out"
expect_exit 2 "--scores-out without --model" -- "$KRES" eval --scores "$TMP/s10.csv" --scores-out "$TMP/x.csv"
check "--scores-out usage message" grep -q 'scores-out writes the scores of --model' "$TMP/err"
check "nothing written by the refused call" test ! -e "$TMP/x.csv"

# ---- predict ----
expect_exit 0 "predict 100 Hz" -- "$KRES" predict --model "$M" "$R100/00001_lr" "$R100/00002_lr.hea"
check "predict: two records" test "$(grep -c '_lr  *0\.[0-9]*  *\(POSITIVE\|negative\)$' "$TMP/out")" -eq 2
expect_exit 0 "predict --csv" -- "$KRES" predict --model "$M" --csv "$R100/00001_lr"
check "csv header" grep -q '^record,probability,positive$' "$TMP/out"
p100=$(awk -F, 'NR == 2 {print $2}' "$TMP/out")
if [ -d "$R500" ]; then
    expect_exit 0 "predict 500 Hz" -- "$KRES" predict --model "$M" --csv "$R500/00001_hr"
    p500=$(awk -F, 'NR == 2 {print $2}' "$TMP/out")
    # The same ECG at 500 Hz, resampled by the model's chain, scores (almost) the same.
    check "500 Hz record close to its 100 Hz version ($p100 vs $p500)" \
        awk -v a="$p100" -v b="$p500" 'BEGIN {d = a - b; if (d < 0) d = -d; exit !(a > 0 && d < 0.05)}'
fi
mkdir -p "$TMP/rec"
cp "$R100/00001_lr.dat" "$TMP/rec/"
sed 's/ V6$/ X6/' "$R100/00001_lr.hea" >"$TMP/rec/00001_lr.hea"
expect_exit 1 "predict: missing lead" -- "$KRES" predict --model "$M" "$TMP/rec/00001_lr" "$R100/00002_lr"
check "error names the record and the lead" grep -q "rec/00001_lr.*lead V6 is missing" "$TMP/err"
check "the other record is still scored" grep -q '00002_lr  *0\.' "$TMP/out"
expect_exit 1 "predict --json with a bad record" -- "$KRES" predict --model "$M" --json "$TMP/rec/00001_lr"
check "json entry with the error" grep -q '"error":".*lead V6 is missing.*"failed":1' "$TMP/out"
expect_exit 1 "predict: unreadable record" -- "$KRES" predict --model "$M" "$TMP/nope"
check "error names the missing header" grep -q "nope.hea" "$TMP/err"

# ---- damaged models ----
cp "$M" "$TMP/bad.safetensors"
size=$(wc -c <"$M")
printf '\x55' | dd of="$TMP/bad.safetensors" bs=1 seek=$((size - 7)) conv=notrunc 2>/dev/null
expect_exit 1 "eval refuses a corrupted model" -- "$KRES" eval --model "$TMP/bad.safetensors" --data "$D"
check "eval error names the file" grep -q 'bad.safetensors' "$TMP/err"
expect_exit 1 "predict refuses a corrupted model" -- "$KRES" predict --model "$TMP/bad.safetensors" "$R100/00001_lr"
check "predict error names the file" grep -q 'bad.safetensors' "$TMP/err"
head -c 2000 "$M" >"$TMP/trunc.safetensors"
expect_exit 1 "predict refuses a truncated model" -- "$KRES" predict --model "$TMP/trunc.safetensors" "$R100/00001_lr"
expect_exit 1 "eval refuses a missing model" -- "$KRES" eval --model "$TMP/none.safetensors" --data "$D"

# ---- usage and data errors ----
expect_exit 2 "train without --out" -- "$KRES" train --data "$D"
expect_exit 2 "train without --data" -- "$KRES" train --out "$TMP/x.safetensors"
expect_exit 2 "unknown option" -- "$KRES" train --data "$D" --out "$TMP/x.safetensors" --bogus
expect_exit 2 "bad threshold rule" -- "$KRES" train --data "$D" --out "$TMP/x.safetensors" --threshold-rule sens=2
expect_exit 2 "--cv without --out-dir" -- "$KRES" train --data "$D" --cv
expect_exit 2 "--cv with a fold option" -- "$KRES" train --data "$D" --cv --out-dir "$TMP/cvx" --test-fold 3
expect_exit 2 "bad rate" -- "$KRES" train --data "$D" --out "$TMP/x.safetensors" --rate 250
expect_exit 2 "same validation and test fold" -- "$KRES" train --data "$D" --out "$TMP/x.safetensors" --val-fold 10
expect_exit 2 "predict without --model" -- "$KRES" predict "$R100/00001_lr"
expect_exit 2 "predict without records" -- "$KRES" predict --model "$M"
expect_exit 1 "train on a missing directory" -- "$KRES" train --data "$TMP/nodir" --out "$TMP/x.safetensors"
check "error names the directory" grep -q 'nodir' "$TMP/err"
check "nothing written on failure" test ! -e "$TMP/x.safetensors"
echo '{"in_leads": 12' >"$TMP/broken.json"
expect_exit 1 "broken model config" -- "$KRES" train --data "$D" --out "$TMP/x.safetensors" --model-config "$TMP/broken.json"
check "error names the config file" grep -q 'broken.json' "$TMP/err"
expect_exit 0 "train --help" -- "$KRES" train --help
expect_exit 0 "predict --help" -- "$KRES" predict --help

# ---- 10-fold cross-validation ----
expect_exit 0 "train --cv" -- "$KRES" train --data "$D" --cv --out-dir "$TMP/cv" "${TINY[@]}"
check "oof scores: header and every cohort record once" \
    test "$(head -n 1 "$TMP/cv/oof_scores.csv")" = "label,score,fold,ecg_id" -a "$(wc -l <"$TMP/cv/oof_scores.csv")" -eq 358
check "oof ecg_ids are distinct" test "$(tail -n +2 "$TMP/cv/oof_scores.csv" | cut -d, -f4 | sort -u | wc -l)" -eq 357
check "oof: 71 positives" test "$(tail -n +2 "$TMP/cv/oof_scores.csv" | grep -c '^1,')" -eq 71
check "ten fold checkpoints" test "$(ls "$TMP/cv"/fold*.safetensors | wc -l)" -eq 10
check "summary json" grep -q '"mean_fold_test_auc":.*"pooled":{.*"auc":' "$TMP/cv/summary.json"
check "mean per-round AUC printed" grep -q '^mean of the 10 per-round test AUCs' "$TMP/out"
check "pooled table with DeLong CI" grep -q '^AUC  *[01]\.[0-9]*   95% CI .*DeLong' "$TMP/out"
check "per-fold thresholds line" grep -q '^threshold  *per fold' "$TMP/out"
check "pooled over 357 records" grep -q '^examples  *357  (71 positive, 286 negative)' "$TMP/out"
expect_exit 0 "eval --scores reads the oof file" -- "$KRES" eval --scores "$TMP/cv/oof_scores.csv" --json
check "same pooled AUC as the CV summary" \
    test "$(grep -o '"auc":[^,]*' "$TMP/out" | head -n 1)" = "$(grep -o '"pooled":{[^}]*' "$TMP/cv/summary.json" | grep -o '"auc":[^,]*' | head -n 1)"

finish
