"""SFT data: loading any source, tokenising with the template, masking the prompt, resumable order."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from r1.data.chat import format_prompt
from r1.data.datasets import (
    load_eval_samples,
    load_source,
    load_training_data,
    mixture_counts,
    read_table,
    select_fields,
)
from r1.data.sft import (
    IGNORE_INDEX,
    ResumableBatchSampler,
    collate,
    prompt_texts,
    tokenize_examples,
)
from r1.errors import DataError
from r1.models import load_tiny_tokenizer
from r1.phases.sft import token_cross_entropy, warmup_schedule
from r1.tasks.arithmetic import ArithmeticTask

MAX_LENGTH = 512
"""``data.max_length`` of the shipped config: room for every example below."""


@pytest.fixture(scope="module")
def tokenizer():
    return load_tiny_tokenizer()


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


ROWS = [{"question": f"{i}+1", "solution": f"<think>{i}+1</think><answer>{i + 1}</answer>", "gold": i + 1} for i in range(10)]
FIELDS = {"prompt_field": "question", "response_field": "solution", "answer_field": "gold"}


# ----------------------------------------------------------------------------- tokenisation and masking


def test_examples_are_the_inference_prompt_then_the_response_and_eos(tokenizer):
    examples = tokenize_examples(tokenizer, ["12+34"], ["<think>2+4+0=6 1+3+0=4</think><answer>46</answer>"], MAX_LENGTH)
    ids, prompt_length = examples[0]
    prompt_ids = tokenizer(format_prompt(tokenizer, "12+34"), add_special_tokens=False)["input_ids"]
    response_ids = tokenizer("<think>2+4+0=6 1+3+0=4</think><answer>46</answer>", add_special_tokens=False)["input_ids"]
    assert ids.tolist() == prompt_ids + response_ids + [tokenizer.eos_token_id]
    assert prompt_length == len(prompt_ids)
    # the prompt is exactly what the chat template gives at generation time
    assert tokenizer.decode(ids[:prompt_length]) == tokenizer.apply_chat_template([{"role": "user", "content": "12+34"}], tokenize=False, add_generation_prompt=True)


def test_labels_are_masked_exactly_on_prompt_and_padding(tokenizer):
    examples = tokenize_examples(tokenizer, ["1+2", "123+456"], ["<answer>3</answer>", "<think>long</think><answer>579</answer>"], MAX_LENGTH)
    batch = collate([examples[0], examples[1]], pad_token_id=tokenizer.pad_token_id)
    assert batch["input_ids"].shape == batch["labels"].shape == (2, max(len(examples[0][0]), len(examples[1][0])))
    for row in range(2):
        ids, prompt_length = examples[row]
        n = ids.numel()
        labels = batch["labels"][row]
        assert (labels[:prompt_length] == IGNORE_INDEX).all()
        assert labels[prompt_length:n].tolist() == ids[prompt_length:].tolist()  # response + EOS carry labels
        assert (labels[n:] == IGNORE_INDEX).all() and (batch["attention_mask"][row, n:] == 0).all()
        assert (batch["attention_mask"][row, :n] == 1).all()
    unmasked = collate([examples[0]], pad_token_id=tokenizer.pad_token_id, mask_prompt=False)
    assert unmasked["labels"][0].tolist() == examples[0][0].tolist()


def test_loss_ignores_prompt_tokens_only_when_masking(tokenizer):
    """Changing a prompt token changes the loss (for fixed logits) iff the prompt is not masked."""
    examples = tokenize_examples(tokenizer, ["12+34"], ["<answer>46</answer>"], MAX_LENGTH)
    ids, prompt_length = examples[0]
    changed = ids.clone()
    changed[prompt_length - 2] = tokenizer.convert_tokens_to_ids("7")  # a digit of the prompt
    logits = torch.randn(1, ids.numel(), len(tokenizer), generator=torch.Generator().manual_seed(0))  # (1, T, V)
    for mask_prompt, should_change in [(True, False), (False, True)]:
        before = token_cross_entropy(logits, collate([(ids, prompt_length)], 0, mask_prompt)["labels"])
        after = token_cross_entropy(logits, collate([(changed, prompt_length)], 0, mask_prompt)["labels"])
        assert (not torch.isclose(before, after)) == should_change, mask_prompt


def test_no_gradient_reaches_prompt_positions(tokenizer):
    examples = tokenize_examples(tokenizer, ["12+34"], ["<answer>46</answer>"], MAX_LENGTH)
    ids, prompt_length = examples[0]
    labels = collate([examples[0]], 0)["labels"]
    logits = torch.randn(1, ids.numel(), len(tokenizer), requires_grad=True)
    token_cross_entropy(logits, labels).backward()
    per_position = logits.grad.abs().sum(-1)[0]  # (T,)
    # logits at t predict token t+1: positions before the last prompt token predict prompt tokens
    assert (per_position[: prompt_length - 1] == 0).all()
    assert (per_position[prompt_length - 1 : -1] > 0).all()
    assert per_position[-1] == 0  # nothing follows EOS


def test_batches_are_padded_to_their_own_longest_example(tokenizer):
    examples = tokenize_examples(tokenizer, ["1+1", "1+1", "99999+1"], ["x", "x", "x" * 40], MAX_LENGTH)
    assert collate([examples[0], examples[1]], 0)["input_ids"].shape[1] == len(examples[0][0])
    assert collate([examples[0], examples[2]], 0)["input_ids"].shape[1] == len(examples[2][0])
    assert collate([examples[0]], 0, pad_to_multiple_of=8)["input_ids"].shape[1] % 8 == 0


def test_long_examples_are_cut_without_eos_and_oversized_prompts_dropped(tokenizer):
    examples = tokenize_examples(tokenizer, ["1+1", "1" * 50], ["y" * 100, "z"], max_length=20)
    assert len(examples) == 1
    ids, _ = examples[0]
    assert ids.numel() == 20 and tokenizer.eos_token_id not in ids.tolist()


def test_rendering_the_template_once_matches_format_prompt(tokenizer):
    prompts = ["1+1", "Let $x$ be {a}", "日本語"]
    assert prompt_texts(tokenizer, prompts) == [format_prompt(tokenizer, p) for p in prompts]
    assert prompt_texts(tokenizer, prompts, "be brief") == [format_prompt(tokenizer, p, "be brief") for p in prompts]


class CannedSampler:
    """Returns the given completions, one per prompt, as a sampler's rollout would."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def generate(self, model, tokenizer, prompts, num_samples, max_new_tokens, temperature):
        return SimpleNamespace(texts=self.texts[: len(prompts)], truncated=torch.zeros(len(prompts), dtype=torch.bool))


