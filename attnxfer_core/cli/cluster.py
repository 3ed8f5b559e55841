"""Cluster commands: ``prefetch`` a study's named weights into the hub's cache, ``rehearse`` it (a few
measured steps of every run), ``submit`` its runs (SLURM job arrays or local processes) and follow their
``status``."""
from __future__ import annotations

import argparse

from attnxfer_core.bench import rehearse as rh
from attnxfer_core.cli.common import COUNT, command_line, study_parser, validated_study
from attnxfer_core.config.bounds import field_arg
from attnxfer_core.errors import UserError
from attnxfer_core.experiments.scales import EMBEDDED, PAPER
from attnxfer_core.experiments.study import select_runs
from attnxfer_core.models.hub import hub_names, load_each
from slurm.profiles import ClusterProfile, load_profile, with_flags
from slurm.rehearsal import rehearse_study
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


def rehearse(args: argparse.Namespace) -> int:
    """Train every run of the study a few steps (real models and recipes, synthetic images) and predict
    the sweep's wall time and GPU-hours from what was measured (:func:`slurm.rehearsal.rehearse_study`)."""
    if args.scale != PAPER:
        raise UserError("rehearse measures paper-scale runs on their GPUs: add --scale paper (embedded runs are "
                        "timed by attnxfer bench calibrate)")
    profile = with_flags(load_profile(args.profile), partition=args.partition, account=args.account, qos=args.qos,
                         array_parallelism=args.array_parallelism, hours=args.hours)
    study, runs = validated_study(args)
    outcome = rehearse_study(study, select_runs(runs, args.where or []), args.scale, args.steps, args.classes,
                             args.executor, profile, command_line(args), out=args.out, json_path=args.json)
    print(rh.format_report(outcome.rows))
    for line in [*(f"failed: {f}" for f in outcome.failures), *(f"wrote {p}" for p in outcome.written)]:
        print(line)
    return 0 if outcome.ok else 1


def status(args: argparse.Namespace) -> int:
    study, runs = validated_study(args)
    states = current_status(runs)
    labels = {r.run_id: f"{r.label} s{r.seed}" for r in runs}
    print(f"study {study.name} ({args.scale})")
    print(format_status([states[r.run_id] for r in runs], labels))
    return 0


# flags that set a cluster profile's fields take the field's own bounds
PROFILE_INT = lambda name: field_arg(ClusterProfile, name, int)  # noqa: E731
HOURS = field_arg(ClusterProfile, "hours", float)


def _cluster_options(parser: argparse.ArgumentParser) -> None:
    """Where jobs go: the executor and the profile's fields that flags override (submit and rehearse)."""
    parser.add_argument("--executor", choices=EXECUTORS, default="slurm")
    parser.add_argument("--profile", help="cluster profile: slurm/profiles/NAME.json or a path")
    parser.add_argument("--partition")
    parser.add_argument("--account")
    parser.add_argument("--qos")
    parser.add_argument("--array-parallelism", type=PROFILE_INT("array_parallelism"),
                        help="tasks of one array at once (local: parallel queues)")


def register(sub) -> None:
    parser = study_parser(sub, "submit", "submit a study's unfinished runs (SLURM job arrays, or local processes)",
                          where=True)
    _cluster_options(parser)
    parser.add_argument("--gpus-per-run", type=PROFILE_INT("gpus_per_run"), help="override each run's GPUs per node")
    parser.add_argument("--mem-gb", type=PROFILE_INT("mem_gb"))
    parser.add_argument("--hours", type=HOURS, help="job time limit (longer runs requeue themselves)")
    parser.add_argument("--retry-failed", action="store_true", help="resubmit runs that failed")
    parser.add_argument("--dry-run", action="store_true", help="print what would be submitted; submit nothing")
    parser.set_defaults(handler=submit)
    parser = study_parser(sub, "prefetch", "load the weights a study names (timm, hf-hub:, local-dir:) into the "
                          "hub's cache, on a node with internet, so that its jobs run offline", where=True)
    parser.add_argument("--check", action="store_true", help="only check the cache, with the hub offline")
    parser.set_defaults(handler=prefetch)
    parser = study_parser(sub, "rehearse", "train every run of a study a few steps (real models and recipes, "
                          "synthetic ImageNet-layout images) and predict its GPU-hours from the measurement",
                          where=True)
    parser.add_argument("--steps", type=COUNT, default=10, help=f"timed steps per run (after {rh.WARMUP} untimed)")
    parser.add_argument("--classes", type=COUNT, default=1000, help="class folders of the synthetic images")
    _cluster_options(parser)
    parser.add_argument("--hours", type=HOURS, help="job time limit")
    parser.add_argument("--out", help="rehearsal folder (default: RUNS_ROOT/rehearsals/STUDY-SCALE-TIME)")
    parser.add_argument("--json", help="also write the report here (e.g. results/perf/rehearsal_main_paper.json)")
    parser.set_defaults(handler=rehearse)
    study_parser(sub, "status", "per run: done / running / pending / stopped / failed / not started, job id, "
                 "restarts, epoch, error").set_defaults(handler=status)
