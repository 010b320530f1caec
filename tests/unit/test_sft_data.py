"""SFT data: loading any source, tokenising with the template, masking the prompt, resumable order."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from r1.data.chat import format_prompt
from r1.data.datasets import (
    TrainingData,
    load_eval_samples,
    load_source,
    load_training_set,
    mixture_counts,
    read_table,
    select_fields,
)
from r1.data.sft import (
    IGNORE_INDEX,
    ResumableBatchSampler,
    collate,
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
    table = load_training_set(data, task=None).table
    sources = [p[0] for p in table["prompt"]]
    assert len(table) == 40 and sources.count("r") == 30 and sources.count("g") == 10  # the reasoning file sets the size
    sized = load_training_set({**data, "mixture_size": 80}, task=None).table
    assert [p[0] for p in sized["prompt"]].count("g") == 20  # the small source is repeated to keep its share
    assert mixture_counts([100, 100], [2, 1], total=10) == [7, 3]


def test_chat_format_fields_become_text(tmp_path):
    rows = [{"messages": [{"role": "user", "content": "2+2"}], "reply": [{"role": "assistant", "content": "<answer>4</answer>"}], "answer": 4}]
    path = write_jsonl(tmp_path / "chat.jsonl", rows)
    table = load_source({"path": str(path), "prompt_field": "messages", "response_field": "reply"}, task=None)
    assert table[0] == {"prompt": "2+2", "response": "<answer>4</answer>", "answer": None}


# ----------------------------------------------------------------------------- real dataset shapes (tests/data/datasets)

DATASETS = Path(__file__).resolve().parents[1] / "data" / "datasets"
GSM8K = {"path": str(DATASETS / "gsm8k_sample.jsonl"), "prompt_field": "question", "answer_field": "answer", "solution_field": "answer"}
MATH = {"path": str(DATASETS / "math_sample.jsonl"), "prompt_field": "problem", "answer_field": "answer", "solution_field": "solution"}
NUMINA = {"path": str(DATASETS / "numina_sample.jsonl"), "prompt_field": "problem", "answer_field": "answer", "solution_field": "solution"}
CHAT = {"path": str(DATASETS / "chat_sample.jsonl"), "messages_field": "messages"}


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def test_fixture_files_have_the_shapes_other_tests_rely_on():
    shapes = {
        "gsm8k_sample.jsonl": (40, {"question", "answer"}),
        "math_sample.jsonl": (40, {"problem", "solution", "answer", "level", "subject"}),
        "numina_sample.jsonl": (30, {"problem", "solution", "messages", "source"}),
        "chat_sample.jsonl": (20, {"messages"}),
    }
    for name, (count, fields) in shapes.items():
        rows = read_jsonl(DATASETS / name)
        assert len(rows) == count and all(set(row) == fields for row in rows), name
    assert {row["level"] for row in read_jsonl(DATASETS / "math_sample.jsonl")} == {1, 2, 3, 4, 5}
    for row in read_jsonl(DATASETS / "numina_sample.jsonl"):
        assert row["messages"] == [{"role": "user", "content": row["problem"]}, {"role": "assistant", "content": row["solution"]}]
    assert (DATASETS / "SOURCE.md").exists()


def test_gsm8k_solutions_become_r1_responses_without_the_hash_line():
    rows = read_jsonl(GSM8K["path"])
    loaded = load_training_set({**GSM8K, "response_field": "response"}, task=None)  # the YAML's response_field, absent here
    assert isinstance(loaded, TrainingData) and loaded.skipped == 0 and len(loaded.table) == len(rows)
    for row, example in zip(rows, loaded.table):
        reasoning, _, stated = row["answer"].rpartition("####")
        gold = stated.strip().replace(",", "")
        assert example == {"prompt": row["question"], "response": f"<think>{reasoning.strip()}</think><answer>{gold}</answer>", "answer": gold}
        assert "####" not in example["response"]
    assert "2125" in loaded.table["answer"] and not any("," in answer for answer in loaded.table["answer"])  # 2,125 in the source


def test_a_worked_solution_reads_as_think_then_answer(tmp_path):
    solution = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72"
    path = write_jsonl(tmp_path / "gsm8k.jsonl", [{"question": "How many clips?", "answer": solution}])
    example = load_source({**GSM8K, "path": str(path)}, task=None)[0]
    assert example["response"] == (
        "<think>Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.</think><answer>72</answer>"
    )
    assert example["answer"] == "72"
    without_answer_field = load_source({**GSM8K, "path": str(path), "answer_field": None}, task=None)[0]
    assert without_answer_field == example  # the answer the solution states


def test_math_solutions_keep_their_reasoning_and_box_the_answer():
    rows = read_jsonl(MATH["path"])
    stored = load_source(MATH, task=None)
    extracted = load_source({**MATH, "answer_field": None}, task=None)  # NuminaMath-CoT has no answer field
    assert stored["answer"] == extracted["answer"] == [row["answer"] for row in rows]  # the last \boxed{} is the answer
    for row, example in zip(rows, extracted):
        assert example["prompt"] == row["problem"]
        assert example["response"] == f"<think>{row['solution'].strip()}</think><answer>{row['answer']}</answer>"


def test_an_answer_field_wins_over_the_answer_a_solution_states(tmp_path):
    path = write_jsonl(tmp_path / "math.jsonl", [{"problem": "p", "solution": "so $\\boxed{\\frac12}$", "answer": "\\frac{1}{2}"}])
    assert load_source({**MATH, "path": str(path)}, task=None)[0]["response"] == "<think>so $\\boxed{\\frac12}$</think><answer>\\frac{1}{2}</answer>"


def test_a_ready_response_field_wins_over_a_solution(tmp_path):
    path = write_jsonl(tmp_path / "both.jsonl", [{"problem": "p", "solution": "#### 3", "response": "<think>r</think><answer>4</answer>"}])
    assert load_source({**MATH, "path": str(path), "response_field": "response"}, task=None)[0]["response"] == "<think>r</think><answer>4</answer>"
    assert load_source({**MATH, "path": str(path), "response_field": None}, task=None)[0]["response"] == "<think></think><answer>3</answer>"


def test_rows_without_a_usable_answer_are_skipped_and_counted(tmp_path, caplog):
    rows = [
        {"problem": "a", "solution": "so $\\boxed{5}$"},
        {"problem": "b", "solution": "no final answer here"},
        {"problem": "c", "solution": "#### ", "answer": "  "},  # a blank answer and an empty hash line
        {"problem": "d", "solution": None, "answer": None},
        {"problem": "e", "solution": "we get 7", "answer": 7},  # a stored answer is enough
    ]
    path = write_jsonl(tmp_path / "mixed.jsonl", rows)
    with caplog.at_level(logging.WARNING, logger="r1.data.datasets"):
        loaded = load_training_set({**MATH, "path": str(path)}, task=None)
    assert loaded.skipped == 3 and loaded.table["prompt"] == ["a", "e"]
    assert loaded.table["response"] == ["<think>so $\\boxed{5}$</think><answer>5</answer>", "<think>we get 7</think><answer>7</answer>"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 3 of 5 rows" in warnings[0]
    capped = load_training_set({**MATH, "path": str(path), "max_samples": 1}, task=None)
    assert len(capped.table) == 1 and capped.skipped == 3  # the cap counts examples, drawn after skipping
    none = write_jsonl(tmp_path / "none.jsonl", rows[1:4])
    with pytest.raises(DataError, match="all 3 rows state no usable answer") as error:
        load_training_set({**MATH, "path": str(none)}, task=None)
    assert "\n" not in str(error.value)
    nameless = write_jsonl(tmp_path / "nameless.jsonl", [rows[0], {"problem": None, "solution": "#### 1"}])
    with pytest.raises(DataError, match=r"row 2 has no prompt \(field 'problem' is null in 1 of 2 rows\)"):
        load_training_set({**MATH, "path": str(nameless)}, task=None)  # a null prompt is a mistake to fix, not a row to skip


def test_messages_give_prompt_and_response_as_they_are():
    rows = read_jsonl(CHAT["path"])
    loaded = load_training_set(CHAT, task=None)
    assert loaded.skipped == 0 and len(loaded.table) == len(rows)
    for row, example in zip(rows, loaded.table):
        user, assistant = row["messages"][-2]["content"], row["messages"][-1]["content"]
        assert example["prompt"] == user and example["response"] == assistant  # a system turn is not the prompt
        assert assistant.endswith(f"<answer>{example['answer']}</answer>")
    numina = load_source({**NUMINA, "messages_field": "messages"}, task=None)
    for row, example in zip(read_jsonl(NUMINA["path"]), numina):
        assert example["prompt"] == row["problem"] and example["response"] == row["solution"]  # not rewritten into the template


def test_conversations_without_a_turn_are_skipped_and_malformed_ones_named(tmp_path):
    rows = [
        {"messages": [{"role": "user", "content": "1+1"}, {"role": "assistant", "content": "2"}]},
        {"messages": [{"role": "user", "content": "2+2"}]},  # no assistant turn
        {"messages": [{"role": "assistant", "content": "3"}]},  # no user turn
        {"messages": None},
    ]
    loaded = load_training_set({"path": str(write_jsonl(tmp_path / "chat.jsonl", rows)), "messages_field": "messages"}, task=None)
    assert loaded.skipped == 3 and loaded.table[0] == {"prompt": "1+1", "response": "2", "answer": None}
    broken = write_jsonl(tmp_path / "broken.jsonl", [{"messages": [{"speaker": "user", "text": "hi"}]}])
    with pytest.raises(DataError, match="a message must have 'role' and 'content'") as error:
        load_source({"path": str(broken), "messages_field": "messages"}, task=None)
    assert "\n" not in str(error.value)


def test_missing_mapped_fields_name_the_fields_that_exist(tmp_path):
    cases = [
        ({**GSM8K, "solution_field": "solution"}, "no field 'solution' for the solution (data.solution_field)", "question, answer"),
        ({**MATH, "prompt_field": "question"}, "no field 'question' for the prompt (data.prompt_field)", "problem, solution, answer, level, subject"),
        ({**GSM8K, "messages_field": "messages"}, "no field 'messages' for the conversation (data.messages_field)", "question, answer"),
        ({**GSM8K, "solution_field": None}, "no field 'response' for the response (data.response_field", "question, answer"),
        ({**GSM8K, "solution_field": None, "response_field": None}, "data.response_field is null", "question, answer"),
    ]
    for spec, message, fields in cases:
        with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
            load_source(spec, task=None)
        assert str(error.value).endswith(f"its fields are: {fields}") and "\n" not in str(error.value), spec


@pytest.mark.parametrize("spec", [GSM8K, MATH], ids=["gsm8k", "math"])
def test_parquet_and_csv_copies_load_the_same_examples(tmp_path, spec):
    import datasets

    table = datasets.Dataset.from_list(read_jsonl(spec["path"]))
    table.to_parquet(str(tmp_path / "copy.parquet"))
    table.to_csv(str(tmp_path / "copy.csv"), index=False)
    expected = load_source(spec, task=None).to_list()
    for name in ("copy.parquet", "copy.csv"):
        assert load_source({**spec, "path": str(tmp_path / name)}, task=None).to_list() == expected, name


def test_chat_parquet_loads_the_same_examples(tmp_path):
    import datasets

    datasets.Dataset.from_list(read_jsonl(CHAT["path"])).to_parquet(str(tmp_path / "chat.parquet"))
    assert load_source({**CHAT, "path": str(tmp_path / "chat.parquet")}, task=None).to_list() == load_source(CHAT, task=None).to_list()


def test_a_mixture_entry_may_map_a_solution_or_messages(tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"problem": f"x{i}", "solution": "no answer" if i < 2 else f"#### {i}"} for i in range(12)])
    data = {
        "response_field": "response",
        "answer_field": "answer",
        "mixture": [
            {**GSM8K, "ratio": 0.5},
            {"path": str(bad), "prompt_field": "problem", "solution_field": "solution", "ratio": 0.25},
            {**CHAT, "ratio": 0.25},
        ],
    }
    loaded = load_training_set(data, task=None)
    assert loaded.skipped == 2 and len(loaded.table) == 40  # the 10 usable rows of bad.jsonl at a quarter set the size
    prompts = set(loaded.table["prompt"])
    assert len(prompts & {f"x{i}" for i in range(12)}) == 10 and not prompts & {"x0", "x1"}
    assert all(r.startswith("<think>") and r.endswith("</answer>") for r in loaded.table["response"])


def test_held_out_answers_come_from_the_answer_field_or_the_solution(tmp_path):
    math_rows = read_jsonl(MATH["path"])
    held_out = load_eval_samples({**MATH, "val_path": MATH["path"], "answer_field": None}, task=None, n=5)
    assert [s["answer"] for s in held_out] == [r["answer"] for r in math_rows[:5]] and held_out[0]["prompt"] == math_rows[0]["problem"]
    numina = load_eval_samples({**NUMINA, "val_path": NUMINA["path"]}, task=None, n=3)  # no answer field: extracted
    assert [s["answer"] for s in numina] == [answer_of(r["solution"]) for r in read_jsonl(NUMINA["path"])[:3]]
    gsm8k = load_eval_samples({"val_path": GSM8K["path"], "prompt_field": "question"}, task=None, n=40)  # answer_field: answer
    assert len(gsm8k) == 40 and "2125" in [s["answer"] for s in gsm8k] and not any("#" in s["answer"] for s in gsm8k)
    chat = load_eval_samples({**CHAT, "val_path": CHAT["path"]}, task=None, n=2)
    assert [s["answer"] for s in chat] == [load_source(CHAT, task=None)[i]["answer"] for i in range(2)]
    rows = [{"problem": "a", "solution": "none"}, {"problem": "b", "solution": "$\\boxed{2}$"}, {"problem": "c", "solution": "#### 3"}]
    path = write_jsonl(tmp_path / "val.jsonl", rows)
    assert [s["answer"] for s in load_eval_samples({**MATH, "val_path": str(path)}, task=None, n=2)] == ["2", "3"]
    unanswered = write_jsonl(tmp_path / "unanswered.jsonl", rows[:1])
    with pytest.raises(DataError, match="none of its first 1 rows has a usable answer"):
        load_eval_samples({**MATH, "val_path": str(unanswered)}, task=None, n=1)


def answer_of(solution: str) -> str:
    """The content of the last ``\\boxed{...}`` of a MATH solution, read by brace counting."""
    start = solution.rindex("\\boxed{") + len("\\boxed{")
    depth, end = 1, start
    while depth:
        depth += {"{": 1, "}": -1}.get(solution[end], 0)
        end += 1
    return solution[start : end - 1]
