"""Trackers: TensorBoard event files mirror the metrics log, one curve per tag across resumes; W&B offline."""
import sys
import types

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from attnxfer_core.errors import ConfigError
from attnxfer_core.runs.rundir import TENSORBOARD, run_dir_of
from attnxfer_core.training.execute import execute, prepare
from attnxfer_core.training.trackers import scalars

from .conftest import tiny_run


def _curves(run_dir) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(run_dir / TENSORBOARD))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _expected(run_dir) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list] = {}
    for record in run_dir_of_metrics(run_dir):
        step, values = scalars(record)
        for tag, value in values.items():
            out.setdefault(tag, []).append((step, pytest.approx(value, rel=1e-6)))
    return out


def run_dir_of_metrics(run_dir):
    from attnxfer_core.runs.files import read_jsonl

    return read_jsonl(run_dir / "metrics.jsonl")


def test_event_files_read_back_as_the_metrics_log_across_a_resume(tmp_path):
    overrides = ["optim.epochs=3", "eval_every=1", "exec.checkpoint_every_steps=4"]
    stopped = execute(tiny_run(tmp_path, *overrides, "exec.stop_after_steps=8"))
    assert not stopped.finished
    # a kill after the last checkpoint (step 8) leaves a logged record and events the resume repeats
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(stopped.run_dir / TENSORBOARD)) as writer:
        writer.add_scalar("train/loss", 123.0, 10)
    with open(stopped.run_dir / "metrics.jsonl", "a") as log:
        log.write('{"kind": "train", "step": 10, "epoch": 1, "loss": 123.0}\n')
    assert (10, 123.0) in _curves(stopped.run_dir)["train/loss"]
    done = execute(tiny_run(tmp_path, *overrides))
    curves, expected = _curves(done.run_dir), _expected(done.run_dir)
    assert curves.keys() == expected.keys() and {"train/loss", "test/top1"} <= curves.keys()
    for tag, points in expected.items():
        assert curves[tag] == points, tag  # every step once, in order, with the logged value
    assert 10 in [s for s, _ in curves["train/loss"]] and (10, 123.0) not in curves["train/loss"]


def test_tensorboard_switch_off_writes_no_event_files(tmp_path):
    done = execute(tiny_run(tmp_path, "optim.epochs=1", "exec.tensorboard=false"))
    assert not (done.run_dir / TENSORBOARD).exists()


def test_wandb_missing_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # not installed
    cfg = tiny_run(tmp_path, "exec.wandb=true")
    with pytest.raises(ConfigError, match="exec.wandb"):
        prepare(cfg)
    assert not run_dir_of(cfg).path.exists()


class _FakeWandb(types.ModuleType):
    """Records what the suite asks of W&B (the real package is an optional extra)."""

    def __init__(self):
        super().__init__("wandb")
        self.inits, self.logged, self.finished = [], [], 0

    def init(self, **kwargs):
        self.inits.append(kwargs)
        return self

    def log(self, values, step):
        self.logged.append((step, values))

    def finish(self):
        self.finished += 1


def test_wandb_is_offline_keyed_by_the_run_id_and_continues_on_resume(tmp_path, monkeypatch):
    fake = _FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    overrides = ["optim.epochs=2", "exec.checkpoint_every_steps=4", "exec.wandb=true"]
    execute(tiny_run(tmp_path, *overrides, "exec.stop_after_steps=5"))
    done = execute(tiny_run(tmp_path, *overrides))
    assert len(fake.inits) == 2 and fake.finished == 2
    for init in fake.inits:
        assert init["id"] == done.run_dir.name and init["resume"] == "allow" and init["mode"] == "offline"
    assert fake.inits[0]["config"]["seed"] == 0
    # what W&B received, step by step, is the metrics log; a step sent twice was sent with the same value
    seen: dict[tuple[int, str], float] = {}
    for step, values in fake.logged:
        for tag, value in values.items():
            assert seen.setdefault((step, tag), value) == value
    expected = {(step, tag): value for step, values in map(scalars, run_dir_of_metrics(done.run_dir))
                for tag, value in values.items()}
    assert seen == expected
