"""MoE balance: the router-bias update, the balance losses, load counting in every forward path, DDP and resume."""

from __future__ import annotations

import os

import pytest
import torch

from r1.models import build_tiny_moe, moe
from r1.models.tokenizer import load_tiny_tokenizer
from r1.models.completion_logits import completion_logits, full_sequence_logits
from r1.phases.balance import BalanceSettings, ExpertBalance
from r1.phases.grpo import scored_inputs
from r1.runtime import forced_fast_paths
from tests.unit.test_decoders import VOCAB, deepseek, prompts


def tiny_moe(seed: int = 0):
    from r1.models import build_tiny_moe

    return build_tiny_moe(
        hidden_size=32, num_layers=3, num_heads=2, dense_intermediate_size=48, expert_intermediate_size=16, n_routed_experts=8,
        n_shared_experts=1, experts_per_token=2, first_dense_layers=1, kv_lora_rank=16, q_lora_rank=None, rope_head_dim=8,
        nope_head_dim=8, v_head_dim=8, max_position_embeddings=64, routed_scaling_factor=1.0, seed=seed,
        vocab_size=128, pad_token_id=0, bos_token_id=1, eos_token_id=2,
    )


def test_the_bias_step_moves_against_the_load():
    step = moe.bias_step(torch.tensor([10, 0, 5, 5]), speed=0.01)
    assert step.tolist() == pytest.approx([-0.01, 0.01, 0.0, 0.0])


def test_the_bias_changes_which_experts_are_chosen_but_not_their_gating_weights():
    torch.manual_seed(0)
    model = tiny_moe()
    (_, router), *_ = moe.routers(model)
    hidden = torch.randn(5, router.weight.shape[1])
    logits, weights, chosen = router(hidden)
    favourite = int(chosen[0, 0]) ^ 1 if int(chosen[0, 0]) ^ 1 not in chosen[0].tolist() else next(e for e in range(8) if e not in chosen[0].tolist())
    with torch.no_grad():
        router.e_score_correction_bias[favourite] = 10.0
    _, biased_weights, biased_chosen = router(hidden)
    assert (biased_chosen == favourite).any(dim=-1).all()  # every token now picks the favoured expert
    scores = torch.sigmoid(logits)
    expected = scores.gather(1, biased_chosen)
    expected = expected / expected.sum(dim=-1, keepdim=True)
    assert torch.allclose(biased_weights, expected * router.routed_scaling_factor)  # weights from the scores alone


def test_the_recorder_counts_routed_tokens_of_training_forwards_without_padding():
    model = tiny_moe()
    ids = torch.randint(3, 100, (2, 6))
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]])
    with moe.RoutingRecorder(model, grad_only=True) as recorder:
        with torch.no_grad():
            model(input_ids=ids, attention_mask=mask)  # a sampler's or validation's forward: not counted
        assert all(int(c.sum()) == 0 for c in recorder.counts().values())
        recorder.token_mask = mask
        model(input_ids=ids, attention_mask=mask)
    assert sorted(recorder.counts()) == [1, 2]
    assert all(int(c.sum()) == 10 * 2 for c in recorder.counts().values())  # 10 real tokens x top-2
    assert not any(layer._forward_hooks for _, layer in moe.routers(model))  # closed: hooks removed


