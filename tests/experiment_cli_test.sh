#!/usr/bin/env bash
# experiment_cli_test.sh — 'kres experiment' and 'kres finetune' from the command line:
# usage and data errors with their exit codes, one tiny experiment (toy model, 1 epoch,
# one label fraction x 3 pipelines) with its outputs and paired comparisons (the same as
# 'kres eval --compare' on the runs' scores), a resumed rerun that skips every run,
# fine-tuning the experiment's encoder by hand, and (if Chromium is installed) the
# experiment's report.html rendered headless: the table and both plots must be in the DOM.
. "$(dirname "$0")/lib.sh"

S=data/ptbxl-sample
cat >"$TMP/toy.json" <<'EOF'
{"in_leads": 12, "in_len": 1024, "stem_width": 4, "kernel": 5, "widths": [8, 8], "downsample": 4,
 "proj_hidden": 8, "proj_dim": 8}
EOF
TOY=(--model-config "$TMP/toy.json" --epochs 1 --min-steps 0 --pretrain-epochs 1 --pretrain-batch 64 --batch 64 --threads 1)

# ---- usage errors: exit 2 -------------------------------------------------------------
expect_exit 0 "experiment --help" -- "$KRES" experiment --help
check "help names the presets" grep -q -- "--preset" "$TMP/out"
expect_exit 2 "no --data" -- "$KRES" experiment --out "$TMP/x"
expect_exit 2 "no --out" -- "$KRES" experiment --data "$S"
expect_exit 2 "bad fraction 0" -- "$KRES" experiment --data "$S" --out "$TMP/x" --fractions 0
check "bad fraction is named" grep -q "fraction" "$TMP/err"
expect_exit 2 "bad fraction 1.5" -- "$KRES" experiment --data "$S" --out "$TMP/x" --fractions 1,1.5
expect_exit 2 "bad fraction text" -- "$KRES" experiment --data "$S" --out "$TMP/x" --fractions 1,half
expect_exit 2 "duplicate fraction" -- "$KRES" experiment --data "$S" --out "$TMP/x" --fractions 0.5,0.5
expect_exit 2 "bad preset" -- "$KRES" experiment --data "$S" --out "$TMP/x" --preset huge
expect_exit 2 "bad repeats" -- "$KRES" experiment --data "$S" --out "$TMP/x" --repeats 0
expect_exit 2 "bad cv-pretrain" -- "$KRES" experiment --data "$S" --out "$TMP/x" --cv --cv-pretrain sometimes
expect_exit 2 "cv-pretrain without cv" -- "$KRES" experiment --data "$S" --out "$TMP/x" --cv-pretrain per-fold
expect_exit 2 "unknown option" -- "$KRES" experiment --data "$S" --out "$TMP/x" --frobnicate
expect_exit 2 "missing value" -- "$KRES" experiment --data "$S" --out
check "nothing written on usage errors" test ! -e "$TMP/x"

# ---- data errors: exit 1 ---------------------------------------------------------------
expect_exit 1 "missing data dir" -- "$KRES" experiment --data "$TMP/nonexistent" --out "$TMP/x"
check "error names the data dir" grep -q "nonexistent" "$TMP/err"
check "error has the kres prefix" grep -q "^kres: error: " "$TMP/err"
check "nothing written for a missing data dir" test ! -e "$TMP/x"
expect_exit 1 "pretraining data holding the holdout ECGs is refused" -- "$KRES" experiment --data "$S" \
    --out "$TMP/leak" --pretrain-data "$S/records100" "${TOY[@]}"
check "refusal explains the leak" grep -q "held-out folds 9,10" "$TMP/err"
check "refusal counts every held-out ECG of the directory" grep -q "holds 144 ECGs of the held-out folds" "$TMP/err"
check "no encoder trained on leaked data" test ! -e "$TMP/leak/pretrain/encoder.safetensors"
expect_exit 1 "unreadable model config" -- "$KRES" experiment --data "$S" --out "$TMP/x" --model-config "$TMP/none.json"

