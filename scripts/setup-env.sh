#!/usr/bin/env bash
# Create the virtual environment and install the suite.
# torch and torchvision go in first, as a matched pair: timm imports torchvision,
# and a torchvision that does not match torch fails at import.
set -euo pipefail
VENV=${VENV:-.venv}
APT_PACKAGES=${APT_PACKAGES:-}
TORCH_PINS=${TORCH_PINS:-"torch==2.14.1 torchvision==0.29.1"}

if [ -n "$APT_PACKAGES" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=""
    for pkg in $APT_PACKAGES; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
    done
    if [ -n "$missing" ]; then
        echo "setup: apt-get install$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q $missing >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q $missing >/dev/null; }
    fi
elif [ -n "$APT_PACKAGES" ]; then
    echo "setup: not root; make sure these Debian packages are installed: $APT_PACKAGES"
fi

# A new environment takes about 6.6 GB (torch 2.14.1 is a CUDA build on x86_64; its nvidia-* wheels are
# 3.2 GB). A disk that fills half-way through pip leaves a broken .venv and an error far from its cause,
# so say so before installing anything. pip's wheel cache would hold a second copy of the downloads: off.
MIN_FREE_GB=${MIN_FREE_GB:-7}
export PIP_NO_CACHE_DIR=1
case "$MIN_FREE_GB" in
    ''|*[!0-9]*) echo "setup: MIN_FREE_GB must be a whole number of GiB, not '$MIN_FREE_GB'" >&2; exit 2 ;;
esac
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
    parent=$(dirname "$VENV")
    while [ ! -d "$parent" ]; do parent=$(dirname "$parent"); done  # venv creates the folders it lacks
    free_kb=$(df -Pk "$parent" 2>/dev/null | awk 'NR==2 {print $4}') || free_kb=""
    if [ -n "$free_kb" ] && [ "$free_kb" -lt $(( MIN_FREE_GB * 1024 * 1024 )) ]; then
        echo "setup: $VENV needs about $MIN_FREE_GB GiB free on $parent's disk, which has $(( free_kb / 1024 )) MiB; free some space (or set MIN_FREE_GB)" >&2
        exit 1
    fi
fi

start=$(date +%s)
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
# shellcheck disable=SC2086
"$VENV/bin/pip" install -q $TORCH_PINS 2>&1 | grep -v "^WARNING: Location" || true
"$VENV/bin/pip" install -q -e ".[test]" 2>&1 | grep -v "^WARNING: Location" || true
"$VENV/bin/python" -c "import attnxfer_core, timm, torch, torchvision" \
    || { echo "setup: the environment in $VENV does not import; see pip output above" >&2; exit 1; }
echo "setup: environment ready in $VENV ($(( $(date +%s) - start )) s)"
