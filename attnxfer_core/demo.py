"""``attnxfer demo``: the paper's main experiment at embedded scale, end to end.

Pretrains (or reuses) the embedded teacher, trains scratch, fine-tune, copy and
distill students on a labelled subset of Fashion-MNIST, evaluates them on the
10k test set and prints top-1, the share of the scratch -> fine-tune gap each
transfer method recovers, and wall time per run.
"""
from __future__ import annotations

import logging
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from .config import apply_overrides
from .modes import Mode
from .presets import embedded
from .pretrain import pretrain_config
from .provenance import code_version
from .runner import execute, run_dir_of

log = logging.getLogger("attnxfer")

MAIN_MODES = (Mode.SCRATCH, Mode.FINETUNE, Mode.COPY, Mode.DISTILL)
PAPER_TOP1 = {Mode.SCRATCH: 83.0, Mode.FINETUNE: 85.7, Mode.COPY: 85.1, Mode.DISTILL: 85.7}


@dataclass
class DemoRow:
    mode: Mode
    seed: int
    top1: float
    wall_seconds: Optional[float]  # None when the run was already finished (cached)
    run_dir: Path


def gap_recovered(top1: float, scratch: float, finetune: float) -> Optional[float]:
    """Share of the scratch -> fine-tune gap a method recovers (None if there is no gap)."""
    gap = finetune - scratch
    return (top1 - scratch) / gap if abs(gap) > 1e-9 else None


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(rows: list[DemoRow]) -> list[dict]:
    """One line per method: mean/std top-1 over seeds, gap recovered, mean wall time."""
    by_mode = {m: [r for r in rows if r.mode is m] for m in MAIN_MODES}
    scratch = statistics.fmean(r.top1 for r in by_mode[Mode.SCRATCH])
    finetune = statistics.fmean(r.top1 for r in by_mode[Mode.FINETUNE])
    table = []
    for mode, items in by_mode.items():
        if not items:
            continue
        mean, std = _mean_std([r.top1 for r in items])
        per_seed_gap = []
        for r in items:  # gap per seed, against that seed's scratch and fine-tune runs
            s = next((x.top1 for x in by_mode[Mode.SCRATCH] if x.seed == r.seed), None)
            f = next((x.top1 for x in by_mode[Mode.FINETUNE] if x.seed == r.seed), None)
            if s is not None and f is not None:
                g = gap_recovered(r.top1, s, f)
                if g is not None:
                    per_seed_gap.append(g)
        walls = [r.wall_seconds for r in items if r.wall_seconds is not None]
        table.append({
            "method": mode.value,
            "seeds": len(items),
            "top1_mean": round(mean, 2),
            "top1_std": round(std, 2),
            "gap_recovered": round(gap_recovered(mean, scratch, finetune), 3) if gap_recovered(mean, scratch, finetune) is not None else None,
            "gap_recovered_std": round(_mean_std(per_seed_gap)[1], 3) if len(per_seed_gap) > 1 else None,
            "wall_seconds": round(statistics.fmean(walls), 1) if walls else None,
            "paper_top1": PAPER_TOP1[mode],
        })
    return table


def format_table(table: list[dict]) -> str:
    head = ["method", "top-1 %", "gap recovered", "wall s/run", "paper top-1 (ViT-L, IN-1k)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table:
        top1 = f"{row['top1_mean']:.2f}" + (f" ± {row['top1_std']:.2f}" if row["seeds"] > 1 else "")
        gap = "—" if row["method"] in ("scratch", "finetune") or row["gap_recovered"] is None else f"{100 * row['gap_recovered']:.1f}%"
        if row["gap_recovered_std"] is not None and row["method"] not in ("scratch", "finetune"):
            gap += f" ± {100 * row['gap_recovered_std']:.1f}"
        wall = "cached" if row["wall_seconds"] is None else f"{row['wall_seconds']:.0f}"
        lines.append(f"| {row['method']} | {top1} | {gap} | {wall} | {row['paper_top1']} |")
    return "\n".join(lines)


def run_demo(seeds: Sequence[int], overrides: Sequence[str] = (), progress: Optional[bool] = None) -> tuple[list[DemoRow], dict]:
    """Train (or reuse) every run of the demo; returns the rows and facts about the teacher."""
    started = time.perf_counter()
    teacher_cfg = apply_overrides(embedded(Mode.COPY), list(overrides))
    teacher_dir = run_dir_of(pretrain_config(teacher_cfg))
    teacher_cached = teacher_dir.finished
    print(f"teacher: {'reusing cached' if teacher_cached else 'pretraining'} "
          f"{teacher_cfg.teacher.pretrain.method.value} teacher in {teacher_dir.path}", file=sys.stderr, flush=True)
    teacher_started = time.perf_counter()
    rows: list[DemoRow] = []
    teacher_seconds: Optional[float] = None
    for seed in seeds:
        for mode in MAIN_MODES:
            cfg = apply_overrides(embedded(mode, seed), list(overrides))
            result = execute(cfg, progress=progress)
            if teacher_seconds is None and mode is not Mode.SCRATCH and not teacher_cached:
                teacher_summary = teacher_dir.summary() or {}
                teacher_seconds = teacher_summary.get("wall_seconds_this_attempt")
            wall = None if result.cached else result.summary["wall_seconds_this_attempt"]
            top1 = result.summary["final"]["top1"]
            print(f"  seed {seed} {mode.value:<9} top-1 {top1:6.2f}%  "
                  f"{'cached' if wall is None else f'{wall:.0f} s'}", file=sys.stderr, flush=True)
            rows.append(DemoRow(mode, seed, top1, wall, result.run_dir))
    teacher_summary = teacher_dir.summary() or {}
    info = {
        "run_dir": str(teacher_dir.path),
        "cached": teacher_cached,
        "method": teacher_cfg.teacher.pretrain.method.value,
        "pretrain_seconds": teacher_seconds,
        "final": teacher_summary.get("final", {}),
        "total_seconds": round(time.perf_counter() - started, 1),
        "since_teacher_seconds": round(time.perf_counter() - teacher_started, 1),
    }
    return rows, info


def write_report(seeds: Sequence[int], overrides: Sequence[str], command: str) -> dict[str, Path]:
    """Figures and the dashboard of the demo's runs (the ``main`` study), under <runs_root>/report/."""
    from analysis.report import collect, dashboard, figures
    from studies import get_study

    from .evals.study_analysis import analyze

    study = get_study("main")
    runs = study.expand("embedded", seeds=len(seeds), overrides=list(overrides))
    report = Path(runs[0].config.exec.runs_root) / "report"
    analyze(study, "embedded", runs, len(seeds))
    collect(["main"], "embedded", len(seeds), overrides, report / "tables", command)
    figures(["main"], report / "tables", report / "figures", ["png"])
    index = dashboard(["main"], report / "tables", report / "figures", report / "dashboard")
    return {"figures": report / "figures", "dashboard": index}


def write_reference(table: list[dict], rows: list[DemoRow], info: dict, out: Path, command: str) -> None:
    """Committed reference results: the table plus how it was produced."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    header = (f"<!-- produced by: {command} -->\n<!-- code version: {code_version()} -->\n\n")
    (out / "main.md").write_text(header + format_table(table) + "\n")
    payload = {
        "command": command,
        "code_version": code_version(),
        "table": table,
        "runs": [{"mode": r.mode.value, "seed": r.seed, "top1": r.top1, "wall_seconds": r.wall_seconds,
                  "run_id": r.run_dir.name} for r in rows],
        "teacher": info,
    }
    (out / "main.json").write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
