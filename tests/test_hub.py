"""Weights by hub name: finished runs as timm folders, local-dir:/hf-hub: teachers, offline caches, prefetch."""
import json
import shutil

import pytest
import timm
import torch

from attnxfer_core.cli import main as cli_main
from attnxfer_core.errors import ConfigError, UserError
from attnxfer_core.models import hub
from attnxfer_core.models.sources import build_teacher
from attnxfer_core.runs.rundir import TIMM_EXPORT, WEIGHTS
from attnxfer_core.runs.tensors import load_tensors
from attnxfer_core.training.execute import execute, prepare

from .conftest import TINY_RUN, tiny_run

SHAPE = dict(num_classes=10, img_size=32, in_chans=1)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished scratch run on the synthetic set (its timm folder is what the tests load)."""
    root = tmp_path_factory.mktemp("hub")
    return execute(tiny_run(root, "optim.epochs=1"))


def test_finished_run_loads_with_timm_alone(finished):
    folder = finished.run_dir / TIMM_EXPORT
    model = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
    weights = load_tensors(finished.run_dir / WEIGHTS)
    state = model.state_dict()
    assert state.keys() == weights.keys()
    assert all(torch.equal(state[k], weights[k]) for k in weights)
    data = timm.data.resolve_data_config({}, model=model)
    assert data["input_size"] == (1, 32, 32) and len(data["mean"]) == 1 and data["crop_pct"] == 1.0
    config = json.loads((folder / "config.json").read_text())
    assert config["pretrained_cfg"]["tag"] == f"attnxfer-{finished.run_dir.name}"


def test_local_dir_teacher_is_the_exported_model(tmp_path, finished):
    name = f"local-dir:{finished.run_dir / TIMM_EXPORT}"
    cfg = tiny_run(tmp_path, "transfer.mode=distill", "teacher.source=timm", f"teacher.name={name}")
    prepare(cfg)  # validation builds the teacher's architecture from the folder's config
    teacher = build_teacher(cfg, **SHAPE)
    weights = load_tensors(finished.run_dir / WEIGHTS)
    assert all(torch.equal(v, weights[k]) for k, v in teacher.state_dict().items())
    assert not any(p.requires_grad for p in teacher.parameters())


@pytest.mark.parametrize("name, says", [
    ("local-dir:/nonexistent/folder", "config.json does not exist"),
    ("hf-hub:no-repo-part", "hf-hub:ORG/REPO"),
    ("acme/tiny-vit", "hf-hub:ORG/REPO"),
    ("vit_nonexistent_model", "unknown timm model"),
    ("local-dir:", "names no repository or folder"),
])
def test_bad_names_are_refused_naming_the_field(tmp_path, name, says):
    cfg = tiny_run(tmp_path, "transfer.mode=distill", "teacher.source=timm", f"teacher.name={name}")
    with pytest.raises(ConfigError, match="teacher.name") as err:
        prepare(cfg)
    assert says in str(err.value)
    assert not (tmp_path / "runs").exists()


def test_local_dir_whose_config_is_not_timms_is_refused(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "config.json").write_text('{"seed": 0}')
    with pytest.raises(ConfigError, match="no known timm architecture"):
        hub.check_name(f"local-dir:{tmp_path / 'folder'}", "teacher.name")


def _fake_hub_cache(cache, repo: str, folder) -> None:
    """The hub's cache layout for one repository at one revision, as a prefetch leaves it."""
    org, name = repo.split("/")
    snapshot = cache / f"models--{org}--{name}" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    for file in ("config.json", "model.safetensors"):
        shutil.copy(folder / file, snapshot / file)
    (cache / f"models--{org}--{name}" / "refs").mkdir()
    (cache / f"models--{org}--{name}" / "refs" / "main").write_text("0" * 40)


def test_hub_teacher_loads_offline_from_the_cache(tmp_path, finished, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    cfg = tiny_run(tmp_path, "transfer.mode=distill", "teacher.source=timm", "teacher.name=hf-hub:acme/tiny-vit")
    with hub.hub_offline():
        with pytest.raises(UserError, match="attnxfer prefetch"):
            build_teacher(cfg, **SHAPE)
        _fake_hub_cache(tmp_path / "cache", "acme/tiny-vit", finished.run_dir / TIMM_EXPORT)
        teacher = build_teacher(cfg, **SHAPE)
    weights = load_tensors(finished.run_dir / WEIGHTS)
    assert all(torch.equal(v, weights[k]) for k, v in teacher.state_dict().items())


def test_offline_switch_restores_the_environment(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.delenv(hub.OFFLINE_ENV, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with hub.hub_offline():
        assert hub.is_offline()
    assert not hub.is_offline() and hub.OFFLINE_ENV not in __import__("os").environ


def test_hub_names_are_what_runs_load(tmp_path):
    named = ["teacher.source=timm", "teacher.name=vit_tiny_patch16_224"]
    distill = tiny_run(tmp_path, "transfer.mode=distill", *named)
    scratch = tiny_run(tmp_path, "transfer.mode=scratch", *named)  # a scratch run never loads its teacher
    init = tiny_run(tmp_path, "init.source=timm", "init.name=local-dir:/x")
    assert hub.hub_names([distill, scratch, distill]) == [("teacher.name", "vit_tiny_patch16_224")]
    assert hub.hub_names([scratch]) == []
    assert hub.hub_names([init]) == [("init.name", "local-dir:/x")]


def _study_args(root, name: str) -> list[str]:
    """``main``'s distillation run, tiny, with its teacher by hub name."""
    tiny = [o for o in TINY_RUN if not o.startswith("teacher.")]
    return ["main", *tiny, "data.val_size=0", f"exec.runs_root={root}/runs", "teacher.source=timm",
            f"teacher.name={name}", "--seeds", "1", "--where", "method=distill"]


def test_prefetch_and_submit_check_the_cache(tmp_path, finished, monkeypatch, capsys):
    """prefetch loads what a study names; submit (dry runs too) refuses what is not cached."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # this machine has no hub: no retries
    local = f"local-dir:{finished.run_dir / TIMM_EXPORT}"
    assert cli_main(["prefetch", *_study_args(tmp_path, local)]) == 0
    assert f"fetched {local}" in capsys.readouterr().out
    hub_name = "hf-hub:acme/tiny-vit"
    assert cli_main(["submit", *_study_args(tmp_path, hub_name), "--executor", "local", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "hf-hub:acme/tiny-vit" in err and "attnxfer prefetch" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()
    _fake_hub_cache(tmp_path / "cache", "acme/tiny-vit", finished.run_dir / TIMM_EXPORT)
    assert cli_main(["prefetch", *_study_args(tmp_path, hub_name), "--check"]) == 0
    assert "cached hf-hub:acme/tiny-vit" in capsys.readouterr().out
    assert cli_main(["submit", *_study_args(tmp_path, hub_name), "--executor", "local", "--dry-run"]) == 0
    assert "would submit" in capsys.readouterr().out