@pytest.mark.parametrize("fast", [True, False], ids=["fused-scoring", "model-forward"])
def test_both_scoring_paths_count_the_same_load_and_match_with_a_nonzero_bias(fast):
    model = deepseek()
    assert any(bool(r.e_score_correction_bias.abs().sum()) for _, r in moe.routers(model))
    prompt_ids, prompt_mask = prompts()
    prompt_ids, prompt_mask = prompt_ids.repeat_interleave(2, 0), prompt_mask.repeat_interleave(2, 0)  # two completions a prompt
    completion_ids = torch.randint(1, VOCAB, (prompt_ids.shape[0], 4))
    completion_mask = torch.ones_like(completion_ids)
    groups = torch.arange(prompt_ids.shape[0]) // 2
    with forced_fast_paths(fast), moe.RoutingRecorder(model, grad_only=True) as recorder:
        recorder.token_mask = scored_inputs(prompt_mask, completion_mask)  # as GRPO's update sets it
        logits = completion_logits(model, prompt_ids, prompt_mask, completion_ids, completion_mask, groups)
    expected = full_sequence_logits(model, prompt_ids, prompt_mask, completion_ids, completion_mask)
    assert torch.allclose(logits, expected, atol=1e-5)
    # The fused path routes each shared prompt once but counts it for both completions, as the plain path does, and
    # routes every completion token but the last (nothing reads its output), which the plain path routes but the mask leaves out.
    routed = int(prompt_mask.sum()) + int(completion_mask.sum()) - completion_ids.shape[0]
    top_k = moe.routers(model)[0][1].top_k
    assert all(int(c.sum()) == routed * top_k for c in recorder.counts().values())


def test_the_sequence_balance_loss_is_one_when_balanced_and_trains_the_router():
    even = torch.full((4, 4), 0.5)
    balanced = torch.tensor([[0, 1], [2, 3], [0, 1], [2, 3]])
    assert float(moe.sequence_balance_loss(even, balanced, None, top_k=2)) == pytest.approx(1.0)
    # Affinities and choices both on experts 0 and 1: f = (2, 2, 0, 0), P = (.45, .45, .05, .05), sum f P = 1.8.
    scores = torch.tensor([[0.9, 0.9, 0.1, 0.1]] * 4, requires_grad=True)
    skewed = torch.tensor([[0, 1]] * 4)
    loss = moe.sequence_balance_loss(scores, skewed, torch.tensor([0, 0, 1, -1]), top_k=2)
    assert float(loss.detach()) == pytest.approx(1.8)
    loss.backward()
    assert scores.grad is not None and scores.grad[3].abs().sum() == 0  # padding takes no part


def test_expert_balance_updates_the_bias_after_a_step_and_adds_its_loss():
    model = tiny_moe()
    balance = ExpertBalance(model, BalanceSettings(bias_update_speed=0.01, seq_aux_weight=1e-4)).start()
    ids = torch.randint(3, 100, (3, 8))
    balance.set_token_mask(torch.ones_like(ids))
    out = model(input_ids=ids).logits.sum()
    extra = balance.loss()
    assert extra is not None and extra.requires_grad and 0 < float(extra.detach()) < 1e-3
    (out + extra).backward()
    counts = {i: c.clone() for i, c in balance.recorder.counts().items()}
    balance.on_before_optimizer_step(_Trainer(), None, None)
    for index, router in balance.biased.items():
        assert torch.equal(router.e_score_correction_bias, moe.bias_step(counts[index], 0.01))
    metrics = balance.report()
    assert metrics["moe/layer1/max_mean"] >= 1.0 and "moe/layer2/bias_range" in metrics
    assert all(int(c.sum()) == 0 for c in balance.recorder.counts().values()) and balance.report() == {}
    balance.stop()


def test_the_bias_is_in_the_checkpoint_and_survives_a_reload(tmp_path):
    model = tiny_moe()
    for _, router in moe.routers(model):
        router.e_score_correction_bias.copy_(torch.linspace(-0.1, 0.1, router.e_score_correction_bias.numel()))
    model.save_pretrained(tmp_path)
    from transformers import AutoModelForCausalLM

    again = AutoModelForCausalLM.from_pretrained(tmp_path)
    for (_, a), (_, b) in zip(moe.routers(model), moe.routers(again)):
        assert torch.equal(a.e_score_correction_bias, b.e_score_correction_bias)
    state = model.state_dict()
    assert any(key.endswith("e_score_correction_bias") for key in state)  # what Lightning checkpoints hold


