"""Your data, your model: sft → grpo → rejection → distill → eval on a Hugging Face chat model and a GSM8K-shaped file.

The models are the stand-ins of ``tools/build_standins.py`` (a Qwen3 with Qwen's chat
template, and one with DeepSeek-R1-Distill's, which prefills ``<think>`` and whose
tokenizer adds a BOS its template already wrote). They are untrained, so these tests
check the data flow, not learning: each reward gets the gold of its own prompt,
completions decode without special tokens, the chat template is applied once with one
BOS, batched generation pads on the left and stops at the model's end token, and every
exported folder reloads in transformers and generates.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from r1.data.rows import gold_answer
from tests.conftest import REPO_ROOT, load_tool
from tests.unit.test_run_state import compose_with

GSM8K = REPO_ROOT / "tests" / "data" / "datasets" / "gsm8k_sample.jsonl"
GOLD = {row["question"]: gold_answer(row["answer"]) for row in map(json.loads, GSM8K.read_text(encoding="utf-8").splitlines())}
SPECIAL = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜Assistant｜>")

TASK = ["task=gsm8k", f"task.path={GSM8K}", "task.test_split=null", "task.test_size=8"]
QUIET = ["logger=none", "phase.progress_bar=false"]


@pytest.fixture(scope="module")
def standins(tmp_path_factory) -> dict[str, Path]:
    return load_tool("build_standins").build_standins(tmp_path_factory.mktemp("standins"), names=["qwen3-dense", "qwen3-dense-think"])


class Recorder:
    """Wraps the sampler and the reward scoring of a run, keeping what crossed each boundary."""

    def __init__(self, monkeypatch) -> None:
        import r1.rewards
        from r1.samplers.hf import HFSampler

        self.prompts: list[str] = []
        self.prompt_ids: list[list[int]] = []
        self.texts: list[str] = []
        self.scored: list[tuple[str, str, str]] = []  # (prompt, answer, full response) per reward row
        original_generate, original_score = HFSampler.generate, r1.rewards.score_batch

        def generate(sampler, model, tokenizer, prompts, **kwargs):
            rollout = original_generate(sampler, model, tokenizer, prompts, **kwargs)
            self.prompts += list(prompts)
            self.prompt_ids += [row[mask.bool()].tolist() for row, mask in zip(rollout.prompt_ids, rollout.prompt_mask)]
            self.texts += list(rollout.texts)
            return rollout

        def score_batch(reward, completions, fields):
            self.scored += list(zip(fields["prompt"], fields["answer"], completions))
            return original_score(reward, completions, fields)

        monkeypatch.setattr(HFSampler, "generate", generate)
        monkeypatch.setattr(r1.rewards, "score_batch", score_batch)


def reloads_and_generates(folder: str | Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    text = tokenizer.apply_chat_template([{"role": "user", "content": "What is 2+3?"}], tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=4, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    assert out.shape[1] > ids["input_ids"].shape[1]


def test_the_whole_recipe_on_a_chat_model_that_prefills_think(standins, tmp_path, monkeypatch):
    from r1.phases import distill, evaluate, grpo, rejection, sft

    model = standins["qwen3-dense-think"]
    out = ["logger=none", f"paths.output_root={tmp_path}"]
    recorder = Recorder(monkeypatch)

    # SFT on the GSM8K file: worked solutions become <think>…</think><answer>…</answer> responses.
    summary = sft.run(compose_with(
        "phase=sft", "model=hf", f"model.name_or_path={model}", *TASK, *out, f"paths.run_dir={tmp_path / 'sft'}",
        f"data.path={GSM8K}", "data.prompt_field=question", "data.response_field=null", "data.solution_field=answer",
        "phase.max_steps=2", "phase.batch_size=4", "data.val_size=2", "phase.val_every_steps=null", "phase.val_max_new_tokens=8",
        "phase.checkpoint.every_n_steps=null", "data.max_length=384",
    ))
    sft_model = summary["hf_dir"]
    reloads_and_generates(sft_model)

    # GRPO from the SFT model on the task's prompts, three in four of them over the prompt token cap.
    from transformers import AutoTokenizer

    from r1.data.chat import chat_format, encode_prompt

    tokenizer = AutoTokenizer.from_pretrained(sft_model)
    lengths = sorted(len(encode_prompt(tokenizer, chat_format(tokenizer).render(q))) for q in GOLD)
    cap = lengths[len(lengths) // 4]
    summary = grpo.run(compose_with(
        "phase=grpo", "model=hf", f"model.name_or_path={sft_model}", *TASK, *out, f"paths.run_dir={tmp_path / 'grpo'}",
        "phase.max_steps=2", "phase.prompts_per_step=2", "phase.group_size=2", "phase.max_new_tokens=12", "phase.val_prompts=2",
        "phase.val_every=10", "phase.progress_bar=false", "phase.log_completions_every=1", f"prompt.max_tokens={cap}",
    ))
    assert summary["prompt/prefill"] == "<think>\n" and summary["skipped/prompt_too_long"] > 0
    grpo_model = summary["hf_dir"]
    reloads_and_generates(grpo_model)

    # Each reward row carries its own prompt's gold, and reads the prefilled <think> as part of the response.
    assert recorder.scored and all(GOLD[prompt] == answer for prompt, answer, _ in recorder.scored)
    assert all(response.startswith("<think>\n") for _, _, response in recorder.scored)
    # The chat template is applied once, with one BOS; completions carry no special tokens; prompts fit the cap.
    assert all(prompt.count("<｜Assistant｜>") == 1 and prompt.endswith("<think>\n") for prompt in recorder.prompts)
    assert all(ids.count(tokenizer.bos_token_id) == 1 and ids[0] == tokenizer.bos_token_id for ids in recorder.prompt_ids)
    assert max(len(ids) for ids in recorder.prompt_ids) <= cap
    assert not any(marker in text for text in recorder.texts for marker in SPECIAL)
    completions = [json.loads(line) for line in (tmp_path / "grpo" / "completions.jsonl").read_text().splitlines()]
    assert completions and all(row["completion"].startswith("<think>\n") and GOLD[row["prompt"]] == row["answer"] for row in completions)

    # Rejection sampling from the GRPO model; the filters see (and the dataset keeps) the full responses.
    summary = rejection.run(compose_with(
        "phase=rejection", "model=hf", f"model.name_or_path={grpo_model}", *TASK, *out, f"paths.run_dir={tmp_path / 'rejection'}",
        "phase.num_prompts=4", "phase.samples_per_prompt=2", "phase.chunk_size=2", "phase.max_new_tokens=12", "filter=none",
    ))
    import datasets

    kept = datasets.load_from_disk(summary["dataset_dir"])
    assert len(kept) == 8 and all(r["response"].startswith("<think>\n") and GOLD[r["prompt"]] == r["answer"] for r in kept)

    # Distillation of a student with another chat template (Qwen's) on the teacher's responses.
    summary = distill.run(compose_with(
        "phase=distill", "model@phase.student=hf", f"phase.student.name_or_path={standins['qwen3-dense']}", *TASK, *out,
        f"paths.run_dir={tmp_path / 'distill'}", f"data.path={summary['dataset_dir']}", "phase.max_steps=2", "phase.batch_size=4",
        "data.val_size=2", "phase.val_every_steps=null", "phase.val_max_new_tokens=8", "phase.checkpoint.every_n_steps=null",
    ))
    reloads_and_generates(summary["hf_dir"])

    # Any dataset as a benchmark, on the chat-template model.
    results = evaluate.run(compose_with(
        "phase=eval", "model=hf", f"model.name_or_path={grpo_model}", *out, f"paths.run_dir={tmp_path / 'eval'}",
        "benchmark=dataset", f"benchmark.path={GSM8K}", "benchmark.prompt_column=question", "benchmark.limit=4", "benchmark.k=1",
        "phase.max_new_tokens=8",
    ))
    report = json.loads((Path(results["output_dir"]) / "results.json").read_text())
    assert report["benchmarks"]["dataset"]["n"] == 4 and report["benchmarks"]["dataset"]["skipped/no_answer"] == 0


def test_batched_generation_pads_left_and_stops_at_the_models_end_token(standins):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from r1.data.chat import chat_format
    from r1.samplers.hf import HFSampler

    folder = standins["qwen3-dense"]
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder).eval()
    fmt = chat_format(tokenizer)
    prompts = [fmt.render(q) for q in list(GOLD)[:3]]
    sampler = HFSampler(stop_strings=[])
    together = sampler.generate(model, tokenizer, prompts, num_samples=1, max_new_tokens=10, temperature=0.0)
    alone = [sampler.generate(model, tokenizer, [p], num_samples=1, max_new_tokens=10, temperature=0.0).texts[0] for p in prompts]
    assert together.texts == alone
    assert together.prompt_mask[:, -1].all() and not together.prompt_mask[:, 0].all()  # left padding
    # A completion that stops ends at the model's own end token (<|im_end|>), which the mask covers.
    end_ids = set(model.generation_config.eos_token_id) if isinstance(model.generation_config.eos_token_id, list) else {model.generation_config.eos_token_id}
    assert tokenizer.convert_ids_to_tokens(tokenizer.eos_token_id) == "<|im_end|>" and tokenizer.eos_token_id in end_ids
    for row, length, cut in zip(together.completion_ids, together.completion_lengths.tolist(), together.truncated.tolist()):
        if not cut:
            assert int(row[length - 1]) in end_ids


def test_grpo_on_your_file_runs_from_the_command_line(standins, cli_in_process, tmp_path):
    result = cli_in_process(
        "phase=grpo", "task=dataset", f"task.path={GSM8K}", "task.prompt_column=question", "task.answer_column=answer",
        "model=hf", f"model.name_or_path={standins['qwen3-dense']}", "phase.max_steps=2", "phase.prompts_per_step=2",
        "phase.group_size=2", "phase.max_new_tokens=8", "phase.val_prompts=2", "logger=none", "phase.progress_bar=false",
        f"paths.output_root={tmp_path}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "[grpo] done" in result.stdout
