"""Against a real single-node SLURM (slurm/local-cluster.sh): job arrays, afterok, requeue, status.

Needs root (it starts munge, MariaDB, slurmdbd, slurmctld, slurmd); CI runs it through `make test`.
The cluster is stopped at the end even when a test fails.
"""
import os
import shutil
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from attnxfer_core.cli import main
from attnxfer_core.errors import UserError
from attnxfer_core.runs.files import read_jsonl
from attnxfer_core.runs.rundir import run_dir_of
from attnxfer_core.training.execute import execute
from slurm.profiles import load_profile, with_flags
from slurm.submit import current_status, submit_runs

from .test_submit import TINY_STUDY, _wait, tiny_main

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "slurm" / "local-cluster.sh"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the local SLURM cluster needs root"),
]


@pytest.fixture(scope="module")
def cluster():
    # not under pytest's tmp dir: that is private to root (0700) and MariaDB runs as mysql
    state = Path(tempfile.mkdtemp(prefix="attnxfer-slurm-"))
    state.chmod(0o755)
    env = {**os.environ, "ATTNXFER_SLURM_DIR": str(state)}
    old = os.environ.get("SLURM_CONF")
    try:
        subprocess.run([str(SCRIPT), "start"], env=env, check=True, timeout=900)
        os.environ["SLURM_CONF"] = str(state / "etc" / "slurm.conf")
        yield state
    finally:
        subprocess.run([str(SCRIPT), "stop"], env=env, timeout=300)
        shutil.rmtree(state, ignore_errors=True)
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


SLOW_ENOUGH = ["optim.epochs=10", "exec.checkpoint_every_steps=5", "exec.threads=1"]


def test_bad_cluster_requests_submit_nothing(cluster, tmp_path):
    runs = tiny_main(tmp_path, *SLOW_ENOUGH)
    profile = load_profile("local")
    with pytest.raises(UserError, match="partition 'gpu-nowhere' does not exist"):
        submit_runs(runs, "slurm", with_flags(profile, partition="gpu-nowhere"))
    with pytest.raises(UserError, match="largest node has"):
        submit_runs(runs, "slurm", with_flags(profile, mem_gb=100000))
    assert not any((run_dir_of(r.config).path / "job.json").exists() for r in runs)
    assert subprocess.run(["squeue", "-h"], capture_output=True, text=True).stdout.strip() == ""


def test_study_as_job_arrays_with_requeue(cluster, tmp_path, capsys):
    runs = tiny_main(tmp_path / "runs", *SLOW_ENOUGH)
    submissions, jobs = submit_runs(runs, "slurm", load_profile("local"))
    assert len(submissions) == 5
    assert all("_" in s.job_id for s in submissions)  # array tasks
    assert {s.level for s in submissions} == {0, 1}
    by_run = {s.run_id: job for s, job in zip(submissions, jobs)}
    victim = next(r for r in runs if r.values.get("method") == "distill")
    metrics = run_dir_of(victim.config).path / "metrics.jsonl"
    _wait(lambda: metrics.exists() and len(read_jsonl(metrics)) >= 4, 600, "the distill run to make progress")
    by_run[victim.run_id]._interrupt(timeout=True)  # USR2, as SLURM sends before the time limit
    _wait(lambda: all(run_dir_of(r.config).finished for r in runs), 900, "every run to finish")

    status = current_status(runs)
    assert {s.state for s in status.values()} == {"done"}
    assert status[victim.run_id].restarts == 1
    assert all(s.restarts == 0 for rid, s in status.items() if rid != victim.run_id)
    reference = execute(replace(victim.config, exec=replace(victim.config.exec, runs_root=str(tmp_path / "ref"))))
    assert metrics.read_text() == (reference.run_dir / "metrics.jsonl").read_text()

    capsys.readouterr()
    args = ["status", "main", *TINY_STUDY, f"exec.runs_root={tmp_path / 'runs'}", *SLOW_ENOUGH, "--seeds", "1"]
    assert main(args) == 0
    table = capsys.readouterr().out
    line = next(row for row in table.splitlines() if row.startswith(victim.run_id))
    assert " done " in line and " 1 " in line
    again, _ = submit_runs(runs, "slurm", load_profile("local"))
    assert again == []
