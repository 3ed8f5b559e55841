#!/usr/bin/env bash
# Benchmarks of the study, evaluation and analysis paths, recorded under results/perf/
# (run on an otherwise idle machine). bench eval needs finished embedded runs: pass their
# directories (default: the demo's seed-0 distill, copy and scratch runs under runs/).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/perf}
CLI=.venv/bin/attnxfer
RUNS=("$@")
if [ ${#RUNS[@]} -eq 0 ]; then
  mapfile -t RUNS < <(.venv/bin/python -c "
from attnxfer_core.modes import Mode
from attnxfer_core.experiments.presets import embedded
from attnxfer_core.runs.rundir import run_dir_of
for mode in (Mode.DISTILL, Mode.COPY, Mode.SCRATCH):
    print(run_dir_of(embedded(mode, 0)).path)")
fi
mkdir -p "$OUT"
{
  echo "# attnxfer analysis benchmarks on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "# code $(.venv/bin/python -c "from attnxfer_core.runs.provenance import code_version; print(code_version())")"
  echo "\$ attnxfer bench plan"
  $CLI bench plan
  echo "\$ attnxfer bench collect"
  $CLI bench collect
  for run in "${RUNS[@]}"; do
    echo "\$ attnxfer bench eval $run"
    $CLI bench eval "$run" 2>&1 | grep -v "^reusing cached"
  done
} 2>&1 | tee "$OUT/analysis_bench.txt"
