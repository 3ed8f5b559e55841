"""attention_logits against a hand computation from the qkv weights, fused on and off."""
import pytest
import torch
import torch.nn.functional as F

from attnxfer_core import attention_logits
from attnxfer_core.errors import ConfigError

from .conftest import tiny_vit


def _norm(module: torch.nn.Module, t: torch.Tensor) -> torch.Tensor:
    """A qk-norm LayerNorm written out, or nothing when the block has none."""
    if isinstance(module, torch.nn.Identity):
        return t
    return F.layer_norm(t, module.normalized_shape, module.weight, module.bias, module.eps)


def _hand_logits(model, images, layer):
    """q k^T * scale from the block's input, computed from the raw qkv weight (and any qk-norm)."""
    captured = {}
    handle = model.blocks[layer].attn.register_forward_pre_hook(lambda m, args: captured.setdefault("x", args[0]))
    with torch.no_grad():
        model(images)
    handle.remove()
    attn = model.blocks[layer].attn
    x = captured["x"]
    B, N, _ = x.shape
    qkv = x @ attn.qkv.weight.T + attn.qkv.bias
    q, k, _ = qkv.reshape(B, N, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    return _norm(attn.q_norm, q) @ _norm(attn.k_norm, k).transpose(-2, -1) * attn.head_dim**-0.5


@pytest.mark.parametrize("fused", [True, False])
def test_logits_match_hand_computation(fused, images):
    model = tiny_vit().eval()
    for blk in model.blocks:
        blk.attn.fused_attn = fused
    logits = attention_logits(model, images)
    assert sorted(logits) == list(range(4))
    for layer, value in logits.items():
        assert value.shape == (4, 4, 17, 17)
        torch.testing.assert_close(value, _hand_logits(model, images, layer), rtol=1e-5, atol=1e-5)


def test_softmax_of_logits_is_timms_own_attention(images):
    """With fused attention off, timm materialises the probabilities: they must agree."""
    model = tiny_vit().eval()
    probs = {}
    for i, blk in enumerate(model.blocks):
        blk.attn.fused_attn = False
        blk.attn.attn_drop.register_forward_hook(lambda m, a, out, i=i: probs.__setitem__(i, out))
    with torch.no_grad():
        model(images)
    for layer, logits in attention_logits(model, images).items():
        torch.testing.assert_close(logits.softmax(-1), probs[layer], rtol=1e-5, atol=1e-6)


def test_layer_selection_and_untouched_model(images):
    model = tiny_vit()
    names_before = [n for n, _ in model.named_parameters()]
    out = attention_logits(model, images, layers=[-1, 1])
    assert sorted(out) == [1, 3]
    assert sorted(attention_logits(model, images, layers="last:2")) == [2, 3]
    assert [n for n, _ in model.named_parameters()] == names_before
    assert all(blk.attn.fused_attn for blk in model.blocks)
    with pytest.raises(ConfigError, match="layers"):
        attention_logits(model, images, layers=[7])


def test_state_dict_round_trips_through_timm(images):
    """Nothing is patched: a timm checkpoint of the model loads into a fresh timm model."""
    model = tiny_vit(seed=4)
    attention_logits(model, images)
    fresh = tiny_vit(seed=5)
    fresh.load_state_dict(model.state_dict(), strict=True)
