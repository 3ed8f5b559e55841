"""Copy and distill semantics: what moves, what trains, what stays frozen."""
import contextlib
import copy

import pytest
import torch
import torch.nn.functional as F

from attnxfer_core import attention_logits
from attnxfer_core.config import OptimConfig, TransferConfig
from attnxfer_core.errors import ConfigError
from attnxfer_core.modes import Mode
from attnxfer_core.training.optim import build_optimizer
from attnxfer_core.transfer.losses import attention_distill_loss
from attnxfer_core.transfer.model import AttentionTransferModel
from attnxfer_core.transfer.plan import build_plan

from .conftest import tiny_vit

ALL_MODES = [Mode.COPY, Mode.COPY_Q, Mode.COPY_K, Mode.COPY_V, Mode.DISTILL, Mode.DISTILL_Q, Mode.DISTILL_K,
             Mode.DISTILL_V]


def _model(student, teacher, **kw):
    return AttentionTransferModel(student, teacher, build_plan(TransferConfig(**kw), student, teacher))


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("heads", ["all", "0,2"])
def test_twin_reproduces_teacher(mode, heads, teacher, twin, images):
    """A student holding the teacher's weights, transferring all layers, is the teacher."""
    with torch.no_grad():
        expected = teacher(images)
        out = _model(twin, teacher, mode=mode, layers="all", heads=heads).eval()(images)
    torch.testing.assert_close(out["logits"], expected, rtol=1e-5, atol=1e-5)


def test_copy_uses_teacher_map_not_own(teacher, images):
    """Copy replaces the student's attention: changing the student's q/k changes nothing."""
    student = tiny_vit(seed=9)
    model = _model(student, teacher, mode=Mode.COPY, layers="all").eval()
    with torch.no_grad():
        before = model(images)["logits"]
        for blk in student.blocks:
            dim = blk.attn.head_dim * blk.attn.num_heads
            blk.attn.qkv.weight[: 2 * dim].normal_()
        after = model(images)["logits"]
    torch.testing.assert_close(before, after)


def _train_steps(model, student, plan_rows, steps=3, weight_decay=0.1):
    optimizer, row_decays = build_optimizer(student, OptimConfig(lr=1e-2, weight_decay=weight_decay), plan_rows)
    labels = torch.arange(4) % 10
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        x = torch.randn(4, 1, 32, 32, generator=gen)
        out = model(x)
        loss = F.cross_entropy(out["logits"], labels)
        if out["attn_loss"] is not None:
            loss = loss + 3.0 * out["attn_loss"]
        optimizer.zero_grad()
        loss.backward()
        for decay in row_decays:
            decay.apply()
        optimizer.step()


def test_copy_leaves_qk_untrained_and_undecayed(teacher):
    student = tiny_vit(seed=2)
    before = copy.deepcopy(student.state_dict())
    model = _model(student, teacher, mode=Mode.COPY, layers="all")
    _train_steps(model, student, model.plan.frozen_rows(student))
    after = student.state_dict()
    for i, blk in enumerate(student.blocks):
        dim = blk.attn.head_dim * blk.attn.num_heads
        w0, w1 = before[f"blocks.{i}.attn.qkv.weight"], after[f"blocks.{i}.attn.qkv.weight"]
        b0, b1 = before[f"blocks.{i}.attn.qkv.bias"], after[f"blocks.{i}.attn.qkv.bias"]
        assert torch.equal(w0[: 2 * dim], w1[: 2 * dim]), f"q/k weight of layer {i} moved"
        assert torch.equal(b0[: 2 * dim], b1[: 2 * dim]), f"q/k bias of layer {i} moved"
        assert not torch.equal(w0[2 * dim:], w1[2 * dim:]), f"v of layer {i} did not train"
        for name in ("attn.proj.weight", "mlp.fc1.weight", "mlp.fc2.weight"):
            assert not torch.equal(before[f"blocks.{i}.{name}"], after[f"blocks.{i}.{name}"]), name


def test_head_and_layer_subsets_touch_exactly_those(teacher):
    """Copy in layers 1 and 3, heads 0 and 2: exactly those q/k rows are frozen."""
    student = tiny_vit(seed=2)
    before = copy.deepcopy(student.state_dict())
    model = _model(student, teacher, mode=Mode.COPY, layers="1,-1", heads="0,2")
    _train_steps(model, student, model.plan.frozen_rows(student))
    after = student.state_dict()
    for i, blk in enumerate(student.blocks):
        hd, H = blk.attn.head_dim, blk.attn.num_heads
        w0, w1 = before[f"blocks.{i}.attn.qkv.weight"], after[f"blocks.{i}.attn.qkv.weight"]
        for part in (0, 1):  # q, k
            for h in range(H):
                rows = slice(part * H * hd + h * hd, part * H * hd + (h + 1) * hd)
                frozen = i in (1, 3) and h in (0, 2)
                assert torch.equal(w0[rows], w1[rows]) == frozen, (i, part, h)


