"""Fast prefill and one-token decode steps for transformers' ``DeepseekV3ForCausalLM``.

Same weights, same maths as the model's ``forward``, arranged for decoding one
token per row on a CPU, where a step at rollout batch sizes costs per-op overhead
more than arithmetic. At the start of each ``generate`` call the decoder folds the
model's weights into a few fused matrices (:mod:`r1.models.fast.deepseek_v3`; cheap: the
weights do not change while sampling), so that a token step of the tiny model is 166
tensor ops where ``forward`` issues 510, plus its module calls:

* **Latent attention over a preallocated cache.** The cache holds only what MLA
  compresses to, one ``kv_lora_rank + rope_dim`` vector per token, in a buffer
  allocated once for ``prompt + max_new_tokens`` positions. transformers keeps the
  same latents but re-expands the whole cache through ``kv_b_proj`` at every step;
  here the expansion is folded into the projections.
* **Experts as two matmuls.** When experts are small (the tiny default: 16 of
  width 64), the router, the shared experts and every routed expert's gate/up
  projection are one matmul; the top-k routing weights (zero for experts not
  chosen, one for shared experts) scale the activations, and one matmul applies
  all down projections. Large experts (a real DeepSeek-V3) loop over the experts
  the batch routes to instead, reading the module's weights in place.

Short prompt batches (up to ``FUSED_PREFILL_MAX_TOKENS`` tokens, a GRPO step's
prompts) are prefilled by the same folded layers; longer ones run the model's own
``forward``, whose fixed overhead no longer matters, and its latent cache is copied
into the buffers. A LoRA projection folds as its base weight plus the adapter's
``B @ A`` (:mod:`r1.models.fast.adapters`). Results agree with ``forward`` to float
rounding; ``tests/unit/test_decoders.py`` checks each variant step by step,
``tests/unit/test_lora_fast_paths.py`` LoRA policies.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from r1.models.fast.adapters import projection_weight
from r1.models.fast.deepseek_v3 import (
    FoldedAttention,
    activation,
    fold_attention,
    mm,
    project,
    rms_norm,
    rope_table,
    route,
    signed_sin,
    transposed,
)
from r1.models.kv_cache import prefill_with_cache

# Run every expert on every row while one token's dense expert work stays below this
# many multiply-adds (16 experts x 3 x 64 x 128 = 0.4 M for the tiny model; a real
# DeepSeek-V3 layer is 256 x 3 x 2048 x 7168 = 11 G, far above).
DENSE_EXPERTS_MAX_MACS = 8_000_000

# Prompt batches up to this many tokens (rows x padded length) are prefilled by the folded
# layers; longer ones by the model's own forward, whose fixed overhead no longer matters.
FUSED_PREFILL_MAX_TOKENS = 256


@dataclass
class _FeedForward:
    """A dense MLP, or a MoE folded into two matmuls. Matrices are stored (in, out).

    MoE ``up`` columns: [router logits (when fused) | gates of experts 0..E-1, shared... |
    ups in the same order]; ``down`` rows follow the same expert order.
    """

    norm: torch.Tensor  # post_attention_layernorm weight
    eps: float
    up: torch.Tensor | None
    down: torch.Tensor | None
    act: object
    width: int  # intermediate width of one expert (or of the dense MLP)
    moe: object | None = None  # the DeepseekV3MoE module, for routing settings and the large-expert path
    experts: int = 0
    shared: int = 0
    router_fused: bool = False  # router logits come out of ``up`` (float32 models)
    score_bias: torch.Tensor | None = None  # e_score_correction_bias, None when all zero
    mixing: torch.Tensor | None = None  # (1, experts + shared): 0 for routed experts, 1 for shared ones


class DeepseekV3Decoder:
    """Decode state for one batch: folded weights, the latent cache, positions, padding bias.

    For models that :func:`r1.models.fast.deepseek_v3.foldable` accepts; it implements the
    sampler's ``Decoder`` protocol (:mod:`r1.samplers.decoding`).
    """

    # ----- folding the weights (once per batch) ---------------------------------------------------

    @torch.no_grad()
    def __init__(self, model) -> None:
        self.model = model
        cfg = model.config
        self.heads, self.rank, self.rope_dim = cfg.num_attention_heads, cfg.kv_lora_rank, cfg.qk_rope_head_dim
        self.nope_dim, self.v_dim = cfg.qk_nope_head_dim, cfg.v_head_dim
        self.interleaved = bool(getattr(cfg, "rope_interleave", False))
        self.layers = [(fold_attention(layer, cfg), self._fold_feed_forward(layer)) for layer in model.model.layers]
        self.lm_head, self.lm_head_bias = transposed(model.lm_head.weight), model.lm_head.bias

    @staticmethod
    def _fold_feed_forward(layer) -> _FeedForward:
        mlp, norm = layer.mlp, layer.post_attention_layernorm
        if not hasattr(mlp, "experts"):
            gate_proj = projection_weight(mlp.gate_proj)
            return _FeedForward(
                norm=norm.weight, eps=norm.variance_epsilon, up=transposed(torch.cat([gate_proj, projection_weight(mlp.up_proj)])),
                down=transposed(projection_weight(mlp.down_proj)), act=activation(mlp.act_fn), width=gate_proj.shape[0],
            )
        experts, shared, gate = mlp.experts, mlp.shared_experts, mlp.gate
        count, width, hidden = experts.gate_up_proj.shape[0], experts.gate_up_proj.shape[1] // 2, experts.gate_up_proj.shape[2]
        score_bias = gate.e_score_correction_bias if bool(gate.e_score_correction_bias.any()) else None
        folded = _FeedForward(
            norm=norm.weight, eps=norm.variance_epsilon, up=None, down=None, act=activation(experts.act_fn),
            width=width, moe=mlp, experts=count, score_bias=score_bias,
        )
        shared_width = shared.gate_proj.weight.shape[0]
        if count * 3 * width * hidden > DENSE_EXPERTS_MAX_MACS or shared_width % width:
            return folded  # large experts: looped over, in place (the shared experts: their module's own forward)
        # Shared experts of total width S*width behave as S more experts with routing weight 1.
        # Both matrices are built (out, in) in one buffer each, one strided copy per piece.
        n_shared = shared_width // width
        folded.router_fused = gate.weight.dtype == torch.float32 == experts.gate_up_proj.dtype
        first = count if folded.router_fused else 0
        n = (count + n_shared) * width
        up = experts.gate_up_proj.new_empty(first + 2 * n, hidden)
        if folded.router_fused:
            up[:count] = gate.weight
        up[first : first + count * width].view(count, width, hidden).copy_(experts.gate_up_proj[:, :width])
        up[first + count * width : first + n] = projection_weight(shared.gate_proj)
        up[first + n : first + n + count * width].view(count, width, hidden).copy_(experts.gate_up_proj[:, width:])
        up[first + n + count * width :] = projection_weight(shared.up_proj)
        down = experts.down_proj.new_empty(hidden, n)
        down[:, : count * width].view(hidden, count, width).copy_(experts.down_proj.transpose(0, 1))
        down[:, count * width :] = projection_weight(shared.down_proj)
        folded.up, folded.down = transposed(up), transposed(down)
        folded.shared = n_shared
        folded.mixing = torch.cat([up.new_zeros(1, count), up.new_ones(1, n_shared)], dim=1)
        return folded

    # ----- the Decoder protocol -------------------------------------------------------------------

    @torch.no_grad()
    def prefill(self, input_ids, attention_mask, num_samples, max_new_tokens):
        rows, prompt_len = input_ids.shape
        total = prompt_len + max_new_tokens
        like = self.model.lm_head.weight
        position = attention_mask.sum(dim=1)  # the next token's position id (padding does not count)
        self.rope_table = rope_table(self.model, int(position.max()) + max_new_tokens, like)
        small = rows * prompt_len <= FUSED_PREFILL_MAX_TOKENS and all(f.up is not None for _, f in self.layers)
        if small and self.rope_table is not None:
            logits, caches = self._prefill_fused(input_ids, attention_mask, total)
        else:
            logits, caches = self._prefill_with_forward(input_ids, attention_mask, total)
        self.caches = [cache.repeat_interleave(num_samples, dim=0) for cache in caches] if num_samples > 1 else caches
        mask = attention_mask.repeat_interleave(num_samples, dim=0)
        # Additive attention bias: -inf on left padding, 0 on every real or generated token.
        self.bias = like.new_zeros(mask.shape[0], 1, total)
        self.bias[:, 0, :prompt_len].masked_fill_(mask == 0, float("-inf"))
        self.position = position.repeat_interleave(num_samples, dim=0)
        self.length = prompt_len  # slots filled so far, the same for every row
        return logits.repeat_interleave(num_samples, dim=0) if num_samples > 1 else logits

    def keep(self, rows):
        self.caches = [cache[rows] for cache in self.caches]
        self.bias, self.position = self.bias[rows], self.position[rows]

    @torch.no_grad()
    def step(self, tokens):
        model = self.model.model
        x = torch.embedding(model.embed_tokens.weight, tokens)  # (rows, hidden)
        if self.rope_table is not None:
            cos_sin = self.rope_table[self.position]  # (rows, 2, 1, rope_dim)
            cos, sin = cos_sin[:, 0], cos_sin[:, 1]
        else:
            cos, sin = signed_sin(*model.rotary_emb(x, self.position[:, None]))
        slot = self.length
        for cache, (attention, feed_forward) in zip(self.caches, self.layers):
            x = self._attention(attention, x, cos, sin, cache, slot)
            x = self._feed_forward(feed_forward, x)
        self.length += 1
        self.position = self.position + 1
        return mm(rms_norm(x, model.norm.weight, model.norm.variance_epsilon), self.lm_head, self.lm_head_bias)

    # ----- prefilling -----------------------------------------------------------------------------

    def _prefill_with_forward(self, input_ids, attention_mask, total):
        """The model's own forward; its latent cache copied into the buffers."""
        logits, cache = prefill_with_cache(self.model, input_ids, attention_mask)
        caches = []
        for layer in cache.layers:
            buffer = logits.new_zeros(input_ids.shape[0], total, self.rank + self.rope_dim)
            buffer[:, : input_ids.shape[1]] = torch.cat([layer.keys[:, 0], layer.values[:, 0]], dim=-1)
            caches.append(buffer)
        return logits, caches

    def _prefill_fused(self, input_ids, attention_mask, total):
        """Short prompt batches: the same folded layers over every prompt token at once.

        The model's forward costs milliseconds of fixed overhead; a GRPO step's prompts
        (a few rows of a few tokens) need a fraction of that.
        """
        rows, length = input_ids.shape
        model = self.model.model
        positions = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
        cos_sin = self.rope_table[positions]  # (rows, T, 2, 1, rope_dim)
        cos, sin = cos_sin[:, :, 0], cos_sin[:, :, 1]
        # Causal attention to real tokens; a padding position also sees itself, so that no
        # softmax row is empty (its output is never read: padding is masked as a key later).
        causal = torch.ones(length, length, dtype=torch.bool, device=input_ids.device).tril()
        allowed = causal & (attention_mask[:, None, :].bool() | torch.eye(length, dtype=torch.bool, device=input_ids.device))
        bias = torch.zeros(allowed.shape, dtype=self.lm_head.dtype, device=input_ids.device).masked_fill_(~allowed, float("-inf"))[:, None]
        x = torch.embedding(model.embed_tokens.weight, input_ids).view(rows * length, -1)
        caches = []
        for attention, feed_forward in self.layers:
            cache = x.new_zeros(rows, total, self.rank + self.rope_dim)
            x = self._prompt_attention(attention, x, cos, sin, cache, bias, rows, length)
            x = self._feed_forward(feed_forward, x)
            caches.append(cache)
        last = x.view(rows, length, -1)[:, -1]
        return mm(rms_norm(last, model.norm.weight, model.norm.variance_epsilon), self.lm_head, self.lm_head_bias), caches

    def _prompt_attention(self, a: FoldedAttention, x, cos, sin, cache, bias, rows, length):
        """x + attention(x) over whole prompts, filling the cache's first ``length`` slots."""
        heads, rank = self.heads, self.rank
        y, new = self._project(a, x, cos, sin, (rows, length))
        cache[:, :length] = new
        keys = cache[:, None, :length]  # (rows, 1, T, width)
        scores = torch.matmul(y[:, :, :heads].transpose(1, 2), keys.transpose(-1, -2)) + bias  # (rows, heads, T, T)
        weights = torch.softmax(scores, dim=-1) if scores.dtype == torch.float32 else torch.softmax(scores, -1, dtype=torch.float32).to(x.dtype)
        context = torch.matmul(weights, keys[..., :rank]).transpose(1, 2).reshape(rows * length, heads * rank)
        return self._output(a, x, context)

    # ----- one layer ------------------------------------------------------------------------------

    def _project(self, a: FoldedAttention, x, cos, sin, lead: tuple[int, ...]):
        """Every head's latent query and each token's cache entry, from one matmul.

        Returns ``y`` of shape ``(*lead, heads + 1, rank + rope)`` (rows ``0..heads-1``: the
        queries; row ``heads``: the token's entry) and a view of that entry. Rotary
        embedding and the latent's norm are applied in place.
        """
        y = project(a, x).view(*lead, self.heads + 1, self.rank + self.rope_dim)
        rotary = y[..., self.rank :]
        rolled = rotary.roll(self.rope_dim // 2, dims=-1)
        rotary.mul_(cos).addcmul_(rolled, sin)
        new = y[..., self.heads, :]  # normalised latent | rotated key
        latent = new[..., : self.rank]
        latent.copy_(rms_norm(latent, a.latent_norm, a.latent_eps))
        return y, new

    @staticmethod
    def _output(a: FoldedAttention, x, context):
        """x + the output projection (W_uv folded in) of the per-head latent contexts."""
        if a.out_bias is not None:
            x = x + a.out_bias
        return torch.addmm(x, context, a.out)

    def _attention(self, a: FoldedAttention, x, cos, sin, cache, slot):
        """x + attention(x) for one new token per row, writing its cache entry at ``slot``."""
        rows, heads, rank = x.shape[0], self.heads, self.rank
        y, new = self._project(a, x, cos, sin, (rows,))
        cache[:, slot] = new
        keys = cache[:, : slot + 1]  # (rows, T, rank + rope)
        scores = torch.baddbmm(self.bias[..., : slot + 1], y[:, :heads], keys.transpose(1, 2))  # scale folded in
        weights = torch.softmax(scores, dim=-1) if scores.dtype == torch.float32 else torch.softmax(scores, -1, dtype=torch.float32).to(x.dtype)
        context = torch.bmm(weights, keys[..., :rank]).view(rows, heads * rank)
        return self._output(a, x, context)

    def _feed_forward(self, f: _FeedForward, x):
        """x + MLP(x), or x + MoE(x)."""
        h = rms_norm(x, f.norm, f.eps)
        width = f.width
        if f.moe is None:
            gate_up = torch.mm(h, f.up)
            return torch.addmm(x, f.act(gate_up[:, :width]) * gate_up[:, width:], f.down)
        if f.up is None:
            weights, experts = route(f.moe.gate, h, score_bias=f.score_bias)
            return x + self._loop_experts(f.moe.experts, h, weights, experts) + f.moe.shared_experts(h)
        rows, count, total = h.shape[0], f.experts, f.experts + f.shared
        projected = torch.mm(h, f.up)
        first = count if f.router_fused else 0
        weights, experts = route(f.moe.gate, h, projected[:, :count] if f.router_fused else None, f.score_bias)
        n = total * width
        activated = f.act(projected[:, first : first + n]) * projected[:, first + n :]  # (rows, experts * width)
        # Routing weight per expert: 0 if not chosen, 1 for shared experts.
        mixing = f.mixing.repeat(rows, 1).scatter_(1, experts, weights if weights.dtype == h.dtype else weights.to(h.dtype))
        return torch.addmm(x, (activated.view(rows, total, width) * mixing.unsqueeze(-1)).view(rows, n), f.down)

    @staticmethod
    def _loop_experts(module, h, weights, experts):
        """Large experts: one matmul pair per expert the batch routes to."""
        gate_up, down = module.gate_up_proj, module.down_proj  # (E, 2I, H), (E, H, I)
        width = gate_up.shape[1] // 2
        out = torch.zeros_like(h)
        flat = experts.reshape(-1)
        order = flat.argsort()
        token = order // experts.shape[1]
        routed_weights = weights.reshape(-1)[order].to(h.dtype)
        start = 0
        for expert, size in enumerate(torch.bincount(flat, minlength=gate_up.shape[0]).tolist()):
            if size == 0:
                continue
            rows = token[start : start + size]
            projected = F.linear(h[rows], gate_up[expert])
            activated = module.act_fn(projected[:, :width]) * projected[:, width:]
            out.index_add_(0, rows, F.linear(activated, down[expert]) * routed_weights[start : start + size, None])
            start += size
        return out
