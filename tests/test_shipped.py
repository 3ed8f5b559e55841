"""Runs that ship with the repository (the embedded MAE teacher): installed when their recipe matches,
checked against their hash, regenerated bit for bit when trained again."""
import pytest

from attnxfer_core.config import apply_overrides, set_fields
from attnxfer_core.config.pretraining import pretrain_run
from attnxfer_core.errors import UserError
from attnxfer_core.runs.rundir import run_dir_of
from attnxfer_core.runs.shipped import find, ship, verify
from attnxfer_core.training.execute import execute

from .conftest import tiny_run

MAE_TEACHER = ["teacher.source=pretrain", "teacher.pretrain.method=mae", "teacher.pretrain.data.dataset=synthetic",
               "teacher.pretrain.optim.epochs=1", "teacher.pretrain.optim.batch_size=32",
               "teacher.pretrain.mae.decoder_dim=32", "teacher.pretrain.mae.decoder_heads=4"]


def _student(tmp_path, root, *extra):
    return tiny_run(tmp_path, "transfer.mode=distill", *MAE_TEACHER, f"exec.runs_root={root}",
                    f"exec.shipped_root={tmp_path}/shipped", *extra)


def test_a_shipped_teacher_is_installed_not_trained_and_regenerates_bit_for_bit(tmp_path):
    trained = execute(pretrain_run(_student(tmp_path, tmp_path / "a").teacher, _student(tmp_path, tmp_path / "a").exec))
    weights = ship(trained.run_dir, tmp_path / "shipped", "test")
    student = _student(tmp_path, tmp_path / "b")  # a fresh runs root: nothing trained there
    result = execute(student)
    teacher = result.summary["teacher"]
    assert teacher["cached"] is True and teacher["final"] == trained.summary["final"]
    installed = run_dir_of(pretrain_run(student.teacher, student.exec)).summary()["installed"]
    assert installed["from"] == str(weights) and len(installed["sha256"]) == 64
    # the same recipe trained again elsewhere holds the shipped weights byte for byte
    elsewhere = apply_overrides(student, [f"exec.runs_root={tmp_path}/c", f"exec.shipped_root={tmp_path}/none"])
    again = execute(pretrain_run(student.teacher, elsewhere.exec))
    assert not again.cached and verify(weights, again.run_dir)[0]


def test_a_changed_recipe_does_not_match_and_a_damaged_file_is_refused(tmp_path):
    cfg = _student(tmp_path, tmp_path / "a")
    trained = execute(pretrain_run(cfg.teacher, cfg.exec))
    weights = ship(trained.run_dir, tmp_path / "shipped", "test")
    assert find(pretrain_run(cfg.teacher, cfg.exec)) is not None
    changed = set_fields(cfg, {"teacher.pretrain.optim.lr": 1e-4})
    assert find(pretrain_run(changed.teacher, changed.exec)) is None
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(UserError, match="do not match their record"):
        execute(_student(tmp_path, tmp_path / "d"))


def test_a_shipped_run_is_installed_under_its_lock(tmp_path):
    """A second process starting at the same moment never trains over a half-installed teacher."""
    from attnxfer_core.errors import RunLockedError

    cfg = _student(tmp_path, tmp_path / "a")
    ship(execute(pretrain_run(cfg.teacher, cfg.exec)).run_dir, tmp_path / "shipped", "test")
    fresh = pretrain_run(_student(tmp_path, tmp_path / "b").teacher, _student(tmp_path, tmp_path / "b").exec)
    rd = run_dir_of(fresh)
    rd.create()
    rd.lock()  # another process is installing it
    try:
        with pytest.raises(RunLockedError):
            execute(fresh)
        assert rd.config() is None and not rd.finished
    finally:
        rd.unlock()
    assert execute(fresh).cached and "installed" in rd.summary()