# ---- a tiny experiment --------------------------------------------------------------------
R="$TMP/run"
expect_exit 0 "tiny experiment" -- "$KRES" experiment --data "$S" --out "$R" --fractions 0.25 --repeats 1 "${TOY[@]}"
cp "$TMP/err" "$TMP/first.err"
for f in results.json results.md report.html experiment.json experiment.log.jsonl pretrain/encoder.safetensors \
    pretrain/done.json; do
    check "writes $f" test -s "$R/$f"
done
for p in supervised finetune probe; do
    check "$p run has a model" test -s "$R/runs/$p-f0.25-r1/model.safetensors"
    check "$p run has scores" test -s "$R/runs/$p-f0.25-r1/scores.csv"
    check "$p run has its done marker" test -s "$R/runs/$p-f0.25-r1/result.json"
    check "results.json has the $p run" grep -q "\"pipeline\":\"$p\"" "$R/results.json"
    check "$p run records the backend" grep -q '"backend":"' "$R/runs/$p-f0.25-r1/result.json"
done
check "progress lines name the runs" grep -q "\[3/3\] probe-f0.25-r1" "$TMP/first.err"
check "stdout has the table" grep -q "| linear probe | 0\." "$TMP/out"
check "results.md has the AUC table" grep -q "| pipeline | 25% labels |" "$R/results.md"
check "results.md says the model is not the default" grep -q "NOT the paper's default KRes" "$R/results.md"
check "report has two svg plots" test "$(grep -o '<svg' "$R/report.html" | wc -l)" -ge 2
check "report captions say holdout" grep -q "<caption>Metrics on the holdout.</caption>" "$R/report.html"
check "report captions do not say out-of-fold" bash -c "! grep -q 'out-of-fold' '$R/report.html'"
check "results.json has 3 paired comparisons" test "$(grep -o '"a":"[a-z]*","b":"[a-z]*","fraction":0.25' "$R/results.json" | wc -l)" -eq 3
check "results.md has the comparisons table" grep -q "^| fine-tune vs supervised | 25% | 0\.[0-9]* | 0\.[0-9]* | [-+]" "$R/results.md"
check "stdout has the comparisons table" grep -q "^| linear probe vs supervised | 25% |" "$TMP/out"
check "report has the comparisons caption" \
    grep -q "<caption>Paired DeLong test on the same 45 ECGs (the holdout), two-sided; p-values not adjusted for multiple comparisons." "$R/report.html"
# kres eval --compare on the two runs' scores gives the experiment's numbers
expect_exit 0 "eval --compare of two runs" -- "$KRES" eval --scores "$R/runs/finetune-f0.25-r1/scores.csv" \
    --compare "$R/runs/supervised-f0.25-r1/scores.csv" --json
p1=$(grep -o '"p":[0-9.e-]*' "$TMP/out")
p2=$(grep -o '"a":"finetune","b":"supervised"[^}]*' "$R/results.json" | grep -o '"p":[0-9.e-]*')
check "eval --compare p equals the experiment's ($p1 vs $p2)" test -n "$p1" -a "$p1" = "$p2"

