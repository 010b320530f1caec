"""A fused, differentiable DeepSeek-V3 forward that scores sampled completions.

GRPO's training half runs the model twice per step over the P x G completions of a
rollout: the frozen reference without gradients, the policy with its backward. At
rollout sizes on a CPU, transformers' forward spends more time in per-op overhead than
in arithmetic: every module call, every small reshaping op, and each of their backward
nodes. This forward computes the same logits with fewer, larger ops:

* **One token list.** The tokens of each group's prompt (once per group) and the
  completion tokens whose next-token logits are scored (right padding dropped) go
  through the norms, projections and experts as one ``(tokens, hidden)`` matrix.
  transformers' forward would run the prompt once per completion and compute every
  padding position; the prompt-shared path (:mod:`r1.models.fast.shared_prompt`)
  still needs two forwards.
* **Weight-absorbed latent attention.** As in the fast decoder
  (:func:`r1.models.fast.deepseek_v3.fold_attention`), ``W_uk`` is folded into the query
  projection and ``W_uv`` into the output projection, here with gradients flowing
  through the folding into the weights. Every head then attends over the shared
  ``(latent | rotary key)`` entries: two batched matmuls per layer and part, where
  transformers expands keys and values per head and calls the attention kernel.
* **The model's own experts module** for the routed experts (on CPU, r1's sorted
  grouped matmuls, :mod:`r1.models.fast.experts`), and the shared experts' gate and up
  projections as one matmul.

Only attention needs the sequence layout. A prompt token attends causally to its own
prompt (left padding masked out); a completion token attends to its group's prompt and
to its own row's earlier tokens.

The attention scores are materialised, so this path is for CPU batches whose scores
stay under ``SCORES_MAX_ELEMENTS``; on accelerators and for long sequences the model's
forward (with its memory-efficient kernels) runs instead. :func:`usable` also turns it
down for sharded (FSDP) weights, activation checkpointing (nothing here recomputes),
attention dropout while training, rope types whose frequencies depend on the length,
and LoRA adapters that do not fold exactly (LoRA dropout while training among them:
:mod:`r1.models.fast.adapters`). A LoRA projection's weight is its base weight plus the
adapter's ``B @ A``, formed in the graph, so gradients reach the adapter. Logits and
gradients match the model's forward to float rounding
(``tests/unit/test_deepseek_v3_scoring.py``, ``tests/unit/test_lora_fast_paths.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from r1.models import moe
from r1.models.fast.adapters import projection_weight
from r1.models.fast.deepseek_v3 import FoldedAttention, activation, fold_attention, foldable, has_static_rope, project, rms_norm, rope_table, route
from r1.scale import fsdp_units, recomputes_activations

# Largest number of attention scores (all layers share the shape) this path materialises
# per forward: 16 M floats, 64 MiB in float32. A GRPO step of the tiny model needs ~0.3 M.
SCORES_MAX_ELEMENTS = 1 << 24


def supports(model, grad: bool) -> bool:
    """Whether this forward computes what ``model``'s own forward would, here and now."""
    if fsdp_units(model) or not foldable(model) or model.lm_head.weight.device.type != "cpu":
        return False
    if grad and recomputes_activations(model):
        return False
    if model.training and getattr(model.config, "attention_dropout", 0.0):
        return False
    if not has_static_rope(model.config):
        return False
    for layer in model.model.layers:
        mlp = layer.mlp.shared_experts if hasattr(layer.mlp, "experts") else layer.mlp
        if any(getattr(mlp, name).bias is not None for name in ("gate_proj", "up_proj", "down_proj")):
            return False
    return True


def usable(model, grad: bool, prompts: int, prompt_length: int, rows: int, completion_length: int) -> bool:
    """:func:`supports`, and the batch's attention scores fit under ``SCORES_MAX_ELEMENTS``."""
    heads = getattr(model.config, "num_attention_heads", 0)
    inputs = max(completion_length - 1, 0)
    scores = heads * (prompts * prompt_length * prompt_length + rows * inputs * (prompt_length + inputs))
    return scores <= SCORES_MAX_ELEMENTS and supports(model, grad)


