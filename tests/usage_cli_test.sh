#!/usr/bin/env bash
# usage_cli_test.sh — the flag parsing every subcommand shares (src/cli/args.c): an unknown
# option is reported as unknown wherever it stands (also last on the line, where it used to
# be reported as "needs a value"), a known option without its value as needing one, a stray
# argument as unexpected; all exit 2 and nothing runs. No training: every case stops in the
# parser.
. "$(dirname "$0")/lib.sh"
S=data/ptbxl-sample
R1=$S/records100/00000/00001_lr

# expect_unknown DESCRIPTION FLAG -- command...: exit 2 naming FLAG as an unknown option
expect_unknown() {
    local what=$1 flag=$2; shift 3
    expect_exit 2 "$what" -- "$@"
    check "$what: says unknown option '$flag'" grep -q -F "unknown option '$flag'" "$TMP/err"
    check "$what: not 'needs a value'" bash -c "! grep -q 'needs a value' '$TMP/err'"
}

# ---- an unknown flag last on the line, after flags that take values and switches ----
expect_unknown "train: --bogus last" --bogus -- "$KRES" train --data "$S" --out "$TMP/x.safetensors" --bogus
expect_unknown "train: --bogus after switches" --bogus -- "$KRES" train --data "$S" --quiet --json --bogus
expect_unknown "pretrain: --bogus last" --bogus -- "$KRES" pretrain --data "$S" --out "$TMP/e.safetensors" --bogus
expect_unknown "pretrain: --bogus after --data DIR DIR" --bogus -- "$KRES" pretrain --data "$S" "$S" --bogus
expect_unknown "probe: --bogus last" --bogus -- "$KRES" probe --encoder x --data "$S" --out "$TMP/p.safetensors" --bogus
expect_unknown "probe: --bogus after a switch" --bogus -- "$KRES" probe --no-class-weights --bogus
expect_unknown "finetune: --bogus last" --bogus -- "$KRES" finetune --encoder x --data "$S" --out "$TMP/f.safetensors" --bogus
expect_unknown "finetune: --bogus after --augment" --bogus -- "$KRES" finetune --augment --bogus
expect_unknown "embed: --bogus last" --bogus -- "$KRES" embed --encoder x "$R1" --out "$TMP/e.csv" --bogus
expect_unknown "experiment: --bogus last" --bogus -- "$KRES" experiment --data "$S" --out "$TMP/run" --bogus
expect_unknown "model: --bogus last" --bogus -- "$KRES" model --json --bogus
expect_unknown "dataset: --bogus last" --bogus -- "$KRES" dataset "$S" --bogus
expect_unknown "eval: --bogus last" --bogus -- "$KRES" eval --scores "$TMP/s.csv" --bogus
expect_unknown "predict: --bogus last" --bogus -- "$KRES" predict --model x "$R1" --bogus
expect_unknown "samples: --bogus last" --bogus -- "$KRES" samples "$R1" --bogus
expect_unknown "info: --bogus last" --bogus -- "$KRES" info "$R1" --bogus

# ---- ... and followed by something that could be its value ----
for c in train pretrain probe finetune embed experiment model; do
    expect_unknown "$c: --bogus 1" --bogus -- "$KRES" "$c" --bogus 1
done
expect_unknown "train: a lone --" -- -- "$KRES" train --data "$S" --

# ---- a known flag without its value ----
for c in train pretrain probe finetune embed experiment; do
    expect_exit 2 "$c: --data without a value" -- "$KRES" "$c" --out "$TMP/x" --data
    check "$c: says --data needs a value" grep -q -F -- "--data needs a value" "$TMP/err"
done
expect_exit 2 "model: --config without a value" -- "$KRES" model --config
check "model: says --config needs a value" grep -q -F -- "--config needs a value" "$TMP/err"

# ---- an argument that is no flag, where a command takes none ----
for c in train pretrain probe finetune experiment model; do
    expect_exit 2 "$c: stray argument" -- "$KRES" "$c" stray
    check "$c: says unexpected argument" grep -q -F "unexpected argument 'stray'" "$TMP/err"
done

# ---- the usual paths still work: --help anywhere, values of every type taken ----
for c in train pretrain probe finetune embed experiment model; do
    flags=(--data "$S" --quiet); [ "$c" = model ] && flags=(--preset 100hz --json)
    expect_exit 0 "$c: --help after flags" -- "$KRES" "$c" "${flags[@]}" --help
    check "$c: usage on stdout" grep -q "usage: kres $c" "$TMP/out"
