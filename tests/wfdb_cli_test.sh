#!/usr/bin/env bash
# wfdb_cli_test.sh — 'kres info' and 'kres samples' on good records, a corpus of malformed
# headers and signal files (each: exit 1, a message naming the file, no sanitizer report),
# and usage errors (exit 2).
. tests/lib.sh

SRC=data/ptbxl-sample/records100/00000/00001_lr
HR=../shared/data/ptbxl/records500/00000/00001_hr
D=$TMP/c
mkdir -p "$D"

# --- good record: outputs -----------------------------------------------------------------
expect_exit 0 "info" -- "$KRES" info "$SRC"
check "info length" grep -q -F 'length    1000 samples (10 s)' "$TMP/out"
check "info rate" grep -q -F 'rate      100 Hz' "$TMP/out"
check "info V6 checksum 832 matches" grep -q -E '^ +11 +V6 .* -79 +yes +832 +yes$' "$TMP/out"
check "info: 12 matching signals" test "$(grep -c -E 'yes +[0-9]+ +yes$' "$TMP/out")" -eq 12
expect_exit 0 "info .hea" -- "$KRES" info "$SRC.hea"
expect_exit 0 "info --json" -- "$KRES" info --json "$SRC"
check "json nsamples" grep -q -F '"nsamples":1000' "$TMP/out"
check "json V6" grep -q -F '"name":"V6","file":"00001_lr.dat","format":16' "$TMP/out"
check "json checksum" grep -q -F '"checksum":64758,"checksum_ok":true' "$TMP/out"
check "json ok" grep -q -F '"comments":[],"ok":true}' "$TMP/out"

expect_exit 0 "samples" -- "$KRES" samples "$SRC"
check "samples header" test "$(head -n 1 "$TMP/out")" = "sample,I,II,III,AVR,AVL,AVF,V1,V2,V3,V4,V5,V6"
check "samples rows" test "$(wc -l < "$TMP/out")" -eq 1001
# First frame, from 'od -A d -t d2 -N 24 00001_lr.dat' divided by the gain 1000:
check "samples row 0" test "$(sed -n 2p "$TMP/out")" = "0,-0.119,-0.055,0.064,0.086,-0.091,0.004,-0.069,-0.031,0,-0.026,-0.039,-0.079"
expect_exit 0 "samples --raw" -- "$KRES" samples "$SRC" --raw --from 998
# Last frame, from 'od -A d -t d2 -j 23976 -N 24 00001_lr.dat':
check "raw last row" test "$(tail -n 1 "$TMP/out")" = "999,22,-31,-54,5,38,-42,-1,107,-149,143,-35,-120"
check "raw rows" test "$(wc -l < "$TMP/out")" -eq 3
expect_exit 0 "samples range" -- "$KRES" samples --from 10 --to 20 "$SRC"
check "range rows" test "$(wc -l < "$TMP/out")" -eq 11
check "range first" grep -q '^10,' "$TMP/out"
check "range last" test "$(tail -n 1 "$TMP/out" | cut -d, -f1)" = 19
if [ -f "$HR.hea" ]; then
    expect_exit 0 "samples 500 Hz" -- "$KRES" samples "$HR"
    check "500 Hz rows" test "$(wc -l < "$TMP/out")" -eq 5001
    # From 'od -A d -t d2 -j 119976 -N 24 00001_hr.dat': V6 = 180 -> 0.18 mV
    check "500 Hz last V6" test "$(tail -n 1 "$TMP/out" | cut -d, -f1,13)" = "4999,0.18"
fi

