"""Benchmark commands: ``bench`` (step cost), ``calibrate``, ``bench-estimates``, ``bench-plan``,
``bench-collect``, ``bench-eval``, ``kill-test``."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from analysis.collect import collect_study, write_tables
from attnxfer_core.bench.calibrate import calibrate as calibrate_modes
from attnxfer_core.bench.calibrate import write as write_step_times
from attnxfer_core.bench.estimates import compare_runs, summary_lines
from attnxfer_core.bench.killtest import kill_test
from attnxfer_core.bench.steps import SHAPES, run_benchmarks
from attnxfer_core.bench.synthetic_runs import populate
from attnxfer_core.bench.synthetic_study import synthetic_study, time_expansion
from attnxfer_core.cli.common import COUNT, NON_NEGATIVE, command_line
from attnxfer_core.evaluation.posthoc import evaluate_run
from attnxfer_core.evaluation.sets import resolve_sets
from attnxfer_core.experiments.cost import STEP_TIMES_PATH, measured_step_times
from attnxfer_core.modes import Mode
from attnxfer_core.runs.provenance import PACKAGE_ROOT
from attnxfer_core.training.execute import load_finished, resolve_device
from studies import load_studies


def bench(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    shapes = args.shape or (["embedded", "vit_small", "vit_base", "vit_large"] if device.type == "cuda"
                            else ["embedded", "vit_small"])
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        Mode(m)
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        print(f"error: unknown shape {unknown[0]!r}; choose from {', '.join(SHAPES)}", file=sys.stderr)
        return 2
    run_benchmarks(shapes, args.precision or ["fp32", "bf16"], modes, args.steps, args.warmup, device,
                   teacher_bf16=args.teacher_bf16, json_path=args.json, sdpa=args.sdpa, batch=args.batch,
                   compile=args.compile)
    return 0


def calibrate(args: argparse.Namespace) -> int:
    """Measure step and evaluation times of the embedded presets; write the table ``plan`` reads."""
    modes = [Mode(m.strip()) for m in args.modes.split(",") if m.strip()] if args.modes else list(Mode)
    times = calibrate_modes(modes, steps=args.steps)
    times.command = command_line(args)
    write_step_times(times, Path(args.out))
    print(f"wrote {args.out}")
    return 0


def bench_estimates(args: argparse.Namespace) -> int:
    """Hold the calibration table's estimates to the finished runs under a runs root."""
    times = measured_step_times(Path(args.table))
    if times is None:
        print(f"error: --table: no calibration table at {args.table} (attnxfer bench calibrate writes one)",
              file=sys.stderr)
        return 2
    report = compare_runs(Path(args.runs_root), times)
    where = times.environment
    print(f"table {args.table}: measured at {where.get('code_version', '?')} on {where.get('device_name', '?')}")
    if not times.setup_seconds or not times.held_out_image_seconds:
        print("this table predates set-up and held-out attention timing: its estimates leave both out "
              "(attnxfer bench calibrate measures them)")
    for line in summary_lines(report):
        print(line)
    if args.runs:
        for c in sorted(report.comparisons, key=lambda c: c.ratio):
            others = "others ?" if c.others_cpu_share is None else f"others {c.others_cpu_share:.0%}"
            print(f"{c.run_id:<28} {c.estimated:8.0f} s estimated {c.measured:8.0f} s measured  {c.ratio:5.2f}  "
                  f"{others}")
    return 0 if report.comparisons else 1


def bench_plan(args: argparse.Namespace) -> int:
    for line in time_expansion(load_studies()):
        print(line)
    return 0


def bench_collect(args: argparse.Namespace) -> int:
    """Time ``collect`` over a 10,000-run synthetic study (directories written first, not timed)."""
    study = synthetic_study()
    with tempfile.TemporaryDirectory() as tmp:
        runs = study.expand("embedded", overrides=[f"exec.runs_root={tmp}/runs"])
        started = time.perf_counter()
        populate(runs, failed=50, half=50, absent=50)
        print(f"wrote {len(runs)} synthetic run directories in {time.perf_counter() - started:.1f} s (not timed)")
        for label in ("first collect", "re-collect (cached)"):
            started = time.perf_counter()
            runs = study.expand("embedded", overrides=[f"exec.runs_root={tmp}/runs"])
            collection = collect_study(study, runs, cache_path=Path(tmp) / "tables" / ".cache" / "synthetic.json")
            write_tables(study.name, collection, Path(tmp) / "tables", {"command": "bench-collect"})
            seconds = time.perf_counter() - started
            print(f"{label}: {len(runs)} runs, {len(collection.results)} rows, re-read {collection.reread}, "
                  f"{seconds:.2f} s (target < 10 s)")
    return 0


def bench_eval(args: argparse.Namespace) -> int:
    """Time the evaluation of one run on all 75 corrupted sets (generated and cached first, not timed)."""
    prepared = load_finished(Path(args.run_dir))
    started = time.perf_counter()
    resolve_sets(["corruptions"], prepared.cfg, prepared.source, args.workers)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    results = evaluate_run(Path(args.run_dir), ["corruptions"], force=True)
    seconds = time.perf_counter() - started
    n = sum(m["n"] for k, m in results.items() if k.startswith("corruptions/"))
    print(f"corrupted sets ready in {generated:.1f} s (generation, or cache reads if cached)")
    print(f"evaluated 75 corrupted sets, {n} images, in {seconds:.1f} s ({n / seconds:.0f} img/s; target < 180 s)")
    return 0


