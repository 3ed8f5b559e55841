"""Result commands: ``collect`` run directories into tables, regenerate ``figures``, print the ``verdicts``,
write the ``dashboard`` and the results ``report``."""
from __future__ import annotations

import argparse
from pathlib import Path

from analysis.collect import collect_studies
from analysis.dashboard import write_dashboard
from analysis.figures import render_figures
from analysis.report import write_report
from analysis.study_data import load_study_data
from analysis.verdicts import next_look, p_text, study_verdicts
from attnxfer_core.cli.common import COUNT, add_scale, command_line, studies_named


def collect(args: argparse.Namespace) -> int:
    collections = collect_studies(studies_named(args.studies), args.scale, args.seeds, args.overrides,
                                  Path(args.tables), command_line(args))
    for name, c in collections.items():
        states = c.status["state"].value_counts().to_dict() if not c.status.empty else {}
        print(f"{name:<14} {len(c.results):>6} result rows; runs: "
              + ", ".join(f"{n} {s}" for s, n in sorted(states.items())) + f" (re-read {c.reread})")
    print(f"tables in {args.tables}")
    return 0


def figures(args: argparse.Namespace) -> int:
    made = render_figures(studies_named([args.study] if args.study else []), Path(args.tables), Path(args.out),
                          [f.strip() for f in args.format.split(",") if f.strip()])
    for name, results in made.items():
        for result in results:
            if result.files:
                print(f"{name:<14} " + ", ".join(str(p) for p in result.files))
            if result.note:
                print(f"{name:<14} skipped: {result.note}")
    return 0


def verdicts(args: argparse.Namespace) -> int:
    """Each claim of the collected studies with its verdict and interval, one Markdown line each."""
    for study in studies_named(args.studies):
        data = load_study_data(study, Path(args.tables))
        if data is None:
            print(f"- `{study.name}`: not collected (attnxfer collect {study.name})")
            continue
        decided = study_verdicts(data)
        for v in decided:
            role = f" [{v.role}]" if v.role and v.role != "secondary" else ""
            print(f"- `{study.name}`{role} {v.claim}: **{v.verdict}** ({v.evidence}; {p_text(v)})")
        step = next_look(data, decided)
        if step:
            print(f"- `{study.name}` protocol: {step}")
    return 0


def dashboard(args: argparse.Namespace) -> int:
    index = write_dashboard(studies_named([]), Path(args.tables), Path(args.figures), Path(args.out))
    print(f"dashboard: {index} (open it from disk)")
    return 0


def report(args: argparse.Namespace) -> int:
    out = write_report(studies_named([]), Path(args.tables), Path(args.figures), Path(args.out))
    print(f"results page: {out}")
    return 0


def register(sub) -> None:
    col = sub.add_parser("collect", help="scan run dirs into one table per study (parquet + CSV)")
    col.add_argument("studies", nargs="*", help="studies to collect (default: all)")
    add_scale(col)
    col.add_argument("--seeds", type=COUNT)
    col.add_argument("--set", dest="overrides", action="append", default=[], help="key=value override for every run")
    col.add_argument("--tables", default="results/tables")
    col.set_defaults(handler=collect)
    fig = sub.add_parser("figures", help="regenerate the paper's figures and tables from collected results")
    fig.add_argument("--study")
    fig.add_argument("--format", default="png")
    fig.add_argument("--tables", default="results/tables")
    fig.add_argument("--out", default="results/figures")
    fig.set_defaults(handler=figures)
    ver = sub.add_parser("verdicts", help="each claim of the collected studies with its verdict and interval "
                         "(Markdown lines)")
    ver.add_argument("studies", nargs="*", help="studies (default: all)")
    ver.add_argument("--tables", default="results/tables")
    ver.set_defaults(handler=verdicts)
    rep = sub.add_parser("report", help="write results/README.md: every study's verdicts and per-point numbers, "
                         "from the committed tables")
    rep.add_argument("--tables", default="results/tables")
    rep.add_argument("--figures", default="results/figures")
    rep.add_argument("--out", default="results/README.md")
    rep.set_defaults(handler=report)
    dash = sub.add_parser("dashboard", help="write the static HTML dashboard")
    dash.add_argument("--tables", default="results/tables")
    dash.add_argument("--figures", default="results/figures")
    dash.add_argument("--out", default="results/dashboard")
    dash.set_defaults(handler=dashboard)