# ---- rerun: every run skipped, done markers untouched -----------------------------------
m1=$(stat -c %Y "$R/runs/finetune-f0.25-r1/result.json" 2>/dev/null; md5sum <"$R/runs/finetune-f0.25-r1/result.json")
expect_exit 0 "rerun" -- "$KRES" experiment --data "$S" --out "$R" --fractions 0.25 --repeats 1 "${TOY[@]}"
check "rerun skips all three runs" test "$(grep -c '\] .*: done earlier, skip' "$TMP/err")" -eq 3
check "rerun skips pretraining" grep -q "pretraining.*done earlier" "$TMP/err"
m2=$(stat -c %Y "$R/runs/finetune-f0.25-r1/result.json" 2>/dev/null; md5sum <"$R/runs/finetune-f0.25-r1/result.json")
check "done marker unchanged" test "$m1" = "$m2"
check "log records the skips" test "$(grep -c '"event":"run_skip"' "$R/experiment.log.jsonl")" -eq 3
check "rerun still reports the comparisons" test "$(grep -o '"a":"[a-z]*","b":"[a-z]*","fraction":0.25' "$R/results.json" | wc -l)" -eq 3
expect_exit 1 "other settings refused" -- "$KRES" experiment --data "$S" --out "$R" --fractions 0.25 "${TOY[@]}" --seed 7
check "refusal names the setting" grep -q "seed" "$TMP/err"
expect_exit 0 "report only" -- "$KRES" experiment --data "$S" --out "$R" --fractions 0.25 --repeats 1 "${TOY[@]}" --report-only
# the same data directory spelled differently is the same setting; another directory is not
expect_exit 0 "data dir with a trailing slash and ./" -- "$KRES" experiment --data "./$S/" --out "$R" \
    --fractions 0.25 --repeats 1 "${TOY[@]}" --report-only
ln -s "$PWD/$S" "$TMP/sample-link"
expect_exit 0 "data dir through a symlink" -- "$KRES" experiment --data "$TMP/sample-link" --out "$R" \
    --fractions 0.25 --repeats 1 "${TOY[@]}" --report-only