class _Layout:
    """Where each token of the flat list sits, and who may attend to whom (no gradients)."""

    def __init__(self, model, prompt_ids, prompt_mask, completion_ids, completion_mask, row_prompt) -> None:
        prompts, prompt_length = prompt_ids.shape
        rows, width = completion_ids.shape
        device, dtype = prompt_ids.device, model.lm_head.weight.dtype
        heads = model.config.num_attention_heads
        self.prompts, self.prompt_length, self.rows, self.inputs = prompts, prompt_length, rows, width - 1
        self.row_prompt = row_prompt
        # Completion token t is an input when token t + 1 is scored (right padding is contiguous).
        self.picked = completion_mask[:, 1:].bool().reshape(-1).nonzero().squeeze(-1)
        self.ids = torch.cat([prompt_ids.reshape(-1), completion_ids[:, :-1].reshape(-1).index_select(0, self.picked)])
        prompt_positions = (prompt_mask.cumsum(dim=1) - 1).clamp(min=0)
        completion_positions = prompt_mask.sum(dim=1).index_select(0, row_prompt)[:, None] + torch.arange(self.inputs, device=device)
        positions = torch.cat([prompt_positions.reshape(-1), completion_positions.reshape(-1).index_select(0, self.picked)])
        table = rope_table(model, int(positions.max()) + 1, model.lm_head.weight)[positions]  # (tokens, 2, 1, rope)
        self.cos, self.sin = table[:, 0], table[:, 1]
        # Additive biases, one row per (position, head) as the queries are laid out. A padding
        # position of a prompt sees itself, so no softmax row is empty (its output is never read).
        real_keys = prompt_mask.bool()
        causal = torch.ones(prompt_length, prompt_length, dtype=torch.bool, device=device).tril()
        eye = torch.eye(prompt_length, dtype=torch.bool, device=device)
        allowed = (causal & real_keys[:, None, :]) | eye  # (prompts, P, P)
        self.prompt_bias = self._bias(allowed, heads, dtype)
        later = torch.ones(self.inputs, self.inputs, dtype=torch.bool, device=device).tril()
        allowed = torch.cat([
            real_keys.index_select(0, row_prompt)[:, None, :].expand(rows, self.inputs, prompt_length),
            later.expand(rows, self.inputs, self.inputs),
        ], dim=-1)  # (rows, inputs, P + inputs)
        self.completion_bias = self._bias(allowed, heads, dtype)

    @staticmethod
    def _bias(allowed: torch.Tensor, heads: int, dtype: torch.dtype) -> torch.Tensor:
        """(batch, queries, keys) booleans -> (batch, queries * heads, keys) of 0 / -inf."""
        batch, queries, keys = allowed.shape
        bias = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill_(~allowed, float("-inf"))
        return bias[:, :, None].expand(batch, queries, heads, keys).reshape(batch, queries * heads, keys)

    def sequences(self, prompt_mask: torch.Tensor) -> torch.Tensor:
        """``(tokens,)`` which sequence each flat token belongs to: prompt ``u`` (its padding -1), then ``U + row``."""
        device = prompt_mask.device
        prompt = torch.arange(self.prompts, device=device).repeat_interleave(self.prompt_length)
        prompt = prompt.masked_fill(~prompt_mask.reshape(-1).bool(), -1)
        rows = self.prompts + torch.div(self.picked, max(self.inputs, 1), rounding_mode="floor")
        return torch.cat([prompt, rows])

    def token_weights(self) -> torch.Tensor:
        """``(tokens,)`` how many completions each flat token serves: a shared prompt's tokens count once per row using it."""
        device = self.row_prompt.device
        uses = torch.bincount(self.row_prompt, minlength=self.prompts)  # (prompts,)
        prompt = uses.repeat_interleave(self.prompt_length)
        return torch.cat([prompt, torch.ones(self.picked.numel(), dtype=uses.dtype, device=device)])

    @property
    def prompt_tokens(self) -> int:
        return self.prompts * self.prompt_length


