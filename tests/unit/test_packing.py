"""Packed SFT batches (``data.packing``) against padded ones: same loss, same gradients, same routing counts.

Each model family r1 trains (the tiny DeepSeek-V3 MoE, a dense Qwen3, a Llama and a
Qwen3-MoE built from config) runs one batch of examples of different lengths both ways,
in float32. The negative controls show the test can fail: a packed row whose positions do
not restart (transformers then sees one sequence) or whose boundary labels are kept gives
a different loss.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from r1.data.packing import collate_packed, is_packed, pack_rows, packing_honoured
from r1.data.sft import IGNORE_INDEX, collate
from r1.models import build_tiny_dense, build_tiny_moe, load_tiny_tokenizer
from r1.phases.balance import BalanceSettings, ExpertBalance
from r1.phases.distill import DistillLoss
from r1.phases.sft import check_packing, examples_in, routed_loss, sft_loss

LENGTHS = (23, 7, 15, 31, 4, 12)
PROMPT_LENGTHS = (6, 3, 5, 9, 2, 4)
CAPACITY = 40  # several rows, some with a padded tail
VOCAB = 64


@pytest.fixture(scope="module")
def tokenizer():
    return load_tiny_tokenizer()


def examples(vocab: int = VOCAB, seed: int = 0) -> list[tuple[torch.Tensor, int]]:
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randint(4, vocab, (n,), generator=generator, dtype=torch.int32), p) for n, p in zip(LENGTHS, PROMPT_LENGTHS)]


def llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    config._attn_implementation = "sdpa"
    return LlamaForCausalLM(config)


def qwen3_moe():
    from transformers import Qwen3MoeConfig, Qwen3MoeForCausalLM

    torch.manual_seed(0)
    config = Qwen3MoeConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, moe_intermediate_size=16, num_hidden_layers=2,
                            num_attention_heads=4, num_key_value_heads=2, head_dim=8, num_experts=4, num_experts_per_tok=2)
    config._attn_implementation = "sdpa"
    return Qwen3MoeForCausalLM(config)


def build(family: str, tokenizer, attn: str = "sdpa") -> torch.nn.Module:
    special = (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id)
    if family == "deepseek_v3_moe":
        model = build_tiny_moe(VOCAB, *special, hidden_size=64, num_layers=2, n_routed_experts=8, attn_implementation=attn)
    elif family == "qwen3_dense":
        model = build_tiny_dense(VOCAB, *special, hidden_size=48, num_layers=2, head_dim=12, intermediate_size=96, attn_implementation=attn)
    elif family == "llama":
        model = llama()
    else:
        model = qwen3_moe()
    return model.float().train()


FAMILIES = ["deepseek_v3_moe", "qwen3_dense", "llama", "qwen3_moe"]


def loss_and_grads(model: torch.nn.Module, batch: dict[str, torch.Tensor], loss_fn=sft_loss) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss, _ = loss_fn(model, batch)
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


# ----- the collation ----------------------------------------------------------------------------


def test_rows_are_as_few_as_first_fit_needs_and_evenly_filled():
    rows = pack_rows(LENGTHS, CAPACITY)
    assert rows == [[3], [0, 1], [2, 4, 5]]  # first fit needs 3 rows (31+7, 23+15, 12+4: 38 wide); dealt: 31, 30, 31
    assert pack_rows([50, 3], 40) == [[0], [1]]  # a longer example has a row of its own
    assert pack_rows(LENGTHS, 1000) == [list(range(len(LENGTHS)))]
    assert [len(row) for row in pack_rows([38] * 16, 256)] == [6, 5, 5]  # not 6, 6, 4: the batch is 228 wide, not 256
    rng = torch.Generator().manual_seed(0)
    for _ in range(300):
        lengths = torch.randint(1, 60, (int(torch.randint(1, 20, (1,), generator=rng)),), generator=rng).tolist()
        capacity = int(torch.randint(10, 80, (1,), generator=rng))
        rows = pack_rows(lengths, capacity)
        assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
        assert all(sum(lengths[i] for i in row) <= max(capacity, max(lengths)) for row in rows)


@pytest.mark.parametrize("mask_prompt", [True, False])
def test_positions_restart_and_labels_stop_at_each_boundary(mask_prompt):
    batch = collate_packed(examples(), pad_token_id=0, mask_prompt=mask_prompt, capacity=CAPACITY)
    assert is_packed(batch) and "attention_mask" not in batch
    assert batch["input_ids"].shape == (3, 31) and examples_in(batch) == len(LENGTHS)
    for row in range(batch["input_ids"].shape[0]):
        ids, positions, labels = batch["sequence_ids"][row], batch["position_ids"][row], batch["labels"][row]
        for index in ids.unique().tolist():
            where = (ids == index).nonzero().flatten()
            assert torch.equal(positions[where], torch.arange(where.numel()))
            if index < 0:  # padding: positions restart too, nothing labelled
                assert (labels[where] == IGNORE_INDEX).all()
                continue
            first_label = PROMPT_LENGTHS[index] if mask_prompt else 1
            assert (labels[where[:first_label]] == IGNORE_INDEX).all()
            assert torch.equal(labels[where[first_label:]], examples()[index][0][first_label:].long())
    labelled = (batch["labels"] != IGNORE_INDEX).sum()
    padded = collate(examples(), pad_token_id=0, mask_prompt=mask_prompt)
    assert labelled == (padded["labels"][:, 1:] != IGNORE_INDEX).sum()  # the same targets as the padded batch


# ----- the loss ---------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("capacity", [CAPACITY, 1000])
def test_packed_loss_and_gradients_equal_the_padded_ones(family, capacity, tokenizer):
    model = build(family, tokenizer)
    padded_loss, padded_grads = loss_and_grads(model, collate(examples(), 0, mask_prompt=True))
    packed_loss, packed_grads = loss_and_grads(model, collate_packed(examples(), 0, mask_prompt=True, capacity=capacity))
    assert packed_loss.item() == pytest.approx(padded_loss.item(), abs=1e-5)
    assert padded_grads.keys() == packed_grads.keys()
    for name, grad in padded_grads.items():
        torch.testing.assert_close(packed_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("family", ["deepseek_v3_moe", "qwen3_dense"])
def test_the_prompt_unmasked_loss_matches_too(family, tokenizer):
    model = build(family, tokenizer)
    with torch.no_grad():
        padded, _ = sft_loss(model, collate(examples(), 0, mask_prompt=False))
        packed, _ = sft_loss(model, collate_packed(examples(), 0, mask_prompt=False, capacity=1000))
    assert packed.item() == pytest.approx(padded.item(), abs=1e-5)


@pytest.mark.parametrize("family", ["deepseek_v3_moe", "qwen3_dense", "llama"])
def test_the_loss_differs_without_position_restarts_or_boundary_labels(family, tokenizer):
    model = build(family, tokenizer)
    with torch.no_grad():
        padded, _ = sft_loss(model, collate(examples(), 0, mask_prompt=False))
        batch = collate_packed(examples(), 0, mask_prompt=False, capacity=1000)
        continuous = dict(batch, position_ids=torch.arange(batch["input_ids"].shape[1]).expand_as(batch["input_ids"]))
        leaky, _ = sft_loss(model, continuous)  # one long sequence: every example attends to the ones before it
        crossing = dict(batch, labels=torch.where(batch["sequence_ids"] >= 0, batch["input_ids"], IGNORE_INDEX))
        across, _ = sft_loss(model, crossing)  # each example's first token is a target of the previous one
    assert abs(leaky.item() - padded.item()) > 1e-4  # ten times the parity tolerance
    assert abs(across.item() - padded.item()) > 1e-4  # (a random model's losses are all near log(vocab))


def test_eager_attention_honours_the_boundaries_too(tokenizer):
    model = build("qwen3_dense", tokenizer, attn="eager")
    with torch.no_grad():
        padded, _ = sft_loss(model, collate(examples(), 0, mask_prompt=True))
        packed, _ = sft_loss(model, collate_packed(examples(), 0, mask_prompt=True, capacity=CAPACITY))
    assert packed.item() == pytest.approx(padded.item(), abs=1e-5)


def test_distillation_loss_of_a_packed_batch_equals_the_padded_one(tokenizer):
    student, teacher = build("qwen3_dense", tokenizer), build("deepseek_v3_moe", tokenizer).eval().requires_grad_(False)
    loss_fn = DistillLoss(teacher, weight=0.5, temperature=2.0, vocab_size=VOCAB)
    padded_loss, padded_grads = loss_and_grads(student, collate(examples(), 0, mask_prompt=True), loss_fn)
    packed_loss, packed_grads = loss_and_grads(student, collate_packed(examples(), 0, mask_prompt=True, capacity=CAPACITY), loss_fn)
    assert packed_loss.item() == pytest.approx(padded_loss.item(), abs=1e-5)
    for name, grad in padded_grads.items():
        torch.testing.assert_close(packed_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)


# ----- MoE routing counters ---------------------------------------------------------------------


def test_routing_counts_and_balance_loss_see_each_example_as_a_sequence(tokenizer):
    model = build("deepseek_v3_moe", tokenizer)
    results = []
    for batch in (collate(examples(), 0, mask_prompt=True), collate_packed(examples(), 0, mask_prompt=True, capacity=CAPACITY)):
        balance = ExpertBalance(model, BalanceSettings(bias_update_speed=0.0, seq_aux_weight=1.0)).start()
        try:
            routed_loss(sft_loss, model, batch, balance)
            counts = {index: c.clone() for index, c in balance.recorder.counts().items()}
            results.append((counts, balance.loss().item()))
        finally:
            balance.stop()
    (padded_counts, padded_balance), (packed_counts, packed_balance) = results
    for index, counts in padded_counts.items():
        assert int(counts.sum()) == sum(LENGTHS) * 2  # top-2: every real token twice, no padding
        assert torch.equal(packed_counts[index], counts)
    assert packed_balance == pytest.approx(padded_balance, abs=1e-6)
    # one sequence per packed row would give another balance loss: the sequence ids matter
    balance = ExpertBalance(model, BalanceSettings(bias_update_speed=0.0, seq_aux_weight=1.0)).start()
    try:
        batch = collate_packed(examples(), 0, mask_prompt=True, capacity=CAPACITY)
        routed_loss(sft_loss, model, dict(batch, sequence_ids=torch.where(batch["sequence_ids"] >= 0, 0, -1)), balance)
        assert abs(balance.loss().item() - padded_balance) > 1e-6
    finally:
        balance.stop()


# ----- the check before training ----------------------------------------------------------------


class IgnoresPositions(torch.nn.Module):
    """A causal LM whose forward drops ``position_ids``: packed examples would attend to each other."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, input_ids, position_ids=None, **kwargs):
        return self.inner(input_ids=input_ids, **kwargs)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_probe_accepts_the_families_r1_trains(family, tokenizer):
    model = build(family, tokenizer)
    assert packing_honoured(model)
    assert model.training  # the mode is restored


def test_a_model_that_ignores_the_restarts_trains_on_padded_batches(tokenizer, capsys):
    from types import SimpleNamespace

    model = IgnoresPositions(build("qwen3_dense", tokenizer))
    assert not packing_honoured(model)

    @dataclasses.dataclass
    class Data:
        packing: bool

    assert check_packing(Data(packing=True), build("llama", tokenizer), model).packing is False
    assert "training on padded batches instead" in capsys.readouterr().out
    off = Data(packing=False)
    assert check_packing(off, SimpleNamespace()) is off  # nothing is run when packing is off
