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
kernel against the plain computation once per dtype and says no (with a warning) if it disagrees;
the model then takes the maps path. No attention dropout: the model takes the maps path for it.
"""
from __future__ import annotations

import warnings
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


class _Backend(NamedTuple):
    forward: Callable[[Tensor, Tensor, Tensor, float], tuple[Tensor, Tensor, tuple[Tensor, ...]]]
    backward: Callable[..., tuple[Tensor, Tensor, Tensor]]


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
    """``t`` with zero columns up to ``width``; the first of them holds ``column`` when given."""
    extra = t.new_zeros(*t.shape[:-1], width - t.shape[-1])
    if column is not None:
        extra[..., 0] = column
    return torch.cat([t, extra], dim=-1).contiguous()


class _AttentionLSE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, scale: float):  # type: ignore[override]
        backend = _BACKENDS[q.device.type]
        out, lse, state = backend.forward(q, k, v, scale)
        ctx.save_for_backward(q, k, v, out, lse, *state)
        ctx.scale = scale
        return out, lse[..., : q.shape[-2]]

    @staticmethod
    def backward(ctx, grad_out: Tensor, grad_lse: Tensor):  # type: ignore[override]
        q, k, v, out, lse, *state = ctx.saved_tensors
        backend = _BACKENDS[q.device.type]
        grad_out = torch.zeros_like(out) if grad_out is None else grad_out.contiguous()
        if grad_lse is None:
            dq, dk, dv = backend.backward(grad_out, q, k, v, out, lse, ctx.scale, tuple(state))
            return dq, dk, dv, None
        width = max(q.shape[-1], v.shape[-1]) + 8 - max(q.shape[-1], v.shape[-1]) % 8  # >= 1 more, a multiple of 8
        g = grad_lse.to(grad_out.dtype)
        dq, dk, dv = backend.backward(
            _widened(grad_out, width, g), _widened(q, width), _widened(k, width), _widened(v, width),
            _widened(out, width, -1.0), lse, ctx.scale, tuple(state))
        d_qk, d_v = q.shape[-1], v.shape[-1]
        return dq[..., :d_qk], dk[..., :d_qk], dv[..., :d_v], None


def attention_with_lse(q: Tensor, k: Tensor, v: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    """``softmax(q k^T * scale) v`` and the fp32 log-sum-exp of each query's logits, both differentiable.

    q, k, v are (batch, heads, tokens, head_dim); the log-sum-exp is (batch, heads, tokens).
    """
    return _AttentionLSE.apply(q, k, v, scale)


def reference_attention_with_lse(q: Tensor, k: Tensor, v: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    """The plain computation :func:`attention_with_lse` must equal (maps materialised in fp32)."""
    logits = ((q * scale) @ k.transpose(-2, -1)).float()
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


_CHECKED: dict[tuple[str, torch.dtype], bool] = {}


def usable(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether :func:`attention_with_lse` runs correctly here (checked once per device type and dtype on CUDA)."""
    if device.type not in _BACKENDS:
        return False
    if device.type == "cpu":
        return True
    key = (device.type, dtype)
    if key not in _CHECKED:
        _CHECKED[key] = check_kernel(device, dtype)
    return _CHECKED[key]


def check_kernel(device: torch.device, dtype: torch.dtype) -> bool:
    """This torch's private kernel against the plain computation: values and gradients of a small problem."""
    tol = 1e-4 if dtype == torch.float32 else 3e-2
    gen = torch.Generator(device="cpu").manual_seed(0)
    shape = (2, 3, 37, 64)
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
    except (RuntimeError, TypeError) as error:  # a torch whose private entry points differ
        warnings.warn(f"attention through fused kernels is unavailable on {device.type} ({error}); "
                      "the transfer takes the maps path", stacklevel=3)
        return False
    if not ok:
        warnings.warn(f"this torch's fused attention kernel disagrees with the plain computation on {device.type} "
                      f"in {dtype}; the transfer takes the maps path", stacklevel=3)
    return ok