def test_distill_subsets_get_loss_only_where_chosen(teacher, images):
    """Layers 0-1, head 1: each layer's loss is the CE of exactly that head, and nothing later gets a gradient."""
    student = tiny_vit(seed=2)
    model = _model(student, teacher, mode=Mode.DISTILL, layers="first:2", heads="1")
    out = model.eval()(images)
    assert sorted(out["layer_losses"]) == [0, 1]
    s_logits = attention_logits(student, images)
    t_logits = attention_logits(teacher, images)
    for layer in (0, 1):
        expected = attention_distill_loss(s_logits[layer][:, [1]], t_logits[layer][:, [1]])
        torch.testing.assert_close(out["layer_losses"][layer], expected)
    out["attn_loss"].backward()
    for i, blk in enumerate(student.blocks):
        g = blk.attn.qkv.weight.grad
        hd = blk.attn.head_dim
        if i >= 2:
            assert g is None or not g.any(), i
            continue
        for h in range(blk.attn.num_heads):
            touched = bool(g[h * hd:(h + 1) * hd].abs().sum() > 0)
            if i == 1:
                assert touched == (h == 1), (i, h)


def test_teacher_parameters_unchanged_by_training(teacher):
    reference = copy.deepcopy(teacher.state_dict())
    for mode in (Mode.COPY, Mode.DISTILL, Mode.COPY_V, Mode.DISTILL_K):
        student = tiny_vit(seed=2)
        model = _model(student, teacher, mode=mode)
        _train_steps(model, student, model.plan.frozen_rows(student), steps=2)
        assert not any(p.requires_grad for p in teacher.parameters())
        for key, value in teacher.state_dict().items():
            assert torch.equal(value, reference[key]), key
    assert all(not k.startswith("teacher") for k in model.state_dict())


def test_teacher_shares_student_drop_path_masks(teacher, twin, images):
    """With identical weights, q matches in every layer only if the teacher got the same masks."""
    for blk in twin.blocks:  # drop path on the student only; the teacher has none of its own
        from timm.layers import DropPath

        blk.drop_path1 = DropPath(0.5)
        blk.drop_path2 = DropPath(0.5)
    torch.manual_seed(0)
    shared = _model(twin, teacher, mode=Mode.DISTILL_Q, layers="all").train()(images)
    assert float(shared["attn_loss"].detach()) == 0.0
    torch.manual_seed(0)
    unshared = _model(twin, teacher, mode=Mode.DISTILL_Q, layers="all", shared_drop_path=False).train()(images)
    assert float(unshared["attn_loss"].detach()) > 1e-4


def test_default_layers_follow_public_recipe(teacher):
    student = tiny_vit(seed=2, depth=8)
    big_teacher = tiny_vit(seed=1, depth=8)
    copy_plan = build_plan(TransferConfig(mode=Mode.COPY), student, big_teacher)
    distill_plan = build_plan(TransferConfig(mode=Mode.DISTILL), student, big_teacher)
    assert [lp.student_layer for lp in copy_plan.layers] == list(range(8))
    assert [lp.student_layer for lp in distill_plan.layers] == list(range(6))  # 3/4 of the depth


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(mode=Mode.COPY, layers="4"), "transfer.layers"),
        (dict(mode=Mode.COPY, layers="last:9"), "transfer.layers"),
        (dict(mode=Mode.COPY, heads="0,4"), "transfer.heads"),
        (dict(mode=Mode.DISTILL, weight=-1.0), "transfer.weight"),
        (dict(mode=Mode.SCRATCH), "transfer.mode"),
        (dict(mode=Mode.COPY, layer_heads="7=0"), "transfer.layer_heads"),
    ],
)
def test_bad_plans_name_the_field(kwargs, field, teacher):
    with pytest.raises(ConfigError) as info:
        build_plan(TransferConfig(**kwargs), tiny_vit(seed=2), teacher)
    assert info.value.field == field


