"""GRPO's pure functions against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from r1.algorithms.advantages import compute_advantages, group_advantages, rloo_advantages, tied_groups
from r1.algorithms.policy_loss import aggregate, clipped_surrogate, grpo_loss, kl_penalty


def test_group_advantages_of_a_known_group():
    # group 1: rewards 1, 0, 0, 1 -> mean 0.5, unbiased std sqrt(1/3) = 0.57735
    # group 2: all tie -> zeros
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 2.0, 2.0, 2.0, 2.0])
    adv = group_advantages(rewards, group_size=4, eps=0.0 + 1e-12)
    expected = 0.5 / math.sqrt(1 / 3)
    torch.testing.assert_close(adv[:4], torch.tensor([expected, -expected, -expected, expected]))
    torch.testing.assert_close(adv[4:], torch.zeros(4))


def test_group_advantages_scale_options():
    rewards = torch.tensor([3.0, 1.0, 10.0, 10.0])
    # none (Dr. GRPO): centred only
    torch.testing.assert_close(group_advantages(rewards, 2, scale="none"), torch.tensor([1.0, -1.0, 0.0, 0.0]))
    # batch: centred / std of the whole batch (unbiased std of [3, 1, 10, 10] = 4.7871)
    batch_std = torch.tensor([3.0, 1.0, 10.0, 10.0]).std().item()
    torch.testing.assert_close(group_advantages(rewards, 2, scale="batch", eps=0.0), torch.tensor([1.0, -1.0, 0.0, 0.0]) / batch_std)
    with pytest.raises(ValueError, match="scale"):
        group_advantages(rewards, 2, scale="bogus")


def test_rloo_uses_the_mean_of_the_others():
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0])
    # sample 0: 1 - (0+0+1)/3 = 2/3 ; sample 1: 0 - (1+0+1)/3 = -2/3
    torch.testing.assert_close(rloo_advantages(rewards, 4), torch.tensor([2 / 3, -2 / 3, -2 / 3, 2 / 3]))
    torch.testing.assert_close(compute_advantages(rewards, 4, estimator="rloo"), rloo_advantages(rewards, 4))


def test_tied_groups():
    rewards = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.3, 0.3])
    assert tied_groups(rewards, 2).tolist() == [True, False, True]


def test_surrogate_inside_the_clip_range_is_minus_ratio_times_advantage():
    logp = torch.log(torch.tensor([[1.1, 0.9]]))
    old = torch.zeros(1, 2)
    for a in (2.0, -2.0):
        loss, clipped = clipped_surrogate(logp, old, torch.tensor([a]), 0.2, 0.2)
        torch.testing.assert_close(loss, torch.tensor([[-1.1 * a, -0.9 * a]]))
        assert not clipped.any()


def test_surrogate_outside_the_clip_range_for_both_signs():
    old = torch.zeros(1, 2)
    logp = torch.log(torch.tensor([[1.5, 0.5]]))  # ratios 1.5 and 0.5
    # A > 0: ratio 1.5 is clipped to 1.2 -> -1.2A ; ratio 0.5 keeps min(0.5A, 0.8A) = 0.5A -> -0.5A
    loss, clipped = clipped_surrogate(logp, old, torch.tensor([1.0]), 0.2, 0.2)
    torch.testing.assert_close(loss, torch.tensor([[-1.2, -0.5]]))
    assert clipped.tolist() == [[True, False]]
    # A < 0: ratio 1.5 keeps -1.5A... min(1.5A, 1.2A) = 1.5A (A=-1 -> -1.5) -> loss 1.5 ; ratio 0.5 clipped to 0.8 -> loss 0.8
    loss, clipped = clipped_surrogate(logp, old, torch.tensor([-1.0]), 0.2, 0.2)
    torch.testing.assert_close(loss, torch.tensor([[1.5, 0.8]]))
    assert clipped.tolist() == [[False, True]]
    # clip-higher: eps_high 0.28 lets ratio 1.5 count up to 1.28
    loss, _ = clipped_surrogate(logp, old, torch.tensor([1.0]), 0.2, 0.28)
    torch.testing.assert_close(loss[0, 0], torch.tensor(-1.28))


def test_surrogate_gradient_vanishes_when_clipped():
    logp = torch.log(torch.tensor([[1.5]])).requires_grad_()
    loss, _ = clipped_surrogate(logp, torch.zeros(1, 1), torch.tensor([1.0]))
    loss.sum().backward()
    assert logp.grad.abs().item() == 0.0


def test_k3_is_non_negative_and_zero_at_equality():
    logp = torch.tensor([-1.0, -2.0, -0.5, -3.0])
    ref = torch.tensor([-1.0, -1.0, -2.0, -0.1])
    k3 = kl_penalty(logp, ref, "k3")
    assert (k3 >= 0).all() and k3[0] == 0
    d = -1.0 - -2.0  # ref - logp for element 1
    torch.testing.assert_close(k3[1], torch.tensor(math.exp(d) - d - 1))
    torch.testing.assert_close(kl_penalty(logp, ref, "k1")[1], torch.tensor(-d))
    torch.testing.assert_close(kl_penalty(logp, ref, "k2")[1], torch.tensor(d * d / 2))
    with pytest.raises(ValueError):
        kl_penalty(logp, ref, "k4")


def test_each_aggregation():
    per_token = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    # grpo: mean of sequence means = (2 + 4) / 2
    assert aggregate(per_token, mask, "grpo").item() == pytest.approx(3.0)
    # bnpo/dapo: token mean = (1+2+3+4)/4
    assert aggregate(per_token, mask, "bnpo").item() == pytest.approx(2.5)
    assert aggregate(per_token, mask, "dapo").item() == pytest.approx(2.5)
    # dr_grpo: sum / (B * max_length) = 10 / (2 * 5)
    assert aggregate(per_token, mask, "dr_grpo", max_length=5).item() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        aggregate(per_token, mask, "dr_grpo")


def test_grpo_loss_adds_beta_times_kl():
    logp = torch.log(torch.tensor([[1.0, 1.0]]))
    ref = torch.tensor([[-0.5, 0.0]])
    mask = torch.ones(1, 2)
    loss, stats = grpo_loss(logp, logp.clone(), torch.tensor([1.0]), mask, ref_logprobs=ref, beta=0.1)
    kl = (math.exp(-0.5) + 0.5 - 1 + 0.0) / 2
    assert stats["kl"].item() == pytest.approx(kl)
    assert loss.item() == pytest.approx(-1.0 + 0.1 * kl)
    loss_no_ref, stats = grpo_loss(logp, logp.clone(), torch.tensor([1.0]), mask, ref_logprobs=None, beta=0.1)
    assert loss_no_ref.item() == pytest.approx(-1.0) and "kl" not in stats


def test_token_logprobs_and_entropy_match_softmax():
    from r1.algorithms.logprobs import token_entropy, token_logprobs

    logits = torch.tensor([[[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]]])
    tokens = torch.tensor([[0, 2]])
    expected = torch.log_softmax(logits / 0.5, dim=-1).gather(-1, tokens[..., None]).squeeze(-1)
    torch.testing.assert_close(token_logprobs(logits, tokens, temperature=0.5), expected)
    torch.testing.assert_close(token_entropy(logits)[0, 1], torch.tensor(math.log(3)))
