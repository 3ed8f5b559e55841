"""Submitting studies: dependency order, idempotent re-submission, requeue; LocalExecutor and DebugExecutor."""
import os
import signal
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from attnxfer_core.runs.files import read_jsonl
from attnxfer_core.runs.rundir import run_dir_of
from attnxfer_core.training.execute import execute
from slurm.profiles import ClusterProfile
from slurm.submit import current_status, submit_runs
from studies import get_study

TINY_STUDY = [
    "data.dataset=synthetic", "data.train_subset=none", "student.embed_dim=32", "student.depth=2",
    "student.num_heads=2", "student.patch_size=8", "teacher.model.embed_dim=32", "teacher.model.depth=2",
    "teacher.model.num_heads=2", "teacher.model.patch_size=8", "teacher.pretrain.data.dataset=synthetic",
    "teacher.pretrain.optim.epochs=1", "teacher.pretrain.optim.batch_size=32", "optim.epochs=2",
    "optim.batch_size=32", "eval_every=1", "log_every=5",
    # the synthetic set is too small for the embedded recipe's validation split and warm-up
    "data.val_size=0", "teacher.pretrain.data.val_size=0", "teacher.pretrain.optim.warmup_epochs=0",
]


def tiny_main(root: Path, *extra: str):
    study = get_study("main")
    return study.expand("embedded", seeds=1, overrides=[*TINY_STUDY, f"exec.runs_root={root}", *extra])


def _started(run) -> str:
    return read_jsonl(run_dir_of(run.config).path / "attempts.jsonl")[0]["started_at"]


def test_debug_executor_orders_dependencies_and_resubmission_is_idempotent(tmp_path, capsys):
    runs = tiny_main(tmp_path)
    submissions, _ = submit_runs(runs, "debug", ClusterProfile())
    assert len(submissions) == 5  # teacher pretraining + 4 students
    teacher = next(r for r in runs if r.role == "dependency")
    assert {s.level for s in submissions if s.run_id == teacher.run_id} == {0}
    assert {s.level for s in submissions if s.run_id != teacher.run_id} == {0, 1}  # scratch needs no teacher
    status = current_status(runs)
    assert {s.state for s in status.values()} == {"done"}
    for run in runs:
        if teacher.run_id in run.deps:
            assert _started(run) >= _started(teacher)
    again, _ = submit_runs(runs, "debug", ClusterProfile())
    assert again == [] and "nothing to submit" in capsys.readouterr().out
    for run in runs:
        assert len(read_jsonl(run_dir_of(run.config).path / "attempts.jsonl")) == 1


def test_failed_runs_are_reported_and_retried_only_when_asked(tmp_path, capsys):
    missing = tmp_path / "no-such-data"
    runs = [r for r in tiny_main(tmp_path, "data.dataset=fashion_mnist", f"data.root={missing}")
            if r.values.get("method") == "scratch"]
    with pytest.raises(Exception):
        submit_runs(runs, "debug", ClusterProfile())
    status = current_status(runs)[runs[0].run_id]
    assert status.state == "failed" and str(missing) in status.error
    capsys.readouterr()
    submissions, _ = submit_runs(runs, "debug", ClusterProfile())
    assert submissions == [] and "failed, not resubmitted" in capsys.readouterr().out
    with pytest.raises(Exception):
        submit_runs(runs, "debug", ClusterProfile(), retry_failed=True)  # retried (and fails again)
    assert len(read_jsonl(run_dir_of(runs[0].config).path / "attempts.jsonl")) == 2


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.slow
def test_local_executor_requeue_resumes_exactly(tmp_path):
    """A local job interrupted mid-training (USR2, as at a SLURM time limit) requeues and
    ends with the metrics of an uninterrupted run; re-submitting meanwhile starts nothing."""
    extra = ["optim.epochs=6", "exec.checkpoint_every_steps=3", "exec.threads=2"]  # same threads as the reference
    runs = [r for r in tiny_main(tmp_path / "q", *extra) if r.values.get("method") == "scratch"]
    (run,) = runs
    _, jobs = submit_runs(runs, "local", ClusterProfile(array_parallelism=1))
    metrics = run_dir_of(run.config).path / "metrics.jsonl"
    _wait(lambda: metrics.exists() and len(read_jsonl(metrics)) >= 3, 240, "training progress")
    again, _ = submit_runs(runs, "local", ClusterProfile())
    assert again == []  # running: no second job
    # USR2 to the training process, as SLURM sends it before a time limit or preemption
    # (submitit's local controller does not forward USR2 from LocalJob._interrupt)
    worker = read_jsonl(run_dir_of(run.config).path / "attempts.jsonl")[0]["pid"]
    os.kill(worker, signal.SIGUSR2)
    _wait(lambda: run_dir_of(run.config).finished, 300, "the requeued run to finish")
    attempts = read_jsonl(run_dir_of(run.config).path / "attempts.jsonl")
    assert len(attempts) == 2
    reference = execute(replace(run.config, exec=replace(run.config.exec, runs_root=str(tmp_path / "reference"))))
    assert metrics.read_text() == (reference.run_dir / "metrics.jsonl").read_text()
    assert current_status(runs)[run.run_id].restarts == 1


