"""Distillation loss: golden values and the gradient identity with KL."""
import math

import torch
import torch.nn.functional as F

from attnxfer_core.transfer.losses import attention_distill_loss, projection_distill_loss


def test_hand_computed_example():
    # Worked by hand, row by row: CE = 0.427546, 1.098612, 0.781973; mean 0.769377.
    student = torch.tensor([[[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [3.0, 1.0, -1.0]]]])
    teacher = torch.tensor([[[[0.0, 0.0, 5.0], [1.0, 1.0, 1.0], [2.0, 0.0, 0.0]]]])
    assert math.isclose(float(attention_distill_loss(student, teacher)), 0.769377, abs_tol=2e-6)


def test_uniform_student_costs_log_keys():
    teacher = torch.randn(2, 3, 7, 7)
    assert math.isclose(float(attention_distill_loss(torch.zeros(2, 3, 7, 7), teacher)), math.log(7), rel_tol=1e-6)


def test_golden_value_fixed_seed():
    g = torch.Generator().manual_seed(2024)
    student = torch.randn(2, 3, 5, 5, generator=g)
    teacher = torch.randn(2, 3, 5, 5, generator=g) * 2
    assert math.isclose(float(attention_distill_loss(student, teacher)), 1.8025872707366943, rel_tol=1e-6)


def test_mean_over_batch_heads_queries():
    """Averaged over batch x heads x queries: repeating the batch changes nothing."""
    s, t = torch.randn(1, 2, 4, 4), torch.randn(1, 2, 4, 4)
    torch.testing.assert_close(attention_distill_loss(s, t),
                               attention_distill_loss(s.repeat(3, 1, 1, 1), t.repeat(3, 1, 1, 1)))


def test_gradient_equals_kl_gradient():
    g = torch.Generator().manual_seed(0)
    teacher = torch.randn(2, 3, 6, 6, generator=g)
    s1 = torch.randn(2, 3, 6, 6, generator=g, requires_grad=True)
    s2 = s1.detach().clone().requires_grad_(True)
    attention_distill_loss(s1, teacher).backward()
    kl = F.kl_div(s2.log_softmax(-1), teacher.softmax(-1), reduction="sum") / (2 * 3 * 6)
    kl.backward()
    torch.testing.assert_close(s1.grad, s2.grad, rtol=1e-5, atol=1e-8)


def test_zero_when_maps_agree_up_to_entropy():
    t = torch.randn(1, 1, 5, 5)
    entropy = -(t.softmax(-1) * t.log_softmax(-1)).sum(-1).mean()
    torch.testing.assert_close(attention_distill_loss(t, t), entropy)


def test_projection_loss_is_mse():
    a, b = torch.randn(2, 3, 4, 8), torch.randn(2, 3, 4, 8)
    torch.testing.assert_close(projection_distill_loss(a, b), ((a - b) ** 2).mean())
