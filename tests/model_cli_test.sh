#!/usr/bin/env bash
# model_cli_test.sh — `kres model`: the layer table, totals, presets, JSON, config files.
. "$(dirname "$0")/lib.sh"
has() { grep -q -F -- "$1" "$2"; }

expect_exit 0 "default" -- "$KRES" model
check "default total params" grep -q -E '^  total +6924193 +484898112$' "$TMP/out"
check "default encoder" grep -q -E '^  encoder total +6780064 +484754432$' "$TMP/out"
check "shapes 1024 -> 4" has "units.3.conv2 (k17, stride 4)        320 x 4" "$TMP/out"
expect_exit 0 "400hz" -- "$KRES" model --preset 400hz
check "400hz: 4x the encoder MACs" grep -q -E '^  encoder total +6780064 +1939017728$' "$TMP/out"
check "400hz: 4096 -> 16" has "320 x 16" "$TMP/out"
expect_exit 0 "json" -- "$KRES" model --json
check "json params" has '"params":6924193' "$TMP/out"
check "json macs" has '"macs_per_ecg":484898112' "$TMP/out"
check "json tensor names" has '"name":"units.0.skip.weight","kind":"param","shape":[128,64,1]' "$TMP/out"
check "json buffers" has '"name":"units.3.bn2.running_var","kind":"buffer","shape":[320]' "$TMP/out"
expect_exit 0 "help" -- "$KRES" model --help
check "help lists presets" has "--preset 400hz" "$TMP/out"

# A config file: required keys only, the rest defaults.
cat > "$TMP/small.json" <<'JSON'
{"in_leads": 3, "in_len": 64, "stem_width": 4, "kernel": 5, "widths": [6, 8], "downsample": 2,
 "n_outputs": 2, "proj_hidden": 0}
JSON
expect_exit 0 "config file" -- "$KRES" model --config "$TMP/small.json"
# stem 4*3*5 + 8 = 68; unit 0 6*4*5 + 6*6*5 + 6*4 + 24 = 348; unit 1 8*6*5 + 8*8*5 + 8*6 + 32
# = 640; head 2*(8+1) = 18; total 1074
check "config file total" grep -q -E '^  total +1074 ' "$TMP/out"
check "no projection rows" sh -c "! grep -q proj '$TMP/out'"

# Errors: usage (2) and data (1, naming the file and the problem).
expect_exit 2 "bad preset" -- "$KRES" model --preset 250hz
check "bad preset named" has "250hz" "$TMP/err"
expect_exit 2 "preset and config" -- "$KRES" model --preset 100hz --config "$TMP/small.json"
expect_exit 2 "unknown flag" -- "$KRES" model --bogus
expect_exit 2 "missing value" -- "$KRES" model --config
expect_exit 1 "missing config file" -- "$KRES" model --config "$TMP/nope.json"
check "missing file named" has "$TMP/nope.json" "$TMP/err"
echo '{"in_leads": 3, "in_len": 62, "stem_width": 4, "kernel": 5, "widths": [6, 8], "downsample": 2}' > "$TMP/bad.json"
expect_exit 1 "indivisible length" -- "$KRES" model --config "$TMP/bad.json"
check "indivisible named" has "bad.json: model config: in_len 62 must be divisible" "$TMP/err"
echo '{"in_leads": 3, "in_len": 64, "stem_width": 4, "kernel": 5, "widths": [6, 8], "downsample": 2, "dropuot": 0.1}' > "$TMP/typo.json"
expect_exit 1 "unknown key" -- "$KRES" model --config "$TMP/typo.json"
check "unknown key named" has "unknown key 'dropuot'" "$TMP/err"
echo '{"in_leads": 3' > "$TMP/trunc.json"
expect_exit 1 "bad json" -- "$KRES" model --config "$TMP/trunc.json"
check "bad json named" has "trunc.json" "$TMP/err"
finish