# Optional fields: gain 0 (= 200), uV units, baseline 10, comments, lead name with a comma.
cp "$SRC.dat" "$D/uv.dat"
{
    echo "# age: 56"
    echo "uv 12 100/1000(3) 1000 08:30:00 01/02/2003"
    for i in $(seq 1 11); do echo "uv.dat 16 0(10)/uV 16 0"; done
    echo "uv.dat 16 0(10)/uV 16 0 -79 832 0 lead, twelve"
    echo "#sex: F"
} > "$D/uv.hea"
expect_exit 0 "info optional fields" -- "$KRES" info "$D/uv"
check "info start" grep -q -F 'start     08:30:00 01/02/2003' "$TMP/out"
check "info counter" grep -q -F 'counter   1000 Hz, base 3' "$TMP/out"
check "info comments" grep -q -F '  #sex: F' "$TMP/out"
check "info gain 200 uV" grep -q -E '^ +0 +- +uv.dat +16 +200 +10 +uV ' "$TMP/out"
expect_exit 0 "samples optional fields" -- "$KRES" samples "$D/uv" --to 1
check "quoted lead name" test "$(head -n 1 "$TMP/out" | cut -d, -f12-)" = 'sig10,"lead, twelve"'
# (-119 - 10) / 200 uV = -0.000645 mV
check "uV converted" test "$(sed -n 2p "$TMP/out" | cut -d, -f2)" = "-0.000645"

# --- malformed corpus -----------------------------------------------------------------------
# mk NAME: a copy of the good record under NAME (header rewritten to the new name).
mk() {
    sed "s/00001_lr/$1/g" "$SRC.hea" > "$D/$1.hea"
    cp "$SRC.dat" "$D/$1.dat"
}
# bad NAME FILE MESSAGE: info and samples both exit 1, naming $D/FILE, saying MESSAGE.
bad() {
    local name=$1 file=$2 msg=$3 cmd
    for cmd in info samples; do
        expect_exit 1 "$cmd $name" -- "$KRES" "$cmd" "$D/$name"
        check "$cmd $name names $file" grep -q -F "kres: error: $D/$file: " "$TMP/err"
        check "$cmd $name says '$msg'" grep -q -F "$msg" "$TMP/err"
        check "$cmd $name prints nothing" test ! -s "$TMP/out"
    done
}

mk trunc; head -c 23999 "$SRC.dat" > "$D/trunc.dat"
bad trunc trunc.dat "truncated"
mk over; head -c 24 "$SRC.dat" >> "$D/over.dat"
bad over over.dat "oversized"
mk overbyte; printf 'x' >> "$D/overbyte.dat"
bad overbyte overbyte.dat "oversized"
mk nodat; rm "$D/nodat.dat"
bad nodat nodat.dat "cannot open"
mk nohea; rm "$D/nohea.hea"
bad nohea nohea.hea "cannot open"
mk fmt; sed -i '3s/ 16 / 999 /' "$D/fmt.hea"
bad fmt fmt.hea "unsupported signal format 999"
mk multi; sed -i '1s/^multi /multi\/2 /' "$D/multi.hea"
bad multi multi.hea "multi-segment records are not supported"
mk gain; sed -i '5s/1000.0(0)/abc(0)/' "$D/gain.hea"
bad gain gain.hea "line 5: malformed ADC gain"
mk dupbase; sed -i '2s/1000.0(0)/1000.0(0)(0)/' "$D/dupbase.hea"
bad dupbase dupbase.hea "malformed baseline"
mk dupunits; sed -i '2s/\/mV/\/mV\/mV/' "$D/dupunits.hea"
bad dupunits dupunits.hea "malformed units"
mk neg; sed -i '1s/ 1000$/ -1000/' "$D/neg.hea"
bad neg neg.hea "negative number of samples"
mk huge; sed -i '1s/ 1000$/ 9223372036854775807/' "$D/huge.hea"
bad huge huge.hea "too large"
mk ovf; sed -i '1s/ 1000$/ 99999999999999999999999/' "$D/ovf.hea"
bad ovf ovf.hea "malformed number of samples"
mk big; sed -i '1s/ 1000$/ 1099511627776/' "$D/big.hea"
bad big big.dat "truncated"
mk zero; sed -i '1s/ 12 / 0 /' "$D/zero.hea"
bad zero zero.hea "need at least 1"
mk many; sed -i '1s/ 12 / 300 /' "$D/many.hea"
bad many many.hea "exceed the limit of 256"
mk few; sed -i '$d' "$D/few.hea"
bad few few.hea "declares 12 signals but there are only 11"
mk dup; tail -n 1 "$D/dup.hea" >> "$D/dup.hea"
bad dup dup.hea "more signal lines"
mk nsigx; sed -i '1s/ 12 / twelve /' "$D/nsigx.hea"
bad nsigx nsigx.hea "malformed number of signals"
mk fs; sed -i '1s/ 100 / 0 /' "$D/fs.hea"
bad fs fs.hea "malformed sampling frequency"
mk cks; sed -i '2s/ 1508 / 1509 /' "$D/cks.hea"
mk res; sed -i '3s/mV 16 0/mV 64 0/' "$D/res.hea"
bad res res.hea "malformed ADC resolution"
mk mixed; sed -i '4s/ 16 1000/ 212 1000/' "$D/mixed.hea"
bad mixed mixed.hea "share file"
mk nul; printf 'nul 12\0 100 1000\n' > "$D/nul.hea"
bad nul nul.hea "NUL"
mk empty; : > "$D/empty.hea"
bad empty empty.hea "no record line"
mk frames; sed -i '1s/ 1000$//' "$D/frames.hea"; printf 'xy' >> "$D/frames.dat"
bad frames frames.dat "not a whole number"
mk nodata; sed -i '1s/ 1000$//' "$D/nodata.hea"; : > "$D/nodata.dat"
bad nodata nodata.dat "holds no samples"