def test_mismatched_teacher_needs_a_mapping(teacher, images):
    deep = tiny_vit(seed=3, depth=8)
    with pytest.raises(ConfigError) as info:
        build_plan(TransferConfig(mode=Mode.DISTILL), tiny_vit(seed=2), deep)
    assert info.value.field == "transfer.layer_map"
    plan = build_plan(TransferConfig(mode=Mode.DISTILL, layer_map="0=1,1=3,2=5,3=7"), tiny_vit(seed=2), deep)
    assert [(lp.student_layer, lp.teacher_layer) for lp in plan.layers] == [(0, 1), (1, 3), (2, 5), (3, 7)]
    out = AttentionTransferModel(tiny_vit(seed=2), deep, plan).train()(images)
    assert out["attn_loss"] is not None and torch.isfinite(out["attn_loss"])

    two_heads = tiny_vit(seed=3, num_heads=2)
    with pytest.raises(ConfigError) as info:
        build_plan(TransferConfig(mode=Mode.COPY), tiny_vit(seed=2), two_heads)
    assert info.value.field == "transfer.head_map"
    plan = build_plan(TransferConfig(mode=Mode.DISTILL, head_map=(0, 0, 1, 1)), tiny_vit(seed=2), two_heads)
    assert plan.layers[0].teacher_heads == (0, 0, 1, 1)

    other_tokens = tiny_vit(seed=3, patch_size=4)
    with pytest.raises(ConfigError) as info:
        build_plan(TransferConfig(mode=Mode.COPY), tiny_vit(seed=2), other_tokens)
    assert info.value.field == "teacher.model"


def test_fused_distillation_matches_reference(teacher, images):
    """The fused map-distillation path gives the reference autograd path's loss and gradients."""
    grads = []
    for fused in (True, False):
        student = tiny_vit(seed=2)
        model = _model(student, teacher, mode=Mode.DISTILL, layers="all")
        with contextlib.nullcontext() if fused else model.reference_path():
            out = model.train()(images)
        torch.manual_seed(0)
        (F.cross_entropy(out["logits"], torch.arange(4)) + 3.0 * out["attn_loss"]).backward()
        grads.append((out["attn_loss"].detach(), {n: p.grad.clone() for n, p in student.named_parameters()}))
    (loss_a, grad_a), (loss_b, grad_b) = grads
    torch.testing.assert_close(loss_a, loss_b, rtol=1e-6, atol=1e-6)
    for name in grad_a:
        torch.testing.assert_close(grad_a[name], grad_b[name], rtol=1e-4, atol=1e-6, msg=name)


def test_feature_kd_distils_block_outputs(teacher, twin, images):
    out = _model(twin, teacher, mode=Mode.FEATURE_KD, layers="all").eval()(images)
    assert float(out["attn_loss"].detach()) == 0.0  # twin: identical residual streams
    other = _model(tiny_vit(seed=5), teacher, mode=Mode.FEATURE_KD, layers="1").eval()(images)
    assert sorted(other["layer_losses"]) == [1] and float(other["attn_loss"].detach()) > 0


def test_map_averaging_ablation(teacher, twin, images):
    from attnxfer_core.config import MapAverage

    same = images[:1].expand(4, -1, -1, -1)  # identical images: averaging over examples changes nothing
    with torch.no_grad():
        plain = _model(twin, teacher, mode=Mode.COPY).eval()(same)["logits"]
        averaged = _model(twin, teacher, mode=Mode.COPY, average=MapAverage.EXAMPLES).eval()(same)["logits"]
        torch.testing.assert_close(plain, averaged)
        by_query = _model(twin, teacher, mode=Mode.COPY, average=MapAverage.QUERIES).eval()(images)["logits"]
    assert not torch.allclose(by_query, teacher(images), atol=1e-3)
    with pytest.raises(ConfigError, match="transfer.average"):
        build_plan(TransferConfig(mode=Mode.COPY_Q, average=MapAverage.QUERIES), twin, teacher)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_inference_uses_the_teacher_only_for_copy(mode, teacher, images):
    """Copy keeps its teacher at test time; distillation is evaluated as the student alone,
    with the same logits the transfer model gives."""
    from attnxfer_core.config import AugmentConfig
    from attnxfer_core.training.objectives import ClassificationTask

    student = tiny_vit(seed=5)
    plan = build_plan(TransferConfig(mode=mode, layers="all"), student, teacher)
    task = ClassificationTask(student, teacher, plan, AugmentConfig(), num_classes=10)
    calls = []
    hook = teacher.patch_embed.register_forward_hook(lambda *a: calls.append(1))
    try:
        forward = task.forward_fn(student)
        with torch.no_grad():
            logits = forward(images)
            calls_at_inference = len(calls)
            through_transfer = task.module.eval()(images)["logits"]
    finally:
        hook.remove()
    assert student.training is False
    if mode in (Mode.COPY, Mode.COPY_Q, Mode.COPY_K, Mode.COPY_V):
        assert calls_at_inference > 0
    else:
        assert calls_at_inference == 0 and forward is student
    torch.testing.assert_close(logits, through_transfer, rtol=1e-5, atol=1e-5)