def kill(args: argparse.Namespace) -> int:
    report = kill_test(args.kills, seed=args.seed, workdir=Path(args.workdir) if args.workdir else None)
    signals = ", ".join(f"{k} {v}" for k, v in sorted(report.by_signal.items()))
    print(f"kills survived: {report.kills} ({signals}; {report.during_writes} aimed at checkpoint/summary writes)")
    print(f"half-written files seen: {len(report.half_written)} {report.half_written or ''}")
    print(f"torn metrics lines (tolerated, repaired on resume): {report.torn_lines}")
    print(f"mismatches against the uninterrupted run: {len(report.mismatches)} {report.mismatches or ''}")
    return 0 if not report.mismatches and not report.half_written else 1


def _step_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shape", action="append", help=f"shape(s) to time: {', '.join(SHAPES)}")
    parser.add_argument("--precision", action="append", choices=("fp32", "bf16"), help="default: fp32 and bf16")
    parser.add_argument("--modes", default="copy,distill,copy_q,copy_k,copy_v,distill_q,distill_k,distill_v")
    parser.add_argument("--steps", type=COUNT, default=20, help="timed steps per mode (after warm-up)")
    parser.add_argument("--warmup", type=NON_NEGATIVE, default=5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", help="also write the results as JSON to this path")
    parser.add_argument("--teacher-bf16", action="store_true", help="also time fp32 students with a bf16 teacher")
    parser.add_argument("--sdpa", action="store_true",
                        help="also time copy and distill through fused attention kernels (exec.attention=sdpa)")
    parser.add_argument("--batch", type=COUNT, help="images per step, instead of each shape's own")
    parser.add_argument("--compile", action="store_true",
                        help="time every variant through torch.compile (exec.compile=true); raise --warmup to cover "
                             "the compilation")


def _calibrate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--modes", default="", help="comma-separated modes (default: all)")
    parser.add_argument("--steps", type=COUNT, default=20, help="timed training steps per mode")
    parser.add_argument("--out", default=str(STEP_TIMES_PATH.relative_to(PACKAGE_ROOT)))


def _estimates_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs_root")
    parser.add_argument("--table", default=str(STEP_TIMES_PATH),
                        help="the calibration table to check (default: the committed one)")
    parser.add_argument("--runs", action="store_true", help="also list every run compared, lowest ratio first")


def _eval_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir")
    parser.add_argument("--workers", type=NON_NEGATIVE, default=0)


def _kill_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kills", type=COUNT, default=20)
    parser.add_argument("--seed", type=NON_NEGATIVE, default=0)
    parser.add_argument("--workdir", help="keep the runs here (default: a temporary directory)")


def _no_options(parser: argparse.ArgumentParser) -> None:
    return None


# (name under `attnxfer bench`, its old top-level name, help, options, handler): development harnesses
HARNESSES: tuple[tuple[str, str, str, Callable[[argparse.ArgumentParser], None], Callable[..., int]], ...] = (
    ("calibrate", "calibrate", "measure this machine's step and evaluation times of the embedded presets (the "
     "table plan's time estimates use)", _calibrate_options, calibrate),
    ("estimates", "bench-estimates", "compare plan's time estimates with the finished CPU runs under a runs root "
     "(measured / estimated, per mode)", _estimates_options, bench_estimates),
    ("plan", "bench-plan", "time study expansion (all studies at paper scale; a 10,000-run study)", _no_options,
     bench_plan),
    ("collect", "bench-collect", "time collect over 10,000 synthetic run directories", _no_options, bench_collect),
    ("eval", "bench-eval", "time evaluating one run on all 75 corrupted sets (cached)", _eval_options, bench_eval),
    ("kill-test", "kill-test", "kill a run at random moments, resume, compare with an uninterrupted run",
     _kill_options, kill),
)


def _deprecated(old: str, new: str, handler: Callable[..., int]) -> Callable[..., int]:
    def run(args: argparse.Namespace) -> int:
        print(f"note: `attnxfer {old}` is now `attnxfer bench {new}`; the old name goes in the next release",
              file=sys.stderr)
        return handler(args)
    return run


def register(sub) -> None:
    parser = sub.add_parser("bench", help="step time of copy/distill relative to a plain timm training step; "
                            "with a sub-verb, the development harnesses (calibrate, estimates, plan, collect, eval, "
                            "kill-test)")
    _step_options(parser)
    parser.set_defaults(handler=bench)
    verbs = parser.add_subparsers(dest="bench_verb", metavar="{" + ",".join(h[0] for h in HARNESSES) + "}",
                                  parser_class=type(parser))
    for name, old, help_text, options, handler in HARNESSES:
        verb = verbs.add_parser(name, help=help_text)
        options(verb)
        verb.set_defaults(handler=handler)
        legacy = sub.add_parser(old, help=f"(old name of attnxfer bench {name})")
        options(legacy)
        legacy.set_defaults(handler=_deprecated(old, name, handler))
