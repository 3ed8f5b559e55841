"""Teacher sources: local checkpoints in three formats, random control, timm offline, suite pretraining."""
import json
import time

import pytest
import torch
from safetensors.torch import save_file

from attnxfer_core.config import TeacherSource
from attnxfer_core.errors import UserError
from attnxfer_core.models.sources import build_teacher
from attnxfer_core.training.execute import execute, prepare

from .conftest import tiny_run, tiny_vit

SHAPE = dict(num_classes=10, img_size=32, in_chans=1)


def _teacher_cfg(tmp_path, *overrides):
    return tiny_run(tmp_path, "transfer.mode=distill", *overrides)


def _assert_same_weights(model, reference, skip=("head.",)):
    ref = reference.state_dict()
    for key, value in model.state_dict().items():
        if not key.startswith(skip):
            assert torch.equal(value, ref[key]), key


@pytest.mark.parametrize("fmt", ["timm.pth", "safetensors", "mae.pth"])
def test_checkpoint_formats_round_trip(tmp_path, fmt):
    source = tiny_vit(seed=11)
    state = source.state_dict()
    path = tmp_path / f"teacher.{fmt}"
    if fmt == "safetensors":
        save_file(state, str(path))
    elif fmt == "mae.pth":  # MAE: encoder under 'model', decoder weights alongside, no classifier
        encoder = {k: v for k, v in state.items() if not k.startswith("head.")}
        torch.save({"model": {**encoder, "decoder_embed.weight": torch.zeros(8, 32),
                              "mask_token": torch.zeros(1, 1, 8)},
                    "epoch": 799}, path)
    else:
        torch.save(state, path)
    cfg = _teacher_cfg(tmp_path, "teacher.source=file", f"teacher.path={path}")
    teacher = build_teacher(cfg, **SHAPE)
    _assert_same_weights(teacher, source, skip=("head.",) if fmt == "mae.pth" else ())
    assert not any(p.requires_grad for p in teacher.parameters()) and not teacher.training


def test_checkpoint_of_other_architecture_is_refused(tmp_path):
    path = tmp_path / "wide.pth"
    torch.save(tiny_vit(embed_dim=64).state_dict(), path)
    cfg = _teacher_cfg(tmp_path, "teacher.source=file", f"teacher.path={path}")
    with pytest.raises(UserError, match=r"wide.pth.*shape"):
        build_teacher(cfg, **SHAPE)


def test_truncated_and_code_running_checkpoints_are_refused(tmp_path):
    good = tmp_path / "good.pth"
    torch.save(tiny_vit().state_dict(), good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:1000])
    cfg = _teacher_cfg(tmp_path, "teacher.source=file", f"teacher.path={truncated}")
    with pytest.raises(UserError, match="truncated.pth"):
        build_teacher(cfg, **SHAPE)

    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.pth"
    torch.save({"model": Exploit()}, evil)
    cfg = _teacher_cfg(tmp_path, "teacher.source=file", f"teacher.path={evil}")
    with pytest.raises(UserError, match="evil.pth"):
        build_teacher(cfg, **SHAPE)
    assert not marker.exists()


def test_random_teacher_is_reproducible(tmp_path):
    cfg = _teacher_cfg(tmp_path, "teacher.source=random", "teacher.init_seed=3")
    a, b = build_teacher(cfg, **SHAPE), build_teacher(cfg, **SHAPE)
    _assert_same_weights(a, b, skip=())
    other = build_teacher(_teacher_cfg(tmp_path, "teacher.source=random", "teacher.init_seed=4"), **SHAPE)
    assert not torch.equal(a.blocks[0].attn.qkv.weight, other.blocks[0].attn.qkv.weight)


def test_timm_pretrained_offline_says_what_to_do(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # fail at once instead of retrying
    cfg = _teacher_cfg(tmp_path, "teacher.source=timm", "teacher.name=vit_tiny_patch16_224.augreg_in21k")
    with pytest.raises(UserError, match="teacher.source=file"):
        build_teacher(cfg, **SHAPE)


def test_suite_pretrained_teacher_is_one_cached_run(tmp_path):
    pre = ["teacher.source=pretrain", "teacher.pretrain.data.dataset=synthetic", "teacher.pretrain.optim.epochs=1",
           "teacher.pretrain.optim.batch_size=32"]
    started = time.perf_counter()
    first = execute(tiny_run(tmp_path, "transfer.mode=distill", *pre))
    total = time.perf_counter() - started
    assert first.summary["teacher"]["cached"] is False
    teacher = json.loads((tmp_path / "runs" / first.summary["teacher"]["run_id"] / "summary.json").read_text())
    # the run's set-up leaves out the teacher's pretraining, trained within it
    assert 0 < first.summary["setup_seconds"] <= total - teacher["wall_seconds_this_attempt"] - \
        first.summary["wall_seconds_this_attempt"]
    second = execute(tiny_run(tmp_path, "transfer.mode=copy", *pre))
    assert second.summary["teacher"]["cached"] is True
    assert second.summary["teacher"]["run_id"] == first.summary["teacher"]["run_id"]
    runs = sorted(p.name.split("-")[0] for p in (tmp_path / "runs").iterdir())
    assert runs == ["copy", "distill", "scratch"]  # the teacher's supervised pretraining is a scratch run


def test_mae_pretraining_reduces_reconstruction_loss(tmp_path):
    cfg = tiny_run(tmp_path, "objective=mae", "optim.epochs=8", "optim.lr=3e-3", "optim.warmup_epochs=1",
                   "eval_every=1", "mae.decoder_dim=32", "mae.decoder_heads=4", "mae.norm_pix_loss=false",
                   "augment.crop_padding=0")
    result = execute(cfg)
    evals = [r["recon_loss"] for r in (result.run_dir / "metrics.jsonl").read_text().splitlines()
             for r in [__import__("json").loads(r)] if r["kind"] == "eval"]
    assert len(evals) == 8 and evals[-1] < 0.9 * evals[0], evals
    weights = torch.load(result.run_dir / "weights.pt", weights_only=True)
    assert "blocks.0.attn.qkv.weight" in weights and not any(k.startswith("decoder") for k in weights)
    student = tiny_vit()
    student.load_state_dict(weights, strict=False)


def test_prepare_checks_everything_without_writing(tmp_path):
    prepared = prepare(_teacher_cfg(tmp_path, "teacher.source=random"))
    assert prepared.task.teacher is not None and not (tmp_path / "runs").exists()
    assert prepared.cfg.teacher.source is TeacherSource.RANDOM
