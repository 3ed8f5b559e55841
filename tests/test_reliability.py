"""Reliability: every bad input refused in one line touching nothing; safe loading; non-finite
losses; two launches of one run; concurrent readers; the kill-anywhere harness."""
import gzip
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from attnxfer_core.cli import main
from attnxfer_core.data.datasets import FASHION_MNIST_FILES
from attnxfer_core.data.idx import write_idx

from .conftest import TINY_RUN, tiny_vit

COPY = ["transfer.mode=copy", "teacher.source=random"]
DISTILL = ["transfer.mode=distill", "teacher.source=random"]


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def world(tmp_path):
    """Files the bad inputs point at: checkpoints, a Fashion-MNIST dir with a truncated file, a broken study."""
    files = tmp_path / "files"
    files.mkdir()
    torch.save(tiny_vit(embed_dim=64).state_dict(), files / "wide.pth")
    torch.save(tiny_vit().state_dict(), files / "good.pth")
    (files / "truncated.pth").write_bytes((files / "good.pth").read_bytes()[:2000])
    torch.save({"model": _Exploit(str(tmp_path / "PWNED"))}, files / "evil.pth")
    fm = files / "fm"
    fm.mkdir()
    for split, n in (("train", 20), ("test", 10)):
        images, labels = FASHION_MNIST_FILES[split]
        write_idx(fm / images, np.zeros((n, 28, 28)))
        write_idx(fm / labels, np.arange(n) % 10)
    raw = gzip.decompress((fm / FASHION_MNIST_FILES["train"][0]).read_bytes())
    (fm / FASHION_MNIST_FILES["train"][0]).write_bytes(gzip.compress(raw[:-100]))
    (files / "notarun").mkdir()
    return tmp_path


def _t(*extra):
    return ["train", *TINY_RUN, *extra]


BAD_INPUTS = [
    ("unknown mode", lambda w: _t("transfer.mode=bogus"), "transfer.mode"),
    ("malformed value", lambda w: _t("optim.lr=abc"), "optim.lr"),
    ("unknown key", lambda w: _t("optim.nope=1"), "optim.nope"),
    ("not key=value", lambda w: _t("just-a-word"), "key=value"),
    ("layer out of range", lambda w: _t(*COPY, "transfer.layers=9"), "transfer.layers"),
    ("head out of range", lambda w: _t(*COPY, "transfer.heads=0,7"), "transfer.heads"),
    ("teacher depth differs", lambda w: _t(*DISTILL, "teacher.model.depth=2"), "transfer.layer_map"),
    ("teacher heads differ", lambda w: _t(*DISTILL, "teacher.model.num_heads=2"), "transfer.head_map"),
    ("teacher tokens differ", lambda w: _t(*DISTILL, "teacher.model.patch_size=4"), "teacher.model"),
    ("negative weight", lambda w: _t(*DISTILL, "transfer.weight=-1"), "transfer.weight"),
    ("NaN weight", lambda w: _t(*DISTILL, "transfer.weight=nan"), "transfer.weight"),
    ("unknown timm model", lambda w: _t("student.arch=vit_nope"), "student.arch"),
    ("unknown teacher", lambda w: _t("transfer.mode=distill", "teacher.source=timm", "teacher.name=nope"),
     "teacher.name"),
    ("unknown teacher source", lambda w: _t("transfer.mode=distill", "teacher.source=hub"), "teacher.source"),
    ("teacher file without path", lambda w: _t("transfer.mode=distill", "teacher.source=file"), "teacher.path"),
    ("teacher file missing",
     lambda w: _t("transfer.mode=distill", "teacher.source=file", f"teacher.path={w}/files/none.pth"),
     "not found"),
    ("checkpoint of another architecture",
     lambda w: _t("transfer.mode=distill", "teacher.source=file", f"teacher.path={w}/files/wide.pth"),
     "different architecture"),
    ("truncated checkpoint",
     lambda w: _t("transfer.mode=distill", "teacher.source=file", f"teacher.path={w}/files/truncated.pth"),
     "cannot load checkpoint"),
    ("checkpoint that runs code",
     lambda w: _t("transfer.mode=distill", "teacher.source=file", f"teacher.path={w}/files/evil.pth"),
     "cannot load checkpoint"),
    ("unknown dataset", lambda w: _t("data.dataset=cifar"), "data.dataset"),
    ("missing data dir", lambda w: _t("data.dataset=fashion_mnist", f"data.root={w}/files/absent"), "not found"),
    ("truncated IDX file", lambda w: _t("data.dataset=fashion_mnist", f"data.root={w}/files/fm"), "truncated"),
    ("subset larger than the data", lambda w: _t("data.train_subset=100000"), "data.train_subset"),
    ("results dir not writable", lambda w: _t("exec.runs_root=/proc/attnxfer-cannot-write"),
     "cannot create run directory"),
    ("unknown device", lambda w: _t("exec.device=tpu"), "exec.device"),
    ("unknown attention path", lambda w: _t("exec.attention=flash"), "exec.attention"),
    ("zero batch", lambda w: _t("optim.batch_size=0"), "optim.batch_size"),
    ("odd batch with mixup", lambda w: _t("optim.batch_size=31", "augment.mixup=0.8"), "optim.batch_size"),
    ("transfer without teacher", lambda w: _t("transfer.mode=copy"), "teacher.source"),
    ("unknown study", lambda w: ["plan", "nope"], "unknown study"),
    ("unknown scale", lambda w: ["plan", "main", "--scale", "huge"], "--scale"),
    ("study with invalid runs", lambda w: ["plan", "layers", "transfer.heads=9"], "invalid run"),
    ("unknown command", lambda w: ["fly"], "invalid choice"),
    ("eval of a non-run dir", lambda w: ["eval", f"{w}/files/notarun"], "not finished"),
    ("unknown evaluation set", lambda w: ["eval", f"{w}/files/notarun", "--sets", "bogus"], "not finished"),
    ("SLURM without a cluster",
     lambda w: ["submit", "main", f"exec.runs_root={w}/runs", "--executor", "slurm", "--partition", "nope"],
     "SLURM"),
    ("unknown executor", lambda w: ["submit", "main", "--executor", "mars"], "--executor"),
    ("missing cluster profile", lambda w: ["submit", "main", "--profile", "nowhere"], "cluster profile not found"),
    ("a ViT with no blocks", lambda w: _t("student.depth=0"), "student.depth"),
    ("a head listed three times", lambda w: _t(*DISTILL, "transfer.heads=0,0,0"), "transfer.heads"),
    ("a teacher file that is no checkpoint",
     lambda w: _t("transfer.mode=distill", "teacher.source=file", "teacher.path=/etc/passwd"), "not a checkpoint"),
    ("dry run with zero parallelism", lambda w: ["submit", "main", "--array-parallelism", "0", "--dry-run"],
     "--array-parallelism"),
    ("dry run with negative memory", lambda w: ["submit", "main", "--mem-gb", "-3", "--dry-run"], "--mem-gb"),
]