def _run_study_while_held(rd, root) -> None:
    """`attnxfer run main` while this process holds ``rd``'s lock, as another process training it would."""
    from attnxfer_core.cli import main

    rd.create()
    rd.lock()
    try:
        assert main(["run", "main", *TINY_STUDY, f"exec.runs_root={root}", "--seeds", "1", "--progress", "off"]) == 0
    finally:
        rd.unlock()


def test_processes_share_a_study_by_its_run_locks(tmp_path, capsys):
    """`attnxfer run` passes over a run another process holds, trains the rest, and leaves the
    analyses to whoever finishes last."""

    runs = tiny_main(tmp_path)
    copy = run_dir_of(next(r for r in runs if r.values.get("method") == "copy").config)
    _run_study_while_held(copy, tmp_path)  # "another process" is training copy
    err = capsys.readouterr().err
    assert "passed over: another process is training it" in err and "attnxfer analyze main" in err
    assert {r.values.get("method") for r in runs if run_dir_of(r.config).finished} == {
        None, "scratch", "finetune", "distill"}  # the teacher and every student but copy
    assert not copy.finished and not (tmp_path / "analyses").exists()


def test_a_passed_over_run_finished_elsewhere_does_not_hold_up_the_analyses(tmp_path, capsys, monkeypatch):
    import attnxfer_core.experiments.running as studies_cli
    from attnxfer_core.cli import main
    from attnxfer_core.errors import RunLockedError

    runs = tiny_main(tmp_path)
    copy = next(r for r in runs if r.values.get("method") == "copy")
    execute(copy.config)  # "another process" trains copy, and has finished by the time this one ends
    real = studies_cli.execute

    def busy_copy(cfg, progress=None):
        if run_dir_of(cfg).path == run_dir_of(copy.config).path:
            raise RunLockedError(run_dir_of(cfg).path)
        return real(cfg, progress)

    listed = []

    def unfinished_when_listed(cfg):  # copy looks unfinished when the work is listed (so it is tried), then done
        rd = run_dir_of(cfg)
        if rd.path == run_dir_of(copy.config).path and not listed:
            listed.append(rd.path)
            return SimpleNamespace(finished=False, path=rd.path)
        return rd

    monkeypatch.setattr(studies_cli, "execute", busy_copy)
    monkeypatch.setattr(studies_cli, "run_dir_of", unfinished_when_listed)
    assert main(["run", "main", *TINY_STUDY, f"exec.runs_root={tmp_path}", "--seeds", "1", "--progress", "off"]) == 0
    err = capsys.readouterr().err
    assert "passed over: another process is training it" in err and "still being trained" not in err
    assert (tmp_path / "analyses" / "main").is_dir()


def test_a_run_whose_teacher_another_process_trains_is_passed_over_and_says_so(tmp_path, capsys):

    runs = tiny_main(tmp_path)
    teacher = run_dir_of(next(r for r in runs if r.role == "dependency").config)
    _run_study_while_held(teacher, tmp_path)  # "another process" is pretraining the teacher
    err = capsys.readouterr().err
    assert err.count("passed over: another process is training a run it needs") == 3  # finetune, copy, distill
    assert "4 runs are still being trained" in err  # the teacher and the three students that need it
    assert {r.values.get("method") for r in runs if run_dir_of(r.config).finished} == {"scratch"}
