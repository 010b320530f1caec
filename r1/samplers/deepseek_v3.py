"""Fast prefill and one-token decode steps for transformers' ``DeepseekV3ForCausalLM``.

Same weights, same maths as the model's ``forward``, arranged for decoding one
token per row on a CPU, where a step at rollout batch sizes costs per-op overhead
more than arithmetic (see :mod:`r1.samplers.decoding`). At the start of each
``generate`` call the decoder folds the model's weights into a few fused matrices
(cheap: the weights do not change while sampling), so that a token step of the tiny
model is 166 tensor ops where ``forward`` issues 510, plus its module calls:

* **Weight-absorbed multi-head latent attention.** The cache holds only what MLA
  compresses to: the normalised KV latent and the rotated shared key, one
  ``kv_lora_rank + rope_dim`` vector per token, in a buffer allocated once for
  ``prompt + max_new_tokens`` positions. transformers keeps the same latents but
  re-expands the whole cache through ``kv_b_proj`` at every step. Here ``W_uk`` is
  folded into the query projection and ``W_uv`` into the output projection
  (DeepSeek-V2 §2.1.3), so one matmul gives every head's latent query, its rotary
  part and the new token's latent and key, and attention is two small batched
  matmuls over the cache. The softmax scale is folded in too, and for
  ``rope_interleave`` models the even/odd de-interleaving becomes a permutation of
  weight rows.
* **Experts as two matmuls.** When experts are small (the tiny default: 16 of
  width 64), the router, the shared experts and every routed expert's gate/up
  projection are one matmul; the top-k routing weights (zero for experts not
  chosen, one for shared experts) scale the activations, and one matmul applies
  all down projections. Large experts (a real DeepSeek-V3) loop over the experts
  the batch routes to instead, reading the module's weights in place.

Short prompt batches (up to ``FUSED_PREFILL_MAX_TOKENS`` tokens, a GRPO step's
prompts) are prefilled by the same folded layers; longer ones run the model's own
``forward``, whose fixed overhead no longer matters, and its latent cache is copied
into the buffers. Results agree with ``forward`` to float rounding;
``tests/unit/test_decoders.py`` checks each variant step by step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from r1.samplers.decoding import prefill_with_cache

# Run every expert on every row while one token's dense expert work stays below this
# many multiply-adds (16 experts x 3 x 64 x 128 = 0.4 M for the tiny model; a real
# DeepSeek-V3 layer is 256 x 3 x 2048 x 7168 = 11 G, far above).
DENSE_EXPERTS_MAX_MACS = 8_000_000

# Prompt batches up to this many tokens (rows x padded length) are prefilled by the folded
# layers; longer ones by the model's own forward, whose fixed overhead no longer matters.
FUSED_PREFILL_MAX_TOKENS = 256


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """transformers' DeepseekV3RMSNorm: normalise in float32, scale in the input dtype."""
    if x.dtype == torch.float32:
        return torch.rms_norm(x, weight.shape, weight, eps)
    return weight * torch.rms_norm(x.float(), weight.shape, None, eps).to(x.dtype)


