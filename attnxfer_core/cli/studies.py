"""Study commands: ``studies`` (the registry), ``plan`` (what would run), ``run`` (train here), ``analyze``.

What a plan holds and costs is :mod:`attnxfer_core.experiments.planning`."""
from __future__ import annotations

import argparse
import sys

from attnxfer_core.cli.common import add_progress, progress_of, study_parser, validated_study
from attnxfer_core.experiments.planning import embedded_costs, format_plan, model_lines, plan_rows, read_rehearsal
from attnxfer_core.experiments.running import evaluate_and_analyze, run_study
from attnxfer_core.experiments.scales import PAPER
from attnxfer_core.experiments.study import select_runs
from studies import load_studies


def list_studies(args: argparse.Namespace) -> int:
    studies = load_studies()
    costs = {c.study: c for c in embedded_costs(list(studies.values()))}
    print(f"{'study':<14} {'paper':<40} {'runs (paper)':>12} {'runs (embedded)':>15} {'est. min':>9} "
          f"{'new runs':>9} {'est. min':>9}")
    for study in studies.values():
        c = costs[study.name]
        star = "" if c.measured else "*"
        print(f"{study.name:<14} {study.paper[:40]:<40} {len(study.expand(PAPER)):>12} {c.runs:>15} "
              f"{c.seconds / 60:>8.0f}{star:1} {c.new_runs:>9} {c.new_seconds / 60:>8.0f}{star:1}")
    total = sum(c.new_seconds for c in costs.values())
    print(f"embedded, all studies: {sum(c.new_runs for c in costs.values())} runs to train, estimated "
          f"{total / 3600:.1f} h on 2 CPU cores. new: runs no study before it trains (main first, then by name); "
          f"*: a FLOP estimate (no measured step times: attnxfer bench calibrate)")
    return 0


def plan(args: argparse.Namespace) -> int:
    study, runs = validated_study(args)
    ensembles = study.expand_ensembles(args.scale, runs, seeds=args.seeds)
    rehearsal = read_rehearsal(args.rehearsal, study.name, args.scale) if args.rehearsal else None
    rows = plan_rows(study, runs, args.scale, rehearsal)
    print(format_plan(study.name, args.scale, rows, ensembles, rehearsal))
    print("\n".join(model_lines(runs)))
    if study.references:
        print("paper reference numbers: " + "; ".join(
            f"{r.label} {r.value if r.value is not None else 'unknown'}" + (f" ({r.note})" if r.note else "")
            for r in study.references))
    return 0


def run(args: argparse.Namespace) -> int:
    """Run a study's unfinished runs here (several processes share them: :func:`run_study`)."""
    study, runs = validated_study(args)
    written = run_study(study, runs, select_runs(runs, args.where or []), args.scale, args.seeds,
                        progress_of(args), args.train_only)
    if written is not None:
        print(f"analyses written to {written}", file=sys.stderr)
    return 0


def analyze(args: argparse.Namespace) -> int:
    study, runs = validated_study(args)
    written = evaluate_and_analyze(study, args.scale, args.seeds, runs, runs)
    print(f"analyses written to {written}" if written is not None else f"study {study.name} has no analyses")
    return 0


def register(sub) -> None:
    sub.add_parser("studies", help="list the registered studies with their paper figure and run counts").set_defaults(
        handler=list_studies)
    parser = study_parser(sub, "plan", "print what a study would run (ids, values, deps, resources, cost, state)")
    parser.add_argument("--rehearsal", help="a report of attnxfer rehearse: its measured GPU-hours replace the "
                        "FLOP guess for the runs it measured")
    parser.set_defaults(handler=plan)
    parser = study_parser(sub, "run", "train a study's unfinished runs in this process (embedded scale)", where=True)
    add_progress(parser)
    parser.add_argument("--train-only", action="store_true",
                        help="skip the study's evaluations and analyses after training (a pilot that must not "
                        "read the test set)")
    parser.set_defaults(handler=run)
    study_parser(sub, "analyze", "evaluate a study's finished runs and write its cross-run analyses").set_defaults(
        handler=analyze)
