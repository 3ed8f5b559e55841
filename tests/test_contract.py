"""The study contract and the run-directory contract: names checked up front, one vocabulary of states."""
import fcntl
import os
import threading

import pytest

from attnxfer_core.errors import ConfigError, RunLockedError
from attnxfer_core.experiments.claims import GapShare, Superiority
from attnxfer_core.experiments.figures import EnsembleBars, SweepLines
from attnxfer_core.experiments.scales import base_run
from attnxfer_core.experiments.study import Study, product, select_runs, with_values
from attnxfer_core.experiments.validation import StudyInvalid, validate_runs
from attnxfer_core.modes import Mode
from attnxfer_core.runs.rundir import LOCK, RunDir, RunState, StateReport
from studies import load_studies


def _sweep(**fields) -> Study:
    return Study(
        name="sweep", paper="-", description="distillation at two weights",
        points=lambda scale: product(weight=(1.0, 3.0)),
        build=lambda scale, p: with_values(base_run(scale, Mode.DISTILL), {"transfer.weight": p["weight"]}),
        **fields,
    )


def _refusal(study: Study, tmp_path) -> str:
    runs = study.expand("embedded", seeds=1, overrides=[f"exec.runs_root={tmp_path}"])
    with pytest.raises(StudyInvalid) as info:
        validate_runs(study, runs, "embedded")
    assert not any(tmp_path.iterdir())  # nothing written
    return str(info.value)


@pytest.mark.parametrize("fields, named", [
    (dict(analyses=("ensemble",)), "analyses: unknown analysis ensemble"),
    (dict(evaluations=("clean", "corruption")), "evaluations: unknown set(s) corruption"),
    (dict(claims=(Superiority(text="c", better={"wieght": 3.0}, worse={"weight": 1.0}),)),
     "unknown point key 'wieght'"),
    (dict(claims=(Superiority(text="c", better={"weight": 30.0}, worse={"weight": 1.0}),)), "no point has weight=30.0"),
    (dict(figures=(SweepLines(x="lr", hue="method"),)), "unknown point key 'lr'"),
    (dict(figures=(EnsembleBars(),)), "needs the 'ensembles' analysis"),
    (dict(claims=(Superiority(text="c", better={"method": "distil"}, worse={"weight": 1.0}),)),
     "no point has method=distil"),
    (dict(figures=(SweepLines(x="weight", hue="method", where={"method": ("distill", "copy")}),)), "method=copy"),
])
def test_every_name_a_study_uses_is_checked_before_anything_trains(fields, named, tmp_path):
    message = _refusal(_sweep(**fields), tmp_path)
    assert named in message and "nothing was started" in message and "\n" not in message


def test_a_point_method_must_agree_with_the_run(tmp_path):
    study = Study(name="liar", paper="-", description="-", points=lambda scale: [{"method": "copy"}],
                  build=lambda scale, p: base_run(scale, Mode.DISTILL))
    assert "point says method=copy but the run's transfer.mode is distill" in _refusal(study, tmp_path)


def test_every_run_carries_its_method_and_every_registered_study_is_valid_by_name():
    runs = _sweep().expand("embedded", seeds=1)
    assert {r.values["method"] for r in runs if r.role == "run"} == {"distill"}
    for study in load_studies().values():
        for scale in ("embedded", "paper"):
            assert all("method" in r.values for r in study.expand(scale, seeds=1) if r.role == "run")
            validate_runs(study, [], scale)  # names only: claims, figures, analyses, evaluations
            assert study.figures, f"{study.name} declares no figure"


def test_where_filters_name_real_keys_and_repeat_as_either():
    runs = _sweep().expand("embedded", seeds=1)
    assert len(select_runs(runs, ["weight=1.0", "weight=3.0"])) == 3  # both points and their shared teacher
    assert [r.values["weight"] for r in select_runs(runs, ["weight=3.0"]) if r.role == "run"] == [3.0]
    with pytest.raises(ConfigError, match="unknown point key 'mode'"):
        select_runs(runs, ["mode=distill"])


def test_a_readers_probe_never_makes_a_starting_run_fail(tmp_path):
    """``status`` and ``collect`` probe the lock with a shared lock for an instant; taking it waits that out."""
    rd = RunDir(tmp_path / "run")
    rd.create()
    fd = os.open(rd.path / LOCK, os.O_CREAT | os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)  # a probe, caught at the worst moment
    timer = threading.Timer(0.2, os.close, [fd])
    timer.start()
    try:
        rd.lock()
    finally:
        timer.join()
    rd.unlock()
    other = RunDir(rd.path)
    rd.lock()
    try:
        with pytest.raises(RunLockedError):
            other.lock()  # a real holder is still refused
    finally:
        rd.unlock()


def test_gap_share_claims_name_three_groups():
    claim = GapShare(text="c", method={"method": "copy"}, low={"method": "scratch"}, high={"method": "finetune"},
                     threshold=0.5)
    assert claim.kind == "share of a gap" and len(claim.selectors()) == 3


def test_run_states_one_vocabulary(tmp_path):
    rd = RunDir(tmp_path / "run")
    assert rd.state().state is RunState.NOT_STARTED
    rd.record_job("123", "slurm", "f", "now")
    assert rd.state().state is RunState.PENDING  # submitted, no progress, no scheduler answer
    assert rd.state(lambda job, attempts: StateReport(RunState.RUNNING)).state is RunState.RUNNING
    rd.write_config({"run_id": "x"})
    assert rd.state().state is RunState.STOPPED  # started, nobody holds the lock
    fd = os.open(rd.path / LOCK, os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert rd.state().state is RunState.RUNNING
    finally:
        os.close(fd)
    rd.write_failure("RuntimeError: boom")
    assert rd.state() == StateReport(RunState.FAILED, "RuntimeError: boom")
    rd.write_summary({"final": {}})
    assert rd.state().state is RunState.DONE
    assert [s.value for s in RunState] == ["done", "failed", "running", "pending", "stopped", "not started"]
