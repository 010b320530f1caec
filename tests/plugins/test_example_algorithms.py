"""A third-party package adds an advantage estimator and a policy loss with no edit to r1.

plugins/r1-example offers ``reinforce_pp_baseline`` (REINFORCE++ with a group baseline)
and ``gspo`` (GSPO's sequence-level importance ratio) through its own entry point. Here
they are chosen with the same overrides a user types, checked against values worked out
by hand, and used by a short GRPO run of the installed package.
"""

from __future__ import annotations

import importlib
import json
import math

import pytest
import torch
from hydra import compose, initialize_config_dir

from r1.algorithms.aggregation import sequence_mean
from r1.errors import PluginError
from r1.paths import conf_dir
from r1.plugins import Registry, create_plugin_manager
from r1.protocols import AdvantageEstimator, PolicyLoss
from tests.conftest import REPO_ROOT, run_cli

CHOOSE = ["phase=grpo", "phase.advantage.name=reinforce_pp_baseline", "~phase.advantage.scale", "phase.policy_loss.name=gspo"]
"""The overrides that pick the plugin's parts; the estimator takes no ``scale``, so it is removed."""


@pytest.fixture
def registry(monkeypatch) -> Registry:
    """r1's registry with the example's algorithm module registered as its entry point would register it."""
    monkeypatch.syspath_prepend(str(REPO_ROOT / "plugins" / "r1-example" / "src"))
    pm = create_plugin_manager(autoload=False)
    pm.register(importlib.import_module("r1_example.algorithms"), name="r1-example-algorithms")
    return Registry(pm)


def _algorithm(registry: Registry, *overrides: str):
    from r1.phases.grpo import build_algorithm, settings_from

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=[*CHOOSE, *overrides])
    return build_algorithm(registry, settings_from(cfg))


def test_the_overrides_build_the_plugin_parts(registry):
    algorithm = _algorithm(registry)
    assert algorithm.names == {"advantage": "reinforce_pp_baseline", "policy_loss": "gspo", "kl_estimator": "k3", "aggregation": "grpo"}
    assert isinstance(algorithm.advantage, AdvantageEstimator) and isinstance(algorithm.policy_loss, PolicyLoss)
    assert registry.entries("advantage")["reinforce_pp_baseline"].provider == "r1-example-algorithms"


def test_an_option_the_estimator_does_not_take_is_one_line_not_ignored(registry):
    from r1.phases.grpo import build_algorithm, settings_from

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["phase=grpo", "phase.advantage.name=reinforce_pp_baseline"])
    with pytest.raises(PluginError, match=r"advantage 'reinforce_pp_baseline' rejected its options \['eps', 'scale'\]") as error:
        build_algorithm(registry, settings_from(cfg))
    assert "\n" not in str(error.value)


def test_reinforce_pp_baseline_by_hand(registry):
    estimator = _algorithm(registry, "phase.advantage.eps=1e-6").advantage
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 3.0, 1.0, 2.0, 2.0])
    # group means 0.5 and 2 -> centred [.5, -.5, -.5, .5, 1, -1, 0, 0];
    # unbiased variance over the whole batch: (4 * 0.25 + 1 + 1) / 7 = 3/7
    centred = torch.tensor([0.5, -0.5, -0.5, 0.5, 1.0, -1.0, 0.0, 0.0])
    torch.testing.assert_close(estimator(rewards, 4), centred / math.sqrt(3 / 7 + 1e-6))
    torch.testing.assert_close(estimator(torch.ones(8), 4), torch.zeros(8))  # all tied: no signal, and no NaN


def test_gspo_clips_one_length_normalised_ratio_per_sequence(registry):
    loss_fn = _algorithm(registry).policy_loss  # eps_low = eps_high = 0.2 from conf/phase/grpo.yaml
    old = torch.zeros(2, 3)
    logp = torch.log(torch.tensor([[1.2, 1.5, 1.0], [0.9, 1.0, 5.0]]))
    mask = torch.tensor([[1, 1, 0], [1, 1, 0]])
    # sequence 0: s = exp((log 1.2 + log 1.5) / 2) = sqrt(1.8) = 1.342 > 1.2; A = +1 -> clipped: -1.2 on every token
    # sequence 1: s = sqrt(0.9 * 1.0) = 0.949 (the padded token's ratio 5 does not count); A = -1 -> inside: +0.949
    loss, clipped = loss_fn(logp, old, torch.tensor([1.0, -1.0]), mask)
    torch.testing.assert_close(loss, torch.tensor([[-1.2] * 3, [math.sqrt(0.9)] * 3]))
    assert clipped.tolist() == [[True] * 3, [False] * 3]


def test_gspo_gradient_is_the_sequence_ratio_spread_over_its_tokens(registry):
    loss_fn = _algorithm(registry).policy_loss
    logp = torch.log(torch.tensor([[1.05, 1.1, 1.0]])).requires_grad_()
    mask = torch.tensor([[1, 1, 0]])
    loss, _ = loss_fn(logp, torch.zeros(1, 3), torch.tensor([1.0]), mask)
    sequence_mean(loss, mask, 3).backward()
    # the loss is -s·A with s = sqrt(1.05 * 1.1) = 1.0747 (inside the clip range), and ds/dlogp_t = s / |y| on each of |y| = 2 tokens
    s = math.sqrt(1.05 * 1.1)
    torch.testing.assert_close(logp.grad, torch.tensor([[-s / 2, -s / 2, 0.0]]))


def test_a_short_grpo_run_uses_the_installed_plugin_algorithms(installed_example, tmp_path):
    result = run_cli(
        "r1.run", *CHOOSE, "phase.advantage.eps=1e-12", "reward=brevity", "phase.init_from=model", "phase.val_prompts=0",
        "phase.prompts_per_step=2", "phase.group_size=4", "phase.max_new_tokens=8", "phase.max_steps=2", "phase.progress_bar=false",
        "phase.log_completions_every=0", "logger=none", f"paths.output_root={tmp_path}", f"paths.run_dir={tmp_path / 'run'}",
        env=installed_example,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["algorithm"] == {"advantage": "reinforce_pp_baseline", "policy_loss": "gspo", "kl_estimator": "k3", "aggregation": "grpo"}
    steps = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    steps = [row for row in steps if "train/loss" in row]
    assert [row["step"] for row in steps] == [1, 2]
    for row in steps:
        assert math.isfinite(row["train/loss"])
        # whitened by the batch's std, the advantages' std is 1 (grpo's per-group scaling gives sqrt(6/7) = 0.93 here)
        assert row["groups/tied_share"] == 1.0 or row["advantage/std"] == pytest.approx(1.0, abs=1e-4), row
