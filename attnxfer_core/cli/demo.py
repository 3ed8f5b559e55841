"""``attnxfer demo``: the paper's main experiment at embedded scale, end to end.

By default a shortened preview of the pre-registered ``main`` study (every schedule
divided by four, one seed, minutes on two cores); ``--full`` runs the protocol's own
runs (what ``make reference`` does). Training is :mod:`attnxfer_core.experiments.demo`,
the summary, the claims and the files written are :mod:`analysis.demo_report`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.demo_report import (
    decide_claims,
    format_table,
    format_verdicts,
    reference_text,
    summarize,
    teacher_line,
    write_reference,
    write_run_report,
)
from attnxfer_core.cli.common import COUNT, add_progress, progress_of
from attnxfer_core.experiments.demo import PREVIEW_FACTOR, STUDY, preview, run_demo
from studies import get_study


def demo(args: argparse.Namespace) -> int:
    study = get_study(STUDY) if args.full else preview(get_study(STUDY))
    what = "the pre-registered runs" if args.full else f"a preview: every schedule / {PREVIEW_FACTOR}"
    print(f"{study.name}: {what}, {args.seeds} seed(s)", file=sys.stderr, flush=True)
    rows, info = run_demo(study, args.seeds, args.overrides, progress=progress_of(args))
    table, verdicts = summarize(study, rows), decide_claims(study, rows)
    print(f"\n{teacher_line(info)}\n\n{study.name} ({what}):\n{format_table(table)}")
    if args.seeds > 1:
        claims = format_verdicts(study, rows, verdicts)
        print(f"\nclaims, decided on these runs ({args.seeds} seeds, paired):\n{claims}")
    print(f"\ntotal wall time: {info['total_seconds']:.0f} s")
    if not args.full:
        print(f"\n{reference_text()}")
    command = "attnxfer demo " + " ".join([*args.overrides, f"--seeds {args.seeds}", *(["--full"] if args.full else []),
                                           *([f"--out {args.out}"] if args.out else []),
                                           *(["--no-report"] if args.no_report else [])])
    if args.out:
        write_reference(study, table, verdicts, rows, info, Path(args.out), command)
        print(f"reference results written to {args.out}")
    if not args.no_report:
        written = write_run_report(study, args.seeds, args.overrides, command)
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
