"""GRPO's algorithm plugins: each built-in built through the registry, against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from r1.algorithms.advantages import group_advantages, rloo_advantages, tied_groups
from r1.algorithms.aggregation import constant_length, sequence_mean, token_mean
from r1.algorithms.kl import k1, k2, k3
from r1.algorithms.objective import grpo_loss
from r1.algorithms.policy_loss import clipped_surrogate
from r1.algorithms.rollout_correction import mismatch_stats, truncated_importance_weights
from r1.errors import PluginError
from r1.plugins import get_registry
from r1.protocols import AdvantageEstimator, KLEstimator, LossAggregation, PolicyLoss


@pytest.fixture(scope="module")
def registry():
    return get_registry(autoload=False)


# ----------------------------------------------------------------------------- advantages


def test_group_advantages_of_a_known_group():
    # group 1: rewards 1, 0, 0, 1 -> mean 0.5, unbiased std sqrt(1/3) = 0.57735
    # group 2: all tie -> zeros
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 2.0, 2.0, 2.0, 2.0])
    adv = group_advantages(rewards, group_size=4, scale="group", eps=1e-12)
    expected = 0.5 / math.sqrt(1 / 3)
    torch.testing.assert_close(adv[:4], torch.tensor([expected, -expected, -expected, expected]))
    torch.testing.assert_close(adv[4:], torch.zeros(4))


def test_group_advantages_scale_options():
    rewards = torch.tensor([3.0, 1.0, 10.0, 10.0])
    # none (Dr. GRPO): centred only
    torch.testing.assert_close(group_advantages(rewards, 2, scale="none", eps=1e-4), torch.tensor([1.0, -1.0, 0.0, 0.0]))
    # batch: centred / std of the whole batch (unbiased std of [3, 1, 10, 10] = 4.7871)
    batch_std = torch.tensor([3.0, 1.0, 10.0, 10.0]).std().item()
    torch.testing.assert_close(group_advantages(rewards, 2, scale="batch", eps=0.0), torch.tensor([1.0, -1.0, 0.0, 0.0]) / batch_std)


def test_grpo_estimator_from_the_registry_carries_its_options(registry):
    rewards = torch.tensor([3.0, 1.0, 10.0, 10.0])
    estimator = registry.build("advantage", {"name": "grpo", "scale": "none", "eps": 1e-4})
    assert isinstance(estimator, AdvantageEstimator) and estimator.min_group_size == 2
    torch.testing.assert_close(estimator(rewards, 2), torch.tensor([1.0, -1.0, 0.0, 0.0]))
    # group: each group of two has unbiased std sqrt(2) (first) or 0 (tied)
    grouped = registry.build("advantage", {"name": "grpo", "scale": "group", "eps": 1e-4})
    torch.testing.assert_close(grouped(rewards, 2), torch.tensor([1.0, -1.0, 0.0, 0.0]) / (math.sqrt(2) + 1e-4))


def test_rloo_uses_the_mean_of_the_others(registry):
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0])
    # sample 0: 1 - (0+0+1)/3 = 2/3 ; sample 1: 0 - (1+0+1)/3 = -2/3
    torch.testing.assert_close(rloo_advantages(rewards, 4), torch.tensor([2 / 3, -2 / 3, -2 / 3, 2 / 3]))
    estimator = registry.build("advantage", {"name": "rloo"})
    assert estimator.min_group_size == 2
    torch.testing.assert_close(estimator(rewards, 4), torch.tensor([2 / 3, -2 / 3, -2 / 3, 2 / 3]))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "rloo", "scale": "group"}, r"advantage 'rloo' rejected its options \['scale'\]"),
        ({"name": "grpo", "scale": "bogus", "eps": 1e-4}, "advantage 'grpo': scale must be one of group, batch, none, not 'bogus'"),
        ({"name": "grpo", "scale": "group"}, "advantage 'grpo' rejected its options.*eps"),
        ({"name": "grpo", "scale": "group", "eps": 0.0}, "advantage 'grpo': eps must be a positive number"),
        ({"name": "grpo", "scale": "group", "eps": "small"}, "advantage 'grpo': eps must be a positive number"),
        ({"name": "gae"}, "unknown advantage 'gae'.*grpo, rloo"),
    ],
)
def test_advantage_option_errors_are_one_line(registry, spec, message):
    with pytest.raises(PluginError, match=message) as error:
        registry.build("advantage", spec)
    assert "\n" not in str(error.value)


def test_tied_groups():
    rewards = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.3, 0.3])
    assert tied_groups(rewards, 2).tolist() == [True, False, True]


# ----------------------------------------------------------------------------- policy loss


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
    # A < 0: ratio 1.5 keeps min(1.5A, 1.2A) = 1.5A (A=-1 -> -1.5) -> loss 1.5 ; ratio 0.5 clipped to 0.8 -> loss 0.8
    loss, clipped = clipped_surrogate(logp, old, torch.tensor([-1.0]), 0.2, 0.2)
    torch.testing.assert_close(loss, torch.tensor([[1.5, 0.8]]))
    assert clipped.tolist() == [[False, True]]


def test_clip_loss_from_the_registry_uses_its_clip_range(registry):
    old = torch.zeros(1, 2)
    logp = torch.log(torch.tensor([[1.5, 0.5]]))
    # clip-higher: eps_high 0.28 lets ratio 1.5 count up to 1.28
    loss_fn = registry.build("policy_loss", {"name": "clip", "eps_low": 0.2, "eps_high": 0.28})
    assert isinstance(loss_fn, PolicyLoss)
    loss, clipped = loss_fn(logp, old, torch.tensor([1.0]), torch.ones(1, 2))
    torch.testing.assert_close(loss, torch.tensor([[-1.28, -0.5]]))
    assert clipped.tolist() == [[True, False]]


def test_surrogate_gradient_vanishes_when_clipped():
    logp = torch.log(torch.tensor([[1.5]])).requires_grad_()
    loss, _ = clipped_surrogate(logp, torch.zeros(1, 1), torch.tensor([1.0]), 0.2, 0.2)
    loss.sum().backward()
    assert logp.grad.abs().item() == 0.0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "clip", "eps_low": 0.2}, "policy_loss 'clip' rejected its options.*eps_high"),
        ({"name": "clip", "eps_low": 0.2, "eps_high": 0.2, "eps": 0.1}, "policy_loss 'clip' rejected its options"),
        ({"name": "clip", "eps_low": 1.0, "eps_high": 0.2}, "policy_loss 'clip': eps_low must be less than 1"),
        ({"name": "clip", "eps_low": 0.2, "eps_high": -0.1}, "policy_loss 'clip': eps_high must be a number at least 0"),
    ],
)
def test_policy_loss_option_errors_are_one_line(registry, spec, message):
    with pytest.raises(PluginError, match=message) as error:
        registry.build("policy_loss", spec)
    assert "\n" not in str(error.value)


# ----------------------------------------------------------------------------- KL


def test_each_kl_estimator_by_hand(registry):
    logp = torch.tensor([-1.0, -2.0, -0.5, -3.0])
    ref = torch.tensor([-1.0, -1.0, -2.0, -0.1])
    d = -1.0 - -2.0  # ref - logp for element 1
    expected = {"k1": -d, "k2": d * d / 2, "k3": math.exp(d) - d - 1}
    for name, function in (("k1", k1), ("k2", k2), ("k3", k3)):
        built = registry.build("kl_estimator", name)
        assert built is function and isinstance(built, KLEstimator)
        torch.testing.assert_close(built(logp, ref)[1], torch.tensor(expected[name]))
        assert built(logp, ref)[0] == 0  # equal log-probs: no divergence
    assert (k3(logp, ref) >= 0).all()


def test_kl_estimators_take_no_options(registry):
    with pytest.raises(PluginError, match=r"kl_estimator 'k3' rejected its options \['clip'\]: k3\(\) got an unexpected keyword"):
        registry.build("kl_estimator", {"name": "k3", "clip": 10})
    with pytest.raises(PluginError, match="unknown kl_estimator 'k4'.*k1, k2, k3"):
        registry.build("kl_estimator", "k4")


# ----------------------------------------------------------------------------- aggregation


def test_each_aggregation_by_hand(registry):
    per_token = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    expected = {
        "grpo": 3.0,  # mean of sequence means = (2 + 4) / 2
        "bnpo": 2.5,  # token mean = (1+2+3+4)/4
        "dapo": 2.5,
        "dr_grpo": 1.0,  # sum / (B * max_length) = 10 / (2 * 5)
    }
    for name, value in expected.items():
        aggregation = registry.build("aggregation", name)
        assert isinstance(aggregation, LossAggregation)
        assert aggregation(per_token, mask, 5).item() == pytest.approx(value), name
    assert registry.build("aggregation", "grpo") is sequence_mean
    assert registry.build("aggregation", "dapo") is token_mean
    assert registry.build("aggregation", "dr_grpo") is constant_length
    with pytest.raises(PluginError, match="aggregation 'grpo' rejected its options"):
        registry.build("aggregation", {"name": "grpo", "max_length": 5})


# ----------------------------------------------------------------------------- the objective


def _clip():
    return get_registry(autoload=False).build("policy_loss", {"name": "clip", "eps_low": 0.2, "eps_high": 0.2})


def test_grpo_loss_adds_beta_times_kl():
    logp = torch.log(torch.tensor([[1.0, 1.0]]))
    ref = torch.tensor([[-0.5, 0.0]])
    mask = torch.ones(1, 2)
    parts = {"policy_loss": _clip(), "aggregation": sequence_mean, "max_length": 2}
    loss, stats = grpo_loss(logp, logp.clone(), torch.tensor([1.0]), mask, **parts, beta=0.1, kl_estimator=k3, ref_logprobs=ref)
    kl = (math.exp(-0.5) + 0.5 - 1 + 0.0) / 2
    assert stats["kl"].item() == pytest.approx(kl)
    assert loss.item() == pytest.approx(-1.0 + 0.1 * kl)
    assert stats["surrogate"].item() == pytest.approx(-1.0) and stats["clip_fraction"].item() == 0.0
    loss_no_ref, stats = grpo_loss(logp, logp.clone(), torch.tensor([1.0]), mask, **parts, beta=0.1, kl_estimator=k3)
    assert loss_no_ref.item() == pytest.approx(-1.0) and "kl" not in stats
    _, stats = grpo_loss(logp, logp.clone(), torch.tensor([1.0]), mask, **parts, beta=0.0, kl_estimator=k3, ref_logprobs=ref)
    assert "kl" not in stats


def test_grpo_loss_clip_fraction_counts_masked_tokens_only():
    logp = torch.log(torch.tensor([[1.5, 1.0, 1.5]]))  # ratios 1.5, 1.0, 1.5 against old log-probs 0
    mask = torch.tensor([[1, 1, 0]])
    _, stats = grpo_loss(
        logp, torch.zeros(1, 3), torch.tensor([1.0]), mask, policy_loss=_clip(), aggregation=token_mean, max_length=3, beta=0.0,
    )
    assert stats["clip_fraction"].item() == pytest.approx(0.5)  # one of the two counted tokens


# ----------------------------------------------------------------------------- train/inference mismatch


def test_mismatch_statistics_by_hand():
    trainer = torch.tensor([[-1.0, -2.0, -3.0], [-0.5, -0.5, 0.0]])
    sampler = torch.tensor([[-1.5, -2.0, -1.0], [-0.5, -0.25, 0.0]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 0]])  # the third column (diff 2.0) is padding
    stats = mismatch_stats(trainer, sampler, mask, cap=1.5)
    diffs = [0.5, 0.0, 0.0, -0.25]  # log π_trainer − log π_sampler on the counted tokens
    assert stats["logprob_diff_mean"] == pytest.approx(0.1875) and stats["logprob_diff_max"] == pytest.approx(0.5)
    assert stats["ratio_mean"] == pytest.approx(sum(math.exp(d) for d in diffs) / 4)
    assert stats["kl"] == pytest.approx(sum(math.exp(d) - 1 - d for d in diffs) / 4) and stats["kl"] > 0
    assert stats["ratio_over_cap"] == pytest.approx(0.25)  # exp(0.5) = 1.65 > 1.5
    same = mismatch_stats(trainer, trainer.clone(), mask)
    assert same == {"logprob_diff_mean": 0.0, "logprob_diff_max": 0.0, "kl": 0.0, "ratio_mean": 1.0, "ratio_over_cap": 0.0}
    assert mismatch_stats(trainer, sampler, torch.zeros_like(mask))["ratio_mean"] == 1.0


def test_truncated_importance_weights_cap_the_ratio_and_carry_no_gradient():
    trainer = torch.tensor([[0.0, -1.0, -3.0]], requires_grad=True)
    sampler = torch.tensor([[-1.0, -1.0, -1.0]])
    weights = truncated_importance_weights(trainer, sampler, cap=2.0)
    assert torch.allclose(weights, torch.tensor([[2.0, 1.0, math.exp(-2.0)]]))  # e = 2.72 capped at 2
    assert not weights.requires_grad
    with pytest.raises(ValueError, match="positive"):
        truncated_importance_weights(trainer, sampler, cap=0.0)


def test_grpo_loss_weights_the_policy_term_only():
    logp = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    ref = torch.tensor([[-1.5, -2.0]])
    mask = torch.ones(1, 2)
    parts = {"policy_loss": _clip(), "aggregation": token_mean, "max_length": 2, "beta": 0.1, "kl_estimator": k3, "ref_logprobs": ref}
    plain, stats = grpo_loss(logp, logp.detach(), torch.tensor([1.0]), mask, **parts)
    weighted, weighted_stats = grpo_loss(logp, logp.detach(), torch.tensor([1.0]), mask, **parts, token_weights=torch.tensor([[0.5, 2.0]]))
    # the policy term per token is -1 (ratio 1, advantage 1): plain -1, weighted (-0.5 - 2) / 2 = -1.25; KL unchanged
    assert weighted.item() - plain.item() == pytest.approx(-0.25)
    assert weighted_stats["kl"].item() == pytest.approx(stats["kl"].item())
    (grad,) = torch.autograd.grad(weighted, logp)
    (plain_grad,) = torch.autograd.grad(plain, logp)
    assert not torch.allclose(grad, plain_grad)


def test_token_logprobs_and_entropy_match_softmax():
    from r1.algorithms.logprobs import token_entropy, token_logprobs

    logits = torch.tensor([[[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]]])
    tokens = torch.tensor([[0, 2]])
    expected = torch.log_softmax(logits / 0.5, dim=-1).gather(-1, tokens[..., None]).squeeze(-1)
    torch.testing.assert_close(token_logprobs(logits, tokens, temperature=0.5), expected)
    torch.testing.assert_close(token_entropy(logits)[0, 1], torch.tensor(math.log(3)))


def test_the_registry_offers_every_built_in(registry):
    assert registry.names("advantage") == ["grpo", "rloo"]
    assert registry.names("policy_loss") == ["clip"]
    assert registry.names("kl_estimator") == ["k1", "k2", "k3"]
    assert registry.names("aggregation") == ["bnpo", "dapo", "dr_grpo", "grpo"]
    assert {e.provider for kind in ("advantage", "policy_loss", "kl_estimator", "aggregation") for e in registry.entries(kind).values()} == {"r1.algorithms"}
