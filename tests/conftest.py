"""Shared fixtures: tiny timm ViTs and configs that train in seconds on the synthetic set."""
from __future__ import annotations

import copy

import pytest
import timm
import torch

from attnxfer_core.config import RunConfig, apply_overrides

torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _restore_threads():
    """Bit-exact comparisons depend on the thread count; no test may change it for later ones."""
    yield
    torch.set_num_threads(2)

TINY = dict(img_size=32, patch_size=8, in_chans=1, embed_dim=32, depth=4, num_heads=4, num_classes=10)


def tiny_vit(seed: int = 0, **overrides) -> torch.nn.Module:
    torch.manual_seed(seed)
    return timm.create_model("vit_tiny_patch16_224", **{**TINY, **overrides})


@pytest.fixture
def teacher() -> torch.nn.Module:
    return tiny_vit(seed=1).eval()


@pytest.fixture
def twin(teacher) -> torch.nn.Module:
    """A student holding exactly the teacher's weights."""
    return copy.deepcopy(teacher)


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(3))


TINY_RUN = [
    "data.dataset=synthetic",
    "student.embed_dim=32",
    "student.depth=4",
    "student.num_heads=4",
    "student.patch_size=8",
    "teacher.model.embed_dim=32",
    "teacher.model.depth=4",
    "teacher.model.num_heads=4",
    "teacher.model.patch_size=8",
    "optim.batch_size=32",
    "optim.epochs=2",
    "log_every=5",
    "exec.progress=false",
]


def tiny_run(tmp_path, *overrides: str) -> RunConfig:
    """A complete run config on the synthetic data that trains in a few seconds."""
    return apply_overrides(RunConfig(), [*TINY_RUN, f"exec.runs_root={tmp_path}/runs", *overrides])


@pytest.fixture
def no_carried_runs(tmp_path, monkeypatch):
    """As on a checkout that carries no finished runs: the repository's ``results/carried`` grows with every
    study trained across sessions, so a test that counts missing or to-train runs must not read it."""
    from attnxfer_core.runs import carried

    monkeypatch.setattr(carried, "DEFAULT_ROOT", tmp_path / "no-carried")
