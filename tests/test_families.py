"""Blocks of other ViT families: layer scale, registers, qk-norm, pre-norm, attention pools.

Each is verified the way the plain block is: the walker's logits equal a hand computation
from the raw weights, their softmax is timm's own attention, and a student holding the
teacher's weights reproduces the teacher under every transfer mode. A standard student
learns from a register teacher through the teacher's attention among the student's tokens.
"""
import copy

import pytest
import timm
import torch

from attnxfer_core import attention_logits
from attnxfer_core.attention.walk import PARTS, check_supported, embed, plain_block, project
from attnxfer_core.config import ExecConfig, ModelConfig, RunConfig, TransferConfig, apply_overrides, run_id
from attnxfer_core.config.codec import canonical_text
from attnxfer_core.config.pretraining import pretrain_run
from attnxfer_core.errors import ConfigError
from attnxfer_core.experiments.presets import embedded, embedded_teacher
from attnxfer_core.models.factory import create_vit
from attnxfer_core.modes import Mode
from attnxfer_core.transfer.losses import projection_distill_loss
from attnxfer_core.transfer.model import AttentionTransferModel
from attnxfer_core.transfer.plan import build_plan

from .conftest import tiny_vit
from .test_attention import _hand_logits
from .test_transfer import ALL_MODES

FAMILIES = {
    "layer_scale": dict(init_values=0.5),
    "registers": dict(reg_tokens=2),
    "dinov2_registers": dict(reg_tokens=2, no_embed_class=True, init_values=0.5),
    "qk_norm": dict(qk_norm=True),
    "pre_norm": dict(pre_norm=True),  # CLIP's LayerNorm before block 0
    "attention_pool": dict(class_token=False, global_pool="map"),  # SigLIP's head
}


def _family(name: str, seed: int) -> torch.nn.Module:
    """A tiny ViT of the family with every parameter moved off its initial value (norms, layer scales)."""
    model = tiny_vit(seed=seed, **FAMILIES[name])
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=gen))
    return model.eval()


