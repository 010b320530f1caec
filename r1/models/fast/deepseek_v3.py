"""DeepSeek-V3's layers folded into fewer, larger matrices: the maths the fast decoder and scorer share.

Both :mod:`r1.models.fast.deepseek_v3_decoder` (sampling) and :mod:`r1.models.fast.deepseek_v3_scoring`
(training's forward) read a ``DeepseekV3ForCausalLM``'s own weights and compute what
its ``forward`` computes, with fewer ops:

* **Weight-absorbed multi-head latent attention** (:func:`fold_attention`). Keys and
  values are the normalised KV latent and the rotated shared key, one
  ``kv_lora_rank + rope_dim`` vector per token. ``W_uk`` is folded into the query
  projection and ``W_uv`` into the output projection (DeepSeek-V2 §2.1.3), so one
  matmul (:func:`project`) gives every head's latent query, its rotary part and the
  token's own latent and key, and attention is two batched matmuls over the latents.
  The softmax scale is folded in too, and for ``rope_interleave`` models the even/odd
  de-interleaving becomes a permutation of weight rows.
* **Rotary tables** (:func:`rope_table`) with ``rotate_half``'s sign folded into the
  sine, so a rotation is ``x * cos + roll(x, half) * sin``.
* **Routing** (:func:`route`) as ``DeepseekV3TopkRouter`` computes it, taking router
  logits that may come out of a larger fused matmul.

Folding is plain differentiable tensor ops: under ``torch.no_grad`` (decoding) the
folded matrices are constants; with gradients on, the scorer backpropagates through
them into the weights.

Every projection weight is read through :func:`r1.models.fast.adapters.projection_weight`,
so a LoRA projection (peft) folds as its base weight plus the adapter's ``B @ A``;
:func:`foldable` turns down models whose adapters would not fold exactly
(:mod:`r1.models.fast.adapters` lists when).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from r1.models import moe
from r1.models.fast.adapters import folds_exactly, projection_weight

# DeepseekV3TopkRouter's guard against dividing by a zero sum of top-k weights.
TOPK_NORM_EPS = 1e-20


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """transformers' DeepseekV3RMSNorm: normalise in float32, scale in the input dtype."""
    if x.dtype == torch.float32:
        return torch.rms_norm(x, weight.shape, weight, eps)
    return weight * torch.rms_norm(x.float(), weight.shape, None, eps).to(x.dtype)


