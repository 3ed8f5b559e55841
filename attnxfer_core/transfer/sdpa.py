"""Attention through torch's fused kernels with a differentiable log-sum-exp: transfer without N x N maps.

Why: the maps path (:mod:`attnxfer_core.transfer.fused`) materialises every transferred layer's
(batch, heads, tokens, tokens) logits and probabilities in fp32, which a GPU pays for in memory
traffic and small kernels. Neither method needs the maps once written this way:

- copy: ``softmax(tq tk^T * t_scale) v`` is attention on the teacher's q and k with the student's v;
- distill: per query, ``CE(P_T, softmax(S)) = LSE_j(S) - scale * q . (P_T k)`` because the rows of
  ``P_T`` sum to one; ``P_T k`` is attention on the teacher's q and k with the student's *keys* as
  values.

So distillation needs the student's log-sum-exp, which fused kernels compute and keep for their
backward but do not differentiate. :func:`attention_with_lse` returns it with its gradient:
``d LSE_i / d S_ij = P_ij``, and a kernel's backward computes ``dS = P * (dO v^T - D)`` with
``D_i = dO_i . O_i`` taken from the output it is handed. One more column on v (zeros), on dO (the
gradient of ``LSE_i``) and on O (-1) makes that ``D_i - g_i``, so the same backward adds ``P * g``.
q and k get zero columns too (the logits do not change; the scale is passed explicitly) so all three
keep one head dimension, a multiple of 8, as the kernels want.

Backends: the CPU's flash kernel and CUDA's memory-efficient kernel (both return the log-sum-exp in
fp32). Their entry points are private to torch, so on CUDA :func:`usable` first checks this torch's
kernel against the plain computation, once per dtype and attention shape (heads, tokens, head
dimension), and says no (with a warning) if it disagrees or is missing; distillation then takes the
maps path. :func:`attention_with_lse` has no attention dropout (distillation with attention dropout
takes the maps path); copy needs only torch's public ``scaled_dot_product_attention``, dropout included.

The memory-efficient kernel's backward reads ``out`` with the row stride of the memory its forward
writes, (batch, tokens, heads, width), whatever strides the tensor it is handed has; the widened
``out`` is therefore built in that memory order.
"""
from __future__ import annotations

import warnings
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from attnxfer_core.attention.walk import logits_of

# forward(q, k, v, scale) -> (out, lse as the kernel keeps it, kernel state for the backward)
Forward = Callable[[Tensor, Tensor, Tensor, float], tuple[Tensor, Tensor, tuple[Tensor, ...]]]
# backward(grad_out, q, k, v, out, lse, scale, state) -> (dq, dk, dv)
Backward = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, float, tuple[Tensor, ...]],
                    tuple[Tensor, Tensor, Tensor]]


class _Backend(NamedTuple):
    forward: Forward
    backward: Backward


def _cpu_forward(q: Tensor, k: Tensor, v: Tensor, scale: float) -> tuple[Tensor, Tensor, tuple[Tensor, ...]]:
    out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v, scale=scale)
    return out, lse, ()


def _cpu_backward(grad: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor, scale: float,
                  state: tuple[Tensor, ...]) -> tuple[Tensor, Tensor, Tensor]:
    return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward(
        grad, q, k, v, out, lse, 0.0, False, scale=scale)


def _cuda_forward(q: Tensor, k: Tensor, v: Tensor, scale: float) -> tuple[Tensor, Tensor, tuple[Tensor, ...]]:
    out, lse, seed, offset = torch.ops.aten._scaled_dot_product_efficient_attention(q, k, v, None, True, scale=scale)
    return out, lse, (seed, offset)  # lse: (batch, heads, queries rounded up to a multiple of 32)


def _cuda_backward(grad: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor, scale: float,
                   state: tuple[Tensor, ...]) -> tuple[Tensor, Tensor, Tensor]:
    seed, offset = state
    dq, dk, dv, _ = torch.ops.aten._scaled_dot_product_efficient_attention_backward(
        grad, q, k, v, None, out, lse, seed, offset, 0.0, [True, True, True, False], False, scale=scale)
    return dq, dk, dv


_BACKENDS = {"cpu": _Backend(_cpu_forward, _cpu_backward), "cuda": _Backend(_cuda_forward, _cuda_backward)}


def _widened(t: Tensor, width: int, column: float | Tensor | None = None) -> Tensor:
    """(batch, heads, tokens, width) view of ``t`` with zero columns appended, held in (batch, tokens, heads,
    width) memory; the first new column holds ``column`` when given."""
    t = t.transpose(1, 2)
    extra = t.new_zeros(*t.shape[:-1], width - t.shape[-1])
    if column is not None:
        extra[..., 0] = column.transpose(1, 2) if isinstance(column, Tensor) else column
    return torch.cat([t, extra], dim=-1).transpose(1, 2)


def _wider(dim: int) -> int:
    """At least one more column than ``dim``, and a multiple of 8."""
    return dim + 8 - dim % 8


