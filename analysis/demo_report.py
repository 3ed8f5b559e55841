"""What the demo reports: per-method table, the claims decided on its runs, and the committed reference.

``attnxfer demo`` trains (:mod:`attnxfer_core.experiments.demo`); this module
turns its rows into the table it prints (top-1 over seeds, the share of the
scratch -> fine-tune gap with its Fieller interval, the paper's numbers), decides
the study's claims on them with the dashboard's rules (:mod:`analysis.verdicts`),
and writes ``results/embedded/main.{md,json}`` (``--out``) and the report folder
(tables, figures, dashboard). The statistics are :mod:`analysis.stats`, as
everywhere.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Sequence

import pandas as pd

from analysis.collect import collect_studies
from analysis.dashboard import write_dashboard
from analysis.figures import render_figures
from analysis.stats import gap_share
from analysis.study_data import StudyData
from analysis.verdicts import Verdict, next_look, study_verdicts
from attnxfer_core.errors import UserError
from attnxfer_core.experiments.analyses import analyze
from attnxfer_core.experiments.demo import DemoRow
from attnxfer_core.experiments.figures import MethodBars
from attnxfer_core.experiments.scales import EMBEDDED
from attnxfer_core.experiments.study import METHOD, Study
from attnxfer_core.runs.provenance import PACKAGE_ROOT, code_version
from attnxfer_core.runs.rundir import REPORT

REFERENCE = PACKAGE_ROOT / "results" / "embedded"  # the committed pre-registered result


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


def _data(study: Study, rows: list[DemoRow]) -> StudyData:
    results = pd.DataFrame([{"set": "clean", "role": "run", "seed": r.seed, "top1": r.top1,
                             f"value.{METHOD}": r.method} for r in rows])
    return StudyData(study, results, pd.DataFrame(), pd.DataFrame(), provenance={"scale": EMBEDDED})


def decide_claims(study: Study, rows: list[DemoRow]) -> list[Verdict]:
    """The study's claims decided on these runs by the dashboard's rules (:mod:`analysis.verdicts`),
    gate first: what the protocol's decision rules say about them."""
    return study_verdicts(_data(study, rows))


def format_verdicts(study: Study, rows: list[DemoRow], verdicts: list[Verdict]) -> str:
    """The verdicts, then what the study's registered extension rule (:func:`analysis.verdicts.next_look`,
    read from its protocol) says to do next."""
    lines = [f"- {v.role or 'claim'}: {v.claim}: **{v.verdict}** ({v.evidence})" for v in verdicts]
    step = next_look(_data(study, rows), verdicts)
    return "\n".join(lines + ([f"\nNext, by the protocol: {step}."] if step else []))


def write_run_report(study: Study, seeds: int, overrides: Sequence[str], command: str) -> dict[str, Path]:
    """Analyses, tables, figures and the dashboard of the demo's runs, under <runs_root>/report/."""
    runs = study.expand(EMBEDDED, seeds=seeds, overrides=list(overrides))
    report = Path(runs[0].config.exec.runs_root) / REPORT
    analyze(study, EMBEDDED, runs, seeds)
    collect_studies([study], EMBEDDED, seeds, overrides, report / "tables", command)
    render_figures([study], report / "tables", report / "figures", ["png"])
    index = write_dashboard([study], report / "tables", report / "figures", report / "dashboard")
    return {"figures": report / "figures", "dashboard": index}


def write_reference(study: Study, table: list[dict], verdicts: list[Verdict], rows: list[DemoRow], info: dict,
                    out: Path, command: str) -> None:
    """Committed reference results: the table, the claims' verdicts, the per-seed runs, and how they
    were produced."""
    out.mkdir(parents=True, exist_ok=True)
    devices = ", ".join(sorted({r.device for r in rows if r.device})) or "unknown"
    header = (f"<!-- produced by: {command} -->\n<!-- code version: {code_version()} -->\n"
              f"<!-- runs trained on: {devices} -->\n\n")
    seeds = sorted({r.seed for r in rows})
    claims = (f"\n\nClaims, by the pre-registered decision rules (`studies/{study.name}.protocol.md`; "
              f"differences paired by seed, {len(seeds)} seeds):\n\n" + format_verdicts(study, rows, verdicts))
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




def teacher_line(info: dict) -> str:
    state = {"reused": "reused the cached teacher", "installed": "installed the shipped teacher"}.get(
        info["origin"], f"pretrained the teacher ({info['pretrain_seconds'] or 0:.0f} s)")
    return f"teacher: {info['method']}, {state}: " + ", ".join(
        f"{k} {v:.3f}" for k, v in info["final"].items() if k in ("top1", "recon_loss"))


def reference_text() -> str:
    """The committed pre-registered result as the demo prints it beside a preview (or that there is none)."""
    if (REFERENCE / "main.md").exists():
        body = "\n".join(line for line in (REFERENCE / "main.md").read_text().splitlines()
                         if not line.startswith("<!--")).strip()
        return f"the committed pre-registered result, full schedules ({REFERENCE / 'main.md'}):\n{body}"
    return (f"no pre-registered result is committed yet ({REFERENCE / 'main.md'}); the protocol: "
            "studies/main.protocol.md")
