#!/usr/bin/env bash
# twin_test.sh — cross-check KRes against its PyTorch twin (bench/kres_twin.py).
# test_kres --twin-dump writes weights, an input batch, the C outputs in training and
# inference mode, one step of parameter gradients and the updated BN statistics, for a tiny
# config and for the default 12 x 1024 architecture (dropout 0). The twin loads the weights
# by name from the safetensors file and must agree: outputs and running statistics to 1e-4,
# gradients to 1e-3 (relative to each tensor's largest value). Skipped, counting nothing,
# when PyTorch is not importable (bash scripts/setup.sh --bench installs it).
. "$(dirname "$0")/lib.sh"
PY=${KRES_PYTHON:-/usr/bin/python3}
DUMP=$(dirname "$KRES")/tests/test_kres

if ! "$PY" -c "import torch, numpy" >/dev/null 2>&1; then
    echo "twin_test: skipped: $PY cannot import torch and numpy (bash scripts/setup.sh --bench)"
    finish
    exit
fi
if [ ! -x "$DUMP" ]; then
    bad "no $DUMP (build the tests first)"
    finish
    exit
fi

# Twice: through the library's default convolution backend (im2col + OpenBLAS) and through
# the dnnl backend the CLI uses (oneDNN, FFT, and at batch 2 the direct kernels and, for
# the inference outputs, the Winograd path).
for be in fast dnnl; do
    D=$TMP/$be
    mkdir -p "$D"
    expect_exit 0 "C dump ($be)" -- env KRES_BACKEND=$be "$DUMP" --twin-dump "$D"
    for f in tiny default; do
        check "$f weights written ($be)" test -s "$D/$f.safetensors"
        check "$f io written ($be)" test -s "$D/$f.io.safetensors"
    done
    # The twin prints one line per worst error group and its own "N passed, M failed".
    "$PY" bench/kres_twin.py check "$D" tiny default >"$TMP/twin.out" 2>"$TMP/twin.err"
    rc=$?
    sed "s/^twin:/twin ($be):/" "$TMP/twin.out" | grep '^twin'
    check "twin agrees with the $be backend (exit $rc): $(head -c 400 "$TMP/twin.err")" test "$rc" -eq 0
    check "twin compared tensors ($be)" grep -q -E '^[1-9][0-9]+ passed, 0 failed$' "$TMP/twin.out"
    # Count the twin's own tensor comparisons (one per output, gradient and statistic).
    n=$(sed -n -E 's/^([0-9]+) passed, 0 failed$/\1/p' "$TMP/twin.out")
    [ -n "$n" ] && T_PASS=$((T_PASS + n))
done
# A corrupted weight file must be refused by the twin's reader, not silently loaded.
head -c 100 "$TMP/fast/tiny.safetensors" > "$TMP/broken.safetensors"
check "truncated file refused" sh -c "! '$PY' bench/kres_twin.py summary '$TMP/broken.safetensors' >/dev/null 2>&1"
finish
