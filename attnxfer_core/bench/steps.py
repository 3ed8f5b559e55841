"""``attnxfer bench``: cost of a transfer step relative to a plain timm training step.

All variants run in one process, interleaved round-robin so that machine drift
hits them alike; each figure is the median over timed steps after warm-up.
Memory: on a GPU the true peak (``max_memory_allocated``); on the CPU the bytes
autograd keeps for the backward pass (saved activations), the part of a step's
memory that the variants change (the frozen teacher's weights are listed apart).
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Callable, Optional

import torch
import torch.nn.functional as F

from attnxfer_core.config import ModelConfig, Precision, TransferConfig
from attnxfer_core.models.factory import create_vit
from attnxfer_core.modes import Mode
from attnxfer_core.runs.provenance import environment
from attnxfer_core.transfer.losses import total_loss
from attnxfer_core.transfer.model import AttentionTransferModel
from attnxfer_core.transfer.plan import build_plan

# The public reference implementation measured on this project's 2-core CPU
# (embedded shape, fp32, all layers): see shared notes. Printed for comparison.
REFERENCE_RATIOS = {"copy": 1.16, "distill": 1.30}


@dataclass(frozen=True)
class BenchShape:
    model: ModelConfig
    img_size: int
    in_chans: int
    batch: int
    gpu_only: bool = False


SHAPES: dict[str, BenchShape] = {
    "embedded": BenchShape(ModelConfig(embed_dim=192, depth=6, num_heads=3, patch_size=4), 32, 3, 64),
    "vit_small": BenchShape(ModelConfig("vit_small_patch16_224", None, 16, None, None, None, None), 224, 3, 16),
    "vit_base": BenchShape(ModelConfig("vit_base_patch16_224", None, 16, None, None, None, None), 224, 3, 64, True),
    "vit_large": BenchShape(ModelConfig("vit_large_patch16_224", None, 16, None, None, None, None), 224, 3, 32, True),
}


def _saved_bytes(fn: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, int]:
    total = 0
    seen: set[int] = set()

    def pack(t: torch.Tensor):
        nonlocal total
        key = t.untyped_storage().data_ptr()
        if key not in seen:
            seen.add(key)
            total += t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, total


def _variants(shape: BenchShape, modes: list[str], device: torch.device, bf16_teacher: bool = False,
              sdpa: bool = False):
    torch.manual_seed(0)
    kw = dict(num_classes=1000 if shape.gpu_only or shape.img_size == 224 else 10, img_size=shape.img_size,
              in_chans=shape.in_chans)
    student = create_vit(shape.model, field="student", **kw).to(device)
    teacher = create_vit(shape.model, field="teacher", **kw).to(device).eval().requires_grad_(False)
    variants: dict[str, torch.nn.Module] = {"plain": student}
    for name in modes:
        for teacher_precision in (Precision.FP32, Precision.BF16) if bf16_teacher else (Precision.FP32,):
            cfg = TransferConfig(mode=Mode(name), layers="all", teacher_precision=teacher_precision)
            key = name if teacher_precision is Precision.FP32 else f"{name}+tbf16"
            plan = build_plan(cfg, student, teacher)
            variants[key] = AttentionTransferModel(student, teacher, plan)
            if sdpa and Mode(name) in (Mode.COPY, Mode.DISTILL):  # map transfer through fused kernels
                variants[f"{key}+sdpa"] = AttentionTransferModel(student, teacher, replace(plan, sdpa=True))
    return student, teacher, variants


def bench_shape(name: str, precision: str, modes: list[str], steps: int, warmup: int, device: torch.device,
                teacher_bf16: bool = False, sdpa: bool = False, batch: Optional[int] = None,
                compile: bool = False) -> dict:
    """One shape at one precision; ``sdpa`` adds copy/distill through fused kernels, ``batch`` overrides the
    shape's, ``compile`` times every variant (plain included) through ``torch.compile`` (exec.compile)."""
    shape = SHAPES[name] if batch is None else replace(SHAPES[name], batch=batch)
    student, teacher, variants = _variants(shape, modes, device, bf16_teacher=teacher_bf16 and precision == "fp32",
                                           sdpa=sdpa)
    if compile:  # compilation happens in the warm-up steps, which are not timed
        variants = {key: torch.compile(model) for key, model in variants.items()}
    optimizer = torch.optim.AdamW(student.parameters(), lr=1e-4)
    images = torch.randn(shape.batch, shape.in_chans, shape.img_size, shape.img_size, device=device)
    labels = torch.randint(0, 10, (shape.batch,), device=device)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if precision == "bf16" else nullcontext
    cuda = device.type == "cuda"

    def step(model: torch.nn.Module) -> int:
        model.train()

        def forward() -> torch.Tensor:
            with autocast():
                out = model(images)
            if isinstance(out, dict):
                return total_loss(F.cross_entropy(out["logits"].float(), labels), out["attn_loss"], model.plan.weight)
            return F.cross_entropy(out.float(), labels)

        optimizer.zero_grad(set_to_none=True)
        loss, saved = _saved_bytes(forward)
        loss.backward()
        optimizer.step()
        return saved

    times: dict[str, list[float]] = {k: [] for k in variants}
    times["teacher_fwd"] = []  # the frozen teacher's forward alone: a step + this is distill's lower bound
    memory: dict[str, int] = {}
    for round_ in range(warmup + steps):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.no_grad(), autocast():
            teacher(images)
        if cuda:
            torch.cuda.synchronize()
        if round_ >= warmup:
            times["teacher_fwd"].append(time.perf_counter() - start)
        for key, model in variants.items():
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            saved = step(model)
            if cuda:
                torch.cuda.synchronize()
            elapsed = time.perf_counter() - start
            if round_ >= warmup:
                times[key].append(elapsed)
                memory[key] = torch.cuda.max_memory_allocated() if cuda else saved
    plain = statistics.median(times["plain"])
    rows = []
    for key in variants:
        med = statistics.median(times[key])
        rows.append({
            "shape": name, "precision": precision, "variant": key, "batch": shape.batch, "compiled": compile,
            "step_ms": round(1000 * med, 2), "images_per_s": round(shape.batch / med, 1),
            "ratio": round(med / plain, 3), "memory_mb": round(memory[key] / 2**20, 1),
            "memory_ratio": round(memory[key] / memory["plain"], 3),
            "memory_kind": "peak_allocated" if cuda else "saved_activations",
        })
    teacher_ms = statistics.median(times["teacher_fwd"])
    rows.append({"shape": name, "precision": precision, "variant": "teacher_fwd", "batch": shape.batch,
                 "step_ms": round(1000 * teacher_ms, 2), "images_per_s": round(shape.batch / teacher_ms, 1),
                 "ratio": round(teacher_ms / plain, 3), "memory_mb": None, "memory_ratio": None,
                 "memory_kind": "n/a"})
    rows_teacher_mb = sum(p.numel() * p.element_size() for p in teacher.parameters()) / 2**20
    return {"rows": rows, "teacher_weights_mb": round(rows_teacher_mb, 1),
            "distill_lower_bound": round(1 + teacher_ms / plain, 3)}


