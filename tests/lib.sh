# tests/lib.sh — helpers for shell tests. Source it; call `finish` at the end.
# $KRES is the kres binary under test (set by tests/run.sh).
KRES=${KRES:-build/kres}
T_PASS=0; T_FAIL=0
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
ok()   { T_PASS=$((T_PASS + 1)); }
bad()  { T_FAIL=$((T_FAIL + 1)); echo "FAIL: $*" >&2; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }
# expect_exit CODE DESCRIPTION -- command...: run, compare exit status, keep stderr in $TMP/err
expect_exit() {
    local want=$1 what=$2; shift 3
    "$@" >"$TMP/out" 2>"$TMP/err"; local rc=$?
    if [ "$rc" -eq "$want" ]; then ok; else bad "$what: exit $rc, wanted $want: $(head -c 300 "$TMP/err")"; fi
    if grep -q -E 'Sanitizer|runtime error' "$TMP/err"; then bad "$what: sanitizer report"; fi
}
finish() { echo "$T_PASS passed, $T_FAIL failed"; [ "$T_FAIL" -eq 0 ]; }
# Small configurations several CLI tests train with: the 256-sample preprocessing chain
# ($TMP/pre.json) and a tiny kernel-17 KRes ($TMP/tiny.json).
write_pre_json() {
    cat >"$TMP/pre.json" <<'JSON'
{"target_rate": 100, "length": 256, "highpass_hz": 0.5, "lowpass_hz": 40, "standardize": 1, "allow_missing_leads": 0}
JSON
}
write_tiny_json() {
    cat >"$TMP/tiny.json" <<'JSON'
{"in_leads": 12, "in_len": 256, "stem_width": 8, "kernel": 17, "widths": [8, 12], "downsample": 4, "dropout": 0.1}
JSON
}