FORMATS = {
    "<think>1+1=2</think><answer>2</answer>": True,
    "<think>a\nb</think><answer>2</answer>": True,
    " <think>1</think>\n<answer>2</answer>\n": True,  # whitespace around the blocks, as the format reward allows
    "<think>1</think><answer>2</answer> trailing": False,
    "<answer>2</answer>": False,
    "<think></think><answer>2</answer>": False,  # an empty think block
    "<think>1</think><answer>2</answer><answer>3</answer>": False,  # a tag twice
}


def test_val_format_rate_means_what_heldout_format_rate_means(tokenizer):
    """``val/format_rate`` (training) and ``heldout/format_rate`` (``phase=eval``) judge every completion alike."""
    from r1.benchmarks.heldout import HeldoutBenchmark
    from r1.phases.validation import score_greedy

    texts = list(FORMATS)
    samples = [{"prompt": "1+1", "answer": "2"}] * len(texts)
    validation = score_greedy(None, tokenizer, CannedSampler(texts), samples, max_new_tokens=8, verify=lambda text, answer: False)["formatted"]
    benchmark = HeldoutBenchmark(task=ArithmeticTask(digits=[1]), n=1, seed=0, k=1)
    heldout = [benchmark.follows_format(text) for text in texts]
    assert validation == heldout == list(FORMATS.values())