mkdir -p "$TMP/other-sample" && cp "$S"/*.csv "$TMP/other-sample/" && ln -s "$PWD/$S/records100" "$TMP/other-sample/records100"
expect_exit 1 "another data directory refused" -- "$KRES" experiment --data "$TMP/other-sample" --out "$R" \
    --fractions 0.25 --repeats 1 "${TOY[@]}" --report-only
check "refusal names data_dir" grep -q "data_dir" "$TMP/err"

# ---- damaged run files: a clear error or a noted gap, never a lost report ----------------
D="$TMP/damaged"
cp -r "$R" "$D"
cp "$D/results.md" "$TMP/results.md.before"
printf '{"run": "probe-f0.25-r1", "auc": ' >"$D/runs/probe-f0.25-r1/result.json"
expect_exit 1 "report from a truncated result.json" -- "$KRES" experiment --data "$S" --out "$D" \
    --fractions 0.25 --repeats 1 "${TOY[@]}" --report-only
check "error names the damaged result.json" grep -q "probe-f0.25-r1/result.json: not valid JSON" "$TMP/err"
check "the earlier results.md is kept" cmp -s "$D/results.md" "$TMP/results.md.before"
cp "$R/runs/probe-f0.25-r1/result.json" "$D/runs/probe-f0.25-r1/result.json"
echo "ecg_id,fold,label,score" >"$D/runs/probe-f0.25-r1/scores.csv"
echo "17,10,maybe,0.5" >>"$D/runs/probe-f0.25-r1/scores.csv"
expect_exit 0 "report with a damaged scores.csv" -- "$KRES" experiment --data "$S" --out "$D" \
    --fractions 0.25 --repeats 1 "${TOY[@]}" --report-only
check "the probe's comparisons are noted as not compared" \
    test "$(grep -c "^linear probe vs supervised at 25% labels, repeat 1: not compared: .*scores.csv: line 2" "$D/results.md")" -eq 1
check "the other comparison still has its numbers" \
    grep -q "^| fine-tune vs supervised | 25% | 0\.[0-9]* | 0\.[0-9]* | [-+]" "$D/results.md"

# ---- the experiment's models are ordinary classifiers: kres eval reproduces the run's AUC --
for p in supervised finetune probe; do
    expect_exit 0 "eval --model on the $p run" -- "$KRES" eval --model "$R/runs/$p-f0.25-r1/model.safetensors" \
        --data "$S" --json
    a1=$(grep -o '"auc":[0-9.]*' "$TMP/out" | head -n 1)
    a2=$(grep -o '"auc":[0-9.]*' "$R/runs/$p-f0.25-r1/result.json" | head -n 1)
    check "eval AUC of $p equals the experiment's ($a1 vs $a2)" test -n "$a1" -a "$a1" = "$a2"
done

# ---- one unreadable record: all three pipelines leave it out, the same test fold --------
# A copy of the sample (records linked) whose fold-10 record ecg_id 9 has a truncated .dat:
# the trainer reads every header and leaves such a record out (check_files 2); so must the
# probe, eval and the experiment's own cohort, or they fail on it or score other records.
B="$TMP/bad"
mkdir -p "$B/records100/00000" && cp "$S"/*.csv "$B/" && ln -s "$PWD/$S/records100/00000/"* "$B/records100/00000/"
rm "$B/records100/00000/00009_lr.dat" && head -c 10000 "$S/records100/00000/00009_lr.dat" >"$B/records100/00000/00009_lr.dat"
expect_exit 0 "experiment on the damaged tree" -- "$KRES" experiment --data "$B" --out "$TMP/rb" --fractions 0.25 \
    --repeats 1 "${TOY[@]}" --quiet
check "every pipeline tested on the 44 usable records" \
    test "$(grep -o '"n_test":[0-9]*' "$TMP/rb/results.json" | sort | uniq -c | awk '{$1=$1};1')" = '3 "n_test":44'

# ---- kres finetune by hand, from the experiment's encoder --------------------------------
expect_exit 2 "finetune without --encoder" -- "$KRES" finetune --data "$S" --out "$TMP/ft.safetensors"
expect_exit 2 "finetune bad scale" -- "$KRES" finetune --encoder "$R/pretrain/encoder.safetensors" --data "$S" \
    --out "$TMP/ft.safetensors" --encoder-lr-scale -1
expect_exit 1 "finetune missing encoder" -- "$KRES" finetune --encoder "$TMP/none.safetensors" --data "$S" \
    --out "$TMP/ft.safetensors"
check "missing encoder is named" grep -q "none.safetensors" "$TMP/err"
expect_exit 0 "finetune" -- "$KRES" finetune --encoder "$R/pretrain/encoder.safetensors" --data "$S" \
    --out "$TMP/ft.safetensors" --epochs 1 --batch 64 --threads 1 --label-fraction 0.25 --json --quiet
check "finetune writes a checkpoint" test -s "$TMP/ft.safetensors"
check "finetune reports the lr scale" grep -q '"encoder_lr_scale":0.1' "$TMP/out"
check "finetune trains on the experiment's subset (67 ECGs)" grep -q '"ntrain":67' "$TMP/out"
check "finetune writes its log" test -s "$TMP/ft.safetensors.log.jsonl"

# ---- the report rendered by Chromium -----------------------------------------------------
chrome=""
for c in chromium chromium-browser; do
    if command -v "$c" >/dev/null 2>&1; then chrome=$(command -v "$c"); break; fi
done
if [ -z "$chrome" ]; then
    echo "SKIP: chromium not installed; report rendering not checked"
else
    flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$TMP/profile")
    timeout 120 "$chrome" "${flags[@]}" --dump-dom "file://$R/report.html" >"$TMP/dom.html" 2>"$TMP/chrome.err"
    check "chromium renders the report" test $? -eq 0
    check "DOM has the results table" grep -q '<table class="results"' "$TMP/dom.html"
    check "DOM has 2 svg plots" test "$(grep -o '<svg' "$TMP/dom.html" | wc -l)" -eq 2
    check "DOM has 3 ROC curves and 3 efficiency lines" test "$(grep -o '<polyline' "$TMP/dom.html" | wc -l)" -ge 3
    for p in supervised fine-tune "linear probe"; do
        check "DOM names $p" grep -q "$p" "$TMP/dom.html"
    done
fi
finish
