"""Runs end to end: directory contents, resume equals uninterrupted, bad input touches nothing."""
import json
import logging
from pathlib import Path

import pytest
import torch

from attnxfer_core.cli import main
from attnxfer_core.runs.tensors import load_tensors, save_tensors
from attnxfer_core.training.execute import execute

from .conftest import TINY_RUN, tiny_run


def _files(path):
    return sorted(p.name for p in path.iterdir() if not p.name.startswith("."))


def test_run_writes_config_metrics_checkpoint_summary(tmp_path):
    result = execute(tiny_run(tmp_path, "transfer.mode=distill", "teacher.source=random"))
    assert result.finished and not result.cached
    assert _files(result.run_dir) == ["checkpoint.pt", "config.json", "metrics.jsonl", "run.lock", "summary.json",
                                      "tensorboard", "timing.json", "timm", "weights.pt"]
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["config"]["transfer"]["mode"] == "distill"
    records = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {r["kind"] for r in records} == {"train", "eval"}
    assert any("attn" in r for r in records if r["kind"] == "train")
    state = load_tensors(result.run_dir / "checkpoint.pt")  # weights_only=True
    assert state["global_step"] == result.summary["steps"]
    assert result.summary["final"]["top1"] >= 0
    assert 0 < result.summary["setup_seconds"] and 0 < result.summary["wall_seconds_this_attempt"]
    if Path("/proc/stat").exists():  # what else ran beside it (a window under a second gives no share)
        share = result.summary["others_cpu_share"]
        assert 0 < result.summary["cpu_seconds"] and (share is None or 0 <= share <= 1)
    again = execute(tiny_run(tmp_path, "transfer.mode=distill", "teacher.source=random"))
    assert again.cached and again.summary == result.summary


@pytest.mark.parametrize("attention", ["maps", "sdpa"])
@pytest.mark.parametrize("mode", ["distill", "copy"])
def test_stop_and_resume_equals_uninterrupted(tmp_path, mode, attention):
    """Drop path, mixup and augmentation on, either attention path: the resumed run must match to the bit."""
    extra = [f"transfer.mode={mode}", "teacher.source=random", "student.drop_path=0.2",
             "augment.mixup=0.8", "augment.cutmix=1.0", "optim.ema_decay=0.9", "optim.epochs=3",
             f"exec.attention={attention}"]
    whole = execute(tiny_run(tmp_path / "a", *extra))
    stopped = execute(tiny_run(tmp_path / "b", *extra, "exec.stop_after_steps=7"))
    assert stopped.stopped_at == 7 and not (stopped.run_dir / "summary.json").exists()
    resumed = execute(tiny_run(tmp_path / "b", *extra))
    assert resumed.finished and resumed.summary["attention_paths"] == whole.summary["attention_paths"] == [attention]
    assert resumed.summary["threads"] == whole.summary["threads"] == [torch.get_num_threads()]
    assert (whole.run_dir / "metrics.jsonl").read_text() == (resumed.run_dir / "metrics.jsonl").read_text()
    a, b = load_tensors(whole.run_dir / "weights.pt"), load_tensors(resumed.run_dir / "weights.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_resume_with_other_cpu_threads_is_recorded_and_named(tmp_path, caplog):
    """On the CPU the thread count changes round-off: the checkpoint and summary keep the counts that trained
    a run, a resume with another count warns, and a checkpoint from before counts were kept still resumes."""
    before = torch.get_num_threads()
    extra = ["transfer.mode=distill", "teacher.source=random", "optim.epochs=2"]
    try:
        stopped = execute(tiny_run(tmp_path / "a", *extra, "exec.threads=2", "exec.stop_after_steps=3"))
        assert load_tensors(stopped.run_dir / "checkpoint.pt")["threads"] == [2]
        with caplog.at_level(logging.WARNING, logger="attnxfer"):
            resumed = execute(tiny_run(tmp_path / "a", *extra, "exec.threads=1"))
        assert resumed.summary["threads"] == [2, 1]
        assert "trained with 2 CPU threads and resumes with 1" in caplog.text

        old = execute(tiny_run(tmp_path / "b", *extra, "exec.threads=1", "exec.stop_after_steps=3"))
        state = load_tensors(old.run_dir / "checkpoint.pt")
        del state["threads"]  # as written before thread counts were kept
        save_tensors(old.run_dir / "checkpoint.pt", state)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="attnxfer"):
            finished = execute(tiny_run(tmp_path / "b", *extra, "exec.threads=1"))
        assert finished.summary["threads"] == [1] and "CPU threads" not in caplog.text
    finally:
        torch.set_num_threads(before)


