"""Scoring completions: the shared-prompt path gives the full-sequence forward's logits and gradients, and the switch picks the path."""

from __future__ import annotations

import pytest
import torch

import r1.models.fast as fast
from r1.data.chat import format_prompt
from r1.models import build_tiny_dense, build_tiny_moe, load_tiny_tokenizer
from r1.models.completion_logits import completion_logits, full_sequence_logits
from r1.models.fast.shared_prompt import can_share_prompts, prompt_groups, shared_prompt_logits
from r1.runtime import forced_fast_paths
from r1.samplers.hf import HFSampler


@pytest.fixture(scope="module")
def tokenizer():
    return load_tiny_tokenizer()


def build(kind: str, tokenizer):
    builder = build_tiny_moe if kind == "moe" else build_tiny_dense
    return builder(len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, seed=4)


def rollout(model, tokenizer, group_size: int = 3):
    # prompts of different lengths, so that the batch has left padding
    prompts = [format_prompt(tokenizer, text) for text in ("12+34", "5678+9", "1+2")]
    return HFSampler().generate(model, tokenizer, prompts, num_samples=group_size, max_new_tokens=9, seed=1)


def tensors(out, rows=None):
    pick = (lambda t: t) if rows is None else (lambda t: t[rows])  # noqa: E731
    return pick(out.prompt_ids), pick(out.prompt_mask), pick(out.completion_ids), pick(out.completion_mask)


def shared_logits(model, prompt_ids, prompt_mask, completion_ids, completion_mask, groups):
    shared = prompt_groups(groups, prompt_ids, prompt_mask)
    assert shared is not None, "the rows must share their group's prompt"
    return shared_prompt_logits(model, prompt_ids, prompt_mask, completion_ids, completion_mask, *shared)


@pytest.mark.parametrize("kind", ["moe", "dense"])
def test_shared_prompt_logits_and_gradients_equal_full_sequences(kind, tokenizer):
    model = build(kind, tokenizer)
    out = rollout(model, tokenizer)
    assert out.prompt_mask.eq(0).any(), "the test needs left padding"
    prompt_ids, prompt_mask, completion_ids, mask = tensors(out)
    groups = torch.arange(completion_ids.shape[0]) // out.num_samples
    results = []
    for scorer in (full_sequence_logits, lambda *t: shared_logits(*t, groups)):
        model.zero_grad()
        logits = scorer(model.train(), prompt_ids, prompt_mask, completion_ids, mask)
        picked = logits.log_softmax(-1).gather(-1, completion_ids[..., None])[..., 0]
        (picked * mask).sum().backward()
        results.append((logits.detach(), [p.grad.clone() for p in model.parameters()]))
    (full, full_grads), (shared, shared_grads) = results
    assert shared.shape == full.shape == (*completion_ids.shape, len(tokenizer))
    real = mask.bool()
    torch.testing.assert_close(shared[real], full[real], atol=1e-5, rtol=1e-5)
    for a, b in zip(shared_grads, full_grads):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_a_subset_of_rows_with_partial_groups(tokenizer):
    """Mini-batches and dropped groups leave partial groups in any order."""
    model = build("moe", tokenizer).eval()
    out = rollout(model, tokenizer)
    rows = torch.tensor([7, 0, 2, 6, 4])
    with torch.no_grad():
        full = full_sequence_logits(model, *tensors(out, rows))
        shared = shared_logits(model, *tensors(out, rows), rows // out.num_samples)
    real = out.completion_mask[rows].bool()
    torch.testing.assert_close(shared[real], full[real], atol=1e-5, rtol=1e-5)


def test_rows_of_a_group_with_different_prompts_share_nothing(tokenizer):
    model = build("dense", tokenizer).eval()
    out = rollout(model, tokenizer)
    prompt_ids, prompt_mask, completion_ids, mask = tensors(out)
    groups = torch.arange(9) // 3
    assert prompt_groups(groups, prompt_ids, prompt_mask) is not None
    prompt_ids = prompt_ids.clone()
    prompt_ids[1, -2] = prompt_ids[1, -2] + 1  # row 1 no longer shares group 0's prompt
    assert prompt_groups(groups, prompt_ids, prompt_mask) is None
    assert prompt_groups(torch.arange(9), *tensors(out)[:2]) is None  # one row per group: nothing to share
    with torch.no_grad(), forced_fast_paths(True):
        got = completion_logits(model, prompt_ids, prompt_mask, completion_ids, mask, groups)
        expected = full_sequence_logits(model, prompt_ids, prompt_mask, completion_ids, mask)
    torch.testing.assert_close(got, expected)


def test_one_token_completions(tokenizer):
    model = build("moe", tokenizer).eval()
    out = rollout(model, tokenizer)
    prompt_ids, prompt_mask, completion_ids, mask = tensors(out)
    with torch.no_grad():
        got = shared_logits(model, prompt_ids, prompt_mask, completion_ids[:, :1], mask[:, :1], torch.arange(9) // 3)
        expected = full_sequence_logits(model, prompt_ids, prompt_mask, completion_ids[:, :1], mask[:, :1])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_no_sharing_when_backward_recomputes_layers(tokenizer):
    model = build("dense", tokenizer)
    assert can_share_prompts(model, grad=True)
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable  # older transformers
    enable()
    assert not can_share_prompts(model, grad=True)
    assert can_share_prompts(model, grad=False)  # a no-grad forward recomputes nothing


def test_the_switch_picks_the_path(tokenizer, monkeypatch):
    """On: a dense model's groups share their prompt. Off: transformers' full-sequence forward, and nothing else runs."""
    model = build("dense", tokenizer).eval()
    out = rollout(model, tokenizer)
    batch = (*tensors(out), torch.arange(9) // 3)
    calls = []
    original = fast.shared_prompt.shared_prompt_logits
    monkeypatch.setattr(fast.shared_prompt, "shared_prompt_logits", lambda *a: calls.append(1) or original(*a))
    with torch.no_grad():
        with forced_fast_paths(True):
            completion_logits(model, *batch)
        assert calls == [1]
        monkeypatch.setattr(fast.shared_prompt, "shared_prompt_logits", lambda *a: pytest.fail("the switch is off"))
        monkeypatch.setattr(fast.deepseek_v3_scoring, "completion_logits", lambda *a: pytest.fail("the switch is off"))
        with forced_fast_paths(False):
            got = completion_logits(model, *batch)
        assert torch.equal(got, full_sequence_logits(model, *batch[:4]))
