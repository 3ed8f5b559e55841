"""Optimizer groups, schedule and the row-wise decay copy modes rely on."""
import math

import torch

from attnxfer_core.config import OptimConfig
from attnxfer_core.training.optim import build_optimizer, lr_at, set_lr

from .conftest import tiny_vit


def _group_of(optimizer, param):
    return next(g for g in optimizer.param_groups if any(p is param for p in g["params"]))


def test_no_decay_on_norms_biases_tokens():
    model = tiny_vit()
    optimizer, _ = build_optimizer(model, OptimConfig(weight_decay=0.3), [])
    assert _group_of(optimizer, model.pos_embed)["weight_decay"] == 0
    assert _group_of(optimizer, model.cls_token)["weight_decay"] == 0
    assert _group_of(optimizer, model.blocks[0].norm1.weight)["weight_decay"] == 0
    assert _group_of(optimizer, model.blocks[0].attn.qkv.bias)["weight_decay"] == 0
    assert _group_of(optimizer, model.blocks[0].attn.qkv.weight)["weight_decay"] == 0.3


def test_layer_decay_scales_lr_by_depth():
    model = tiny_vit()
    optimizer, _ = build_optimizer(model, OptimConfig(layer_decay=0.5, lr=1.0), [])
    set_lr(optimizer, 1.0)
    lr = lambda p: _group_of(optimizer, p)["lr"]  # noqa: E731
    assert lr(model.head.weight) == 1.0
    assert math.isclose(lr(model.blocks[3].attn.qkv.weight), 0.5)
    assert math.isclose(lr(model.blocks[0].attn.qkv.weight), 0.5**4)
    assert math.isclose(lr(model.patch_embed.proj.weight), 0.5**5)


def test_schedule_warmup_then_cosine():
    cfg = OptimConfig(lr=1.0, min_lr=0.1)
    assert lr_at(0, 100, 10, cfg) == 0.0
    assert math.isclose(lr_at(5, 100, 10, cfg), 0.5)
    assert math.isclose(lr_at(10, 100, 10, cfg), 1.0)
    assert math.isclose(lr_at(55, 100, 10, cfg), 0.55)
    assert math.isclose(lr_at(100, 100, 10, cfg), 0.1)


def test_row_decay_equals_adamw_on_decayed_rows_and_spares_frozen():
    torch.manual_seed(0)
    a = torch.nn.Linear(4, 6)
    b = torch.nn.Linear(4, 6)
    b.load_state_dict(a.state_dict())
    frozen = torch.zeros(6, dtype=torch.bool)
    frozen[:2] = True
    cfg = OptimConfig(lr=0.1, weight_decay=0.5)
    opt_a, _ = build_optimizer(a, cfg, [])
    opt_b, decays = build_optimizer(b, cfg, [(b.weight, frozen)])
    assert len(decays) == 1 and _group_of(opt_b, b.weight)["weight_decay"] == 0
    start = b.weight.detach().clone()
    for step in range(3):
        x = torch.randn(8, 4)
        for model, opt in ((a, opt_a), (b, opt_b)):
            set_lr(opt, 0.1 / (step + 1))
            opt.zero_grad()
            out = model(x)
            out[:, 2:].sum().backward()  # rows 0-1 get exactly zero gradient, as in copy mode
            for d in decays if model is b else []:
                d.apply()
            opt.step()
    torch.testing.assert_close(b.weight[2:], a.weight[2:])
    assert torch.equal(b.weight[:2], start[:2])
    assert not torch.equal(a.weight[:2], start[:2])  # plain AdamW would have decayed them
