"""Study commands: ``studies`` (the registry), ``plan`` (what would run), ``run`` (train here), ``analyze``."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from attnxfer_core.cli.common import add_progress, progress_of, study_parser, validated_study
from attnxfer_core.config import ModelConfig, OptimConfig, TeacherConfig, TeacherSource
from attnxfer_core.errors import RunLockedError, UserError
from attnxfer_core.experiments.analyses import analyze as analyze_study
from attnxfer_core.experiments.analyses import run_evaluations
from attnxfer_core.experiments.cost import estimate, evaluation_seconds, format_cost, measured_step_times
from attnxfer_core.experiments.scales import EMBEDDED, PAPER
from attnxfer_core.experiments.study import PlannedEnsemble, PlannedRun, Study, select_runs
from attnxfer_core.modes import spec_of
from attnxfer_core.runs.carried import find as find_carried
from attnxfer_core.runs.files import read_json_record
from attnxfer_core.runs.rundir import run_dir_of
from attnxfer_core.runs.shipped import find as find_shipped
from attnxfer_core.training.execute import execute
from studies import load_studies


@dataclass
class StudyCost:
    """A study's embedded runs and estimated wall time: all of them, and those no study before it trains."""

    study: str
    runs: int
    seconds: float
    new_runs: int
    new_seconds: float
    measured: bool


def embedded_costs(studies: Sequence[Study]) -> list[StudyCost]:
    """Each study's cost at embedded scale. A run shared between studies is trained once, by the first study
    (main first, as others reuse its runs; then by name) that has it. Shipped teachers are installed, not
    trained: they cost nothing."""
    seen: set[str] = set()
    out = []
    for study in sorted(studies, key=lambda s: (s.name != "main", s.name)):
        runs = [r for r in study.expand(EMBEDDED) if find_carried(r.config) is None
                and not (r.role == "dependency" and find_shipped(r.config) is not None)]
        costs = {r.run_id: run_seconds(study, r, EMBEDDED) for r in runs}
        new = [r.run_id for r in runs if r.run_id not in seen]
        seen.update(costs)
        out.append(StudyCost(study.name, len(runs), sum(c[0] for c in costs.values()), len(new),
                             sum(costs[i][0] for i in new), all(c[1] for c in costs.values())))
    return out


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


@dataclass
class PlanRow:
    run: PlannedRun
    state: str  # done | shipped or carried (installed, not trained, when it runs) | todo
    seconds: float
    measured: bool = False  # the estimate comes from measured step times (else from FLOPs)

    @property
    def done(self) -> bool:
        return self.state != "todo"


def _plan_state(run: PlannedRun) -> str:
    if run_dir_of(run.config).finished:
        return "done"
    if find_shipped(run.config) is not None:
        return "shipped"
    return "carried" if find_carried(run.config) is not None else "todo"


def run_seconds(study: Study, run: PlannedRun, scale: str, trained: Optional[float] = None) -> tuple[float, bool]:
    """Estimated seconds of a run as the study needs it: training (``trained`` when measured elsewhere, as
    by a rehearsal), then the study's evaluations of it."""
    cost = estimate(run.config, scale)
    after = (evaluation_seconds(run.config, scale, [e for e in study.evaluations if e != "clean"], study.analyses)
             if run.role == "run" else 0.0)
    if trained is not None:
        return trained + after, True
    return cost.seconds + after, cost.measured


def plan_rows(study: Study, runs: Sequence[PlannedRun], scale: str,
              rehearsal: Optional[dict] = None) -> list[PlanRow]:
    """Per run its state and estimated cost; a rehearsal's measured GPU-hours replace the FLOP guess
    for the runs it measured."""
    measured_gpu_hours = {row["run_id"]: row["gpu_hours"] for row in (rehearsal or {}).get("rows", [])
                          if row.get("measured")}
    rows = []
    for r in runs:
        measured_seconds = measured_gpu_hours[r.run_id] * 3600 if r.run_id in measured_gpu_hours else None
        seconds, measured = run_seconds(study, r, scale, measured_seconds)
        rows.append(PlanRow(r, _plan_state(r), seconds, measured))
    return rows


