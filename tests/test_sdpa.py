"""Map transfer through fused attention kernels equals the maps path: values and gradients, fp32 and bf16.

Everything here runs on the CPU (its flash kernel), so the fused path's correctness never depends on a GPU;
on CUDA the same code runs the memory-efficient kernel after :func:`usable` has checked it once.
"""
import contextlib
import copy
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from attnxfer_core.config import MapAverage, Precision, TransferConfig
from attnxfer_core.modes import Mode
from attnxfer_core.transfer import sdpa
from attnxfer_core.transfer.losses import attention_distill_loss
from attnxfer_core.transfer.model import AttentionTransferModel
from attnxfer_core.transfer.plan import build_plan

from .conftest import tiny_vit

# (tolerance on values, on gradients) per dtype: fp32 round-off, and a few bf16 ulps
TOL = {torch.float32: (2e-6, 2e-6), torch.bfloat16: (3e-2, 5e-2)}


def _leaves(shape, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=gen).to(dtype).requires_grad_() for _ in range(3)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("head_dim", [8, 12, 64])
@pytest.mark.parametrize("lse_used", [True, False])
def test_attention_with_lse_equals_the_plain_computation(dtype, head_dim, lse_used):
    shape = (2, 3, 17, head_dim)
    gen = torch.Generator().manual_seed(1)
    g_out, g_lse = torch.randn(shape, generator=gen).to(dtype), torch.randn(shape[:3], generator=gen)
    results = []
    for fn in (sdpa.attention_with_lse, sdpa.reference_attention_with_lse):
        leaves = _leaves(shape, dtype)
        out, lse = fn(*leaves, head_dim**-0.5)
        objective = (out.float() * g_out.float()).sum() + ((lse * g_lse).sum() if lse_used else 0)
        results.append([out.float(), lse.float(), *(g.float() for g in torch.autograd.grad(objective, leaves))])
    value_tol, grad_tol = TOL[dtype]
    for name, a, b in zip(("out", "lse", "dq", "dk", "dv"), *results):
        tol = value_tol if name in ("out", "lse") else grad_tol
        torch.testing.assert_close(a, b, rtol=tol, atol=tol, msg=name)


def test_the_distillation_loss_without_maps_is_the_cross_entropy_of_the_maps():
    gen = torch.Generator().manual_seed(2)
    q, k, tq, tk = (torch.randn(2, 3, 17, 8, generator=gen, dtype=torch.float64) for _ in range(4))
    student_logits, teacher_logits = (q * 0.35) @ k.transpose(-2, -1), (tq * 0.3) @ tk.transpose(-2, -1)
    expected = attention_distill_loss(student_logits, teacher_logits).double()
    got = sdpa.distill_loss_sdpa(q, k, student_logits.logsumexp(-1), 0.35, tq, tk, 0.3)
    torch.testing.assert_close(got.double(), expected, rtol=1e-6, atol=1e-6)


def _step(student, teacher, use_sdpa, autocast=False, **transfer):
    plan = build_plan(TransferConfig(**transfer), student, teacher)
    model = AttentionTransferModel(student, teacher, replace(plan, sdpa=use_sdpa))
    images = torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        out = model.train()(images)
        loss = F.cross_entropy(out["logits"].float(), torch.arange(4))
        if out["attn_loss"] is not None:
            loss = loss + 3.0 * out["attn_loss"]
    loss.backward()
    attn = None if out["attn_loss"] is None else out["attn_loss"].detach().float()
    return model, out["logits"].detach().float(), attn, {n: p.grad.clone() for n, p in student.named_parameters()
                                                         if p.grad is not None}


CASES = [
    dict(mode=Mode.COPY, layers="all"),
    dict(mode=Mode.COPY, layers="1,3", heads="0,2"),
    dict(mode=Mode.DISTILL, layers="all"),
    dict(mode=Mode.DISTILL, layers="0,1,2", heads="1,2,3"),
    dict(mode=Mode.DISTILL, layers="all", layer_heads="0=0;2=1,3"),
]