# ----------------------------------------------------------------------------- order and resume


def test_batch_order_is_a_function_of_seed_and_position():
    stream = ResumableBatchSampler(10, 4, seed=3)
    first = [b for _, b in zip(range(6), stream)]
    again = [b for _, b in zip(range(6), ResumableBatchSampler(10, 4, seed=3))]
    assert first == again
    resumed = [b for _, b in zip(range(3), ResumableBatchSampler(10, 4, seed=3, start_batch=3))]
    assert resumed == first[3:]  # a resumed run continues mid-epoch where the interrupted one stopped
    flat = [i for b in first for i in b]
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:20]) == list(range(10))  # each epoch sees every example once
    assert flat[:10] != flat[10:20]  # and epochs are reshuffled
    other = [b for _, b in zip(range(6), ResumableBatchSampler(10, 4, seed=4))]
    assert other != first


def test_ranks_split_each_global_batch():
    single = [b for _, b in zip(range(4), ResumableBatchSampler(12, 4, seed=0))]
    rank0 = [b for _, b in zip(range(2), ResumableBatchSampler(12, 2, seed=0, rank=0, world_size=2))]
    rank1 = [b for _, b in zip(range(2), ResumableBatchSampler(12, 2, seed=0, rank=1, world_size=2))]
    joined = [i for a, b in zip(rank0, rank1) for i in a + b]
    assert joined == [i for b in single[:2] for i in b]


# ----------------------------------------------------------------------------- learning-rate schedule


def test_warmup_then_constant_and_cosine():
    def lrs(warmup_steps, decay="constant", total_steps=None, min_lr_ratio=0.0):
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        schedule = warmup_schedule(optimizer, warmup_steps, decay, total_steps, min_lr_ratio)
        out = []
        for _ in range(12):
            out.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            schedule.step()
        return out

    constant = lrs(warmup_steps=4)
    assert constant[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0]) and constant[4:] == pytest.approx([1.0] * 8)
    cosine = lrs(warmup_steps=2, decay="cosine", total_steps=10, min_lr_ratio=0.1)
    assert cosine[1] == pytest.approx(1.0) and cosine[6] == pytest.approx(0.1 + 0.9 * 0.5) and cosine[10] == pytest.approx(0.1)


# ----------------------------------------------------------------------------- sources


def test_jsonl_with_configured_field_names(tmp_path):
    path = write_jsonl(tmp_path / "cot.jsonl", ROWS)
    table = load_source({"path": str(path), **FIELDS}, task=None)
    assert table.column_names == ["prompt", "response", "answer"]
    assert table[3] == {"prompt": "3+1", "response": "<think>3+1</think><answer>4</answer>", "answer": "4"}  # numbers become text


def test_parquet_and_saved_folders(tmp_path):
    import datasets

    table = datasets.Dataset.from_list(ROWS)
    table.to_parquet(str(tmp_path / "cot.parquet"))
    table.save_to_disk(str(tmp_path / "saved"))
    datasets.DatasetDict({"train": table, "test": table.select(range(2))}).save_to_disk(str(tmp_path / "splits"))
    for path, split in [(tmp_path / "cot.parquet", "train"), (tmp_path / "saved", "train"), (tmp_path / "splits", "test")]:
        loaded = load_source({"path": str(path), "split": split, **FIELDS}, task=None)
        assert len(loaded) == (2 if split == "test" else 10) and loaded[0]["prompt"] == "0+1"
    with pytest.raises(DataError, match="no split 'validation'.*train, test"):
        read_table(str(tmp_path / "splits"), split="validation")