def read_rehearsal(path: str, study: str, scale: str) -> dict:
    """A report of ``attnxfer rehearse`` for this study and scale, or one clear error."""
    record = read_json_record(Path(path))
    if record is None:
        raise UserError(f"--rehearsal: {path} is not a rehearsal report (missing or not JSON)")
    if (record.get("study"), record.get("scale")) != (study, scale):
        raise UserError(f"--rehearsal: {path} rehearsed {record.get('study')} at {record.get('scale')} scale, "
                        f"not {study} at {scale}")
    return record


def _basis(rows: list[PlanRow], scale: str, rehearsal: Optional[dict] = None) -> str:
    if scale != EMBEDDED:
        if rehearsal is not None:
            device = next((r.get("device_name") for r in rehearsal["rows"] if r.get("measured")), "?")
            return (f"{sum(row.measured for row in rows)} of {len(rows)} runs measured by attnxfer rehearse "
                    f"at {rehearsal.get('code_version', '?')} on {device}, the rest FLOPs at 100 TFLOP/s per GPU")
        return "FLOPs at 100 TFLOP/s per GPU"
    times = measured_step_times()
    if times is not None and all(row.measured for row in rows):
        env = times.environment
        return (f"wall time on 2 CPU cores from step times measured by attnxfer bench calibrate "
                f"at {env.get('code_version', '?')} on {env.get('device_name', env.get('device', '?'))}")
    return "rough: FLOPs at an assumed 50 GFLOP/s, no measured step times (attnxfer bench calibrate)"


def batch_split(optim: OptimConfig, processes: int) -> str:
    """``32x4x16``: images per forward/backward, passes accumulated per step, processes (GPUs)."""
    micro, accum = optim.split(processes)
    return f"{micro}x{accum}x{processes}"


def format_plan(study_name: str, scale: str, rows: list[PlanRow], ensembles: list[PlannedEnsemble],
                rehearsal: Optional[dict] = None) -> str:
    lines = [f"study {study_name} at {scale} scale: {len(rows)} runs"]
    head = (f"{'run id':<24} {'varied values':<44} {'seed':>4} {'deps':<24} {'resources':<18} "
            f"{'micro x acc x procs':<19} {'est. cost':>12} {'state':<7}")
    lines += [head, "-" * len(head)]
    for row in rows:
        r = row.run
        values = r.label if r.values else f"({r.role}: {r.config.objective.value} pretraining)"
        res = r.resources
        resources = "2 CPU cores" if scale == EMBEDDED else f"{res.nodes}x{res.gpus_per_node} GPU, {res.hours:g} h"
        deps = ",".join(d[:12] for d in r.deps) or "-"
        lines.append(
            f"{r.run_id:<24} {values[:44]:<44} {r.seed:>4} {deps[:24]:<24} {resources:<18} "
            f"{batch_split(r.config.optim, max(1, res.gpus)):<19} "
            f"{format_cost(row.seconds, scale):>12} {row.state:<7}"
        )
    if ensembles:
        lines.append("")
        lines.append(f"ensembles (from saved logits, after their members): {len(ensembles)}")
        for e in ensembles:
            lines.append(f"  {e.name:<22} members {', '.join(e.member_ids)}")
    todo = [row for row in rows if not row.done]
    lines.append("")
    trained = [row for row in rows if row.state != "shipped"]  # a shipped teacher is installed, not trained
    lines.append(f"whole study: {len(trained)} runs to train from nothing, estimated "
                 f"{format_cost(sum(r.seconds for r in trained), scale)}; to run here: {len(todo)}, estimated "
                 f"{format_cost(sum(r.seconds for r in todo), scale)}")
    lines.append(f"(basis: {_basis(rows, scale, rehearsal)}; a run shared with another study is trained once)")
    return "\n".join(lines)