class _AttentionLSE(torch.autograd.Function):
    """Fused attention returning its log-sum-exp too, with the log-sum-exp's gradient (module docstring)."""

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, scale: float) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        backend = _BACKENDS[q.device.type]
        out, lse, state = backend.forward(q, k, v, scale)
        ctx.save_for_backward(q, k, v, out, lse, *state)
        ctx.scale = scale
        return out, lse[..., : q.shape[-2]]

    @staticmethod
    def backward(ctx, grad_out: Tensor, grad_lse: Tensor) -> tuple:  # type: ignore[override]
        q, k, v, out, lse, *state = ctx.saved_tensors
        backend = _BACKENDS[q.device.type]
        grad_out = torch.zeros_like(out) if grad_out is None else grad_out.contiguous()
        if grad_lse is None:
            dq, dk, dv = backend.backward(grad_out, q, k, v, out, lse, ctx.scale, tuple(state))
            return dq, dk, dv, None
        width = _wider(max(q.shape[-1], v.shape[-1]))
        g = grad_lse.to(grad_out.dtype)
        dq, dk, dv = backend.backward(
            _widened(grad_out, width, g), _widened(q, width), _widened(k, width), _widened(v, width),
            _widened(out, width, -1.0), lse, ctx.scale, tuple(state))
        d_qk, d_v = q.shape[-1], v.shape[-1]
        return dq[..., :d_qk], dk[..., :d_qk], dv[..., :d_v], None


def attention_with_lse(q: Tensor, k: Tensor, v: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    """``softmax(q k^T * scale) v`` and the fp32 log-sum-exp of each query's logits, both differentiable.

    q, k, v are (batch, heads, tokens, head_dim); the log-sum-exp is (batch, heads, tokens). Like torch's
    public attention, the three are computed in autocast's dtype under autocast (a qk-norm's LayerNorm
    hands q and k over in fp32 there), else in their common dtype.
    """
    kind = q.device.type
    dtype = (torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind)
             else torch.promote_types(torch.promote_types(q.dtype, k.dtype), v.dtype))
    return _AttentionLSE.apply(q.to(dtype), k.to(dtype), v.to(dtype), scale)


def reference_attention_with_lse(q: Tensor, k: Tensor, v: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    """The plain computation :func:`attention_with_lse` must equal (maps materialised in fp32)."""
    logits = logits_of(q, k, scale).float()
    return (logits.softmax(dim=-1).to(v.dtype) @ v), logits.logsumexp(dim=-1)


def distill_loss_sdpa(q: Tensor, k: Tensor, lse: Tensor, scale: float, tq: Tensor, tk: Tensor,
                      t_scale: float) -> Tensor:
    """Map distillation's loss, mean over batch, heads and queries, without a map.

    ``q``, ``k``, ``lse``: the student's (distilled heads only); ``tq``, ``tk``: the teacher's matching
    heads. Equal to ``attention_distill_loss`` of the student's logits against the teacher's; the
    teacher-weighted keys are computed in fp32 so that the two halves of the gradient, ``P_S k`` and
    ``P_T k``, do not lose their difference to rounding.
    """
    with torch.autocast(q.device.type, enabled=False):
        weighted_keys = F.scaled_dot_product_attention(tq.float(), tk.float(), k.float(), scale=t_scale)
        return (lse.float().sum() - scale * (q.float() * weighted_keys).sum()) / lse.numel()


_CHECKED: dict[tuple, bool] = {}
SMALL = (3, 37, 64)  # heads, tokens, head dimension of the check when no shape is given


def usable(device: torch.device, dtype: torch.dtype, shape: tuple[int, int, int] = SMALL) -> bool:
    """Whether :func:`attention_with_lse` runs correctly here for (heads, tokens, head dimension) ``shape``.

    On CUDA this is checked once per dtype and shape; the CPU's kernel is covered by the test suite.
    """
    if device.type not in _BACKENDS:
        return False
    if device.type == "cpu":
        return True
    key = (device.type, dtype, shape)
    if key not in _CHECKED:
        _CHECKED[key] = check_kernel(device, dtype, shape)
    return _CHECKED[key]


def check_kernel(device: torch.device, dtype: torch.dtype, shape: tuple[int, int, int] = SMALL) -> bool:
    """This torch's private kernel against the plain computation: values and gradients, two examples of
    (heads, tokens, head dimension) ``shape``."""
    tol = 1e-4 if dtype == torch.float32 else 3e-2
    gen = torch.Generator(device="cpu").manual_seed(0)
    shape = (2, *shape)
    leaves = [torch.randn(shape, generator=gen).to(device, dtype).requires_grad_() for _ in range(3)]
    g_out = torch.randn(shape, generator=gen).to(device, dtype)
    g_lse = torch.randn(shape[:3], generator=gen).to(device)
    try:  # first asked inside a forward pass, which may be under no_grad (evaluation) or autocast
        results = []
        with torch.enable_grad(), torch.autocast(device.type, enabled=False):
            for fn in (attention_with_lse, reference_attention_with_lse):
                out, lse = fn(*leaves, 0.125)
                grads = torch.autograd.grad((out.float() * g_out.float()).sum() + (lse * g_lse).sum(), leaves)
                results.append([out.float(), lse, *(g.float() for g in grads)])
        ok = all(torch.allclose(a, b, rtol=tol, atol=tol) for a, b in zip(*results))
    except (RuntimeError, TypeError, AttributeError, NotImplementedError) as error:  # private entry points differ
        warnings.warn(f"attention through fused kernels is unavailable on {device.type} ({error}); "
                      "the transfer takes the maps path", stacklevel=3)
        return False
    if not ok:
        warnings.warn(f"this torch's fused attention kernel disagrees with the plain computation on {device.type} "
                      f"in {dtype}; the transfer takes the maps path", stacklevel=3)
    return ok
