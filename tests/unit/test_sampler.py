"""The ``hf`` sampler: what it returns, that its log-probs are the model's, and its sampling rule."""

from __future__ import annotations

import pytest
import torch

from r1.algorithms.logprobs import token_logprobs
from r1.data.chat import format_prompt
from r1.models import build_tiny_moe, load_tiny_tokenizer
from r1.runtime import forced_fast_paths
from r1.samplers.hf import HFSampler, sample_next


@pytest.fixture(scope="module")
def tiny():
    tokenizer = load_tiny_tokenizer()
    model = build_tiny_moe(len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, seed=3).eval()
    prompts = [format_prompt(tokenizer, text) for text in ("12+34", "567+8", "9+10")]
    return model, tokenizer, prompts


def test_rollout_shapes_grouping_and_masks(tiny):
    model, tokenizer, prompts = tiny
    out = HFSampler().generate(model, tokenizer, prompts, num_samples=4, max_new_tokens=12, return_logprobs=True, seed=0)
    assert out.completion_ids.shape[0] == out.prompt_ids.shape[0] == 12 and out.num_samples == 4
    # rows i*G .. i*G+G-1 share prompt i
    for i in range(3):
        block = out.prompt_ids[i * 4 : i * 4 + 4]
        assert (block == block[0]).all()
    lengths = out.completion_lengths
    assert ((lengths >= 1) & (lengths <= 12)).all()
    stop_ids = {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("</answer>")}
    for row in range(12):
        n = int(lengths[row])
        last = int(out.completion_ids[row, n - 1])
        assert (last in stop_ids) != bool(out.truncated[row])  # stopped on a stop token, or ran out of budget
        assert not set(out.completion_ids[row, : n - 1].tolist()) & stop_ids
        assert (out.completion_ids[row, n:] == tokenizer.pad_token_id).all()
    assert (out.logprobs[out.completion_mask == 0] == 0).all()
    assert out.stats["generated_tokens"] == float(lengths.sum())


def test_rollouts_sampled_in_inference_mode_can_enter_autograd(tiny):
    """The sampler decodes under torch.inference_mode; training then embeds and gathers with the rollout's tensors."""
    model, tokenizer, prompts = tiny
    out = HFSampler().generate(model, tokenizer, prompts, num_samples=2, max_new_tokens=6, return_logprobs=True, seed=0)
    for name in ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask", "truncated", "logprobs"):
        assert not getattr(out, name).is_inference(), name
    model.zero_grad()
    logits = model(input_ids=torch.cat([out.prompt_ids, out.completion_ids], dim=1)).logits
    token_logprobs(logits[:, -out.completion_ids.shape[1] :], out.completion_ids).sum().backward()  # saves the ids for backward
    assert model.lm_head.weight.grad is not None


@pytest.mark.parametrize("fast_paths", [True, False], ids=["fast-paths", "transformers-forward"])
def test_recorded_logprobs_are_the_models_own(tiny, fast_paths):
    """GRPO uses them as the old policy's log-probs: they must equal a training forward's."""
    model, tokenizer, prompts = tiny
    with forced_fast_paths(fast_paths):
        out = HFSampler().generate(model, tokenizer, prompts, num_samples=3, max_new_tokens=10, temperature=0.8, return_logprobs=True, seed=5)
    ids = torch.cat([out.prompt_ids, out.completion_ids], dim=1)
    attention = torch.cat([out.prompt_mask, out.completion_mask], dim=1)
    positions = (attention.cumsum(dim=1) - 1).clamp(min=0)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=attention, position_ids=positions).logits
    width = out.prompt_ids.shape[1]
    expected = token_logprobs(logits[:, width - 1 : -1], out.completion_ids, temperature=0.8) * out.completion_mask
    torch.testing.assert_close(out.logprobs, expected, atol=2e-4, rtol=0)


def test_fast_and_generic_decoding_agree_greedily(tiny):
    model, tokenizer, prompts = tiny
    with forced_fast_paths(True):
        fast = HFSampler().generate(model, tokenizer, prompts, max_new_tokens=16, temperature=0.0)
    with forced_fast_paths(False):
        generic = HFSampler().generate(model, tokenizer, prompts, max_new_tokens=16, temperature=0.0)
    assert fast.texts == generic.texts
    assert torch.equal(fast.completion_ids, generic.completion_ids)


def test_same_seed_same_samples(tiny):
    model, tokenizer, prompts = tiny
    sampler = HFSampler()
    a = sampler.generate(model, tokenizer, prompts, num_samples=2, max_new_tokens=8, seed=11)
    b = sampler.generate(model, tokenizer, prompts, num_samples=2, max_new_tokens=8, seed=11)
    c = sampler.generate(model, tokenizer, prompts, num_samples=2, max_new_tokens=8, seed=12)
    assert a.texts == b.texts and a.texts != c.texts


def test_sample_next_draws_from_the_tempered_distribution():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, -30.0]]).repeat(40_000, 1)
    generator = torch.Generator().manual_seed(0)
    tokens, logprobs = sample_next(logits, temperature=1.5, top_p=1.0, generator=generator)
    expected = torch.softmax(logits[0] / 1.5, dim=-1)
    frequencies = torch.bincount(tokens, minlength=5).float() / tokens.numel()
    torch.testing.assert_close(frequencies, expected, atol=0.01, rtol=0)
    torch.testing.assert_close(logprobs, expected.log()[tokens])


def test_top_p_never_draws_outside_the_nucleus_and_greedy_is_argmax():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).repeat(20_000, 1)
    tokens, _ = sample_next(logits, temperature=1.0, top_p=0.7, generator=torch.Generator().manual_seed(1))
    assert set(tokens.tolist()) == {0, 1}  # 0.5 + 0.3 reaches 0.7; 0.15 and 0.05 are cut
    greedy, logprob = sample_next(torch.tensor([[0.1, 3.0, -1.0]]), temperature=0.0, top_p=1.0, generator=None)
    assert greedy.tolist() == [1] and logprob.item() == pytest.approx(torch.log_softmax(torch.tensor([0.1, 3.0, -1.0]), -1)[1].item())


def test_a_multi_token_stop_string_ends_the_completion_right_after_it(tiny):
    model, tokenizer, prompts = tiny
    free = HFSampler().generate(model, tokenizer, prompts[:1], max_new_tokens=24, temperature=0.0)
    text = free.texts[0]
    # a two-token piece from the middle of the greedy text (byte-level: two characters)
    stop = next(
        text[i : i + 2] for i in range(4, len(text) - 2)
        if len(tokenizer(text[i : i + 2], add_special_tokens=False)["input_ids"]) == 2 and text[i : i + 2] not in text[: i + 1]
    )
    cut = HFSampler(stop_strings=("</answer>", stop)).generate(model, tokenizer, prompts[:1], max_new_tokens=24, temperature=0.0)
    assert cut.texts[0] == text[: text.index(stop) + 2]
    assert not cut.truncated[0]