def _architecture(model: ModelConfig) -> str:
    """``vit_large_patch16_224 (patch 14, reg_tokens 4)``: the arch and the fields a run sets on it."""
    shown = ("patch_size", "img_size", "embed_dim", "depth", "num_heads", "global_pool", "class_token", "reg_tokens",
             "no_embed_class", "init_values", "qk_norm", "pre_norm")
    set_ = [f"{name} {getattr(model, name)}" for name in shown if getattr(model, name) is not None]
    return model.arch + (f" ({', '.join(set_)})" if set_ else "")


def _weights(source: TeacherConfig) -> str:
    if source.source is TeacherSource.TIMM:
        return f"timm {source.name}" + (f" at {source.model.img_size} px" if source.model.img_size else "")
    if source.source is TeacherSource.FILE:
        return f"file {source.path} as {_architecture(source.model)}"
    if source.source is TeacherSource.PRETRAIN:
        return f"pretrained here ({source.pretrain.method.value}): {_architecture(source.model)}"
    return f"{source.source.value}: {_architecture(source.model)}"


def model_lines(runs: Sequence[PlannedRun]) -> list[str]:
    """The distinct teachers (their weights) and student architectures a study's runs use."""
    teachers, students = {}, {}
    for run in runs:
        if run.role != "run":
            continue
        cfg = run.config
        if spec_of(cfg.transfer.mode).needs_teacher:
            teachers.setdefault(_weights(cfg.teacher), None)
        students.setdefault(_architecture(cfg.student), None)
    return ([f"teachers ({len(teachers)}):"] + [f"  {t}" for t in teachers]
            + [f"students ({len(students)}):"] + [f"  {s}" for s in students])


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


def evaluate_and_analyze(study: Study, args: argparse.Namespace, runs: list[PlannedRun],
                         evaluate: list[PlannedRun]) -> Optional[Path]:
    """The study's evaluations of every finished run in ``evaluate``, then its analyses over
    ``runs``; returns where the analyses went (None: the study has none)."""
    for run in evaluate:
        if run.role == "run" and run_dir_of(run.config).finished:
            run_evaluations(study, run_dir_of(run.config).path)
    return analyze_study(study, args.scale, runs, args.seeds) if study.analyses else None


def run(args: argparse.Namespace) -> int:
    """Run a study's unfinished runs here, one after another (dependencies first).

    A run another process is training (or whose teacher another process is training) is passed
    over, not waited for: several ``attnxfer run`` processes on one machine share a study's runs
    between them (each run's lock decides who trains it). The process that ends with nothing left
    unfinished elsewhere runs the analyses.
    """
    study, runs = validated_study(args)
    chosen = select_runs(runs, args.where or [])
    todo = [r for r in chosen if not run_dir_of(r.config).finished]
    print(f"study {study.name}: {len(chosen)} runs selected, {len(todo)} to train", file=sys.stderr)
    elsewhere = []
    for i, planned in enumerate(todo, 1):
        print(f"[{i}/{len(todo)}] {planned.run_id} ({planned.label}, seed {planned.seed})", file=sys.stderr, flush=True)
        try:
            result = execute(planned.config, progress=progress_of(args))
        except RunLockedError as exc:
            elsewhere.append(planned)
            itself = exc.path == run_dir_of(planned.config).path
            print(f"    passed over: another process is training {'it' if itself else f'a run it needs ({exc})'}",
                  file=sys.stderr)
            continue
        final = result.summary.get("final", {})
        print(f"    {', '.join(f'{k} {v:.3f}' for k, v in final.items() if k in ('top1', 'recon_loss'))}",
              file=sys.stderr)
    if args.train_only:
        return 0
    unfinished = [r for r in elsewhere if not run_dir_of(r.config).finished]
    if unfinished:  # whoever finishes the last of them analyzes (or `attnxfer analyze` later)
        print(f"{len(unfinished)} runs are still being trained by other processes: run `attnxfer analyze "
              f"{study.name}` once they finish", file=sys.stderr)
        return 0
    written = evaluate_and_analyze(study, args, runs, chosen)
    if written is not None:
        print(f"analyses written to {written}", file=sys.stderr)
    return 0


def analyze(args: argparse.Namespace) -> int:
    study, runs = validated_study(args)
    written = evaluate_and_analyze(study, args, runs, runs)
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
