"""Padding-free SFT batches (``data.packing``): a batch's examples laid end to end in a few rows.

A padded batch (:func:`r1.data.sft.collate`) is as wide as its longest example, so a
batch mixing a 40-token and a 500-token example spends most of its compute on padding.
A packed batch concatenates the same examples instead:

* **Rows.** Examples go into as few rows of at most ``capacity`` tokens (``data.max_length``)
  as first fit (longest first) needs, dealt so the rows end about equally long
  (:func:`pack_rows`): a row holds several short examples and never more tokens than one
  padded example could.
  One row per batch, as TRL's ``padding_free`` does, would be simpler, but sdpa and eager
  attention build a dense ``(L, L)`` mask and score every pair of the row, so one row of
  ``B * L`` tokens costs ``B`` times the attention of the padded batch; rows of at most
  ``max_length`` keep that cost at or below the padded one while leaving almost no padding
  (only the tail of a row that is shorter than the longest row).
* **Positions.** ``position_ids`` restart at 0 for each example, so rotary embeddings see
  each example exactly as in its own padded row.
* **Attention.** ``attention_mask`` is left out. transformers (5.x) then reads sequence
  boundaries from the position restarts (``masking_utils.find_packed_sequence_indices``) and
  builds a block-diagonal causal mask, so no token attends to another example; with
  flash attention it uses the variable-length kernel from the same positions. Tests
  (``tests/unit/test_packing.py``) check this for DeepSeek-V3, Qwen3, Qwen3-MoE and Llama, and
  :func:`packing_honoured` checks any other model once before training.
* **Labels.** ``-100`` on prompt tokens (``data.mask_prompt``), on padding, and on each
  example's first token, so the last token of one example never learns to predict the
  first token of the next. The loss is the same mean over response tokens as the padded
  batch's, so the two give the same loss and gradients (up to float rounding).
* **Which token is whose.** ``sequence_ids`` (``-1`` on padding) tell the MoE routing
  counters and the sequence-wise balance loss which example each token belongs to
  (:func:`r1.models.moe.set_flat_sequences`); ``lengths`` holds each example's length.

The batch's examples and their order come from the same sampler as the padded path, so
the data order, the resume position and the loss do not depend on ``data.packing``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from r1.data.sft import IGNORE_INDEX

PROBE_TOKENS = (3, 5, 7, 11)
"""Token ids of the probe sequences :func:`packing_honoured` runs (small, so they exist in every vocabulary)."""


def pack_rows(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Indices of the examples each row holds: as few rows of at most ``capacity`` tokens as first fit finds, evenly filled.

    First fit, longest first, gives the number of rows; the examples are then dealt, longest
    first, to the emptiest of that many rows, so the rows end about equally long and the
    batch (as wide as its longest row) carries little padding. Where dealing would make a
    row longer than first fit's longest, first fit's rows are kept. An example longer than
    ``capacity`` gets a row of its own. Within a row the examples keep the batch's order.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    rows: list[list[int]] = []
    free: list[int] = []
    for index in order:
        n = lengths[index]
        for row, room in enumerate(free):
            if n <= room:
                rows[row].append(index)
                free[row] -= n
                break
        else:
            rows.append([index])
            free.append(capacity - n)
    dealt: list[list[int]] = [[] for _ in rows]
    filled = [0] * len(rows)
    for index in order:
        row = min(range(len(rows)), key=lambda r: (filled[r], r))
        dealt[row].append(index)
        filled[row] += lengths[index]
    if max(filled, default=0) <= max((capacity - f for f in free), default=0):  # never wider than first fit's rows
        rows = dealt
    return [sorted(row) for row in rows]


def collate_packed(examples: Sequence[tuple[torch.Tensor, int]], pad_token_id: int, mask_prompt: bool, capacity: int) -> dict[str, torch.Tensor]:
    """Pack a batch of ``(ids, prompt_length)`` examples into rows (see the module docstring).

    Returns:
        ``input_ids``, ``position_ids``, ``labels`` and ``sequence_ids``, each ``(R, L)`` int64
        with ``L`` the longest row, and ``lengths`` ``(B,)``: each example's token count.
        There is no ``attention_mask``: the boundaries are in ``position_ids``.
    """
    lengths = [int(ids.numel()) for ids, _ in examples]
    rows = pack_rows(lengths, capacity)
    width = max(sum(lengths[i] for i in row) for row in rows)
    shape = (len(rows), width)
    input_ids = torch.full(shape, pad_token_id, dtype=torch.long)  # (R, L)
    position_ids = torch.zeros(shape, dtype=torch.long)  # (R, L)
    labels = torch.full(shape, IGNORE_INDEX, dtype=torch.long)  # (R, L)
    sequence_ids = torch.full(shape, -1, dtype=torch.long)  # (R, L)
    for r, row in enumerate(rows):
        start = 0
        for index in row:
            ids, prompt_length = examples[index]
            n = lengths[index]
            end = start + n
            input_ids[r, start:end] = ids
            position_ids[r, start:end] = torch.arange(n)
            sequence_ids[r, start:end] = index
            first_label = max(prompt_length if mask_prompt else 0, 1)  # never the first token: it would be predicted across the boundary
            labels[r, start + first_label : end] = ids[first_label:]
            start = end
        # the row's padding is one more "sequence" (positions from 0) that nothing attends to or from
        position_ids[r, start:] = torch.arange(width - start)
    return {
        "input_ids": input_ids,
        "position_ids": position_ids,
        "labels": labels,
        "sequence_ids": sequence_ids,
        "lengths": torch.tensor(lengths, dtype=torch.long),
    }


class PackingCollator:
    """:func:`collate_packed` with its options bound (a class, so DataLoader workers can pickle it)."""

    def __init__(self, pad_token_id: int, mask_prompt: bool, capacity: int) -> None:
        self.pad_token_id = pad_token_id
        self.mask_prompt = mask_prompt
        self.capacity = capacity

    def __call__(self, examples: Sequence[tuple[torch.Tensor, int]]) -> dict[str, torch.Tensor]:
        return collate_packed(examples, self.pad_token_id, self.mask_prompt, self.capacity)


def is_packed(batch: dict[str, torch.Tensor]) -> bool:
    """Whether ``batch`` came from :func:`collate_packed` (its boundaries are in ``position_ids``)."""
    return "position_ids" in batch and "attention_mask" not in batch


@torch.no_grad()
def packing_honoured(model: torch.nn.Module) -> bool:
    """Whether ``model``'s forward keeps packed examples apart: one packed row gives each example's own logits.

    Two short probe sequences run packed in one row (positions restarting) and each alone;
    a model whose attention ignores the restarts lets the second attend to the first, and
    its logits move by about their own size. Runs in eval mode on the model's device and
    dtype, and restores the training mode.
    """
    parameter = next(model.parameters())
    device = parameter.device
    first = torch.tensor([list(PROBE_TOKENS)], device=device)
    second = torch.tensor([list(reversed(PROBE_TOKENS))[:3]], device=device)
    row = torch.cat([first, second], dim=1)
    positions = torch.cat([torch.arange(first.shape[1]), torch.arange(second.shape[1])]).unsqueeze(0).to(device)
    was_training = model.training
    model.eval()
    try:
        packed = model(input_ids=row, position_ids=positions, use_cache=False).logits.float()
        alone = [model(input_ids=ids, use_cache=False).logits.float() for ids in (first, second)]
    finally:
        model.train(was_training)
    expected = torch.cat(alone, dim=1)
    scale = expected.abs().max().clamp(min=1.0)
    tolerance = 1e-4 if parameter.dtype == torch.float32 else 2e-2
    return bool(((packed - expected).abs().max() / scale) <= tolerance)
