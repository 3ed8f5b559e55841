"""The ``attnxfer`` command line."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Callable, Optional

from .config import RunConfig, apply_overrides
from .errors import UserError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(fn: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = fn
        return fn

    return register


def _progress(args: argparse.Namespace) -> Optional[bool]:
    return {"on": True, "off": False, "auto": None}[args.progress]


@command("train")
def _train(args: argparse.Namespace) -> int:
    from .runner import execute

    import signal

    from .signals import graceful_stop, received

    cfg = apply_overrides(RunConfig(), args.overrides)
    with graceful_stop((signal.SIGTERM, signal.SIGUSR2, signal.SIGINT)):
        result = execute(cfg, progress=_progress(args))
    if not result.finished:
        why = f"signal {received()}" if received() is not None else "exec.stop_after_steps"
        print(f"stopped by {why} at step {result.stopped_at}, checkpoint saved: {result.run_dir} "
              "(run the same command to resume)", file=sys.stderr)
        return 3
    if result.cached:
        print(f"already finished: {result.run_dir} (use exec.force=true to train again)", file=sys.stderr)
    final = result.summary.get("final", {})
    print(json.dumps({"run_dir": str(result.run_dir), **final}, sort_keys=True))
    return 0


@command("demo")
def _demo(args: argparse.Namespace) -> int:
    from .demo import format_table, run_demo, summarize, write_reference, write_report

    seeds = list(range(args.seeds))
    rows, info = run_demo(seeds, args.overrides, progress=_progress(args))
    table = summarize(rows)
    teacher = info["final"]
    state = "reused cached teacher" if info["cached"] else f"pretrained teacher ({info['pretrain_seconds'] or 0:.0f} s)"
    print(f"\nteacher: {info['method']} on the full training set, {state}: "
          + ", ".join(f"{k} {v:.2f}" for k, v in teacher.items() if k in ("top1", "recon_loss")))
    print(format_table(table))
    print(f"\ntotal wall time: {info['total_seconds']:.0f} s")
    command = "attnxfer demo " + " ".join([f"--seeds {args.seeds}", *([f"--out {args.out}"] if args.out else []),
                                           *args.overrides])
    if args.out:
        write_reference(table, rows, info, Path(args.out), command)
        print(f"reference results written to {args.out}")
    if not args.no_report:
        written = write_report(seeds, args.overrides, command)
        print(f"figures: {written['figures']}\ndashboard: {written['dashboard']} (open it from disk)")
    return 0


@command("studies")
def _studies(args: argparse.Namespace) -> int:
    from studies import load_studies

    rows = []
    for study in load_studies().values():
        counts = [len(study.expand(scale)) for scale in ("embedded", "paper")]
        rows.append((study.name, study.paper, counts[0], counts[1], study.description))
    print(f"{'study':<14} {'paper':<44} {'runs (embedded)':>15} {'runs (paper)':>12}")
    for name, paper, emb, pap, _ in rows:
        print(f"{name:<14} {paper[:44]:<44} {emb:>15} {pap:>12}")
    return 0


def _validated_study(args: argparse.Namespace):
    """The study named on the command line, expanded and validated as a whole."""
    from studies import get_study

    from .study import validate_runs

    study = get_study(args.study)
    runs = study.expand(args.scale, seeds=args.seeds, overrides=args.overrides)
    validate_runs(study, runs)
    return study, runs


@command("plan")
def _plan(args: argparse.Namespace) -> int:
    from .planning import format_plan, plan_rows

    study, runs = _validated_study(args)
    ensembles = study.expand_ensembles(args.scale, runs, seeds=args.seeds)
    print(format_plan(study.name, args.scale, plan_rows(runs, args.scale), ensembles))
    if study.references:
        print("paper reference numbers: " + "; ".join(
            f"{r.label} {r.value if r.value is not None else 'unknown'}" + (f" ({r.note})" if r.note else "")
            for r in study.references))
    return 0


@command("run")
def _run(args: argparse.Namespace) -> int:
    """Run a study's unfinished runs here, one after another (dependencies first)."""
    from .runner import execute, run_dir_of
    from .study import select_runs

    study, runs = _validated_study(args)
    chosen = select_runs(runs, args.where or [])
    todo = [r for r in chosen if not run_dir_of(r.config).finished]
    print(f"study {study.name}: {len(chosen)} runs selected, {len(todo)} to train", file=sys.stderr)
    for i, run in enumerate(todo, 1):
        label = ", ".join(f"{k}={v}" for k, v in run.values.items()) or run.role
        print(f"[{i}/{len(todo)}] {run.run_id} ({label}, seed {run.seed})", file=sys.stderr, flush=True)
        result = execute(run.config, progress=_progress(args))
        final = result.summary.get("final", {})
        print(f"    {', '.join(f'{k} {v:.3f}' for k, v in final.items() if k in ('top1', 'recon_loss'))}", file=sys.stderr)
    written = _evaluate_and_analyze(study, args, runs, chosen)
    if written is not None:
        print(f"analyses written to {written}", file=sys.stderr)
    return 0