def test_missing_path_is_a_one_line_data_error(tmp_path):
    with pytest.raises(DataError, match="does not exist") as error:
        load_source({"path": str(tmp_path / "nope.jsonl")}, task=None)
    assert "\n" not in str(error.value)
    with pytest.raises(DataError, match="does not exist"):
        read_table("./relative/missing")


def test_missing_field_names_the_fields_that_exist(tmp_path):
    path = write_jsonl(tmp_path / "cot.jsonl", ROWS)
    with pytest.raises(DataError) as error:
        load_source({"path": str(path), "prompt_field": "problem", "response_field": "solution"}, task=None)
    message = str(error.value)
    assert "'problem'" in message and "data.prompt_field" in message and "question, solution, gold" in message and "\n" not in message
    with pytest.raises(DataError, match="data.response_field"):
        load_source({"path": str(path), "prompt_field": "question"}, task=None)


def test_answer_is_optional_for_training_but_required_for_validation(tmp_path):
    path = write_jsonl(tmp_path / "general.jsonl", [{"prompt": "hi", "response": "hello"}])
    table = load_source({"path": str(path), "answer_field": "answer"}, task=None)
    assert table[0]["answer"] is None
    with pytest.raises(DataError, match="data.answer_field"):
        load_eval_samples({"val_path": str(path), "answer_field": "answer"}, task=None, n=1)


def test_swapped_field_names_do_not_collide(tmp_path):
    path = write_jsonl(tmp_path / "swapped.jsonl", [{"prompt": "the response", "response": "the prompt"}])
    table = select_fields(read_table(str(path)), "swapped", prompt_field="response", response_field="prompt")
    assert table[0]["prompt"] == "the prompt" and table[0]["response"] == "the response"


def test_task_is_the_default_source_and_its_test_split_the_default_held_out_set():
    task = ArithmeticTask(digits=[2])
    table = load_source({"path": None, "num_samples": 20}, task, seed=1)
    assert len(table) == 20 and table[0]["response"].startswith("<think>")
    held_out = load_eval_samples({"val_path": None}, task, n=8)
    assert not {s["prompt"] for s in held_out} & set(table["prompt"])


def test_file_rows_can_be_capped(tmp_path):
    path = write_jsonl(tmp_path / "cot.jsonl", ROWS)
    assert len(load_source({"path": str(path), "max_samples": 4, **FIELDS}, task=None)) == 4
    assert len(load_source({"path": str(path), "num_samples": 4, **FIELDS}, task=None)) == 10  # num_samples is the task's count


def test_mixture_follows_the_ratios(tmp_path):
    reasoning = write_jsonl(tmp_path / "reasoning.jsonl", [{"prompt": f"r{i}", "response": "r"} for i in range(30)])
    general = write_jsonl(tmp_path / "general.jsonl", [{"q": f"g{i}", "a": "g"} for i in range(30)])
    data = {"mixture": [{"path": str(reasoning), "ratio": 0.75}, {"path": str(general), "ratio": 0.25, "prompt_field": "q", "response_field": "a"}]}
    table = load_training_data(data, task=None)
    sources = [p[0] for p in table["prompt"]]
    assert len(table) == 40 and sources.count("r") == 30 and sources.count("g") == 10  # the reasoning file sets the size
    sized = load_training_data({**data, "mixture_size": 80}, task=None)
    assert [p[0] for p in sized["prompt"]].count("g") == 20  # the small source is repeated to keep its share
    assert mixture_counts([100, 100], [2, 1], total=10) == [7, 3]


def test_chat_format_fields_become_text(tmp_path):
    rows = [{"messages": [{"role": "user", "content": "2+2"}], "reply": [{"role": "assistant", "content": "<answer>4</answer>"}], "answer": 4}]
    path = write_jsonl(tmp_path / "chat.jsonl", rows)
    table = load_source({"path": str(path), "prompt_field": "messages", "response_field": "reply"}, task=None)
    assert table[0] == {"prompt": "2+2", "response": "<answer>4</answer>", "answer": None}