def completion_logits(model, prompt_ids, prompt_mask, completion_ids, completion_mask, row_prompt) -> torch.Tensor:
    """``(B, C, V)`` logits predicting each completion token (``logits[:, t]`` → ``completion_ids[:, t]``).

    Args:
        prompt_ids, prompt_mask: ``(U, P)`` the distinct left-padded prompts.
        completion_ids, completion_mask: ``(B, C)`` right-padded completions.
        row_prompt: ``(B,)`` which of the U prompts each completion continues.

    Logits at padding positions (``completion_mask == 0``) are zeros: nothing is computed there.
    """
    config = model.config
    heads, rank, rope = config.num_attention_heads, config.kv_lora_rank, config.qk_rope_head_dim
    with torch.no_grad():
        layout = _Layout(model, prompt_ids, prompt_mask, completion_ids, completion_mask, row_prompt)
    x = model.model.embed_tokens(layout.ids)  # (tokens, hidden)
    if moe.recording():  # expert-load counting (r1/models/moe.py): each prompt and each completion is a sequence
        moe.set_flat_sequences(layout.sequences(prompt_mask), layout.token_weights())
    for layer in model.model.layers:
        x = _attention(fold_attention(layer, config), x, layout, heads, rank, rope)
        x = _feed_forward(layer, x)
    if moe.recording():
        moe.set_flat_sequences(None)
    norm = model.model.norm
    h = rms_norm(x, norm.weight, norm.variance_epsilon)
    split = layout.prompt_tokens
    # The last position of a left-padded prompt is real: it predicts completion token 0.
    first = model.lm_head(h[:split].view(layout.prompts, layout.prompt_length, -1)[:, -1])
    rest = model.lm_head(h[split:])
    vocab = rest.shape[-1]
    rest = rest.new_zeros(layout.rows * layout.inputs, vocab).index_copy(0, layout.picked, rest)
    return torch.cat([first.index_select(0, layout.row_prompt)[:, None], rest.view(layout.rows, layout.inputs, vocab)], dim=1)


def _attention(a: FoldedAttention, x: torch.Tensor, layout: _Layout, heads: int, rank: int, rope: int) -> torch.Tensor:
    """x + latent attention(x) over the flat token list (see the module docstring)."""
    tokens, width = x.shape[0], rank + rope
    # rows 0..heads-1: each head's latent query | rotary query; row ``heads``: the token's entry
    latent, rotary = project(a, x).view(tokens, heads + 1, width).split([rank, rope], dim=-1)
    rotary = rotary * layout.cos + rotary.roll(rope // 2, dims=-1) * layout.sin
    entries = torch.cat([latent, rotary], dim=-1)
    entries[:, heads, :rank] = rms_norm(latent[:, heads], a.latent_norm, a.latent_eps)

    split = layout.prompt_tokens
    prompt = entries[:split].view(layout.prompts, layout.prompt_length, heads + 1, width)
    prompt_keys = prompt[:, :, heads]  # (U, P, width)
    context_prompt = _attend(prompt[:, :, :heads], prompt_keys, layout.prompt_bias, rank)
    completion = entries.new_zeros(layout.rows * layout.inputs, heads + 1, width).index_copy(0, layout.picked, entries[split:])
    completion = completion.view(layout.rows, layout.inputs, heads + 1, width)
    keys = torch.cat([prompt_keys.index_select(0, layout.row_prompt), completion[:, :, heads]], dim=1)
    context_completion = _attend(completion[:, :, :heads], keys, layout.completion_bias, rank)
    context = torch.cat([
        context_prompt.reshape(split, heads * rank),
        context_completion.reshape(layout.rows * layout.inputs, heads * rank).index_select(0, layout.picked),
    ])
    if a.out_bias is not None:
        x = x + a.out_bias
    return torch.addmm(x, context, a.out)


def _attend(queries: torch.Tensor, keys: torch.Tensor, bias: torch.Tensor, rank: int) -> torch.Tensor:
    """Softmax attention of ``(batch, positions, heads, width)`` queries over shared ``(batch, keys, width)`` entries.

    The softmax scale is folded into the queries; the values are the entries' latent part.
    """
    batch, positions, heads, width = queries.shape
    scores = torch.baddbmm(bias, queries.reshape(batch, positions * heads, width), keys.transpose(1, 2))
    weights = torch.softmax(scores, dim=-1) if scores.dtype == torch.float32 else torch.softmax(scores, -1, dtype=torch.float32).to(scores.dtype)
    return torch.bmm(weights, keys[..., :rank])  # (batch, positions * heads, rank)


def _feed_forward(layer, x: torch.Tensor) -> torch.Tensor:
    """x + MLP(x), or x + routed experts(x) + shared experts(x)."""
    norm, mlp = layer.post_attention_layernorm, layer.mlp
    h = rms_norm(x, norm.weight, norm.variance_epsilon)
    if not hasattr(mlp, "experts"):
        return x + _mlp(mlp, h)
    weights, experts = route(mlp.gate, h, score_bias=mlp.gate.e_score_correction_bias)
    return x + mlp.experts(h, experts, weights) + _mlp(mlp.shared_experts, h)


def _mlp(mlp, h: torch.Tensor) -> torch.Tensor:
    """A gated MLP with its gate and up projections as one matmul."""
    gate, up = F.linear(h, torch.cat([projection_weight(mlp.gate_proj), projection_weight(mlp.up_proj)])).chunk(2, dim=-1)
    return F.linear(activation(mlp.act_fn)(gate) * up, projection_weight(mlp.down_proj))