def _evaluate_and_analyze(study, args: argparse.Namespace, runs: list, evaluate: list) -> Optional[Path]:
    """The study's evaluations of every finished run in ``evaluate``, then its analyses over
    ``runs``; returns where the analyses went (None: the study has none)."""
    from .evals.study_analysis import analyze, run_evaluations
    from .runner import run_dir_of

    for run in evaluate:
        if run.role == "run" and run_dir_of(run.config).finished:
            run_evaluations(study, run_dir_of(run.config).path)
    return analyze(study, args.scale, runs, args.seeds) if study.analyses else None


@command("analyze")
def _analyze(args: argparse.Namespace) -> int:
    study, runs = _validated_study(args)
    written = _evaluate_and_analyze(study, args, runs, runs)
    print(f"analyses written to {written}" if written is not None else f"study {study.name} has no analyses")
    return 0


@command("submit")
def _submit(args: argparse.Namespace) -> int:
    from slurm.profiles import load_profile, with_flags
    from slurm.submit import submit_runs

    from .study import select_runs

    profile = with_flags(load_profile(args.profile), partition=args.partition, account=args.account, qos=args.qos,
                         array_parallelism=args.array_parallelism, gpus_per_run=args.gpus_per_run,
                         mem_gb=args.mem_gb, hours=args.hours)
    study, runs = _validated_study(args)
    runs = select_runs(runs, args.where or [])
    submissions, _ = submit_runs(runs, args.executor, profile, retry_failed=args.retry_failed, dry_run=args.dry_run,
                                 evaluations=study.evaluations)
    if submissions:
        print(f"submitted {len(submissions)} runs of study {study.name}; follow with: attnxfer status {study.name}"
              + (f" --scale {args.scale}" if args.scale != "embedded" else ""))
    return 0


@command("status")
def _status(args: argparse.Namespace) -> int:
    from slurm.status import format_status
    from slurm.submit import current_status

    study, runs = _validated_study(args)
    status = current_status(runs)
    labels = {r.run_id: (", ".join(f"{k}={v}" for k, v in r.values.items()) or r.role) + f" s{r.seed}" for r in runs}
    print(f"study {study.name} ({args.scale})")
    print(format_status([status[r.run_id] for r in runs], labels))
    return 0


@command("eval")
def _eval(args: argparse.Namespace) -> int:
    from .evals.runner import corruption_summary, evaluate_run, read_metrics

    families = [f.strip() for f in args.sets.split(",") if f.strip()]
    baseline = None
    if args.baseline:
        evaluate_run(Path(args.baseline), ["corruptions", "clean_subset"], workers=args.workers)
        baseline = read_metrics(Path(args.baseline))
    for run in args.run_dirs:
        results = evaluate_run(Path(run), families, tag=args.tag, force=args.force, workers=args.workers)
        print(f"{run} ({args.tag}):")
        for name, m in results.items():
            if "corruption" not in m:
                print(f"  {name:<24} top1 {m['top1']:6.2f}  top5 {m['top5']:6.2f}  nll {m['nll']:.3f}  ece {m['ece']:.3f}  n {m['n']}")
        summary = corruption_summary(results, baseline)
        if summary:
            print("  corruptions: " + ", ".join(f"{k} {v:.2f}" for k, v in summary.items() if "/" not in k))
            print("  per corruption top1: " + ", ".join(f"{k.split('/')[1]} {v:.1f}" for k, v in summary.items() if "/" in k))
    return 0


@command("ensemble")
def _ensemble(args: argparse.Namespace) -> int:
    from .evals.analyses import ensemble
    from .evals.runner import evaluate_run

    for run in args.run_dirs:
        evaluate_run(Path(run), [args.set])
    result = ensemble([Path(r) for r in args.run_dirs], args.set)
    for run, m in result["members"].items():
        print(f"member   {m['top1']:6.2f}  {run}")
    print(f"ensemble {result['ensemble']['top1']:6.2f}  (nll {result['ensemble']['nll']:.3f}, ece {result['ensemble']['ece']:.3f})")
    return 0


