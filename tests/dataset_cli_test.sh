#!/usr/bin/env bash
# dataset_cli_test.sh — `kres dataset`: exit codes, error messages, the README counts.
. "$(dirname "$0")/lib.sh"
S=data/ptbxl-sample
has() { grep -q -F -- "$1" "$2"; }

# Usage errors exit 2.
expect_exit 2 "no args" -- "$KRES" dataset
expect_exit 2 "bad flag" -- "$KRES" dataset "$S" --bogus
check "bad flag named" has "--bogus" "$TMP/err"
expect_exit 2 "flag without value" -- "$KRES" dataset "$S" --task
expect_exit 2 "bad rate" -- "$KRES" dataset "$S" --rate 250
expect_exit 2 "bad protocol" -- "$KRES" dataset "$S" --protocol most
expect_exit 2 "bad min likelihood" -- "$KRES" dataset "$S" --min-likelihood 101
expect_exit 2 "two dirs" -- "$KRES" dataset "$S" "$S"
expect_exit 2 "unknown code" -- "$KRES" dataset "$S" --task 1AVB,XYZ
check "unknown code named, valid ones listed" has "'XYZ'" "$TMP/err"
check "valid codes listed" has "LAFB" "$TMP/err"
expect_exit 0 "help" -- "$KRES" dataset --help
check "help mentions protocol" has "--protocol" "$TMP/out"

# Data errors exit 1 and name the file.
expect_exit 1 "missing dir" -- "$KRES" dataset "$TMP/nope"
check "missing dir named" has "$TMP/nope" "$TMP/err"
expect_exit 1 "file, not dir" -- "$KRES" dataset "$S/README.md"
mkdir -p "$TMP/p/rec"
cp "$S/scp_statements.csv" "$TMP/p/"
expect_exit 1 "missing database csv" -- "$KRES" dataset "$TMP/p"
check "missing csv named" has "ptbxl_database.csv" "$TMP/err"
head -3 "$S/ptbxl_database.csv" > "$TMP/p/ptbxl_database.csv"
sed -n 3p "$S/ptbxl_database.csv" | sed -e 's/^2,/4,/' -e "s/'SBRAD': 0.0}/}/" >> "$TMP/p/ptbxl_database.csv"
expect_exit 1 "bad scp_codes" -- "$KRES" dataset "$TMP/p"
check "bad row: file and line" has "ptbxl_database.csv: line 4: scp_codes" "$TMP/err"
cut -d, -f1-5 "$S/ptbxl_database.csv" > "$TMP/p/ptbxl_database.csv"
expect_exit 1 "missing column" -- "$KRES" dataset "$TMP/p"
check "missing columns named" has "columns 'strat_fold', 'filename_lr', 'filename_hr', 'scp_codes' missing" "$TMP/err"

# Records without files are skipped (counted), a broken header is a bad record; not fatal.
head -4 "$S/ptbxl_database.csv" | sed 's#records100/00000/0000\([0-9]\)_lr#rec/\1_lr#' > "$TMP/p/ptbxl_database.csv"
cp "$S/records100/00000/00001_lr.hea" "$S/records100/00000/00001_lr.dat" "$TMP/p/rec/"
mv "$TMP/p/rec/00001_lr.hea" "$TMP/p/rec/1_lr.hea"; mv "$TMP/p/rec/00001_lr.dat" "$TMP/p/rec/1_lr.dat"
sed -i 's/00001_lr.dat/1_lr.dat/' "$TMP/p/rec/1_lr.hea"
echo "not a header" > "$TMP/p/rec/2_lr.hea"; : > "$TMP/p/rec/2_lr.dat"
expect_exit 0 "partial tree" -- "$KRES" dataset "$TMP/p" --protocol all
check "one usable record" has "cohort             1 records" "$TMP/out"
check "missing files counted" grep -q -E "missing-files +1 +ecg_id 3" "$TMP/out"
check "bad record counted" grep -q -E "bad-record +1 +ecg_id 2" "$TMP/out"
check "bad record detail names header" has "2_lr.hea" "$TMP/out"

# README counts on the sample.
expect_exit 0 "sample" -- "$KRES" dataset "$S"
check "paper cohort" has "cohort             357 records: 71 positive, 286 negative" "$TMP/out"
check "duplicates" grep -q -E "duplicate-v1.0.3 +12 +ecg_id 137 139 140 141 142 143 145 456 458 459 461 462$" "$TMP/out"
check "fold 10" grep -q -E "^ +10 +test +11 +34 +45$" "$TMP/out"
check "fold 2" grep -q -E "^ +2 +train +7 +35 +42$" "$TMP/out"
check "IRBBB count" grep -q -E "^IRBBB +20 " "$TMP/out"
check "throughput on stderr" has "records/s" "$TMP/err"
check "peak RSS on stderr" has "peak RSS" "$TMP/err"
expect_exit 0 "sample all" -- "$KRES" dataset "$S" --protocol all --json
check "json all" has '"records":488,"positives":71,"negatives":417' "$TMP/out"
check "json codes" has '"codes":{"1AVB":9,"2AVB":0,"3AVB":0,"CLBBB":8,"CRBBB":8,"ILBBB":2,"IRBBB":20,"LAFB":29,"LPFB":4}' "$TMP/out"
check "json duplicates" has '"duplicate-v1.0.3":12' "$TMP/out"
expect_exit 0 "code list task" -- "$KRES" dataset "$S" --task lafb,1avb --json
check "code list counts" has '"codes":{"LAFB":29,"1AVB":9}' "$TMP/out"
expect_exit 0 "500 Hz on a 100 Hz-only tree" -- "$KRES" dataset "$S" --rate 500
check "all missing at 500 Hz" grep -q -E "missing-files +357 " "$TMP/out"
if [ -d ../shared/data/ptbxl/records500 ]; then
    expect_exit 0 "shared 500 Hz" -- "$KRES" dataset ../shared/data/ptbxl --rate 500
    check "shared 500 Hz cohort" has "cohort             357 records: 71 positive, 286 negative" "$TMP/out"
fi
# A named task whose code the statements file lacks: the file is at fault (exit 1, named)
D="$TMP/no2avb"
mkdir -p "$D" && ln -s "$PWD/$S/records100" "$D/records100" && cp "$S/ptbxl_database.csv" "$D/"
grep -v '^2AVB,' "$S/scp_statements.csv" >"$D/scp_statements.csv"
expect_exit 1 "statements file without 2AVB" -- "$KRES" dataset "$D"
check "error names the file and the code" \
    grep -q "no2avb/scp_statements.csv: has no statement '2AVB', which task 'heart-block' needs" "$TMP/err"
expect_exit 0 "a task it does not need still works" -- "$KRES" dataset "$D" --task lafb
expect_exit 2 "an unknown code given by the user is a usage error" -- "$KRES" dataset "$S" --task 9AVB
finish
