"""Supervised fine-tuning batches: tokenise with the chat template, mask the prompt, pad per batch.

An example is the prompt as the model will see it at inference (the chat
template's generation prompt, exactly what the samplers feed it) followed by the
response and EOS. Only response tokens (and EOS, so the model learns to stop) carry
labels; prompt and padding positions are ``-100``, which cross-entropy ignores.

Prompt and response are tokenised separately, as at inference, so a merge across
the boundary can never give training a token the model would not see when generating.

Tokens are stored flat (one int32 tensor plus offsets) so a 600k-example dataset
costs a few bytes per token, and each batch is padded only to its own longest example.

The order of batches is a pure function of ``(seed, position)``
(:class:`ResumableBatchSampler`), so a run resumed from a checkpoint at any step,
mid-epoch included, sees exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from r1.data.chat import PromptFormat, chat_format, encode_prompts
from r1.seeds import derive_seed

IGNORE_INDEX = -100  # label value cross-entropy skips (torch's default ignore_index)

ENCODE_CHUNK = 4096
"""Examples encoded per tokenizer call: bounds peak memory on large datasets."""

log = logging.getLogger(__name__)


@dataclass
class TokenizedExamples(torch.utils.data.Dataset):
    """Tokenised ``prompt + response + EOS`` examples, stored flat.

    Attributes:
        tokens: ``(total_tokens,)`` int32, every example's ids back to back.
        offsets: ``(N + 1,)`` int64; example ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``.
        prompt_lengths: ``(N,)`` int64, how many leading tokens of each example are prompt.
    """

    tokens: torch.Tensor
    offsets: torch.Tensor
    prompt_lengths: torch.Tensor

    def __len__(self) -> int:
        return self.prompt_lengths.numel()

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        start, end = int(self.offsets[index]), int(self.offsets[index + 1])
        return self.tokens[start:end], int(self.prompt_lengths[index])

    def lengths(self) -> torch.Tensor:
        """``(N,)`` number of tokens in each example."""
        return self.offsets[1:] - self.offsets[:-1]


def tokenize_examples(
    tokenizer,
    prompts: Sequence[str],
    responses: Sequence[str],
    max_length: int,
    prompt_format: PromptFormat | None = None,
    chunk_size: int = ENCODE_CHUNK,
) -> TokenizedExamples:
    """Tokenise prompt/response pairs for SFT.

    Args:
        tokenizer: a transformers tokenizer (fast tokenizers batch-encode in Rust).
        prompts: user messages, without the chat template (it is applied here).
        responses: the target text after each prompt; EOS is appended. When the prompt
            format prefills ``<think>``, a response's own leading ``<think>`` is dropped,
            so the model learns to continue the prompt it will see, not to repeat the tag.
        max_length: tokens per example (``data.max_length``); longer examples lose the end
            of their response (and so their EOS, since the model should not learn to stop
            there); examples whose prompt alone fills ``max_length`` are dropped.
        prompt_format: how a user message becomes the prompt (``prompt`` config group);
            None = the tokenizer's chat template without a system message.
        chunk_size: examples encoded per tokenizer call (bounds peak memory).
    """
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    if tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has no EOS token; set one so the model can learn to stop")
    prompt_format = prompt_format or chat_format(tokenizer)
    texts = prompt_format.render_many(list(prompts))
    targets = [prompt_format.strip_prefill(r) for r in responses] if prompt_format.prefill else list(responses)
    pieces: list[torch.Tensor] = []
    lengths: list[int] = []
    prompt_lengths: list[int] = []
    dropped = 0
    for start in range(0, len(texts), chunk_size):
        prompt_ids = encode_prompts(tokenizer, texts[start : start + chunk_size])
        response_ids = tokenizer(targets[start : start + chunk_size], add_special_tokens=False)["input_ids"]
        for p, r in zip(prompt_ids, response_ids):
            if len(p) >= max_length:
                dropped += 1
                continue
            ids = p + (r + [tokenizer.eos_token_id])[: max_length - len(p)]
            pieces.append(torch.tensor(ids, dtype=torch.int32))
            lengths.append(len(ids))
            prompt_lengths.append(len(p))
    if dropped:
        log.warning("dropped %d examples whose prompt alone has >= %d tokens (max_length)", dropped, max_length)
    offsets = torch.zeros(len(lengths) + 1, dtype=torch.long)
    offsets[1:] = torch.tensor(lengths, dtype=torch.long).cumsum(0)
    tokens = torch.cat(pieces) if pieces else torch.zeros(0, dtype=torch.int32)
    return TokenizedExamples(tokens, offsets, torch.tensor(prompt_lengths, dtype=torch.long))


def collate(examples: Sequence[tuple[torch.Tensor, int]], pad_token_id: int, mask_prompt: bool = True, pad_to_multiple_of: int | None = None) -> dict[str, torch.Tensor]:
    """Right-pad a batch to its longest example and build the labels.

    Labels are aligned with ``input_ids`` (the loss shifts them, as transformers does);
    they are ``-100`` on padding and, when ``mask_prompt``, on the prompt.

    Returns:
        ``input_ids``, ``attention_mask`` and ``labels``, each ``(B, T)`` int64.
    """
    width = max(ids.numel() for ids, _ in examples)
    if pad_to_multiple_of:
        width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
    batch = len(examples)
    input_ids = torch.full((batch, width), pad_token_id, dtype=torch.long)  # (B, T)
    attention_mask = torch.zeros((batch, width), dtype=torch.long)  # (B, T)
    labels = torch.full((batch, width), IGNORE_INDEX, dtype=torch.long)  # (B, T)
    for row, (ids, prompt_length) in enumerate(examples):
        n = ids.numel()
        input_ids[row, :n] = ids
        attention_mask[row, :n] = 1
        first_label = prompt_length if mask_prompt else 0
        labels[row, first_label:n] = ids[first_label:]
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


class Collator:
    """:func:`collate` with its options bound (a class, not a lambda, so DataLoader workers can pickle it)."""

    def __init__(self, pad_token_id: int, mask_prompt: bool = True, pad_to_multiple_of: int | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.mask_prompt = mask_prompt
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, examples: Sequence[tuple[torch.Tensor, int]]) -> dict[str, torch.Tensor]:
        return collate(examples, self.pad_token_id, self.mask_prompt, self.pad_to_multiple_of)


class ResumableBatchSampler(torch.utils.data.Sampler[list[int]]):
    """An endless stream of batches whose order depends only on ``(seed, position)``.

    Epoch ``e`` is a permutation of the examples seeded by ``derive_seed(seed, "sft/epoch", e)``; epochs are
    laid end to end and cut into global batches of ``batch_size * world_size``
    (so no example is dropped at an epoch boundary), and rank ``r`` takes its slice
    of each. ``start_batch`` skips the batches a resumed run has already trained on.

    It has no ``__len__`` on purpose: training length is ``max_steps``, and Lightning
    then treats the loader as one endless epoch instead of restarting it mid-way.
    """

    def __init__(self, num_examples: int, batch_size: int, seed: int = 0, start_batch: int = 0, rank: int = 0, world_size: int = 1) -> None:
        if num_examples <= 0:
            raise ValueError("cannot draw batches from an empty dataset")
        self.num_examples = num_examples
        self.batch_size = batch_size
        self.seed = seed
        self.start_batch = start_batch
        self.rank = rank
        self.world_size = world_size
        self._epoch = -1
        self._order = torch.empty(0, dtype=torch.long)

    def epoch_order(self, epoch: int) -> torch.Tensor:
        """``(N,)`` the permutation of examples used in ``epoch``."""
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(derive_seed(self.seed, "sft/epoch", epoch))
            self._order = torch.randperm(self.num_examples, generator=generator)
            self._epoch = epoch
        return self._order

    def batch(self, index: int) -> list[int]:
        """The example indices of this rank's share of global batch ``index``."""
        first = (index * self.world_size + self.rank) * self.batch_size
        out = []
        for position in range(first, first + self.batch_size):
            epoch, offset = divmod(position, self.num_examples)
            out.append(int(self.epoch_order(epoch)[offset]))
        return out

    def __iter__(self) -> Iterator[list[int]]:
        index = self.start_batch
        while True:
            yield self.batch(index)
            index += 1
