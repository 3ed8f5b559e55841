#!/usr/bin/env bash
# The CPU benchmark recorded under results/perf/ (run on an otherwise idle machine).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/perf}
BENCH=".venv/bin/attnxfer bench"
mkdir -p "$OUT"
{
  echo "# attnxfer bench on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "# code $(.venv/bin/python -c "from attnxfer_core.runs.provenance import code_version; print(code_version())")"
  # bf16 autocast is ~20x slower than fp32 on this AVX2-only CPU, so it gets fewer steps
  echo "\$ $BENCH --shape embedded --precision fp32 --modes copy,distill --steps 15 --warmup 3"
  $BENCH --shape embedded --precision fp32 --modes copy,distill --steps 15 --warmup 3 --json "$OUT/cpu_bench_embedded.json"
  echo "\$ $BENCH --shape embedded --precision bf16 --modes copy,distill --steps 3 --warmup 1"
  $BENCH --shape embedded --precision bf16 --modes copy,distill --steps 3 --warmup 1 --json "$OUT/cpu_bench_embedded_bf16.json"
  echo "\$ $BENCH --shape embedded --precision fp32 --modes copy_q,copy_k,copy_v,distill_q,distill_k,distill_v --steps 10 --warmup 2"
  $BENCH --shape embedded --precision fp32 --modes copy_q,copy_k,copy_v,distill_q,distill_k,distill_v --steps 10 --warmup 2 \
      --json "$OUT/cpu_bench_embedded_qkv.json"
  echo "\$ $BENCH --shape vit_small --precision fp32 --modes copy,distill --steps 4 --warmup 1"
  $BENCH --shape vit_small --precision fp32 --modes copy,distill --steps 4 --warmup 1 --json "$OUT/cpu_bench_vit_small.json"
} 2>&1 | tee "$OUT/cpu_bench.txt"
