#!/usr/bin/env bash
# kernel_switches_test.sh — the hand-written AVX2 kernels each have an off switch (for CPUs
# without AVX2 the same fallbacks run by themselves): with every switch off in turn the
# backend tests still pass, so the fallbacks stay correct; and the switches documented as
# bit-neutral (KRES_FFT_GATHER: transposed window moves) change no bit of the FFT path.
. "$(dirname "$0")/lib.sh"
TB=$(dirname "$KRES")/tests/test_backend
check "test_backend built" test -x "$TB"
for sw in KRES_FFT_GATHER KRES_FFT_SMALL KRES_CONV_DIRECT KRES_CONV_WINOGRAD; do
    expect_exit 0 "test_backend with $sw=0" -- env OMP_NUM_THREADS=2 "$sw=0" "$TB"
    check "$sw=0: all checks pass" grep -q ' 0 failed' "$TMP/out"
done
expect_exit 0 "digest, transposed moves on" -- env OMP_NUM_THREADS=1 "$TB" --digest
cp "$TMP/out" "$TMP/on"
expect_exit 0 "digest, transposed moves off" -- env OMP_NUM_THREADS=1 KRES_FFT_GATHER=0 "$TB" --digest
check "digest printed" grep -q '^digest [0-9a-f]\{16\}$' "$TMP/on"
check "KRES_FFT_GATHER changes no bit" cmp -s "$TMP/on" "$TMP/out"
finish
