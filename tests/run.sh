#!/usr/bin/env bash
# Run every compiled test binary in $1 (default build/tests) and every tests/*_test.sh,
# then print one summed "N passed, N failed" line. Exit non-zero if anything failed.
# Shell tests receive the kres binary path in $KRES.
set -u
bindir=${1:-build/tests}
export KRES=${KRES:-build/kres}
# Passive OpenMP waiting: spinning workers make tiny-shape tests crawl on a busy 2-core box.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
pass=0; fail=0; broken=0
run_one() {
    local name=$1; shift
    local out rc
    out=$("$@" 2>&1); rc=$?
    local line
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    if [ -z "$line" ]; then
        printf '%s\n' "$out" | tail -n 30
        echo "BROKEN $name (exit $rc, no summary line)"
        broken=$((broken + 1)); return
    fi
    local p f
    p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
    pass=$((pass + p)); fail=$((fail + f))
    if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
        printf '%s\n' "$out" | grep -E 'FAIL|ERROR|runtime error|Sanitizer' | head -n 40
        echo "FAILED $name: $line (exit $rc)"
        [ "$f" -eq 0 ] && broken=$((broken + 1))
    else
        echo "ok   $name: $line"
    fi
}
for t in "$bindir"/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for s in tests/*_test.sh; do
    [ -f "$s" ] || continue
    run_one "$(basename "$s")" bash "$s"
done
fail=$((fail + broken))
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