def _snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


@pytest.mark.parametrize("name, argv, expected", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_refused_in_one_line_touching_nothing(world, capsys, monkeypatch, name, argv, expected):
    monkeypatch.chdir(world)
    monkeypatch.delenv("SLURM_CONF", raising=False)
    args = argv(world)
    if args[0] == "train":
        args = ([*args, f"exec.runs_root={world}/runs"] if not any(a.startswith("exec.runs_root") for a in args)
                else args)
    before = _snapshot(world)
    with (pytest.raises(SystemExit)
          if args[0] in ("fly",) or "--scale" in args or "--executor" in args and "mars" in args
          or "--dry-run" in args
          else _nullcontext()):
        code = main(args)
        assert code != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error"), err
    assert expected in err, err
    assert _snapshot(world) == before
    assert not (world / "PWNED").exists()


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_at_least_25_bad_inputs():
    assert len(BAD_INPUTS) >= 25


def test_study_file_that_raises_on_import(tmp_path, capsys, monkeypatch):
    import studies

    broken = tmp_path / "studies_extra"
    broken.mkdir()
    (broken / "broken.py").write_text("raise RuntimeError('oops in a study file')\n")
    monkeypatch.setattr(studies, "__path__", [*studies.__path__, str(broken)])
    monkeypatch.setattr(studies, "_CACHE", None)
    assert main(["studies"]) == 2
    err = capsys.readouterr().err.strip()
    assert "studies/broken.py failed to import: RuntimeError: oops in a study file" in err and "\n" not in err


def test_checkpoint_that_runs_code_is_refused_on_resume(tmp_path, capsys):
    from attnxfer_core.runs.rundir import run_dir_of

    from .conftest import tiny_run

    cfg = tiny_run(tmp_path)
    rd = run_dir_of(cfg).path
    rd.mkdir(parents=True)
    torch.save({"model": _Exploit(str(tmp_path / "PWNED"))}, rd / "checkpoint.pt")
    assert main(["train", *TINY_RUN, f"exec.runs_root={tmp_path}/runs"]) == 2
    assert "cannot load checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "PWNED").exists()


def test_non_finite_loss_stops_names_step_and_term_and_marks_failed(tmp_path, capsys, monkeypatch):
    import attnxfer_core.training.objectives as tasks

    original = tasks.ClassificationTask.losses
    calls = {"n": 0}

    def poisoned(self, images, labels):  # the distillation term turns NaN at the 8th step
        terms = original(self, images, labels)
        calls["n"] += 1
        if calls["n"] >= 8:
            terms["attn"] = terms["attn"] * float("nan")
            terms["loss"] = terms["task"] + terms["attn"]
        return terms

    monkeypatch.setattr(tasks.ClassificationTask, "losses", poisoned)
    argv = ["train", *TINY_RUN, *DISTILL, f"exec.runs_root={tmp_path}/runs", "exec.checkpoint_every_steps=3"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "loss term 'attn' became nan at step 7" in err and "\n" not in err, err
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["global_step"] == 6
    failure = json.loads((run_dir / "failure.json").read_text())
    assert "TrainingDiverged" in failure["error"]
    assert not (run_dir / "summary.json").exists()
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in state["model"].values())  # the last good checkpoint is kept


def test_same_run_launched_twice_the_second_refuses(tmp_path):
    argv = [sys.executable, "-m", "attnxfer_core", "train", *TINY_RUN, f"exec.runs_root={tmp_path}/runs",
            "optim.epochs=30", "exec.threads=1"]
    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list((tmp_path / "runs").glob("*/metrics.jsonl")):
            time.sleep(0.2)
        second = subprocess.run(argv, capture_output=True, text=True, timeout=180)
        assert second.returncode == 2
        assert "already being trained by another process" in second.stderr
    finally:
        first.terminate()
        first.wait(timeout=60)
    assert first.returncode == 3  # SIGTERM: checkpointed and stopped, resumable


def test_concurrent_readers_never_crash_or_see_partial_rows(tmp_path):
    """collect and status while a writer keeps rewriting run directories the way training does."""
    import random

    from analysis.collect import collect_study
    from attnxfer_core.bench.synthetic_runs import populate, write_run
    from slurm.submit import current_status
    from studies import get_study

    study = get_study("main")
    runs = study.expand("embedded", seeds=2, overrides=[f"exec.runs_root={tmp_path}"])
    populate(runs)
    stop = threading.Event()
    errors = []

    # rewrites every run but the first: with all nine mid-rewrite, a collect has no rows (~2% of collects)
    def writer():
        rng = random.Random(0)
        while not stop.is_set():
            run = rng.choice(runs[1:])
            try:
                write_run(run, rng, rng.choice(["done", "half", "failed"]))
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(15):
            c = collect_study(study, runs)
            assert not c.results.empty
            assert c.results["top1"].notna().all() and c.results["n"].notna().all()
            current_status(runs)
    finally:
        stop.set()
        thread.join()
    assert not errors


@pytest.mark.slow
def test_kill_anywhere_short(tmp_path):
    from attnxfer_core.bench.killtest import kill_test

    report = kill_test(kills=4, seed=3, workdir=tmp_path)
    print(f"kills survived: {report.kills}, mismatches: {len(report.mismatches)}")
    assert report.kills == 4 and report.mismatches == [] and report.half_written == []


# The "Errors you may see" table of docs/reliability.md: each row's message, and the input that prints it here
# (or, for a row that needs a cluster, a second process or a diverging run, the words the code must hold).
README_ERRORS = [
    ("error: transfer.mode: unknown value 'bogus'; choose one of: ...", lambda w: _t("transfer.mode=bogus")),
    ("error: optim.lr: expected a number, got 'abc'", lambda w: _t("optim.lr=abc")),
    ("error: optim.nope: unknown config key", lambda w: _t("optim.nope=1")),
    ("error: student.depth: must be in [1, 4096], got 0", lambda w: _t("student.depth=0")),
    ("error: transfer.layers: index 9 out of range for 4 (valid: -4..3)", lambda w: _t(*COPY, "transfer.layers=9")),
    ("error: transfer.heads: index 0 is listed twice (as 0); list each index once",
     lambda w: _t(*COPY, "transfer.heads=0,0,0")),
    ("error: transfer.layer_map: student has 4 layers, teacher 2; give a map ...",
     lambda w: _t(*DISTILL, "teacher.model.depth=2")),
    ("error: transfer.head_map: student has 4 heads, teacher 2; ...",
     lambda w: _t(*DISTILL, "teacher.model.num_heads=2")),
    ("error: teacher.model: student has 16 patches per image, teacher 64; ...",
     lambda w: _t(*DISTILL, "teacher.model.patch_size=4")),
    ("error: transfer.weight: must be >= 0", lambda w: _t(*DISTILL, "transfer.weight=-1")),
    ("error: student.arch: unknown timm model", lambda w: _t("student.arch=vit_nope")),
    ("error: teacher.name: cannot load the weights of NAME (...); ...",
     lambda w: _t("transfer.mode=distill", "teacher.source=timm", "teacher.name=hf-hub:acme/none")),
    ("error: teacher.name: 'local-dir:...': .../config.json does not exist ...",
     lambda w: _t("transfer.mode=distill", "teacher.source=timm", f"teacher.name=local-dir:{w}/files/absent")),
    ("error: ... weight ... has shape ... the checkpoint is for a different architecture",
     lambda w: _t("transfer.mode=distill", "teacher.source=file", f"teacher.path={w}/files/wide.pth")),
    ("error: cannot load checkpoint ...: the file is truncated or corrupt ...",
     lambda w: _t("transfer.mode=distill", "teacher.source=file", f"teacher.path={w}/files/truncated.pth")),
    ("error: cannot load checkpoint ...: not a checkpoint: neither a torch file nor safetensors ...",
     lambda w: _t("transfer.mode=distill", "teacher.source=file", "teacher.path=/etc/passwd")),
    ("error: cannot load checkpoint ...: it holds objects other than tensors and plain values ...",
     lambda w: _t("transfer.mode=distill", "teacher.source=file", f"teacher.path={w}/files/evil.pth")),
    ("error: Fashion-MNIST directory not found: ...",
     lambda w: _t("data.dataset=fashion_mnist", f"data.root={w}/files/absent")),
    ("error: ... is truncated or corrupt", lambda w: _t("data.dataset=fashion_mnist", f"data.root={w}/files/fm")),
    ("error: cannot create run directory ...", lambda w: _t("exec.runs_root=/proc/attnxfer-cannot-write")),
    ("error: run ... is already being trained by another process", ("is already being trained by another process",)),
    ("error: loss term 'attn' became nan at step 7; last good checkpoint kept",
     ("loss term '{term}' became {value} at step {step}; last good checkpoint kept",)),
    ("error: unknown study 'nope'", lambda w: ["plan", "nope"]),
    ("error: study layers has ... invalid run(s), nothing was started: ...",
     lambda w: ["plan", "layers", "transfer.heads=9"]),
    ("error: attnxfer submit: argument --mem-gb: must be >= 1, got -3 ...",
     lambda w: ["submit", "main", "--mem-gb", "-3", "--dry-run"]),
    ("error: partition 'gpu' does not exist on this cluster (available: ...)",
     ("does not exist on this cluster ", "(available: ")),
    ("error: runs ask for ... GB of memory but the largest node has ... GB",
     ("runs ask for {mem} GB of memory but the largest node has {node_mem_mb // 1024} GB",)),
    ("error: cannot query the SLURM cluster with sinfo (...)",
     lambda w: ["submit", "main", f"exec.runs_root={w}/runs", "--executor", "slurm", "--partition", "nope"]),
]


def _readme_rows() -> list[str]:
    text = (Path(__file__).resolve().parent.parent / "docs" / "reliability.md").read_text()
    table = text.split("### Errors you may see", 1)[1].split("\n## ", 1)[0]
    return [line.split("`")[1] for line in table.splitlines() if line.startswith("| `")]


def _pattern(example: str) -> "re.Pattern":
    import re

    parts = re.split(r"(\.\.\.|NAME)", example)
    return re.compile("".join(".*" if p in ("...", "NAME") else re.escape(p) for p in parts))


def test_the_readme_error_table_is_the_tested_list():
    assert _readme_rows() == [row for row, _ in README_ERRORS]


@pytest.mark.parametrize("row, argv", README_ERRORS, ids=[r[:40] for r, _ in README_ERRORS])
def test_the_readme_error_table_says_what_the_suite_prints(world, capsys, monkeypatch, row, argv):
    if isinstance(argv, tuple):  # not reproducible in a test here: the code must still say these words
        sources = "".join(p.read_text() for d in ("attnxfer_core", "slurm")
                          for p in (Path(__file__).parent.parent / d).rglob("*.py"))
        assert all(words in sources for words in argv), argv
        return
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.chdir(world)
    monkeypatch.delenv("SLURM_CONF", raising=False)
    args = argv(world)
    if args[0] == "train" and not any(a.startswith("exec.runs_root") for a in args):
        args = [*args, f"exec.runs_root={world}/runs"]
    try:
        assert main(args) != 0
    except SystemExit as exit_:
        assert exit_.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and _pattern(row).match(err), (row, err)