def mm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x @ weight (+ bias)`` for a folded (in, out) weight."""
    return torch.mm(x, weight) if bias is None else torch.addmm(bias, x, weight)


def activation(module_act):
    """The activation as a bare function: SiLU (DeepSeek's) skips the module call."""
    return torch._C._nn.silu if type(module_act).__name__ == "SiLUActivation" else module_act


def transposed(weight: torch.Tensor) -> torch.Tensor:
    """A weight as an (in, out) view, no copy: ``torch.mm(x, transposed(W))`` is ``F.linear(x, W)`` in one op."""
    return weight.t()


def signed_sin(cos: torch.Tensor, sin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
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
    cos, sin = signed_sin(*model.model.rotary_emb(like.new_zeros(1), ids))  # (1, n, rope_dim)
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
    if moe.recording():  # the module was not called, so its hooks did not see this routing
        moe.observe(gate, logits, experts)
    weights = scores.gather(1, experts)
    if gate.norm_topk_prob:
        weights = weights / (weights.sum(dim=-1, keepdim=True) + TOPK_NORM_EPS)
    return (weights * gate.routed_scaling_factor if gate.routed_scaling_factor != 1.0 else weights), experts


def foldable(model) -> bool:
    """True for an unwrapped ``DeepseekV3ForCausalLM`` with the module layout the folding reads, any LoRA adapters foldable."""
    config = getattr(model, "config", None)
    if getattr(config, "model_type", None) != "deepseek_v3" or not hasattr(model, "model"):
        return False
    if any(type(p).__name__ == "DTensor" for p in model.parameters()):
        return False  # sharded weights: only the model's own forward knows how to gather them
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
    return folds_exactly(model)


@dataclass
class FoldedAttention:
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


def _interleave_order(dim: int) -> torch.Tensor:
    """Row order that turns DeepSeek's interleaved rotary pairs into the split-halves layout."""
    return torch.cat([torch.arange(0, dim, 2), torch.arange(1, dim, 2)])


def fold_attention(layer, config) -> FoldedAttention:
    """One layer's attention folded as the module docstring describes."""
    attn = layer.self_attn
    heads, rank, rope = config.num_attention_heads, config.kv_lora_rank, config.qk_rope_head_dim
    nope, v_dim = config.qk_nope_head_dim, config.v_head_dim
    kv_b = projection_weight(attn.kv_b_proj)
    order = (_interleave_order(rope) if getattr(config, "rope_interleave", False) else torch.arange(rope)).to(kv_b.device)
    # Products of weights are formed in float32 and rounded once to the model's dtype.
    dtype = kv_b.dtype
    w_kv = kv_b.float().view(heads, nope + v_dim, rank)
    w_uk, w_uv = w_kv[:, :nope], w_kv[:, nope:]  # (heads, nope, rank), (heads, v, rank)

    def query_rows(w_q: torch.Tensor) -> torch.Tensor:
        """(heads * (nope + rope), in) -> (heads * (rank + rope), in): absorb W_uk, scale, reorder rope."""
        w_q = w_q.float().view(heads, nope + rope, -1)
        latent = torch.bmm(w_uk.transpose(1, 2), w_q[:, :nope])  # (heads, rank, in)
        rotary = w_q[:, nope:][:, order]
        return (torch.cat([latent, rotary], dim=1) * attn.scaling).reshape(heads * (rank + rope), -1).to(dtype)

    w_kv_a = projection_weight(attn.kv_a_proj_with_mqa)  # (rank + rope, hidden): [latent | rotary key]
    new_token = torch.cat([w_kv_a[:rank], w_kv_a[rank:][order]])
    kv_bias = attn.kv_a_proj_with_mqa.bias
    new_token_bias = None if kv_bias is None else torch.cat([kv_bias[:rank], kv_bias[rank:][order]])
    # out = o_proj(concat_h(ctx_h @ W_uv_h^T)) = concat_h(ctx_h) @ (o_proj_h @ W_uv_h)^T
    w_o = projection_weight(attn.o_proj).float().view(-1, heads, v_dim).transpose(0, 1)  # (heads, hidden, v)
    out = torch.bmm(w_o, w_uv).transpose(0, 1).reshape(w_o.shape[1], heads * rank).to(dtype)
    folded = FoldedAttention(
        norm=layer.input_layernorm.weight, eps=layer.input_layernorm.variance_epsilon,
        project=transposed(new_token), project_bias=new_token_bias,
        latent_norm=attn.kv_a_layernorm.weight, latent_eps=attn.kv_a_layernorm.variance_epsilon,
        out=transposed(out), out_bias=attn.o_proj.bias,
    )
    if attn.q_lora_rank is None:
        folded.project = transposed(torch.cat([query_rows(projection_weight(attn.q_proj)), new_token]))
        if new_token_bias is not None:
            folded.project_bias = torch.cat([new_token_bias.new_zeros(heads * (rank + rope)), new_token_bias])
    else:
        folded.q_a, folded.q_a_bias = transposed(projection_weight(attn.q_a_proj)), attn.q_a_proj.bias
        folded.q_a_norm, folded.q_a_eps = attn.q_a_layernorm.weight, attn.q_a_layernorm.variance_epsilon
        folded.from_q_lora = transposed(query_rows(projection_weight(attn.q_b_proj)))
    return folded


def project(a: FoldedAttention, x: torch.Tensor) -> torch.Tensor:
    """``(tokens, (heads + 1) * (rank + rope))``: every head's latent and rotary query, then the token's latent and rotary key.

    The input norm and the projection(s) only; rotary embedding and the latent's norm come after.
    """
    h = rms_norm(x, a.norm, a.eps)
    if a.from_q_lora is None:
        return mm(h, a.project, a.project_bias)
    q_lora = rms_norm(mm(h, a.q_a, a.q_a_bias), a.q_a_norm, a.q_a_eps)
    return torch.cat([torch.mm(q_lora, a.from_q_lora), mm(h, a.project, a.project_bias)], dim=-1)
