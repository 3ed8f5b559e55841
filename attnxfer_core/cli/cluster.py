"""Cluster commands: ``prefetch`` a study's named weights into the hub's cache, ``submit`` its runs
(SLURM job arrays or local processes) and follow their ``status``."""
from __future__ import annotations

import argparse

from attnxfer_core.cli.common import study_parser, validated_study
from attnxfer_core.experiments.scales import EMBEDDED
from attnxfer_core.experiments.study import select_runs
from attnxfer_core.models.hub import hub_names, load_each
from slurm.profiles import load_profile, with_flags
from slurm.status import format_status
from slurm.submit import EXECUTORS, current_status, submit_runs


def submit(args: argparse.Namespace) -> int:
    profile = with_flags(load_profile(args.profile), partition=args.partition, account=args.account, qos=args.qos,
                         array_parallelism=args.array_parallelism, gpus_per_run=args.gpus_per_run,
                         mem_gb=args.mem_gb, hours=args.hours)
    study, runs = validated_study(args)
    runs = select_runs(runs, args.where or [])
    submissions, _ = submit_runs(runs, args.executor, profile, retry_failed=args.retry_failed, dry_run=args.dry_run,
                                 evaluations=study.evaluations)
    if submissions:
        print(f"submitted {len(submissions)} runs of study {study.name}; follow with: attnxfer status {study.name}"
              + (f" --scale {args.scale}" if args.scale != EMBEDDED else ""))
    return 0


def prefetch(args: argparse.Namespace) -> int:
    """Load each timm-named weight the study's runs need, which leaves it in the hub's cache."""
    study, runs = validated_study(args)
    names = hub_names(r.config for r in select_runs(runs, args.where or []))
    if not names:
        print(f"study {study.name} ({args.scale}) loads no weights by timm name: nothing to fetch")
        return 0
    for record in load_each(names, offline=args.check):
        print(f"{'cached' if args.check else 'fetched'} {record['name']} ({record['field']}, {record['source']}, "
              f"{record['params'] / 1e6:.1f} M parameters)")
    print(f"{len(names)} weights in the local cache: jobs of {study.name} run with the hub offline "
          "(the cache must be on a file system the compute nodes share: HF_HOME)")
    return 0


def status(args: argparse.Namespace) -> int:
    study, runs = validated_study(args)
    states = current_status(runs)
    labels = {r.run_id: f"{r.label} s{r.seed}" for r in runs}
    print(f"study {study.name} ({args.scale})")
    print(format_status([states[r.run_id] for r in runs], labels))
    return 0


def register(sub) -> None:
    parser = study_parser(sub, "submit", "submit a study's unfinished runs (SLURM job arrays, or local processes)",
                          where=True)
    parser.add_argument("--executor", choices=EXECUTORS, default="slurm")
    parser.add_argument("--profile", help="cluster profile: slurm/profiles/NAME.json or a path")
    parser.add_argument("--partition")
    parser.add_argument("--account")
    parser.add_argument("--qos")
    parser.add_argument("--array-parallelism", type=int, help="tasks of one array at once (local: parallel queues)")
    parser.add_argument("--gpus-per-run", type=int, help="override each run's GPUs per node")
    parser.add_argument("--mem-gb", type=int)
    parser.add_argument("--hours", type=float, help="job time limit (longer runs requeue themselves)")
    parser.add_argument("--retry-failed", action="store_true", help="resubmit runs that failed")
    parser.add_argument("--dry-run", action="store_true", help="print what would be submitted; submit nothing")
    parser.set_defaults(handler=submit)
    parser = study_parser(sub, "prefetch", "load the weights a study names (timm, hf-hub:, local-dir:) into the "
                          "hub's cache, on a node with internet, so that its jobs run offline", where=True)
    parser.add_argument("--check", action="store_true", help="only check the cache, with the hub offline")
    parser.set_defaults(handler=prefetch)
    study_parser(sub, "status", "per run: done / running / pending / stopped / failed / not started, job id, "
                 "restarts, epoch, error").set_defaults(handler=status)
