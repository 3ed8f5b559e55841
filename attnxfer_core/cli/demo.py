"""``attnxfer demo``: the paper's main experiment at embedded scale, end to end.

By default a shortened preview of the pre-registered ``main`` study: every
run's schedule divided by four (distillation and scratch 5 epochs, copy 2,
fine-tuning 1), one seed, minutes on two cores. The MAE teacher ships with the
repository, so nothing is pretrained. It prints top-1, the share of the
scratch -> fine-tune gap each transfer method recovers and training time per run,
then the committed pre-registered result (``results/embedded/main.md``) beside
it. ``--full`` runs the protocol's own runs (what ``make reference`` does).
What varies and the paper's numbers come from the study file
(``studies/main.py``); the statistics from ``analysis.stats``, as in the figures
and the dashboard.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

from analysis.collect import collect_studies
from analysis.dashboard import write_dashboard
from analysis.figures import render_figures
from analysis.stats import gap_share
from analysis.study_data import StudyData
from analysis.verdicts import INCONCLUSIVE, REPLICATES, Verdict, study_verdicts
from attnxfer_core.cli.common import COUNT, add_progress, progress_of
from attnxfer_core.config import Objective, RunConfig
from attnxfer_core.errors import UserError
from attnxfer_core.experiments.analyses import analyze
from attnxfer_core.experiments.claims import GATE, PRIMARY
from attnxfer_core.experiments.figures import MethodBars
from attnxfer_core.experiments.scales import EMBEDDED
from attnxfer_core.experiments.study import METHOD, Study, with_values
from attnxfer_core.experiments.validation import validate_runs
from attnxfer_core.runs.provenance import PACKAGE_ROOT, code_version
from attnxfer_core.runs.rundir import REPORT, run_dir_of
from attnxfer_core.training.execute import execute
from studies import get_study

STUDY = "main"


@dataclass
class DemoRow:
    method: str
    seed: int
    top1: float
    train_seconds: Optional[float]  # as the run recorded it, whether trained now or found finished
    run_dir: Path
    device: str = ""  # where the run was trained (its summary)


def _teacher_kind(pretraining: RunConfig) -> str:
    return "mae" if pretraining.objective is Objective.MAE else "supervised"


def run_demo(study: Study, seeds: int, overrides: Sequence[str] = (), progress: Optional[bool] = None
             ) -> tuple[list[DemoRow], dict]:
    """Train (or reuse) every run of the study; returns the rows and facts about the teacher."""
    started = time.perf_counter()
    runs = study.expand(EMBEDDED, seeds=seeds, overrides=list(overrides))
    validate_runs(study, runs, EMBEDDED)
    teacher = next(r for r in runs if r.role == "dependency")
    teacher_dir = run_dir_of(teacher.config)
    print(f"teacher: {_teacher_kind(teacher.config)} in {teacher_dir.path}", file=sys.stderr, flush=True)
    finished_before = teacher_dir.finished and not teacher.config.exec.force
    teacher_result = execute(teacher.config, progress=progress)
    # where it came from, read from what happened (execute decides; the demo does not predict it)
    origin = ("reused" if finished_before else "installed" if teacher_result.cached and
              "installed" in teacher_result.summary else "pretrained")
    print(f"teacher: {origin}", file=sys.stderr, flush=True)
    rows: list[DemoRow] = []
    for run in runs:
        if run.role != "run":
            continue
        result = execute(run.config, progress=progress)
        seconds = result.summary.get("train_seconds")
        top1 = result.summary["final"]["top1"]
        method = str(run.values[METHOD])
        print(f"  seed {run.seed} {method:<9} top-1 {top1:6.2f}%  "
              f"{'cached' if result.cached else f'{seconds:.0f} s'}", file=sys.stderr, flush=True)
        rows.append(DemoRow(method, run.seed, top1, seconds, result.run_dir, str(result.summary.get("device", ""))))
    info = {
        "run_dir": str(teacher_dir.path),
        "origin": origin,
        "method": _teacher_kind(teacher.config),
        "pretrain_seconds": teacher_result.summary.get("wall_seconds_this_attempt") if origin == "pretrained" else None,
        "final": teacher_result.summary.get("final", {}),
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    return rows, info


PREVIEW_FACTOR = 4  # the preview divides every run's schedule by this
REFERENCE = PACKAGE_ROOT / "results" / "embedded"  # the committed pre-registered result


def preview(study: Study) -> Study:
    """``study`` with every run's schedule divided by :data:`PREVIEW_FACTOR` (warm-up in proportion)."""
    def build(scale, point):
        cfg = study.build(scale, point)
        epochs = max(1, cfg.optim.epochs // PREVIEW_FACTOR)
        return with_values(cfg, {"optim.epochs": epochs,
                                 "optim.warmup_epochs": cfg.optim.warmup_epochs * epochs / cfg.optim.epochs})

    return dataclasses.replace(study, name=f"{study.name}_preview", build=build,
                               description=f"{study.description} (the demo's preview: schedules / {PREVIEW_FACTOR})")


def gap_ends(study: Study) -> tuple[str, str]:
    """The methods at the two ends of the gap the study measures transfer against (its ``MethodBars``)."""
    bars = next((f for f in study.figures if isinstance(f, MethodBars)), None)
    if bars is None:
        raise UserError(f"study {study.name} declares no MethodBars figure: the demo needs its gap")
    return bars.low, bars.high


def summarize(study: Study, rows: list[DemoRow]) -> list[dict]:
    """One line per method: mean and sd of top-1 over seeds, the share of the gap recovered with its
    Fieller 95% interval (ratio of paired mean differences), mean training time, the paper's top-1."""
    low, high = gap_ends(study)
    methods = list(dict.fromkeys(r.method for r in rows))
    per_seed = {m: pd.Series({r.seed: r.top1 for r in rows if r.method == m}, dtype=float) for m in methods}
    table = []
    for method in methods:
        top1 = per_seed[method]
        share = None
        if method not in (low, high) and low in per_seed and high in per_seed:
            share = gap_share(top1, per_seed[low], per_seed[high])
        seconds = [r.train_seconds for r in rows if r.method == method and r.train_seconds is not None]
        table.append({
            "method": method,
            "seeds": len(top1),
            "top1_mean": round(float(top1.mean()), 2),
            "top1_sd": round(float(top1.std(ddof=1)), 2) if len(top1) > 1 else None,
            "gap_recovered": round(share.estimate, 3) if share is not None else None,
            "gap_recovered_ci95": ([round(share.low, 3), round(share.high, 3)]
                                   if share is not None and share.bounded else None),
            "train_seconds": round(statistics.fmean(seconds), 1) if seconds else None,
            "paper_top1": study.reference(method),
        })
    return table


def format_table(table: list[dict]) -> str:
    head = ["method", "top-1 % (mean ± sd over seeds)", "gap recovered (ratio of means, Fieller 95% CI)",
            "training s/run", "paper top-1 (ViT-L, IN-1k)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table:
        top1 = f"{row['top1_mean']:.2f}" + (f" ± {row['top1_sd']:.2f}" if row["top1_sd"] is not None else "")
        gap = "—" if row["gap_recovered"] is None else f"{100 * row['gap_recovered']:.1f}%"
        if row["gap_recovered_ci95"] is not None:
            low, high = row["gap_recovered_ci95"]
            gap += f" [{100 * low:.1f}, {100 * high:.1f}]"
        wall = "—" if row["train_seconds"] is None else f"{row['train_seconds']:.0f}"
        lines.append(f"| {row['method']} | {top1} | {gap} | {wall} | {row['paper_top1']} |")
    return "\n".join(lines)


def decide_claims(study: Study, rows: list[DemoRow]) -> list[Verdict]:
    """The study's claims decided on these runs by the dashboard's rules (:mod:`analysis.verdicts`),
    gate first: what the protocol's decision rules say about them."""
    results = pd.DataFrame([{"set": "clean", "role": "run", "seed": r.seed, "top1": r.top1,
                             f"value.{METHOD}": r.method} for r in rows])
    data = StudyData(study, results, pd.DataFrame(), pd.DataFrame(), provenance={"scale": EMBEDDED})
    return study_verdicts(data)


EXTENDED_SEEDS = 10  # studies/main.protocol.md: one extension, from 5 seeds to 10, and no further


def protocol_next_step(verdicts: list[Verdict], seeds: int) -> Optional[str]:
    """What the protocol's extension rule says after these verdicts (None: nothing to do)."""
    gate_passed = all(v.verdict == REPLICATES for v in verdicts if v.role == GATE)
    if not gate_passed or not any(v.verdict == INCONCLUSIVE for v in verdicts if v.role == PRIMARY):
        return None
    if seeds < EXTENDED_SEEDS:
        return (f"the gate passed and a primary claim is inconclusive at {seeds} seeds: the protocol's one "
                f"extension applies (seeds {seeds}-{EXTENDED_SEEDS - 1}: `make reference SEEDS={EXTENDED_SEEDS}`)")
    return f"a primary claim is inconclusive at {seeds} seeds: the protocol allows no further seeds"


def format_verdicts(verdicts: list[Verdict], seeds: int) -> str:
    lines = [f"- {v.role or 'claim'}: {v.claim}: **{v.verdict}** ({v.evidence})" for v in verdicts]
    step = protocol_next_step(verdicts, seeds)
    return "\n".join(lines + ([f"\nNext, by the protocol: {step}."] if step else []))


def write_report(study: Study, seeds: int, overrides: Sequence[str], command: str) -> dict[str, Path]:
    """Analyses, tables, figures and the dashboard of the demo's runs, under <runs_root>/report/."""
    runs = study.expand(EMBEDDED, seeds=seeds, overrides=list(overrides))
    report = Path(runs[0].config.exec.runs_root) / REPORT
    analyze(study, EMBEDDED, runs, seeds)
    collect_studies([study], EMBEDDED, seeds, overrides, report / "tables", command)
    render_figures([study], report / "tables", report / "figures", ["png"])
    index = write_dashboard([study], report / "tables", report / "figures", report / "dashboard")
    return {"figures": report / "figures", "dashboard": index}


def write_reference(table: list[dict], verdicts: list[Verdict], rows: list[DemoRow], info: dict, out: Path,
                    command: str) -> None:
    """Committed reference results: the table, the claims' verdicts, the per-seed runs, and how they
    were produced."""
    out.mkdir(parents=True, exist_ok=True)
    devices = ", ".join(sorted({r.device for r in rows if r.device})) or "unknown"
    header = (f"<!-- produced by: {command} -->\n<!-- code version: {code_version()} -->\n"
              f"<!-- runs trained on: {devices} -->\n\n")
    seeds = sorted({r.seed for r in rows})
    claims = (f"\n\nClaims, by the pre-registered decision rules (`studies/{STUDY}.protocol.md`; "
              f"differences paired by seed, {len(seeds)} seeds):\n\n" + format_verdicts(verdicts, len(seeds)))
    (out / "main.md").write_text(header + format_table(table) + claims + "\n")
    payload = {
        "command": command,
        "code_version": code_version(),
        "table": table,
        "verdicts": [{"role": v.role, "claim": v.claim, "verdict": v.verdict, "evidence": v.evidence,
                      "paper": v.paper} for v in verdicts],
        "runs": [{"method": r.method, "seed": r.seed, "top1": r.top1, "train_seconds": r.train_seconds,
                  "run_id": r.run_dir.name, "device": r.device} for r in rows],
        "teacher": info,
    }
    (out / "main.json").write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def demo(args: argparse.Namespace) -> int:
    study = get_study(STUDY) if args.full else preview(get_study(STUDY))
    what = "the pre-registered runs" if args.full else f"a preview: every schedule / {PREVIEW_FACTOR}"
    print(f"{study.name}: {what}, {args.seeds} seed(s)", file=sys.stderr, flush=True)
    rows, info = run_demo(study, args.seeds, args.overrides, progress=progress_of(args))
    table = summarize(study, rows)
    verdicts = decide_claims(study, rows)
    state = {"reused": "reused the cached teacher", "installed": "installed the shipped teacher"}.get(
        info["origin"], f"pretrained the teacher ({info['pretrain_seconds'] or 0:.0f} s)")
    print(f"\nteacher: {info['method']}, {state}: "
          + ", ".join(f"{k} {v:.3f}" for k, v in info["final"].items() if k in ("top1", "recon_loss")))
    print(f"\n{study.name} ({what}):")
    print(format_table(table))
    if args.seeds > 1:
        print(f"\nclaims, decided on these runs ({args.seeds} seeds, paired):\n{format_verdicts(verdicts, args.seeds)}")
    print(f"\ntotal wall time: {info['total_seconds']:.0f} s")
    if not args.full:
        if (REFERENCE / "main.md").exists():
            print(f"\nthe committed pre-registered result, full schedules ({REFERENCE / 'main.md'}):")
            print("\n".join(line for line in (REFERENCE / "main.md").read_text().splitlines()
                            if not line.startswith("<!--")).strip())
        else:
            print(f"\nno pre-registered result is committed yet ({REFERENCE / 'main.md'}); the protocol: "
                  "studies/main.protocol.md")
    command = "attnxfer demo " + " ".join([*args.overrides, f"--seeds {args.seeds}", *(["--full"] if args.full else []),
                                           *([f"--out {args.out}"] if args.out else []),
                                           *(["--no-report"] if args.no_report else [])])
    if args.out:
        write_reference(table, verdicts, rows, info, Path(args.out), command)
        print(f"reference results written to {args.out}")
    if not args.no_report:
        written = write_report(study, args.seeds, args.overrides, command)
        print(f"figures: {written['figures']}\ndashboard: {written['dashboard']} (open it from disk)")
    return 0


def register(sub) -> None:
    parser = sub.add_parser("demo", help="the main experiment (scratch/fine-tune/copy/distill) at embedded scale")
    parser.add_argument("overrides", nargs="*", help="overrides applied to every run, e.g. exec.runs_root=/tmp/runs")
    parser.add_argument("--seeds", type=COUNT, default=1, help="seeds per method (default 1)")
    parser.add_argument("--full", action="store_true", help="the pre-registered runs, not the shortened preview")
    parser.add_argument("--out", help="also write the reference table (Markdown + JSON) into this directory")
    add_progress(parser)
    parser.add_argument("--no-report", action="store_true", help="skip writing figures and the dashboard")
    parser.set_defaults(handler=demo)
