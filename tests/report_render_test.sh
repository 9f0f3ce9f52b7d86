#!/usr/bin/env bash
# report_render_test.sh — render the experiment report (synthetic data, written by the
# test_report binary) in headless Chromium: the rendered DOM must hold the results table
# and both SVG plots, and a screenshot must come out as a real, non-blank PNG.
# Without Chromium (Debian package 'chromium', installed by scripts/setup.sh) the
# rendering checks are skipped with a message; the report itself is still checked.
. "$(dirname "$0")/lib.sh"

bin="$(dirname "$KRES")/tests/test_report"
html="$TMP/report.html"
if [ -x "$bin" ]; then
    expect_exit 0 "test_report writes a report" -- "$bin" "$html"
else
    bad "no test_report binary at $bin"
fi
check "report file exists" test -s "$html"
check "report is self-contained (no external references)" \
    bash -c "! grep -q -E '(src=|href=|<link|@import|url\\()' '$html'"

chrome=""
for c in chromium chromium-browser; do
    if command -v "$c" >/dev/null 2>&1; then chrome=$(command -v "$c"); break; fi
done
if [ -z "$chrome" ] || [ ! -s "$html" ]; then
    echo "SKIP: chromium not installed (scripts/setup.sh installs it); rendering not checked"
    finish
    exit $?
fi

# a private profile dir keeps Chromium away from $HOME; stderr (dbus noise) is kept aside
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$TMP/profile")
timeout 120 "$chrome" "${flags[@]}" --dump-dom "file://$html" >"$TMP/dom.html" 2>"$TMP/chrome.err"
check "chromium --dump-dom exit 0" test $? -eq 0
dom="$TMP/dom.html"
count() { grep -o -- "$1" "$dom" | wc -l; }
check "DOM has 2 svg plots" test "$(count '<svg')" -eq 2
check "DOM has the results table" test "$(count '<table class="results"')" -eq 1
check "DOM has 19 data rows + header" test "$(count '<tr')" -eq 20
check "DOM has 6 polylines (3 ROC + 3 label-efficiency)" test "$(count '<polyline')" -eq 6
check "DOM has table cells" grep -q '<td>100%</td>' "$dom"
for p in 'supervised' 'fine-tune (SimCLR)' 'linear probe &lt;frozen&gt; &amp; co'; do
    check "DOM names pipeline '$p'" grep -q -F "$p" "$dom"
done
check "escaped text did not become a script element" bash -c "! grep -q '<script' '$dom'"
check "legend shows AUC" grep -q 'AUC 0\.' "$dom"

timeout 120 "$chrome" "${flags[@]}" --window-size=1200,1800 --screenshot="$TMP/shot.png" "file://$html" \
    >/dev/null 2>>"$TMP/chrome.err"
check "chromium --screenshot exit 0" test $? -eq 0
check "screenshot exists" test -s "$TMP/shot.png"
check "screenshot is a PNG" bash -c "head -c 8 '$TMP/shot.png' | od -An -tx1 | tr -d ' \n' | grep -q '^89504e470d0a1a0a'"
# a blank 1200x1800 page compresses to a few KB; text, table and plots take far more
size=$(wc -c <"$TMP/shot.png" 2>/dev/null || echo 0)
check "screenshot is non-trivial ($size bytes)" test "$size" -gt 40000
if [ -n "${KRES_KEEP_SCREENSHOT:-}" ]; then cp "$TMP/shot.png" "$KRES_KEEP_SCREENSHOT"; fi
finish