@command("matched")
def _matched(args: argparse.Namespace) -> int:
    from .evals.analyses import matched_accuracy

    rows = matched_accuracy([Path(r) for r in args.run_dirs], [s for s in args.sets.split(",") if s],
                            target=args.target)
    for row in rows:
        shifted = {k: v for k, v in row["sets"].items() if "/" not in k}
        corr = [v for k, v in row["sets"].items() if k.startswith("corruptions/")]
        extra = f", mean corruption top1 {sum(corr) / len(corr):.2f}" if corr else ""
        print(f"{row['run']}: epoch {row['epoch']} clean top1 {row['clean_top1']:.2f} (target {row['target']:.2f}){extra} "
              + " ".join(f"{k} {v:.2f}" for k, v in shifted.items()))
    return 0


@command("similarity")
def _similarity(args: argparse.Namespace) -> int:
    from .evals.analyses import attention_similarity

    refs = dict(item.split("=", 1) for item in args.references.split(",") if item)
    result = attention_similarity(Path(args.run_dir), {k: Path(v) for k, v in refs.items()}, args.images)
    for layer, values in result["layers"].items():
        print(f"layer {layer}: " + ", ".join(f"{k} {v:.3f}" for k, v in values.items()))
    return 0


@command("attention-maps")
def _attention_maps(args: argparse.Namespace) -> int:
    from .evals.analyses import attention_pictures

    runs = dict(item.split("=", 1) if "=" in item else (Path(item).name, item) for item in args.runs)
    path = attention_pictures({k: Path(v) for k, v in runs.items()}, Path(args.out), image_index=args.image)
    print(f"wrote {path}")
    return 0


@command("bench-eval")
def _bench_eval(args: argparse.Namespace) -> int:
    """Time the evaluation of one run on all 75 corrupted sets (generated and cached first, not timed)."""
    import time

    from .evals.runner import evaluate_run
    from .evals.sets import resolve_sets
    from .runner import load_finished

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


def _command_line(args: argparse.Namespace) -> str:
    return "attnxfer " + " ".join(sys.argv[1:]) if sys.argv and sys.argv[0].endswith("attnxfer") else f"attnxfer {args.command}"


@command("collect")
def _collect(args: argparse.Namespace) -> int:
    from analysis.report import collect

    collections = collect(args.studies, args.scale, args.seeds, args.overrides, Path(args.tables), _command_line(args))
    for name, c in collections.items():
        states = c.status["state"].value_counts().to_dict() if not c.status.empty else {}
        print(f"{name:<14} {len(c.results):>6} result rows; runs: "
              + ", ".join(f"{n} {s}" for s, n in sorted(states.items())) + f" (re-read {c.reread})")
    print(f"tables in {args.tables}")
    return 0


@command("figures")
def _figures(args: argparse.Namespace) -> int:
    from analysis.report import figures

    made = figures([args.study] if args.study else [], Path(args.tables), Path(args.out),
                   [f.strip() for f in args.format.split(",") if f.strip()])
    for name, results in made.items():
        for result in results:
            if result.files:
                print(f"{name:<14} " + ", ".join(str(p) for p in result.files))
            if result.note:
                print(f"{name:<14} skipped: {result.note}")
    return 0


@command("dashboard")
def _dashboard(args: argparse.Namespace) -> int:
    from analysis.report import dashboard

    index = dashboard([], Path(args.tables), Path(args.figures), Path(args.out))
    print(f"dashboard: {index} (open it from disk)")
    return 0


@command("reindex")
def _reindex(args: argparse.Namespace) -> int:
    """Rename run directories to the ids their configs have under this code version."""
    from .config import RunConfig, canonical_json, from_dict, run_id
    from .rundir import CONFIG, SUMMARY, RunDir, atomic_write_json

    root = Path(args.runs_root)
    moved = 0
    for path in sorted(p for p in root.iterdir() if (p / CONFIG).is_file()):
        stored = RunDir(path).config()
        cfg = from_dict(RunConfig, stored["config"])
        new_id = run_id(cfg)
        if new_id == path.name:
            continue
        target = root / new_id
        if target.exists():
            print(f"skip {path.name}: {new_id} exists")
            continue
        print(f"{path.name} -> {new_id}")
        if args.dry_run:
            continue
        stored.update(run_id=new_id, canonical=canonical_json(cfg))
        atomic_write_json(path / CONFIG, stored)
        summary = RunDir(path).summary()
        if summary is not None:
            atomic_write_json(path / SUMMARY, {**summary, "run_id": new_id})
        path.rename(target)
        moved += 1
    print(f"renamed {moved} run directories")
    return 0


