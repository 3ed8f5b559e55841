"""What a study would run, and what it costs: the rows ``attnxfer plan`` prints and ``attnxfer studies`` sums.

Each planned run gets its state (done, shipped or carried: installed rather than
trained, or to do) and its estimated wall time: from this machine's measured step
times (:mod:`attnxfer_core.experiments.cost`), or a rehearsal's measured GPU-hours
at paper scale, plus the study's evaluations of it. Nothing here trains.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from attnxfer_core.config import ModelConfig, OptimConfig, TeacherConfig, TeacherSource
from attnxfer_core.errors import UserError
from attnxfer_core.experiments.cost import estimate, evaluation_seconds, format_cost, measured_step_times
from attnxfer_core.experiments.scales import EMBEDDED
from attnxfer_core.experiments.study import PlannedEnsemble, PlannedRun, Study
from attnxfer_core.modes import spec_of
from attnxfer_core.runs.carried import find as find_carried
from attnxfer_core.runs.files import read_json_record
from attnxfer_core.runs.rundir import run_dir_of
from attnxfer_core.runs.shipped import find as find_shipped


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
    # a shipped teacher is installed, not trained, wherever it was installed already
    trained = [row for row in rows if not (row.run.role == "dependency" and find_shipped(row.run.config) is not None)]
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