def test_qwen3_moe_gets_its_router_aux_loss_when_its_config_asks():
    from transformers import Qwen3MoeConfig, Qwen3MoeForCausalLM

    config = Qwen3MoeConfig(
        vocab_size=128, hidden_size=32, intermediate_size=48, moe_intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, num_experts=4, num_experts_per_tok=2, output_router_logits=True, router_aux_loss_coef=0.01,
    )
    model = Qwen3MoeForCausalLM(config)
    balance = ExpertBalance(model, BalanceSettings(bias_update_speed=0.001, seq_aux_weight=1e-4)).start()
    assert not balance.biased and balance.router_aux_weight == 0.01
    ids = torch.randint(0, 128, (2, 5))
    balance.set_token_mask(torch.ones_like(ids))
    out = model(input_ids=ids, labels=ids)
    ours = balance.loss()
    # transformers' own: the loss with labels adds coef * aux_loss (averaged over layers it is the same quantity)
    assert ours is not None and float(ours.detach()) == pytest.approx(0.01 * float(out.aux_loss.detach()), rel=0.2)
    balance.stop()


class _Strategy:
    def reduce(self, tensor, reduce_op="sum"):
        import torch.distributed as dist

        if dist.is_initialized():
            dist.all_reduce(tensor)
        return tensor


class _Trainer:
    def __init__(self, world_size: int = 1) -> None:
        self.world_size, self.strategy = world_size, _Strategy()


def _rank_applies_the_summed_counts(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    model = tiny_moe()
    balance = ExpertBalance(model, BalanceSettings(bias_update_speed=0.5, seq_aux_weight=0.0)).start()
    for index, counts in balance.recorder.counts().items():  # rank 0 loads expert 0, rank 1 expert 1, a little more
        counts[rank] += 10 + rank
    balance.on_before_optimizer_step(_Trainer(world), None, None)
    torch.save({i: r.e_score_correction_bias for i, r in balance.biased.items()}, f"{out}/{rank}.pt")
    dist.barrier()  # leave together: tearing gloo down under a peer still using it aborts the peer
    dist.destroy_process_group()


def test_under_ddp_every_rank_applies_the_same_bias_from_the_summed_counts(tmp_path):
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    mp.spawn(_rank_applies_the_summed_counts, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    a, b = torch.load(tmp_path / "0.pt"), torch.load(tmp_path / "1.pt")
    summed = torch.zeros(8, dtype=torch.long)
    summed[0], summed[1] = 10, 11
    for index in a:
        assert torch.equal(a[index], b[index]) and torch.equal(a[index], moe.bias_step(summed, 0.5))


def test_activation_checkpointing_neither_counts_a_recomputed_forward_again_nor_changes_the_balance_gradient():
    import copy

    from r1.models.trainable import prepare_for_training

    tokenizer = load_tiny_tokenizer()
    model = build_tiny_moe(len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, seed=0)
    ids = tokenizer(["1+2=3", "7*3=21"], return_tensors="pt", padding=True)
    seen = []
    for checkpointing in (False, True):
        trained = prepare_for_training(copy.deepcopy(model), {"gradient_checkpointing": checkpointing}).train()
        recorder = moe.RoutingRecorder(trained, grad_only=True, keep_scores=True)
        with recorder:
            output = trained(**ids, labels=ids["input_ids"], use_cache=False)
            (output.loss + 0.1 * moe.recorded_balance_loss(recorder)).backward()  # backward recomputes each checkpointed layer
        counts = {index: c.clone() for index, c in recorder.counts().items()}
        seen.append((counts, {i: len(layer.scores) for i, layer in recorder.layers.items()}, [p.grad.clone() for p in trained.parameters() if p.grad is not None]))
    (plain_counts, plain_scores, plain_grads), (counts, scores, grads) = seen
    assert all(torch.equal(plain_counts[i], counts[i]) for i in plain_counts) and scores == plain_scores
    for plain, checkpointed in zip(plain_grads, grads, strict=True):
        torch.testing.assert_close(checkpointed, plain, rtol=1e-5, atol=1e-7)
