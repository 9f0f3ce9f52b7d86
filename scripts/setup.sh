#!/usr/bin/env bash
# Install kres's build and test dependencies from Debian 12 (run as root). Idempotent:
# packages already present are skipped, and apt is not touched when nothing is missing.
#   scripts/setup.sh          build + test dependencies
#   scripts/setup.sh --bench  also PyTorch for the benchmark twin (bench/)
set -eu
pkgs="build-essential libsamplerate0-dev liblbfgs-dev libdnnl-dev libopenblas-dev zlib1g-dev chromium"
[ "${1:-}" = "--bench" ] && pkgs="$pkgs python3-torch python3-numpy"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing:$missing"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
else
    echo "setup: all dependencies present"
fi
