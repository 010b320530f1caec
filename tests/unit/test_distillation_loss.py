"""The distillation loss against hand-computed KL divergences, and the distill loss wiring."""

from __future__ import annotations

import math

import pytest
import torch

from r1.algorithms.distillation import distillation_loss
from r1.errors import ConfigError
from r1.models import build_tiny_tokenizer, load_tiny_tokenizer
from r1.phases.distill import DistillLoss, KDSettings, check_same_tokenizer
from r1.phases.sft import token_cross_entropy
from r1.settings import build_settings


def logits_of(*probs: float) -> torch.Tensor:
    return torch.log(torch.tensor(probs))


def test_forward_kl_on_a_toy_distribution():
    teacher = logits_of(0.5, 0.25, 0.25)[None, None]  # (1, 1, 3)
    student = logits_of(0.25, 0.5, 0.25)[None, None]
    expected = 0.5 * math.log(0.5 / 0.25) + 0.25 * math.log(0.25 / 0.5) + 0.25 * math.log(1.0)  # KL(teacher || student)
    loss = distillation_loss(student, teacher, torch.ones(1, 1))
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    reverse = distillation_loss(teacher, student, torch.ones(1, 1))  # KL is not symmetric in general
    assert reverse.item() == pytest.approx(0.25 * math.log(0.25 / 0.5) + 0.5 * math.log(0.5 / 0.25), abs=1e-6)


def test_temperature_softens_both_and_rescales_by_its_square():
    teacher_logits = torch.tensor([[[2.0, 0.0]]])
    student_logits = torch.tensor([[[0.0, 1.0]]])
    t = 2.0

    def softmax(values):
        exps = [math.exp(v / t) for v in values]
        return [e / sum(exps) for e in exps]

    p, q = softmax([2.0, 0.0]), softmax([0.0, 1.0])
    expected = t**2 * sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
    assert distillation_loss(student_logits, teacher_logits, torch.ones(1, 1), temperature=t).item() == pytest.approx(expected, abs=1e-6)


def test_mask_averages_over_counted_tokens_only():
    teacher = torch.stack([logits_of(0.5, 0.5), logits_of(0.9, 0.1), logits_of(0.5, 0.5)])[None]  # (1, 3, 2)
    student = torch.stack([logits_of(0.5, 0.5), logits_of(0.1, 0.9), logits_of(0.9, 0.1)])[None]
    kl_middle = 0.9 * math.log(0.9 / 0.1) + 0.1 * math.log(0.1 / 0.9)
    kl_last = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert distillation_loss(student, teacher, torch.tensor([[0, 1, 0]])).item() == pytest.approx(kl_middle, abs=1e-5)
    assert distillation_loss(student, teacher, torch.tensor([[1, 1, 1]])).item() == pytest.approx((0 + kl_middle + kl_last) / 3, abs=1e-5)
    assert distillation_loss(student, teacher, torch.zeros(1, 3)).item() == 0.0


def test_zero_for_equal_distributions_and_gradient_to_the_student_only():
    teacher = torch.randn(2, 4, 7)
    assert distillation_loss(teacher.clone(), teacher, torch.ones(2, 4)).item() == pytest.approx(0.0, abs=1e-6)
    student = torch.randn(2, 4, 7, requires_grad=True)
    frozen = teacher.clone().requires_grad_(False)
    loss = distillation_loss(student, frozen, torch.ones(2, 4))
    assert loss.item() > 0
    loss.backward()
    assert student.grad is not None and student.grad.abs().sum() > 0


def test_impossible_teacher_tokens_do_not_give_nan():
    teacher = torch.tensor([[[0.0, float("-inf")]]])
    student = torch.tensor([[[0.0, 0.0]]])
    assert distillation_loss(student, teacher, torch.ones(1, 1)).item() == pytest.approx(math.log(2.0), abs=1e-6)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="temperature"):
        distillation_loss(torch.zeros(1, 1, 2), torch.zeros(1, 1, 2), torch.ones(1, 1), temperature=0)
    with pytest.raises(ValueError, match="shape"):
        distillation_loss(torch.zeros(1, 1, 2), torch.zeros(1, 1, 3), torch.ones(1, 1))


class _Logits(torch.nn.Module):
    """A stand-in causal LM that returns fixed logits."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(logits)

    def forward(self, input_ids, attention_mask, use_cache=False):
        return type("Out", (), {"logits": self.logits})()


def test_distill_loss_mixes_cross_entropy_and_kl_on_response_tokens():
    generator = torch.Generator().manual_seed(0)
    student, teacher = _Logits(torch.randn(1, 5, 6, generator=generator)), _Logits(torch.randn(1, 5, 6, generator=generator))
    labels = torch.tensor([[-100, -100, 3, 4, 5]])
    batch = {"input_ids": torch.zeros(1, 5, dtype=torch.long), "attention_mask": torch.ones(1, 5, dtype=torch.long), "labels": labels}
    ce = token_cross_entropy(student.logits, labels)
    kl = distillation_loss(student.logits[:, :-1], teacher.logits[:, :-1], torch.tensor([[0, 1, 1, 1]]))
    loss, metrics = DistillLoss(teacher, weight=0.25, temperature=1.0, vocab_size=6)(student, batch)
    assert loss.item() == pytest.approx(0.75 * ce.item() + 0.25 * kl.item(), abs=1e-6)
    assert metrics["train/kd"].item() == pytest.approx(kl.item(), abs=1e-6)
    plain, _ = DistillLoss(teacher, weight=0.0, temperature=1.0, vocab_size=6)(student, batch)
    assert plain.item() == pytest.approx(ce.item(), abs=1e-6)
    with pytest.raises(ConfigError, match=r"^phase.kd.weight must be at most 1, not 1.5$"):
        build_settings(KDSettings, {"weight": 1.5, "temperature": 1.0}, prefix="phase.kd")


def test_tokenizers_must_match_for_logit_distillation():
    check_same_tokenizer(load_tiny_tokenizer(), build_tiny_tokenizer())
    other = build_tiny_tokenizer()
    other.add_tokens(["<extra_token>"])
    with pytest.raises(ConfigError, match="teacher's .* differ") as error:
        check_same_tokenizer(other, load_tiny_tokenizer())
    assert "phase.kd.weight=0" in str(error.value) and "\n" not in str(error.value)