@pytest.mark.parametrize("transfer", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("autocast", [False, True], ids=["fp32", "bf16"])
def test_the_fused_path_trains_like_the_maps_path(transfer, autocast, teacher):
    """Same student, same batch: logits, attention loss and every gradient agree between the two paths."""
    runs = [_step(tiny_vit(seed=2), teacher, use_sdpa, autocast, **transfer) for use_sdpa in (True, False)]
    (fused, logits_a, loss_a, grads_a), (maps, logits_b, loss_b, grads_b) = runs
    assert fused.paths_used == {"sdpa"} and maps.paths_used == {"maps"}
    value_tol, grad_tol = TOL[torch.bfloat16 if autocast else torch.float32]
    torch.testing.assert_close(logits_a, logits_b, rtol=value_tol, atol=value_tol * 10)
    if loss_b is not None:
        torch.testing.assert_close(loss_a, loss_b, rtol=value_tol, atol=value_tol)
    assert grads_a.keys() == grads_b.keys()
    for name in grads_a:
        scale = grads_b[name].abs().max().clamp_min(1e-3)  # bf16: relative to the tensor's largest entry
        torch.testing.assert_close(grads_a[name] / scale, grads_b[name] / scale, rtol=grad_tol, atol=grad_tol,
                                   msg=name)


def test_a_twin_copying_every_layer_through_fused_kernels_is_its_teacher(teacher):
    twin = copy.deepcopy(teacher)
    plan = build_plan(TransferConfig(mode=Mode.COPY, layers="all"), twin, teacher)
    model = AttentionTransferModel(twin, teacher, replace(plan, sdpa=True)).eval()
    images = torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        torch.testing.assert_close(model(images)["logits"], teacher(images), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("other", ["registers", "wider"])
@pytest.mark.parametrize("mode", [Mode.COPY, Mode.DISTILL])
def test_teachers_of_another_shape(other, mode):
    """Registers the student lacks (the teacher's attention among the student's tokens only), or a wider
    teacher (another head dimension): the same on both paths."""
    other_teacher = tiny_vit(seed=7, **({"reg_tokens": 2} if other == "registers" else {"embed_dim": 64})).eval()
    runs = [_step(tiny_vit(seed=2), other_teacher, use_sdpa, mode=mode, layers="all") for use_sdpa in (True, False)]
    torch.testing.assert_close(runs[0][1], runs[1][1], rtol=2e-5, atol=2e-5)
    if mode is Mode.DISTILL:
        torch.testing.assert_close(runs[0][2], runs[1][2], rtol=2e-6, atol=2e-6)
    for name in runs[0][3]:
        torch.testing.assert_close(runs[0][3][name], runs[1][3][name], rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize("why", ["average", "capture", "dropout"])
def test_where_a_map_itself_is_needed_the_maps_path_is_taken(why, teacher):
    student = tiny_vit(seed=2, attn_drop_rate=0.1 if why == "dropout" else 0.0)
    transfer = dict(mode=Mode.COPY if why == "average" else Mode.DISTILL, layers="all",
                    average=MapAverage.EXAMPLES if why == "average" else MapAverage.NONE)
    plan = build_plan(TransferConfig(**transfer), student, teacher)
    model = AttentionTransferModel(student, teacher, replace(plan, sdpa=True))
    with model.capturing() if why == "capture" else contextlib.nullcontext({}) as maps:
        model.train()(torch.randn(2, 1, 32, 32))
    assert model.paths_used == {"maps"} and model.capture is None
    if why == "capture":
        assert sorted(maps) == [0, 1, 2, 3]
    if why == "dropout":  # evaluation has no dropout: fused again
        model.eval()(torch.randn(2, 1, 32, 32))
        assert model.paths_used == {"maps", "sdpa"}


def test_bf16_teacher_feeds_the_fused_path(teacher):
    runs = [_step(tiny_vit(seed=2), teacher, use_sdpa, mode=Mode.DISTILL, layers="all",
                  teacher_precision=Precision.BF16) for use_sdpa in (True, False)]
    torch.testing.assert_close(runs[0][2], runs[1][2], rtol=2e-2, atol=2e-2)


def test_the_kernel_check_accepts_an_agreeing_kernel_and_refuses_a_wrong_one(monkeypatch):
    assert sdpa.check_kernel(torch.device("cpu"), torch.float32)
    # it is first asked inside a forward pass: evaluation's no_grad and autocast must not fail it
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert sdpa.check_kernel(torch.device("cpu"), torch.bfloat16)
    right = sdpa._BACKENDS["cpu"]

    def off_by_a_little(q, k, v, scale):
        out, lse, state = right.forward(q, k, v, scale)
        return out, lse + 1e-2, state

    monkeypatch.setitem(sdpa._BACKENDS, "cpu", sdpa._Backend(off_by_a_little, right.backward))
    with pytest.warns(UserWarning, match="disagrees"):
        assert not sdpa.check_kernel(torch.device("cpu"), torch.float32)

    def missing(*args):
        raise RuntimeError("no such operator")

    monkeypatch.setitem(sdpa._BACKENDS, "cpu", sdpa._Backend(missing, right.backward))
    with pytest.warns(UserWarning, match="unavailable"):
        assert not sdpa.check_kernel(torch.device("cpu"), torch.float32)


def test_exec_attention_resolves_per_device():
    from attnxfer_core.training.execute import uses_sdpa

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert not uses_sdpa("auto", cpu) and uses_sdpa("auto", cuda)
    assert uses_sdpa("sdpa", cpu) and not uses_sdpa("maps", cuda)


def test_mixed_dtypes_are_computed_as_torchs_public_attention_would():
    """Under CUDA autocast a qk-norm's LayerNorm hands q and k over in fp32 beside a bf16 v: the private
    kernel is not autocast-aware, so attention_with_lse casts as the public attention does."""
    q, k, v = _leaves((2, 3, 17, 8), torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, lse = sdpa.attention_with_lse(q, k, v.detach().bfloat16().requires_grad_(), 8**-0.5)
    assert out.dtype == torch.bfloat16 and lse.dtype == torch.float32
    mixed_out, _ = sdpa.attention_with_lse(q, k.double(), v, 8**-0.5)  # no autocast: the common dtype
    assert mixed_out.dtype == torch.float64


def test_the_widened_output_is_held_in_the_memory_order_the_cuda_backward_reads():
    """The memory-efficient kernel's backward reads ``out`` with its forward's row stride (tokens, then
    heads); a (batch, heads, tokens, width) contiguous tensor would be read from the wrong rows."""
    out = torch.randn(2, 5, 3, 8).transpose(1, 2)  # as the kernel's forward returns it
    wide = sdpa._widened(out, 16, -1.0)
    assert wide.shape == (2, 3, 5, 16) and wide.transpose(1, 2).is_contiguous()
    assert torch.equal(wide[..., :8], out) and bool((wide[..., 8] == -1).all()) and not wide[..., 9:].any()
    g = torch.randn(2, 3, 5)
    assert torch.equal(sdpa._widened(torch.zeros(2, 3, 5, 8), 16, g)[..., 8], g)


def test_copy_keeps_its_attention_dropout_on_the_fused_path(teacher):
    student = tiny_vit(seed=2, attn_drop_rate=0.1)
    plan = build_plan(TransferConfig(mode=Mode.COPY, layers="all"), student, teacher)
    model = AttentionTransferModel(student, teacher, replace(plan, sdpa=True))
    model.train()(torch.randn(2, 1, 32, 32))
    assert model.paths_used == {"sdpa"}


def test_the_benchmark_times_both_paths():
    from attnxfer_core.bench.steps import bench_shape

    result = bench_shape("embedded", "fp32", ["copy", "distill"], steps=1, warmup=0, device=torch.device("cpu"),
                         sdpa=True, batch=4)
    rows = {r["variant"]: r for r in result["rows"]}
    assert set(rows) == {"plain", "copy", "copy+sdpa", "distill", "distill+sdpa", "teacher_fwd"}
    assert all(r["batch"] == 4 and r["step_ms"] > 0 for r in rows.values())
    assert rows["plain"]["ratio"] == 1.0 and rows["distill+sdpa"]["compiled"] is False