done
expect_exit 2 "train: a bad value is still checked" -- "$KRES" train --data "$S" --out "$TMP/x.safetensors" --lr 0
check "train: names the range of --lr" grep -q -F -- "--lr must be a number in [1e-12, 10], got '0'" "$TMP/err"
expect_exit 2 "finetune: --rate as everywhere" -- "$KRES" finetune --encoder x --data "$S" --out "$TMP/f" --rate 50
check "finetune: --rate message" grep -q -F -- "--rate must be 100 or 500, got '50'" "$TMP/err"
expect_exit 2 "train --cv: a fold flag is noticed" -- "$KRES" train --data "$S" --cv --out-dir "$TMP/cv" --val-fold 3
check "train --cv: says drop the fold flags" grep -q "drop --val-fold/--test-fold" "$TMP/err"
# Enum flags name their words (ARG_CHOICE) and still set the value.
expect_exit 2 "eval: bad --ci" -- "$KRES" eval --scores "$TMP/s.csv" --ci wald
check "eval: --ci words" grep -q -F -- "--ci must be 'delong' or 'bootstrap', got 'wald'" "$TMP/err"
expect_exit 2 "eval: --ci bootstrap is taken" -- "$KRES" eval --scores "$TMP/s.csv" --ci bootstrap --boot 1
check "eval: --ci bootstrap reached the --boot check" grep -q -F -- "--ci bootstrap needs --boot of at least 2" "$TMP/err"
expect_exit 2 "experiment: bad --cv-pretrain" -- "$KRES" experiment --data "$S" --out "$TMP/run" --cv --cv-pretrain x
check "experiment: --cv-pretrain words" grep -q -F -- "--cv-pretrain must be 'transductive' or 'per-fold', got 'x'" "$TMP/err"
expect_exit 2 "experiment: --cv-pretrain per-fold is taken" -- "$KRES" experiment --data "$S" --out "$TMP/run" --cv-pretrain per-fold
check "experiment: per-fold reached the --cv check" grep -q -F -- "--cv-pretrain goes with --cv" "$TMP/err"
# Repeatable directory flags stop at their capacity (arg_append), before anything is read.
many=(); for k in $(seq 65); do many+=("$TMP/d$k"); done
expect_exit 2 "pretrain: 65 --data directories" -- "$KRES" pretrain --out "$TMP/e.safetensors" --data "${many[@]}"
check "pretrain: says at most 64" grep -q -F "at most 64 data directories" "$TMP/err"
manyflags=(); for k in $(seq 65); do manyflags+=(--pretrain-data "$TMP/d$k"); done
expect_exit 2 "experiment: 65 --pretrain-data" -- "$KRES" experiment --data "$S" --out "$TMP/run" "${manyflags[@]}"
check "experiment: says at most 64" grep -q -F "at most 64 --pretrain-data directories" "$TMP/err"
# finetune takes the flags it shares with train, and only those.
expect_unknown "finetune: no --warmup (a train-only flag)" --warmup -- "$KRES" finetune --encoder x --warmup 0.1
expect_exit 2 "finetune: shared flags parse" -- "$KRES" finetune --encoder x --data "$S" --out "$TMP/f" \
    --quiet --augment --task avb --log "$TMP/l" --protocol all --rate 500 --label-fraction 0.5 --subset-seed 3 \
    --epochs 2 --batch 4 --lr 0.01 --weight-decay 0 --seed 2 --threads 1 --threshold-rule youden \
    --encoder-lr-scale 1 --val-fold 3 --test-fold 3
check "finetune: got to the fold check" grep -q -F -- "--val-fold and --test-fold must differ" "$TMP/err"
# A single-dash word is a mistyped option (exit 2), not a record name.
expect_unknown "info: -x" -x -- "$KRES" info -x
expect_unknown "samples: -raw" -raw -- "$KRES" samples -raw "$R1"
expect_unknown "embed: -q among records" -q -- "$KRES" embed --encoder x --out "$TMP/e.csv" "$R1" -q
# Commands that take one positional argument say so when given two.
expect_exit 2 "info: two records" -- "$KRES" info "$R1" "$R1"
check "info: one RECORD only" grep -q -F "one RECORD only (got '$R1' and '$R1')" "$TMP/err"
expect_exit 2 "samples: two records" -- "$KRES" samples "$R1" "$R1"
check "samples: one RECORD only" grep -q -F "one RECORD only" "$TMP/err"
expect_exit 2 "dataset: two directories" -- "$KRES" dataset "$S" "$S"
check "dataset: one PTBXL_DIR only" grep -q -F "one PTBXL_DIR only" "$TMP/err"
expect_exit 2 "samples: bad --to" -- "$KRES" samples "$R1" --to -3
check "samples: names the range of --to" grep -q -F -- "--to must be an integer in [0," "$TMP/err"
check "nothing written by usage errors" test -z "$(ls -A "$TMP" | grep -v -E '^(out|err)$')"
finish