@pytest.mark.parametrize("family", FAMILIES)
def test_logits_are_the_hand_computation_and_timms_attention(family, images):
    model = _family(family, seed=1)
    tokens = model.num_prefix_tokens + model.patch_embed.num_patches
    probs = {}
    for i, blk in enumerate(model.blocks):
        blk.attn.fused_attn = False
        blk.attn.attn_drop.register_forward_hook(lambda m, a, out, i=i: probs.__setitem__(i, out))
    logits = attention_logits(model, images)
    for layer, value in logits.items():
        assert value.shape == (4, 4, tokens, tokens)
        torch.testing.assert_close(value, _hand_logits(model, images, layer), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(value.softmax(-1), probs[layer], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ALL_MODES + [Mode.FEATURE_KD])
@pytest.mark.parametrize("family", FAMILIES)
def test_twin_of_each_family_reproduces_its_teacher(family, mode, images):
    """Logits are the teacher's; where the target is a vector (q, k, v, block output) the twin's loss is 0."""
    teacher = _family(family, seed=1)
    twin = copy.deepcopy(teacher)
    heads = "all" if mode is Mode.FEATURE_KD else "0,2"
    with torch.no_grad():
        expected = teacher(images)
        out = AttentionTransferModel(twin, teacher, build_plan(TransferConfig(mode=mode, layers="all", heads=heads),
                                                               twin, teacher)).eval()(images)
    torch.testing.assert_close(out["logits"], expected, rtol=1e-5, atol=1e-5)
    if mode in (Mode.DISTILL_Q, Mode.DISTILL_K, Mode.DISTILL_V, Mode.FEATURE_KD):
        assert sorted(out["layer_losses"]) == [0, 1, 2, 3]
        assert max(float(v) for v in out["layer_losses"].values()) < 1e-10


def test_standard_student_learns_the_register_teachers_attention_among_its_tokens(images):
    teacher = _family("dinov2_registers", seed=1)
    student = tiny_vit(seed=2)
    plan = build_plan(TransferConfig(mode=Mode.COPY, layers="all"), student, teacher)
    kept = [0] + list(range(3, 19))  # class token, then the 16 patches; registers 1-2 left out
    assert plan.teacher_tokens == tuple(kept)
    model = AttentionTransferModel(student, teacher, plan).eval()
    with torch.no_grad(), model.capturing() as captured:
        model(images)
    index = torch.tensor(kept)
    for layer, full in attention_logits(teacher, images).items():
        expected = full.index_select(2, index).index_select(3, index).softmax(-1)
        torch.testing.assert_close(captured[layer], expected, rtol=1e-5, atol=1e-6)

    # vector targets: the loss at layer 0 is against the teacher's vectors of the student's tokens
    t_x = embed(teacher, images)
    s_x = embed(student, images)
    with torch.no_grad():
        t_parts = project(teacher.blocks[0].attn, teacher.blocks[0].norm1(t_x), PARTS)
        s_parts = project(student.blocks[0].attn, student.blocks[0].norm1(s_x), PARTS)
        targets = {Mode.DISTILL_Q: (s_parts["q"], t_parts["q"][:, :, index]),
                   Mode.DISTILL_K: (s_parts["k"], t_parts["k"][:, :, index]),
                   Mode.DISTILL_V: (s_parts["v"], t_parts["v"][:, :, index]),
                   Mode.FEATURE_KD: (plain_block(student.blocks[0], s_x, None),
                                     plain_block(teacher.blocks[0], t_x, None)[:, index])}
        for mode, (mine, taught) in targets.items():
            plan = build_plan(TransferConfig(mode=mode, layers="0"), student, teacher)
            out = AttentionTransferModel(student, teacher, plan).eval()(images)
            torch.testing.assert_close(out["layer_losses"][0], projection_distill_loss(mine, taught))
    for mode in ALL_MODES + [Mode.FEATURE_KD]:
        out = AttentionTransferModel(tiny_vit(seed=2), teacher,
                                     build_plan(TransferConfig(mode=mode), tiny_vit(seed=2), teacher)).train()(images)
        assert out["logits"].shape == (4, 10)
        if out["attn_loss"] is not None:
            assert torch.isfinite(out["attn_loss"]) and float(out["attn_loss"].detach()) > 0


@pytest.mark.parametrize("student_kw, teacher_kw, words", [
    (dict(reg_tokens=1), dict(reg_tokens=2), "all of the teacher's registers or none"),
    (dict(reg_tokens=2), dict(), "set student.reg_tokens=0"),
    (dict(), dict(class_token=False, global_pool="map"), "set student.class_token=false"),
    (dict(patch_size=4), dict(), "equal patch counts"),
    (dict(), dict(reg_tokens=2, class_token=False, global_pool="avg", patch_size=4), "equal patch counts"),
])
def test_layouts_without_a_correspondence_are_refused_by_name(student_kw, teacher_kw, words):
    with pytest.raises(ConfigError, match=words) as info:
        build_plan(TransferConfig(mode=Mode.DISTILL), tiny_vit(seed=2, **student_kw), tiny_vit(seed=1, **teacher_kw))
    assert info.value.field == "teacher.model"


@pytest.mark.parametrize("arch, missing", [
    ("beitv2_base_patch16_224", "relative-position bias"),
    ("eva02_tiny_patch14_224", "rotary position embeddings"),
])
def test_beit_and_eva_are_refused_naming_what_is_missing(arch, missing):
    model = timm.create_model(arch, img_size=28, patch_size=14, embed_dim=32, depth=1, num_heads=4, num_classes=10)
    with pytest.raises(ConfigError, match=missing):
        check_supported(model, "teacher.name")


def test_family_fields_build_those_components_and_keep_old_ids():
    cfg = ModelConfig(arch="vit_tiny_patch16_224", patch_size=8, embed_dim=32, depth=2, num_heads=4,
                      reg_tokens=4, init_values=1e-5, qk_norm=True, pre_norm=True, no_embed_class=True)
    model = create_vit(cfg, num_classes=10, img_size=32, in_chans=1, field="student")
    assert model.num_reg_tokens == 4 and model.no_embed_class
    assert float(model.blocks[0].ls1.gamma[0].detach()) == pytest.approx(1e-5)
    assert not isinstance(model.blocks[0].attn.q_norm, torch.nn.Identity)
    assert not isinstance(model.norm_pre, torch.nn.Identity)
    pooled = create_vit(ModelConfig(class_token=False, global_pool="map"), num_classes=10, img_size=32, in_chans=1,
                        field="student")
    assert pooled.attn_pool is not None and pooled.cls_token is None

    # fields added later are left out of the run id while unset, so existing runs keep their ids: the
    # registered main replication's (studies/main.protocol.md) and the shipped teacher's, pinned here
    assert "reg_tokens" not in canonical_text(ModelConfig())
    assert run_id(embedded(Mode.SCRATCH, 0)) == "scratch-325774983d18"
    assert run_id(pretrain_run(embedded_teacher(), ExecConfig())) == "mae-7324722fd5a4"
    base = RunConfig()
    assert run_id(apply_overrides(base, ["student.reg_tokens=none"])) == run_id(base)
    assert run_id(apply_overrides(base, ["student.reg_tokens=4"])) != run_id(base)


def test_distilled_deit_tokens_are_refused_where_no_correspondence_exists(images):
    deit = timm.create_model("deit_tiny_distilled_patch16_224", img_size=32, patch_size=8, in_chans=1, embed_dim=32,
                             depth=4, num_heads=4, num_classes=10)
    with pytest.raises(ConfigError, match="distillation token") as info:
        build_plan(TransferConfig(mode=Mode.DISTILL), tiny_vit(seed=2), deit)
    assert info.value.field == "teacher.model"
    from attnxfer_core.config import MAEConfig
    from attnxfer_core.models.mae import MaskedAutoencoder
    with pytest.raises(ConfigError, match="prefix tokens"):
        MaskedAutoencoder(deit, MAEConfig())


def test_plain_mae_pretraining_is_unchanged():
    """The plain encoder's loss and gradients, pinned from before prefix tokens were generalised."""
    from attnxfer_core.config import MAEConfig
    from attnxfer_core.models.mae import MaskedAutoencoder

    torch.manual_seed(0)
    encoder = timm.create_model("vit_tiny_patch16_224", img_size=28, patch_size=4, in_chans=1, embed_dim=192,
                                depth=6, num_heads=3, num_classes=0)
    mae = MaskedAutoencoder(encoder, MAEConfig())
    x = torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    loss = mae(x, generator=torch.Generator().manual_seed(2))
    loss.backward()
    grads = sum(p.grad.double().abs().sum() for p in mae.parameters() if p.grad is not None)
    assert float(loss.detach()) == pytest.approx(1.3911526203155518, rel=1e-5)
    assert float(grads) == pytest.approx(4633.945958679226, rel=1e-4)


def test_a_family_teacher_pretrains_with_mae(tmp_path):
    """MAE pretraining runs on encoders with registers and without a class token."""
    from attnxfer_core.config import MAEConfig
    from attnxfer_core.models.mae import MaskedAutoencoder

    images = torch.randn(2, 1, 32, 32)
    for kw in (dict(reg_tokens=2, no_embed_class=True, init_values=0.1), dict(class_token=False, global_pool="map"),
               dict(pre_norm=True, qk_norm=True)):
        mae = MaskedAutoencoder(tiny_vit(seed=0, **{**kw, "num_classes": 0}),
                                MAEConfig(decoder_dim=16, decoder_depth=1, decoder_heads=2))
        loss = mae(images, generator=torch.Generator().manual_seed(0))
        loss.backward()
        assert torch.isfinite(loss)
        assert mae.encoder.patch_embed.proj.weight.grad is not None