@command("bench-collect")
def _bench_collect(args: argparse.Namespace) -> int:
    """Time ``collect`` over a 10,000-run synthetic study (directories written first, not timed)."""
    import tempfile
    import time

    from analysis.collect import collect_study, write_tables
    from analysis.synthetic import populate

    from .bench_plan import synthetic_study

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


@command("kill-test")
def _kill_test(args: argparse.Namespace) -> int:
    from .killtest import kill_test

    report = kill_test(args.kills, seed=args.seed, workdir=Path(args.workdir) if args.workdir else None)
    signals = ", ".join(f"{k} {v}" for k, v in sorted(report.by_signal.items()))
    print(f"kills survived: {report.kills} ({signals}; {report.during_writes} aimed at checkpoint/summary writes)")
    print(f"half-written files seen: {len(report.half_written)} {report.half_written or ''}")
    print(f"torn metrics lines (tolerated, repaired on resume): {report.torn_lines}")
    print(f"mismatches against the uninterrupted run: {len(report.mismatches)} {report.mismatches or ''}")
    return 0 if not report.mismatches and not report.half_written else 1


@command("bench-plan")
def _bench_plan(args: argparse.Namespace) -> int:
    from .bench_plan import main as bench_plan_main

    return bench_plan_main(args)


@command("bench")
def _bench(args: argparse.Namespace) -> int:
    from .bench import main as bench_main

    return bench_main(args)


def _study_parser(sub, name: str, help_text: str, where: bool = False) -> argparse.ArgumentParser:
    """A sub-command that works on one study at one scale."""
    parser = sub.add_parser(name, help=help_text)
    parser.add_argument("study")
    parser.add_argument("overrides", nargs="*", help="key=value overrides applied to every run (e.g. exec.runs_root=...)")
    parser.add_argument("--scale", choices=("embedded", "paper"), default="embedded")
    parser.add_argument("--seeds", type=int, help="seeds per point (default: the study's own)")
    if where:
        parser.add_argument("--where", action="append", help="only runs whose varied value matches (and their dependencies)")
    return parser


