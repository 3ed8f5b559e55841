#!/usr/bin/env bash
# The paper-scale rehearsal of `main` on one GPU, for a lent GPU machine (about 5 minutes):
# ViT-L students and a ViT-L teacher of random weights at the recipe's per-GPU micro-batch (32),
# 3 + 10 steps of each method on synthetic ImageNet-layout JPEGs (1000 classes), in this process.
# Writes results/perf/rehearsal_main_paper.json (step time, data wait, peak GPU memory, predicted
# GPU-hours of the sweep) and prints the report; `attnxfer plan main --scale paper --rehearsal
# results/perf/rehearsal_main_paper.json` then uses it in place of the FLOP guess.
#
#     bash scripts/gpu_rehearse.sh          (after scripts/setup-env.sh; no internet needed)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/perf}
ROOT=${ROOT:-/tmp/attnxfer-rehearsal}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
PY=${PY:-.venv/bin/python}  # scripts/gpu_session.sh sets python3 where there is no .venv
PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} "$PY" -m attnxfer_core rehearse main "exec.runs_root=$ROOT/runs" "exec.data_workers=${WORKERS:-12}" --scale paper \
    --executor debug --steps "${STEPS:-10}" --classes 1000 \
    --json "$OUT/rehearsal_main_paper.json"
