"""Evaluation commands on finished runs: ``eval``, ``ensemble``, ``matched``, ``similarity``, ``attention-maps``."""
from __future__ import annotations

import argparse
from pathlib import Path

from attnxfer_core.cli.common import COUNT, NON_NEGATIVE
from attnxfer_core.config.bounds import Bound, arg_type
from attnxfer_core.evaluation.comparisons import attention_pictures, attention_similarity, ensemble, matched_accuracy
from attnxfer_core.evaluation.posthoc import corruption_summary, evaluate_run, read_metrics
from attnxfer_core.evaluation.sets import FAMILIES
from attnxfer_core.runs.rundir import FINAL, RunDir


def evaluate(args: argparse.Namespace) -> int:
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
                print(f"  {name:<24} top1 {m['top1']:6.2f}  top5 {m['top5']:6.2f}  nll {m['nll']:.3f}  "
                      f"ece {m['ece']:.3f}  n {m['n']}")
        imagenet_c = (RunDir(Path(run)).config() or {}).get("data", {}).get("dataset") == "imagefolder"
        summary = corruption_summary(results, baseline, imagenet_c=imagenet_c)
        if summary:
            normaliser = "the baseline's errors" if baseline else ("AlexNet's (published)" if imagenet_c else None)
            print("  corruptions: " + ", ".join(f"{k} {v:.2f}" for k, v in summary.items() if "/" not in k)
                  + (f" (mce normalised by {normaliser})" if normaliser else ""))
            print("  per corruption top1: "
                  + ", ".join(f"{k.split('/')[1]} {v:.1f}" for k, v in summary.items() if "/" in k))
    return 0


def ensemble_runs(args: argparse.Namespace) -> int:
    for run in args.run_dirs:
        evaluate_run(Path(run), [args.set])
    result = ensemble([Path(r) for r in args.run_dirs], args.set)
    for run, m in result["members"].items():
        print(f"member   {m['top1']:6.2f}  {run}")
    print(f"ensemble {result['ensemble']['top1']:6.2f}  "
          f"(nll {result['ensemble']['nll']:.3f}, ece {result['ensemble']['ece']:.3f})")
    return 0


def matched(args: argparse.Namespace) -> int:
    rows = matched_accuracy([Path(r) for r in args.run_dirs], [s for s in args.sets.split(",") if s],
                            target=args.target)
    for row in rows:
        shifted = {k: v for k, v in row["sets"].items() if "/" not in k}
        corr = [v for k, v in row["sets"].items() if k.startswith("corruptions/")]
        extra = f", mean corruption top1 {sum(corr) / len(corr):.2f}" if corr else ""
        print(f"{row['run']}: epoch {row['epoch']} clean top1 {row['clean_top1']:.2f} "
              f"(target {row['target']:.2f}){extra} "
              + " ".join(f"{k} {v:.2f}" for k, v in shifted.items()))
    return 0


def similarity(args: argparse.Namespace) -> int:
    refs = dict(item.split("=", 1) for item in args.references.split(",") if item)
    result = attention_similarity(Path(args.run_dir), {k: Path(v) for k, v in refs.items()}, args.images)
    for layer, values in result["layers"].items():
        print(f"layer {layer}: " + ", ".join(f"{k} {v:.3f}" for k, v in values.items()))
    return 0


def attention_maps(args: argparse.Namespace) -> int:
    runs = dict(item.split("=", 1) if "=" in item else (Path(item).name, item) for item in args.runs)
    path = attention_pictures({k: Path(v) for k, v in runs.items()}, Path(args.out), image_index=args.image)
    print(f"wrote {path}")
    return 0


def register(sub) -> None:
    ev = sub.add_parser("eval", help="evaluate finished runs on more sets (clean, corruptions, shifted ImageNets)")
    ev.add_argument("run_dirs", nargs="+")
    ev.add_argument("--sets", default="clean", help=f"comma list: {', '.join(FAMILIES)}")
    ev.add_argument("--tag", default=FINAL, help=f"{FINAL}, or epoch_NNN for kept intermediate weights")
    ev.add_argument("--baseline", help="run dir whose corruption errors normalise mCE (as AlexNet in ImageNet-C)")
    ev.add_argument("--workers", type=NON_NEGATIVE, default=0,
                    help="processes generating corrupted sets (0: one per core)")
    ev.add_argument("--force", action="store_true", help="re-evaluate sets already evaluated")
    ev.set_defaults(handler=evaluate)
    ens = sub.add_parser("ensemble", help="average the softmax of several runs (from saved logits)")
    ens.add_argument("run_dirs", nargs="+")
    ens.add_argument("--set", default="clean")
    ens.set_defaults(handler=ensemble_runs)
    mat = sub.add_parser("matched", help="compare runs at matched clean accuracy (intermediate weights)")
    mat.add_argument("run_dirs", nargs="+")
    mat.add_argument("--sets", default="corruptions,clean_subset")
    mat.add_argument("--target", type=arg_type(float, Bound(ge=0, le=100)),
                     help="clean top-1 to match (default: the lowest final top-1)")
    mat.set_defaults(handler=matched)
    sim = sub.add_parser("similarity", help="per-layer JSD of a run's attention to reference runs, entropy, distance")
    sim.add_argument("run_dir")
    sim.add_argument("--references", required=True, help="name=RUN_DIR,... e.g. pretrained=runs/x,finetuned=runs/y")
    sim.add_argument("--images", type=COUNT, default=64)
    sim.set_defaults(handler=similarity)
    am = sub.add_parser("attention-maps", help="picture: class-token attention per layer, one row per run")
    am.add_argument("runs", nargs="+", help="RUN_DIR or label=RUN_DIR")
    am.add_argument("--out", required=True)
    am.add_argument("--image", type=NON_NEGATIVE, default=0, help="index of the test image")
    am.set_defaults(handler=attention_maps)