def format_table(rows: list[dict]) -> str:
    head = (f"{'shape':<10} {'prec':<5} {'variant':<20} {'step ms':>9} {'img/s':>8} {'ratio':>6} "
            f"{'mem MB':>8} {'mem x':>6}")
    lines = [head, "-" * len(head)]
    for r in rows:
        mem = "" if r["memory_mb"] is None else f"{r['memory_mb']:>8.1f} {r['memory_ratio']:>6.3f}"
        lines.append(
            f"{r['shape']:<10} {r['precision']:<5} {r['variant']:<20} {r['step_ms']:>9.2f} {r['images_per_s']:>8.1f} "
            f"{r['ratio']:>6.3f} {mem}"
        )
    return "\n".join(lines)


def run_benchmarks(shapes: list[str], precisions: list[str], modes: list[str], steps: int, warmup: int,
                   device: torch.device, teacher_bf16: bool = False, json_path: Optional[str] = None,
                   sdpa: bool = False, batch: Optional[int] = None, compile: bool = False) -> list[dict]:
    """Time every shape x precision (GPU-only shapes are skipped on the CPU); print and optionally save rows."""
    results = []
    for s in shapes:
        if SHAPES[s].gpu_only and device.type != "cuda":
            print(f"skipping {s}: GPU only", file=sys.stderr)
            continue
        for p in precisions:
            out = bench_shape(s, p, modes, steps, warmup, device, teacher_bf16=teacher_bf16, sdpa=sdpa, batch=batch,
                              compile=compile)
            results.extend(out["rows"])
            print(format_table(out["rows"]), flush=True)
            print(f"(teacher weights: {out['teacher_weights_mb']} MB; "
                  "teacher_fwd = the frozen teacher's whole forward alone: "
                  f"a distill step cannot cost much less than plain + teacher_fwd = {out['distill_lower_bound']}x)\n",
                  flush=True)
    print(f"reference implementation on this project's CPU (embedded, fp32): "
          f"copy {REFERENCE_RATIOS['copy']}x, distill {REFERENCE_RATIOS['distill']}x")
    env = {**environment(), "device": str(device), "threads": torch.get_num_threads(),
           "device_name": torch.cuda.get_device_name() if device.type == "cuda" else "cpu"}
    if json_path:
        with open(json_path, "w") as handle:
            json.dump({"environment": env, "steps": steps, "warmup": warmup, "rows": results,
                       "reference_ratios": REFERENCE_RATIOS}, handle, indent=2)
    return results
