#!/usr/bin/env bash
# Every GPU measurement the open issues need, as one command for a lent GPU machine (about 10 minutes):
#   1. scripts/gpu_check.py: GPU correctness (both attention paths) and the step benchmark at the
#      recipes' per-GPU batches -> gpu_check.json, gpu_bench.json (issue 17);
#   2. scripts/gpu_rehearse.sh: the paper-scale rehearsal of `main` -> rehearsal_main_paper.json (issue 16).
# Results go to $OUT (the device tool's folder that comes back), else results/perf.
#
# The device machine has python3 with torch, timm, pandas, scipy, tensorboard ..., but no .venv and no
# submitit (the rehearsal's debug executor). Once, on the machine you call from, in the repository root:
#     echo /.whl/ >> .git/info/exclude
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#         --platform manylinux2014_x86_64 -d .whl submitit
# then call the device tool with carry [".whl"] and the command `bash scripts/gpu_session.sh`.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/perf}
mkdir -p "$OUT"
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
if [ -d .whl ] && [ ! -x .venv/bin/python ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 PY
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__)"
status=0
timeout 300 "$PY" scripts/gpu_check.py --out "$OUT" 2>&1 | tee "$OUT/gpu_check.log" || status=1
OUT=$OUT timeout 330 bash scripts/gpu_rehearse.sh 2>&1 | tee "$OUT/gpu_rehearse.log" || status=1
exit $status