def test_gradient_accumulation_is_one_large_batch(tmp_path):
    """The same effective batch in micro-batches of 8: the same images and mixup pairs per optimizer step,
    the same learning rates; with no drop path, the weights agree with one pass to float round-off."""
    extra = ["transfer.mode=distill", "teacher.source=random", "augment.mixup=0.8", "augment.cutmix=1.0"]
    whole = execute(tiny_run(tmp_path / "a", *extra))
    split = execute(tiny_run(tmp_path / "b", *extra, "optim.micro_batch=8"))
    a, b = load_tensors(whole.run_dir / "weights.pt"), load_tensors(split.run_dir / "weights.pt")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)
    assert any(not torch.equal(a[k], b[k]) for k in a)  # a different summation order, not the same code path
    records = [json.loads(line) for line in (split.run_dir / "metrics.jsonl").read_text().splitlines()]
    first = [json.loads(line) for line in (whole.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [r["step"] for r in first]
    assert records[0]["loss"] == pytest.approx(first[0]["loss"], rel=1e-5)


def test_accumulated_run_resumes_to_the_bit(tmp_path):
    extra = ["transfer.mode=distill", "teacher.source=random", "student.drop_path=0.2", "augment.mixup=0.8",
             "optim.micro_batch=16", "optim.epochs=3"]
    whole = execute(tiny_run(tmp_path / "a", *extra))
    assert execute(tiny_run(tmp_path / "b", *extra, "exec.stop_after_steps=5")).stopped_at == 5
    resumed = execute(tiny_run(tmp_path / "b", *extra))
    assert (whole.run_dir / "metrics.jsonl").read_text() == (resumed.run_dir / "metrics.jsonl").read_text()
    a, b = load_tensors(whole.run_dir / "weights.pt"), load_tensors(resumed.run_dir / "weights.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_learning_happens(tmp_path):
    result = execute(tiny_run(tmp_path, "optim.epochs=12", "optim.lr=3e-3", "optim.warmup_epochs=1"))
    assert result.summary["final"]["top1"] > 40.0  # chance is 10%


BAD_INPUTS = [
    (["optim.micro_batch=12"], "optim.micro_batch"),
    (["optim.micro_batch=0"], "optim.micro_batch"),
    (["transfer.mode=bogus"], "transfer.mode"),
    (["transfer.mode=copy", "teacher.source=random", "transfer.layers=9"], "transfer.layers"),
    (["transfer.mode=copy", "teacher.source=random", "transfer.heads=0,7"], "transfer.heads"),
    (["transfer.mode=distill", "teacher.source=random", "teacher.model.depth=2"], "transfer.layer_map"),
    (["transfer.mode=distill", "teacher.source=random", "teacher.model.num_heads=2"], "transfer.head_map"),
    (["student.arch=vit_does_not_exist"], "student.arch"),
    (["transfer.mode=distill", "teacher.source=timm", "teacher.name=not_a_model"], "teacher.name"),
    (["transfer.mode=distill", "teacher.source=random", "transfer.weight=-1"], "transfer.weight"),
    (["transfer.mode=copy"], "teacher.source"),
    (["optim.lr=abc"], "optim.lr"),
    (["optim.batch_size=0"], "optim.batch_size"),
]


@pytest.mark.parametrize("overrides, field", BAD_INPUTS)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, overrides, field):
    root = tmp_path / "runs"
    code = main(["train", *TINY_RUN, f"exec.runs_root={root}", *overrides])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and err.startswith("error: ") and field in err, err
    assert not root.exists()


def test_cli_train_prints_summary(tmp_path, capsys):
    assert main(["train", *TINY_RUN, "optim.epochs=1", f"exec.runs_root={tmp_path}"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "top1" in json.loads(line)
    # the CPU that computed it travels with the result: two vector ISAs can differ by round-off
    summary = json.loads(next(tmp_path.glob("*/summary.json")).read_text())
    assert summary["cpu_isa"] == str(torch.backends.cpu.get_cpu_capability()) and summary["cpu"]


def test_code_version_ignores_regenerated_results_but_not_code(tmp_path, monkeypatch):
    """Regenerating committed results must not mark them as made by modified code."""
    import subprocess

    from attnxfer_core.runs import provenance

    def git(*args):
        subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "table.md").write_text("old")
    (tmp_path / "code.py").write_text("x = 1")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "init")
    monkeypatch.setattr(provenance, "PACKAGE_ROOT", tmp_path)

    def version():
        provenance.code_version.cache_clear()
        return provenance.code_version()

    clean = version()
    assert clean and not clean.endswith("+dirty")
    (tmp_path / "results" / "table.md").write_text("new")
    assert version() == clean
    (tmp_path / "code.py").write_text("x = 2")
    assert version() == clean + "+dirty"
    provenance.code_version.cache_clear()


def test_validation_split_curves_and_the_test_set_read_once(tmp_path):
    """With data.val_size, evaluations during training use held-out training images (with per-layer attention
    losses for distillation) and the test set is evaluated once, after the last epoch."""
    from attnxfer_core.runs.rundir import RunDir

    result = execute(tiny_run(tmp_path, "transfer.mode=distill", "teacher.source=random", "data.val_size=100"))
    records = RunDir(result.run_dir).metrics()
    evals = [r for r in records if r["kind"] == "eval"]
    tests = [r for r in records if r["kind"] == "test"]
    assert [r["split"] for r in evals] == ["val", "val"] and len(tests) == 1 and tests[0]["epoch"] == 2
    assert evals[0]["n"] == 100 and tests[0]["n"] == 320
    assert {"attn", "attn_l0", "attn_l1", "attn_l2"} <= set(evals[-1]) and "attn_l3" not in evals[-1]
    assert result.summary["final"]["top1"] == tests[0]["top1"] and result.summary["final_split"] == "test"
    assert result.summary["val"]["top1"] == evals[-1]["top1"]
    train = [r for r in records if r["kind"] == "train"]
    assert all("attn_l0" in r for r in train)
    pilot = execute(tiny_run(tmp_path, "data.val_size=100", "test_at_end=false"))
    assert not [r for r in RunDir(pilot.run_dir).metrics() if r["kind"] == "test"]
    assert pilot.summary["final_split"] == "val"


@pytest.mark.slow
def test_a_compiled_forward_trains_like_the_eager_one(tmp_path):
    """exec.compile=true compiles the student with its teacher (on the fused-kernel path, a GPU's default;
    compiling the maps path was checked by hand): the same losses and weights to round-off, and the
    checkpoint keeps the plain model's parameter names."""
    extra = ["transfer.mode=distill", "teacher.source=random", "exec.stop_after_steps=3", "log_every=1",
             "exec.attention=sdpa"]
    eager = execute(tiny_run(tmp_path / "a", *extra))
    compiled = execute(tiny_run(tmp_path / "b", *extra, "exec.compile=true"))

    def losses(result):
        lines = (result.run_dir / "metrics.jsonl").read_text().splitlines()
        return [json.loads(line)["loss"] for line in lines if json.loads(line)["kind"] == "train"]

    assert len(losses(eager)) == 3
    assert losses(compiled) == pytest.approx(losses(eager), rel=1e-4)
    a, b = (load_tensors(r.run_dir / "checkpoint.pt")["model"] for r in (eager, compiled))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)


def test_reindex_renames_a_run_to_the_id_its_config_has_now(tmp_path):
    from attnxfer_core.config import to_dict
    from attnxfer_core.runs.reindex import reindex_runs
    from attnxfer_core.runs.rundir import RunDir, run_dir_of

    cfg = tiny_run(tmp_path)
    rd = run_dir_of(cfg)
    rd.create()
    rd.write_config({"run_id": "scratch-old", "config": to_dict(cfg), "canonical": "old"})
    rd.write_summary({"run_id": "scratch-old", "final": {}})
    old = rd.path.rename(rd.path.parent / "scratch-old")
    assert reindex_runs(old.parent, dry_run=True).lines == [f"scratch-old -> {rd.path.name}"] and old.exists()
    done = reindex_runs(old.parent)
    assert done.renamed == 1 and not old.exists() and RunDir(rd.path).summary()["run_id"] == rd.path.name