def _mm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x @ weight (+ bias)`` for a folded (in, out) weight."""
    return torch.mm(x, weight) if bias is None else torch.addmm(bias, x, weight)


def _activation(module_act):
    """The activation as a bare function: SiLU (DeepSeek's) skips the module call."""
    return torch._C._nn.silu if type(module_act).__name__ == "SiLUActivation" else module_act


def _interleave_order(dim: int) -> torch.Tensor:
    """Row order that turns DeepSeek's interleaved rotary pairs into the split-halves layout."""
    return torch.cat([torch.arange(0, dim, 2), torch.arange(1, dim, 2)])


def _t(weight: torch.Tensor) -> torch.Tensor:
    """A weight as an (in, out) view, no copy: ``torch.mm(x, _t(W))`` is ``F.linear(x, W)`` in one op."""
    return weight.t()


def _signed_sin(cos: torch.Tensor, sin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``sin`` with rotate_half's sign folded in: x*cos + roll(x, half)*sin is the rotation."""
    half = sin.shape[-1] // 2
    return cos, torch.cat([-sin[..., :half], sin[..., half:]], dim=-1)


def has_static_rope(config) -> bool:
    """Whether rotary frequencies are fixed, not dependent on the sequence length seen so far (``dynamic``, ``longrope``)."""
    parameters = getattr(config, "rope_parameters", None) or {}
    return parameters.get("rope_type", "default") not in ("dynamic", "longrope")


def rope_table(model, positions: int, like: torch.Tensor) -> torch.Tensor | None:
    """cos and signed sin for positions 0..n-1 as one (n, 2, 1, rope_dim) table.

    None for rope types whose frequencies depend on the sequence length seen so far
    (``dynamic``, ``longrope``): those are computed per step, as the model does.
    """
    if not has_static_rope(model.config):
        return None
    ids = torch.arange(positions, device=like.device)[None]
    cos, sin = _signed_sin(*model.model.rotary_emb(like.new_zeros(1), ids))  # (1, n, rope_dim)
    return torch.stack([cos[0], sin[0]], dim=1)[:, :, None]


def route(gate, h: torch.Tensor, logits: torch.Tensor | None = None, score_bias: torch.Tensor | None = None):
    """Top-k experts and their weights per row, as DeepseekV3TopkRouter computes them.

    ``logits`` may come precomputed (fused into a larger matmul); ``score_bias`` is the
    router's ``e_score_correction_bias`` (None skips adding zeros).
    """
    if gate.num_group > 1 and gate.topk_group < gate.num_group:
        _, weights, experts = gate(h)  # group-limited routing: the module's own code
        return weights, experts
    if logits is None:
        logits = F.linear(h.float(), gate.weight.float())
    scores = torch.sigmoid(logits)
    choice = scores if score_bias is None else scores + score_bias
    experts = torch.topk(choice, k=gate.top_k, dim=-1, sorted=False)[1]
    weights = scores.gather(1, experts)
    if gate.norm_topk_prob:
        weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20)
    return (weights * gate.routed_scaling_factor if gate.routed_scaling_factor != 1.0 else weights), experts


@dataclass
class _Attention:
    """One layer's attention, folded: see the module docstring. Matrices are stored (in, out)."""

    norm: torch.Tensor  # input_layernorm weight
    eps: float
    project: torch.Tensor  # hidden -> [head_0 (rank | rope), ..., head_n-1, new token (latent | rope)]
    project_bias: torch.Tensor | None
    latent_norm: torch.Tensor  # kv_a_layernorm weight
    latent_eps: float
    out: torch.Tensor  # (heads * rank, hidden): W_uv folded into o_proj
    out_bias: torch.Tensor | None
    q_a: torch.Tensor | None = None  # q_lora models: hidden -> q_lora, its norm, then q_lora -> the query heads
    q_a_bias: torch.Tensor | None = None
    q_a_norm: torch.Tensor | None = None
    q_a_eps: float = 0.0
    from_q_lora: torch.Tensor | None = None


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


def fold_attention(layer, config) -> _Attention:
    """One layer's attention folded as the module docstring describes.

    Plain differentiable tensor ops: under ``torch.no_grad`` (decoding) the folded
    matrices are constants; with gradients on, training's fused forward
    (:mod:`r1.models.deepseek_v3_scoring`) backpropagates through them into the weights.
    """
    attn = layer.self_attn
    heads, rank, rope = config.num_attention_heads, config.kv_lora_rank, config.qk_rope_head_dim
    nope, v_dim = config.qk_nope_head_dim, config.v_head_dim
    device = attn.kv_b_proj.weight.device
    order = (_interleave_order(rope) if getattr(config, "rope_interleave", False) else torch.arange(rope)).to(device)
    # Products of weights are formed in float32 and rounded once to the model's dtype.
    dtype = attn.kv_b_proj.weight.dtype
    w_kv = attn.kv_b_proj.weight.float().view(heads, nope + v_dim, rank)
    w_uk, w_uv = w_kv[:, :nope], w_kv[:, nope:]  # (heads, nope, rank), (heads, v, rank)

    def query_rows(w_q: torch.Tensor) -> torch.Tensor:
        """(heads * (nope + rope), in) -> (heads * (rank + rope), in): absorb W_uk, scale, reorder rope."""
        w_q = w_q.float().view(heads, nope + rope, -1)
        latent = torch.bmm(w_uk.transpose(1, 2), w_q[:, :nope])  # (heads, rank, in)
        rotary = w_q[:, nope:][:, order]
        return (torch.cat([latent, rotary], dim=1) * attn.scaling).reshape(heads * (rank + rope), -1).to(dtype)

    w_kv_a = attn.kv_a_proj_with_mqa.weight  # (rank + rope, hidden): [latent | rotary key]
    new_token = torch.cat([w_kv_a[:rank], w_kv_a[rank:][order]])
    kv_bias = attn.kv_a_proj_with_mqa.bias
    new_token_bias = None if kv_bias is None else torch.cat([kv_bias[:rank], kv_bias[rank:][order]])
    # out = o_proj(concat_h(ctx_h @ W_uv_h^T)) = concat_h(ctx_h) @ (o_proj_h @ W_uv_h)^T
    w_o = attn.o_proj.weight.float().view(-1, heads, v_dim).transpose(0, 1)  # (heads, hidden, v)
    out = torch.bmm(w_o, w_uv).transpose(0, 1).reshape(w_o.shape[1], heads * rank).to(dtype)
    folded = _Attention(
        norm=layer.input_layernorm.weight, eps=layer.input_layernorm.variance_epsilon,
        project=_t(new_token), project_bias=new_token_bias,
        latent_norm=attn.kv_a_layernorm.weight, latent_eps=attn.kv_a_layernorm.variance_epsilon,
        out=_t(out), out_bias=attn.o_proj.bias,
    )
    if attn.q_lora_rank is None:
        folded.project = _t(torch.cat([query_rows(attn.q_proj.weight), new_token]))
        if new_token_bias is not None:
            folded.project_bias = torch.cat([new_token_bias.new_zeros(heads * (rank + rope)), new_token_bias])
    else:
        folded.q_a, folded.q_a_bias = _t(attn.q_a_proj.weight), attn.q_a_proj.bias
        folded.q_a_norm, folded.q_a_eps = attn.q_a_layernorm.weight, attn.q_a_layernorm.variance_epsilon
        folded.from_q_lora = _t(query_rows(attn.q_b_proj.weight))
    return folded


def project(a: _Attention, x: torch.Tensor) -> torch.Tensor:
    """``(tokens, (heads + 1) * (rank + rope))``: every head's latent and rotary query, then the token's latent and rotary key.

    The input norm and the projection(s) only; rotary embedding and the latent's norm come after.
    """
    h = _rms_norm(x, a.norm, a.eps)
    if a.from_q_lora is None:
        return _mm(h, a.project, a.project_bias)
    q_lora = _rms_norm(_mm(h, a.q_a, a.q_a_bias), a.q_a_norm, a.q_a_eps)
    return torch.cat([torch.mm(q_lora, a.from_q_lora), _mm(h, a.project, a.project_bias)], dim=-1)


class DeepseekV3Decoder:
    """Decode state for one batch: folded weights, the latent cache, positions, padding bias."""

    @staticmethod
    def supports(model) -> bool:
        """True for an unwrapped ``DeepseekV3ForCausalLM`` with the module layout this file reads."""
        config = getattr(model, "config", None)
        if getattr(config, "model_type", None) != "deepseek_v3" or not hasattr(model, "model"):
            return False
        if any(type(p).__name__ == "DTensor" for p in model.parameters()):
            return False  # sharded weights: the generic decoder runs the model's own forward
        try:
            for layer in model.model.layers:
                attn = layer.self_attn
                _ = (attn.kv_a_proj_with_mqa.weight, attn.kv_b_proj.weight, attn.o_proj.weight, attn.kv_a_layernorm.weight, attn.scaling)
                _ = (layer.input_layernorm.variance_epsilon, layer.post_attention_layernorm.weight)
                mlp = layer.mlp
                if hasattr(mlp, "experts"):
                    gate = mlp.gate
                    _ = (gate.weight, gate.e_score_correction_bias, gate.num_group, gate.topk_group, gate.top_k, gate.norm_topk_prob, gate.routed_scaling_factor)
                    _ = (mlp.experts.act_fn, mlp.shared_experts.gate_proj.weight, mlp.shared_experts.down_proj.weight)
                    if mlp.experts.gate_up_proj.dim() != 3 or mlp.experts.down_proj.dim() != 3:
                        return False
                else:
                    _ = (mlp.gate_proj.weight, mlp.up_proj.weight, mlp.down_proj.weight, mlp.act_fn)
            _ = (model.model.rotary_emb, model.model.norm.weight, model.model.embed_tokens, model.lm_head.weight)
        except AttributeError:
            return False
        return True

    @torch.no_grad()
    def __init__(self, model) -> None:
        self.model = model
        cfg = model.config
        self.heads, self.rank, self.rope_dim = cfg.num_attention_heads, cfg.kv_lora_rank, cfg.qk_rope_head_dim
        self.nope_dim, self.v_dim = cfg.qk_nope_head_dim, cfg.v_head_dim
        self.interleaved = bool(getattr(cfg, "rope_interleave", False))
        self.layers = [(fold_attention(layer, cfg), self._fold_feed_forward(layer)) for layer in model.model.layers]
        self.lm_head, self.lm_head_bias = _t(model.lm_head.weight), model.lm_head.bias

    # ----- folding the weights (once per batch) --------------------------------------------

    @staticmethod
    def _fold_feed_forward(layer) -> _FeedForward:
        mlp, norm = layer.mlp, layer.post_attention_layernorm
        if not hasattr(mlp, "experts"):
            return _FeedForward(
                norm=norm.weight, eps=norm.variance_epsilon, up=_t(torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight])),
                down=_t(mlp.down_proj.weight), act=_activation(mlp.act_fn), width=mlp.gate_proj.weight.shape[0],
            )
        experts, shared, gate = mlp.experts, mlp.shared_experts, mlp.gate
        count, width, hidden = experts.gate_up_proj.shape[0], experts.gate_up_proj.shape[1] // 2, experts.gate_up_proj.shape[2]
        score_bias = gate.e_score_correction_bias if bool(gate.e_score_correction_bias.any()) else None
        folded = _FeedForward(
            norm=norm.weight, eps=norm.variance_epsilon, up=None, down=None, act=_activation(experts.act_fn),
            width=width, moe=mlp, experts=count, score_bias=score_bias,
        )
        if count * 3 * width * hidden > DENSE_EXPERTS_MAX_MACS or shared.gate_proj.weight.shape[0] % width:
            return folded  # large experts: looped over, in place
        # Shared experts of total width S*width behave as S more experts with routing weight 1.
        # Both matrices are built (out, in) in one buffer each, one strided copy per piece.
        n_shared = shared.gate_proj.weight.shape[0] // width
        folded.router_fused = gate.weight.dtype == torch.float32 == experts.gate_up_proj.dtype
        first = count if folded.router_fused else 0
        n = (count + n_shared) * width
        up = experts.gate_up_proj.new_empty(first + 2 * n, hidden)
        if folded.router_fused:
            up[:count] = gate.weight
        up[first : first + count * width].view(count, width, hidden).copy_(experts.gate_up_proj[:, :width])
        up[first + count * width : first + n] = shared.gate_proj.weight
        up[first + n : first + n + count * width].view(count, width, hidden).copy_(experts.gate_up_proj[:, width:])
        up[first + n + count * width :] = shared.up_proj.weight
        down = experts.down_proj.new_empty(hidden, n)
        down[:, : count * width].view(hidden, count, width).copy_(experts.down_proj.transpose(0, 1))
        down[:, count * width :] = shared.down_proj.weight
        folded.up, folded.down = _t(up), _t(down)
        folded.shared = n_shared
        folded.mixing = torch.cat([up.new_zeros(1, count), up.new_ones(1, n_shared)], dim=1)
        return folded

    # ----- the Decoder protocol ---------------------------------------------------------

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
        return _mm(_rms_norm(last, model.norm.weight, model.norm.variance_epsilon), self.lm_head, self.lm_head_bias), caches

    def _prompt_attention(self, a: _Attention, x, cos, sin, cache, bias, rows, length):
        """x + attention(x) over whole prompts, filling the cache's first ``length`` slots."""
        heads, rank = self.heads, self.rank
        y, new = self._project(a, x, cos, sin, (rows, length))
        cache[:, :length] = new
        keys = cache[:, None, :length]  # (rows, 1, T, width)
        scores = torch.matmul(y[:, :, :heads].transpose(1, 2), keys.transpose(-1, -2)) + bias  # (rows, heads, T, T)
        weights = torch.softmax(scores, dim=-1) if scores.dtype == torch.float32 else torch.softmax(scores, -1, dtype=torch.float32).to(x.dtype)
        context = torch.matmul(weights, keys[..., :rank]).transpose(1, 2).reshape(rows * length, heads * rank)
        return self._output(a, x, context)

    @torch.no_grad()
    def step(self, tokens):
        model = self.model.model
        x = torch.embedding(model.embed_tokens.weight, tokens)  # (rows, hidden)
        if self.rope_table is not None:
            cos_sin = self.rope_table[self.position]  # (rows, 2, 1, rope_dim)
            cos, sin = cos_sin[:, 0], cos_sin[:, 1]
        else:
            cos, sin = _signed_sin(*model.rotary_emb(x, self.position[:, None]))
        slot = self.length
        for cache, (attention, feed_forward) in zip(self.caches, self.layers):
            x = self._attention(attention, x, cos, sin, cache, slot)
            x = self._feed_forward(feed_forward, x)
        self.length += 1
        self.position = self.position + 1
        return _mm(_rms_norm(x, model.norm.weight, model.norm.variance_epsilon), self.lm_head, self.lm_head_bias)

    # ----- one layer ----------------------------------------------------------------------

    def _project(self, a: _Attention, x, cos, sin, lead: tuple[int, ...]):
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
        latent.copy_(_rms_norm(latent, a.latent_norm, a.latent_eps))
        return y, new

    @staticmethod
    def _output(a: _Attention, x, context):
        """x + the output projection (W_uv folded in) of the per-head latent contexts."""
        if a.out_bias is not None:
            x = x + a.out_bias
        return torch.addmm(x, context, a.out)

    def _attention(self, a: _Attention, x, cos, sin, cache, slot):
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
        h = _rms_norm(x, f.norm, f.eps)
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