class _Parser(argparse.ArgumentParser):
    """Command-line mistakes are one line too (``attnxfer CMD -h`` shows the usage)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} -h)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="attnxfer", description="Attention-transfer sufficiency studies on timm ViTs.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="run one training run (key=value overrides of the run config)")
    train.add_argument("overrides", nargs="*", help="dotted overrides, e.g. transfer.mode=copy optim.epochs=5")
    train.add_argument("--progress", choices=("auto", "on", "off"), default="auto", help="progress bar (auto: on a TTY)")

    demo = sub.add_parser("demo", help="the main experiment (scratch/fine-tune/copy/distill) at embedded scale")
    demo.add_argument("overrides", nargs="*", help="overrides applied to every run, e.g. exec.runs_root=/tmp/runs")
    demo.add_argument("--seeds", type=int, default=1, help="seeds per method (default 1)")
    demo.add_argument("--out", help="also write the reference table (Markdown + JSON) into this directory")
    demo.add_argument("--progress", choices=("auto", "on", "off"), default="auto")
    demo.add_argument("--no-report", action="store_true", help="skip writing figures and the dashboard")

    sub.add_parser("studies", help="list the registered studies with their paper figure and run counts")
    _study_parser(sub, "plan", "print what a study would run (ids, values, deps, resources, cost, state)")
    run = _study_parser(sub, "run", "train a study's unfinished runs in this process (embedded scale)", where=True)
    run.add_argument("--progress", choices=("auto", "on", "off"), default="auto")
    submit = _study_parser(sub, "submit", "submit a study's unfinished runs (SLURM job arrays, or local processes)",
                           where=True)
    submit.add_argument("--executor", choices=("slurm", "local", "debug"), default="slurm")
    submit.add_argument("--profile", help="cluster profile: slurm/profiles/NAME.json or a path")
    submit.add_argument("--partition")
    submit.add_argument("--account")
    submit.add_argument("--qos")
    submit.add_argument("--array-parallelism", type=int, help="tasks of one array at once (local: parallel queues)")
    submit.add_argument("--gpus-per-run", type=int, help="override each run's GPUs per node")
    submit.add_argument("--mem-gb", type=int)
    submit.add_argument("--hours", type=float, help="job time limit (longer runs requeue themselves)")
    submit.add_argument("--retry-failed", action="store_true", help="resubmit runs that failed")
    submit.add_argument("--dry-run", action="store_true", help="print what would be submitted; submit nothing")

    _study_parser(sub, "analyze", "evaluate a study's finished runs and write its cross-run analyses")
    _study_parser(sub, "status", "per run: pending / running / done / failed, job id, restarts, epoch, error")

    ev = sub.add_parser("eval", help="evaluate finished runs on more sets (clean, corruptions, shifted ImageNets)")
    ev.add_argument("run_dirs", nargs="+")
    ev.add_argument("--sets", default="clean", help="comma list: clean, clean_subset, corruptions, corruptions_extra, "
                    "imagenet_v2, imagenet_sketch, imagenet_a, imagenet_r")
    ev.add_argument("--tag", default="final", help="final, or epoch_NNN for kept intermediate weights")
    ev.add_argument("--baseline", help="run dir whose corruption errors normalise mCE (as AlexNet in ImageNet-C)")
    ev.add_argument("--workers", type=int, default=0, help="processes generating corrupted sets (0: one per core)")
    ev.add_argument("--force", action="store_true", help="re-evaluate sets already evaluated")
    ens = sub.add_parser("ensemble", help="average the softmax of several runs (from saved logits)")
    ens.add_argument("run_dirs", nargs="+")
    ens.add_argument("--set", default="clean")
    mat = sub.add_parser("matched", help="compare runs at matched clean accuracy (intermediate weights)")
    mat.add_argument("run_dirs", nargs="+")
    mat.add_argument("--sets", default="corruptions,clean_subset")
    mat.add_argument("--target", type=float, help="clean top-1 to match (default: the lowest final top-1)")
    sim = sub.add_parser("similarity", help="per-layer JSD of a run's attention to reference runs, entropy, distance")
    sim.add_argument("run_dir")
    sim.add_argument("--references", required=True, help="name=RUN_DIR,... e.g. pretrained=runs/x,finetuned=runs/y")
    sim.add_argument("--images", type=int, default=64)
    am = sub.add_parser("attention-maps", help="picture: class-token attention per layer, one row per run")
    am.add_argument("runs", nargs="+", help="RUN_DIR or label=RUN_DIR")
    am.add_argument("--out", required=True)
    am.add_argument("--image", type=int, default=0, help="index of the test image")

    be = sub.add_parser("bench-eval", help="time evaluating one run on all 75 corrupted sets (cached)")
    be.add_argument("run_dir")
    be.add_argument("--workers", type=int, default=0)

    col = sub.add_parser("collect", help="scan run dirs into one table per study (parquet + CSV)")
    col.add_argument("studies", nargs="*", help="studies to collect (default: all)")
    col.add_argument("--scale", choices=("embedded", "paper"), default="embedded")
    col.add_argument("--seeds", type=int)
    col.add_argument("--set", dest="overrides", action="append", default=[], help="key=value override for every run")
    col.add_argument("--tables", default="results/tables")
    fig = sub.add_parser("figures", help="regenerate the paper's figures and tables from collected results")
    fig.add_argument("--study")
    fig.add_argument("--format", default="png")
    fig.add_argument("--tables", default="results/tables")
    fig.add_argument("--out", default="results/figures")
    dash = sub.add_parser("dashboard", help="write the static HTML dashboard")
    dash.add_argument("--tables", default="results/tables")
    dash.add_argument("--figures", default="results/figures")
    dash.add_argument("--out", default="results/dashboard")

    rx = sub.add_parser("reindex", help="rename run dirs to their ids under this code version (after an id scheme change)")
    rx.add_argument("runs_root")
    rx.add_argument("--dry-run", action="store_true")

    sub.add_parser("bench-collect", help="time collect over 10,000 synthetic run directories")
    kt = sub.add_parser("kill-test", help="kill a run at random moments, resume, compare with an uninterrupted run")
    kt.add_argument("--kills", type=int, default=20)
    kt.add_argument("--seed", type=int, default=0)
    kt.add_argument("--workdir", help="keep the runs here (default: a temporary directory)")

    sub.add_parser("bench-plan", help="time study expansion (all studies at paper scale; a 10,000-run study)")

    bench = sub.add_parser("bench", help="step time of copy/distill relative to a plain timm training step")
    bench.add_argument("--shape", action="append", help="shape(s) to time: embedded, vit_small, vit_base, vit_large")
    bench.add_argument("--precision", action="append", choices=("fp32", "bf16"), help="default: fp32 and bf16")
    bench.add_argument("--modes", default="copy,distill,copy_q,copy_k,copy_v,distill_q,distill_k,distill_v")
    bench.add_argument("--steps", type=int, default=20, help="timed steps per mode (after warm-up)")
    bench.add_argument("--warmup", type=int, default=5)
    bench.add_argument("--device", default="auto")
    bench.add_argument("--json", help="also write the results as JSON to this path")
    bench.add_argument("--teacher-bf16", action="store_true", help="also time fp32 students with a bf16 teacher")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
