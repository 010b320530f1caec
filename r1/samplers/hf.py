"""The ``hf`` sampler: batched generation with any transformers causal LM and its KV cache.

Rollouts dominate GRPO time, so this loop avoids the work ``model.generate`` does
for generality:

* **Prefill each prompt once.** The prompt batch is encoded (left-padded once) and
  run through the model once; its KV cache is then repeated ``num_samples`` times
  instead of prefilling every copy, and only the last position goes through the LM head.
* **Drop finished rows.** When a sequence stops, its row leaves the batch and the
  cache, so later steps compute only live sequences.
* **A decode step without per-module overhead.** With ``runtime.fast_paths`` on, a
  DeepSeek-V3 model's decode step (the tiny default's included) is a few dozen tensor
  ops over its weights with weight-absorbed latent attention and a preallocated cache
  (:mod:`r1.models.fast`); otherwise the model's own ``forward`` runs
  (:mod:`r1.samplers.decoding`).
* **Little per-token Python.** Sampling is a few tensor ops (temperature, top-p,
  one inverse-CDF draw per row); there are no logits-processor lists or stopping-criteria objects.
* **Inference mode.** Decoding runs under ``torch.inference_mode`` (no version counters
  or view tracking: a tenth off each token step); the returned rollout is copied out of
  it, so training can use its tensors.
* **Log-probs for free.** The log-prob of each sampled token under the sampling
  distribution is recorded, so GRPO's "old" policy needs no extra forward pass when
  it takes one update per rollout.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from r1.data.chat import encode_prompts as chat_encode_prompts
from r1.samplers.decoding import decoder_for
from r1.protocols import Rollout


def encode_prompts(tokenizer, prompts: Sequence[str], device: torch.device | str = "cpu"):
    """Left-padded ``input_ids`` and ``attention_mask`` for rendered prompt texts.

    Special tokens appear exactly once (:func:`r1.data.chat.encode_prompts`): a chat
    template's own BOS is not doubled, and a plain-text prompt gets the tokenizer's.
    """
    encoded = chat_encode_prompts(tokenizer, prompts)
    width = max(len(ids) for ids in encoded)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    input_ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)  # (B, P)
    attention_mask = torch.zeros((len(encoded), width), dtype=torch.long)  # (B, P)
    for row, ids in enumerate(encoded):
        if ids:
            input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention_mask[row, width - len(ids) :] = 1
    return input_ids.to(device), attention_mask.to(device)


def stop_token_ids(tokenizer, stop_strings: Sequence[str], model=None) -> list[int]:
    """EOS, the model's own end tokens, and each stop string that is a single token in this vocabulary.

    A chat model's ``generation_config`` may list several end tokens (Qwen's ``<|im_end|>``
    and ``<|endoftext|>``); a base model may end only at one its tokenizer does not call EOS.
    """
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    config_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update([config_eos] if isinstance(config_eos, int) else list(config_eos or []))
    for text in stop_strings:
        encoded = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(encoded) == 1:
            ids.add(encoded[0])
    return sorted(ids)


def sample_next(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator | None):
    """Sample one token per row; returns ``(tokens, logprobs)`` under the sampling distribution.

    ``temperature == 0`` is greedy decoding (log-prob of the argmax under the raw softmax).
    """
    if temperature <= 0:
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        tokens = logprobs.argmax(dim=-1)
        return tokens, logprobs.gather(-1, tokens[:, None]).squeeze(-1)
    logprobs = torch.log_softmax(logits.float() / temperature, dim=-1)  # (B, V)
    probs = logprobs.exp()
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        outside = sorted_probs.cumsum(dim=-1) - sorted_probs > top_p  # keep the smallest set reaching top_p
        sorted_probs = sorted_probs.masked_fill(outside, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    # Inverse-CDF sampling: one uniform number per row instead of one per vocabulary entry
    # (torch.multinomial's cost at these sizes). searchsorted(right=True) never lands on a
    # zero-probability token: the first index whose running sum exceeds u has p > 0.
    cdf = probs.cumsum(dim=-1)
    u = torch.rand(cdf.shape[0], 1, generator=generator, device=cdf.device, dtype=cdf.dtype) * cdf[:, -1:]
    tokens = torch.searchsorted(cdf, u, right=True).clamp_(max=cdf.shape[-1] - 1).squeeze(-1)
    return tokens, logprobs.gather(-1, tokens[:, None]).squeeze(-1)


class HFSampler:
    """Batched sampling with a transformers model (see the module docstring for what makes it fast).

    Args:
        stop_strings: generation also stops after these (when they are single tokens;
            longer stop strings are matched on the decoded text).
        batch_size: prompts prefilled together; ``None`` = all at once.
    """

    def __init__(self, stop_strings: Sequence[str] = ("</answer>",), batch_size: int | None = None) -> None:
        self.stop_strings = tuple(stop_strings)
        self.batch_size = batch_size

    def update_weights(self, model) -> None:
        """Nothing to do: this sampler generates with the training model itself."""

    def generate(
        self,
        model,
        tokenizer,
        prompts: Sequence[str],
        num_samples: int = 1,
        max_new_tokens: int = 64,
        temperature: float = 1.0,
        top_p: float = 1.0,
        return_logprobs: bool = False,
        seed: int | None = None,
    ) -> Rollout:
        """Sample ``num_samples`` completions for each prompt text."""
        chunk = self.batch_size or len(prompts)
        # Inference mode skips autograd's version counters and view tracking: a tenth off
        # each decode step. Its tensors cannot enter autograd later, so the rollout that
        # training consumes is copied out of it (a few small tensors).
        with torch.inference_mode():
            parts = [
                self._generate(model, tokenizer, prompts[i : i + chunk], num_samples, max_new_tokens, temperature, top_p, return_logprobs, seed)
                for i in range(0, len(prompts), chunk)
            ]
            rollout = parts[0] if len(parts) == 1 else _concat(parts, tokenizer.pad_token_id)
        return rollout.detached_copy()

    def _generate(self, model, tokenizer, prompts, num_samples, max_new_tokens, temperature, top_p, return_logprobs, seed) -> Rollout:
        start = time.perf_counter()
        device = next(model.parameters()).device
        generator = None
        if seed is not None:
            generator = torch.Generator(device=device).manual_seed(seed)
        was_training = model.training
        model.eval()
        prompt_ids, prompt_mask = encode_prompts(tokenizer, prompts, device)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        stops = torch.tensor(stop_token_ids(tokenizer, self.stop_strings, model), device=device)
        text_stops = [s for s in self.stop_strings if len(tokenizer(s, add_special_tokens=False)["input_ids"]) > 1]

        decoder = decoder_for(model)
        logits = decoder.prefill(prompt_ids, prompt_mask, num_samples, max_new_tokens)
        if num_samples > 1:
            prompt_ids = prompt_ids.repeat_interleave(num_samples, dim=0)
            prompt_mask = prompt_mask.repeat_interleave(num_samples, dim=0)
        rows = prompt_ids.shape[0]

        # Step-major buffers: step t's tokens are one contiguous row, cheap to write.
        tokens_out = torch.full((max_new_tokens, rows), pad_id, dtype=torch.long, device=device)
        logprobs_out = torch.zeros((max_new_tokens, rows), dtype=torch.float32, device=device)
        lengths = torch.zeros(rows, dtype=torch.long, device=device)
        stopped = torch.zeros(rows, dtype=torch.bool, device=device)
        live = None  # original row of each row still in the batch; None while all are
        steps = 0
        generated_tokens = 0
        for step in range(max_new_tokens):
            tokens, logprobs = sample_next(logits, temperature, top_p, generator)
            if live is None:
                tokens_out[step] = tokens
                logprobs_out[step] = logprobs
            else:
                tokens_out[step].index_copy_(0, live, tokens)
                logprobs_out[step].index_copy_(0, live, logprobs)
            steps = step + 1
            generated_tokens += tokens.shape[0]
            done = torch.isin(tokens, stops)
            if text_stops:
                recent = tokens_out[max(0, step - 7) : steps].T
                done |= self._text_stop(tokenizer, recent if live is None else recent[live], text_stops)
            if done.any():
                finished = done.nonzero().squeeze(-1) if live is None else live[done]
                stopped[finished] = True
                lengths[finished] = steps
                keep = (~done).nonzero().squeeze(-1)
                if keep.numel() == 0:
                    break
                live = keep if live is None else live[keep]
                tokens = tokens[keep]
                decoder.keep(keep)
            if step == max_new_tokens - 1:
                break
            logits = decoder.step(tokens)
        lengths = torch.where(stopped, lengths, steps)  # a row that never stopped generated at every step

        width = int(lengths.max().item()) if rows else 0
        completion_ids = tokens_out[:width].T.contiguous()  # back to (rows, width)
        completion_mask = (torch.arange(width, device=device)[None, :] < lengths[:, None]).long()
        texts = tokenizer.batch_decode(completion_ids.masked_fill(completion_mask == 0, pad_id), skip_special_tokens=True)
        model.train(was_training)
        seconds = time.perf_counter() - start
        return Rollout(
            prompt_ids=prompt_ids,
            prompt_mask=prompt_mask,
            completion_ids=completion_ids,
            completion_mask=completion_mask,
            texts=texts,
            truncated=~stopped,
            num_samples=num_samples,
            logprobs=logprobs_out[:width].T * completion_mask if return_logprobs else None,
            stats={"generate_s": seconds, "generated_tokens": float(generated_tokens), "tokens_per_s": generated_tokens / max(seconds, 1e-9)},
        )

    @staticmethod
    def _text_stop(tokenizer, recent: torch.Tensor, stop_strings: list[str]) -> torch.Tensor:
        tails = tokenizer.batch_decode(recent[:, -8:], skip_special_tokens=True)
        return torch.tensor([any(t.endswith(s) for s in stop_strings) for t in tails], device=recent.device)


def _concat(parts: list[Rollout], pad_id: int) -> Rollout:
    """Join rollouts of prompt chunks, padding prompts on the left and completions on the right."""

    def pad(tensors: list[torch.Tensor], value, left: bool) -> torch.Tensor:
        width = max(t.shape[1] for t in tensors)
        padded = []
        for t in tensors:
            filler = t.new_full((t.shape[0], width - t.shape[1]), value)
            padded.append(torch.cat([filler, t] if left else [t, filler], dim=1))
        return torch.cat(padded)

    logprobs = pad([p.logprobs for p in parts], 0.0, left=False) if parts[0].logprobs is not None else None
    seconds = sum(p.stats["generate_s"] for p in parts)
    tokens = sum(p.stats["generated_tokens"] for p in parts)
    return Rollout(
        prompt_ids=pad([p.prompt_ids for p in parts], pad_id, left=True),
        prompt_mask=pad([p.prompt_mask for p in parts], 0, left=True),
        completion_ids=pad([p.completion_ids for p in parts], pad_id, left=False),
        completion_mask=pad([p.completion_mask for p in parts], 0, left=False),
        texts=[t for p in parts for t in p.texts],
        truncated=torch.cat([p.truncated for p in parts]),
        num_samples=parts[0].num_samples,
        logprobs=logprobs,
        stats={"generate_s": seconds, "generated_tokens": tokens, "tokens_per_s": tokens / max(seconds, 1e-9)},
    )