# Length from the file size when the header omits it: still 1000 samples.
mk derived; sed -i '1s/ 1000$//' "$D/derived.hea"
expect_exit 0 "derived length" -- "$KRES" samples "$D/derived"
check "derived rows" test "$(wc -l < "$TMP/out")" -eq 1001

# Checksum mismatch: info prints the report, says NO, names the .dat and exits 1;
# samples warns and still prints every row.
expect_exit 1 "info checksum mismatch" -- "$KRES" info "$D/cks"
check "mismatch shown" grep -q -E '^ +0 +I .* 1509 +NO$' "$TMP/out"
check "mismatch names .dat" grep -q -F "kres: error: $D/cks.dat: 1 signal(s) do not match" "$TMP/err"
expect_exit 1 "info --json checksum mismatch" -- "$KRES" info --json "$D/cks"
check "json mismatch" grep -q -F '"checksum":1509,"checksum_ok":false' "$TMP/out"
check "json not ok" grep -q -F '"ok":false}' "$TMP/out"
expect_exit 0 "samples checksum mismatch" -- "$KRES" samples "$D/cks"
check "samples warns" grep -q -F "warning: $D/cks: signal 0 (I): checksum does not match" "$TMP/err"
check "samples still prints" test "$(wc -l < "$TMP/out")" -eq 1001

# --- usage errors and help --------------------------------------------------------------------
expect_exit 2 "info no args" -- "$KRES" info
expect_exit 2 "info two records" -- "$KRES" info "$SRC" "$SRC"
expect_exit 2 "info bad option" -- "$KRES" info --bogus "$SRC"
expect_exit 2 "samples no args" -- "$KRES" samples
expect_exit 2 "samples bad option" -- "$KRES" samples "$SRC" --lead I
expect_exit 2 "samples --from abc" -- "$KRES" samples "$SRC" --from abc
expect_exit 2 "samples --from -1" -- "$KRES" samples "$SRC" --from -1
expect_exit 2 "samples --to missing" -- "$KRES" samples "$SRC" --to
expect_exit 2 "samples empty range" -- "$KRES" samples "$SRC" --from 5 --to 5
check "range message" grep -q -F -- "--from 5 must be less than --to 5" "$TMP/err"
expect_exit 2 "samples --to beyond" -- "$KRES" samples "$SRC" --to 1001
check "beyond message" grep -q -F -- "--to 1001 is beyond the end of the record (1000 samples)" "$TMP/err"
expect_exit 2 "samples --from at end" -- "$KRES" samples "$SRC" --from 1000
check "usage errors print no data" test ! -s "$TMP/out"
expect_exit 0 "info --help" -- "$KRES" info --help
check "info help text" grep -q -F "usage: kres info RECORD [--json]" "$TMP/out"
expect_exit 0 "samples --help" -- "$KRES" samples --help
check "samples help text" grep -q -F "usage: kres samples RECORD [--from N] [--to N] [--raw]" "$TMP/out"
expect_exit 0 "help samples" -- "$KRES" help samples
check "help samples text" grep -q -F "usage: kres samples" "$TMP/out"

finish
