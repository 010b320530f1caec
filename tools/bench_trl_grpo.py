"""Time TRL's GRPOTrainer on an r1 model folder, to set beside ``tools/bench_grpo.py``.

Runs inside a separate virtual environment that has ``trl`` (see
``tools/compare_trl.sh``); it does not import r1. Same workload as r1's benchmark:
the arithmetic task's prompts (``"47+85"`` as a one-message chat), G completions
per prompt, P prompts per step, at most ``--max-new-tokens`` new tokens, one
policy update per rollout, β = 0.01, lr 1e-4, temperature 1.0, and an exact-match
reward on ``<answer>N</answer>``. Prints one JSON line::

    python tools/bench_trl_grpo.py --model /tmp/tiny_moe_hf --group-size 8 \\
        --prompts-per-step 4 --max-new-tokens 64 --steps 12

``trl_s_per_step`` is the mean time between consecutive ``on_step_end`` callbacks
after ``--warmup`` steps (so it covers data loading, generation, reward, reference
and policy passes, the optimizer step and TRL's own logging);
``trl_s_per_step_inner`` is the mean ``on_step_begin`` → ``on_step_end`` span (the
same minus the batch fetch and logging: the span r1's ``time/step_s`` measures).

Generation stops at EOS and, as r1's sampler does, at ``</answer>`` when that is a
single token of the vocabulary (``--no-stop-at-answer`` turns the latter off): the
ids are put into the model's ``generation_config.eos_token_id``, which TRL uses
both to stop ``generate`` and to mask the completion after the first stop token.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import random
import re
import statistics
import sys
import tempfile
import time

from bench_args import TRL_CPU_RUN, add_run_arguments, gsm8k_rows  # tools/bench_args.py: shared with bench_grpo.py

ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="saved HF folder (model + tokenizer with a chat template)")
    add_run_arguments(parser)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--beta", type=float, default=0.01)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-stop-at-answer", action="store_true", help="stop at EOS only (TRL's default)")
    parser.add_argument("--prompts-file", default=None,
                        help="question/answer JSONL to train on in this order, unshuffled (r1's run writes it: bench_grpo.py --write-prompts)")
    return parser.parse_args()


def chat_row(question: str, answer: str) -> dict:
    """A TRL row: the question as a one-message chat, and the gold answer the reward reads."""
    return {"prompt": [{"role": "user", "content": question}], "answer": answer}


def arithmetic_rows(n: int, seed: int, digits=(2, 3), test_percent: int = 10) -> list[dict]:
    """r1's arithmetic train split, inlined: two d-digit addends, problems hashed into train/test."""
    rng = random.Random(f"arithmetic-train-{seed}")
    seen, rows = set(), []
    while len(rows) < n:
        d = rng.choice(digits)
        a, b = rng.randrange(10 ** (d - 1), 10**d), rng.randrange(10 ** (d - 1), 10**d)
        digest = hashlib.sha256(f"{a}+{b}".encode()).digest()
        if (a, b) in seen or int.from_bytes(digest[:4], "big") % 100 < test_percent:
            continue
        seen.add((a, b))
        rows.append(chat_row(f"{a}+{b}", str(a + b)))
    return rows


def prompt_rows(kind: str, n: int, seed: int, prompts_file: str | None = None) -> list[dict]:
    """The benchmark's prompts as TRL rows: those of ``prompts_file`` in order (r1's run, so both sides see the same
    batches), else ``arithmetic`` (r1's default task) or ``gsm8k`` (the shipped test questions), shuffled."""
    if prompts_file:
        with open(prompts_file, encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        rows = [chat_row(r["question"], str(r["answer"])) for r in rows]
        return [rows[i % len(rows)] for i in range(max(n, len(rows)))]  # cycled: TRL may draw past the last step's
    if kind == "gsm8k":
        rows = [chat_row(r["question"], r["answer"]) for r in gsm8k_rows()]
        random.Random(seed).shuffle(rows)
        return rows
    return arithmetic_rows(n, seed=seed)


class StepSplit:
    """Where TRL's step spends its time: ``generate``, ``reward``, no-grad log-prob passes (the reference model's,
    and the sampling policy's when TRL needs them) and the policy's forward with grad; ``backward_and_optimizer`` is
    the rest of the step (mostly the backward pass and AdamW). Wraps the trainer's own methods; changes nothing."""

    PARTS = ("generate", "reward", "logprobs_no_grad", "policy_forward")

    def __init__(self) -> None:
        self.current = dict.fromkeys(self.PARTS, 0.0)
        self.steps: list[dict[str, float]] = []

    def wrap(self, owner, name: str, part) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            import torch

            key = part if isinstance(part, str) else part(torch.is_grad_enabled())
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.current[key] += time.perf_counter() - start

        setattr(owner, name, timed)

    def close_step(self, total: float) -> None:
        step = {key: round(value, 4) for key, value in self.current.items()}
        step["backward_and_optimizer"] = round(total - sum(self.current.values()), 4)
        self.steps.append(step)
        self.current = dict.fromkeys(self.PARTS, 0.0)

    def mean(self, warmup: int) -> dict[str, float]:
        timed = self.steps[warmup:] or self.steps
        return {key: round(statistics.fmean(step[key] for step in timed), 4) for key in timed[0]} if timed else {}


def accuracy_reward(completions, answer, **kwargs) -> list[float]:
    """1.0 when the first ``<answer>…</answer>`` block equals the gold answer exactly (after stripping), else 0.0."""
    rewards = []
    for completion, gold in zip(completions, answer, strict=True):
        text = completion[-1]["content"] if isinstance(completion, list) else completion
        match = ANSWER.search(text)
        rewards.append(1.0 if match and match.group(1).strip() == gold else 0.0)
    return rewards


def main() -> None:
    args = parse()
    import torch
    import transformers
    import trl
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    if args.threads:
        torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if not getattr(tokenizer, "chat_template", None):
        raise SystemExit(f"{args.model}: the tokenizer has no chat template")
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32, attn_implementation="sdpa")
    stops = [tokenizer.eos_token_id]
    answer_close = tokenizer("</answer>", add_special_tokens=False)["input_ids"]
    if not args.no_stop_at_answer and len(answer_close) == 1:
        stops.append(answer_close[0])
    model.generation_config.eos_token_id = stops
    model.generation_config.pad_token_id = tokenizer.pad_token_id

    dataset = Dataset.from_list(prompt_rows(args.prompts, args.prompts_per_step * (args.steps + 4) + 64, seed=args.seed, prompts_file=args.prompts_file))
    split = StepSplit()
    split.wrap(model, "generate", "generate")  # TRL's unwrapped model is this object on one CPU process

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.ends: list[float] = []
            self.inner: list[float] = []
            self.begin = 0.0
            self.logs: list[dict] = []

        def on_train_begin(self, *_, **__):
            self.ends.append(time.perf_counter())

        def on_step_begin(self, *_, **__):
            self.begin = time.perf_counter()

        def on_step_end(self, *_, **__):
            now = time.perf_counter()
            self.ends.append(now)
            self.inner.append(now - self.begin)
            split.close_step(now - self.begin)

        def on_log(self, _args, _state, _control, logs=None, **__):
            if logs and "loss" in logs:
                self.logs.append(dict(logs))

    timer = StepTimer()
    with tempfile.TemporaryDirectory() as tmp:
        config = GRPOConfig(
            output_dir=tmp,
            # TRL counts completions: P prompts x G generations per optimizer step, one generation batch per step.
            per_device_train_batch_size=args.prompts_per_step * args.group_size,
            gradient_accumulation_steps=1,
            num_generations=args.group_size,
            max_completion_length=args.max_new_tokens,
            num_iterations=1,
            beta=args.beta,
            epsilon=0.2,
            loss_type="grpo",  # r1's default aggregation (mean per sequence, then over sequences); TRL's default is dapo
            scale_rewards="group",
            temperature=args.temperature,
            top_p=1.0,
            top_k=0,
            learning_rate=args.lr,
            lr_scheduler_type="constant",
            adam_beta1=0.9,
            adam_beta2=0.99,  # r1's AdamW betas
            weight_decay=0.0,
            max_grad_norm=1.0,
            max_steps=args.steps,
            use_vllm=False,
            logging_steps=1,
            seed=args.seed,
            **TRL_CPU_RUN,
            log_completions=False,
            shuffle_dataset=args.prompts_file is None,  # r1's order when given
        )
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=accuracy_reward,
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[timer],
        )
        split.wrap(trainer, "_calculate_rewards", "reward")
        split.wrap(trainer, "_get_per_token_logps_and_entropies", lambda grad: "policy_forward" if grad else "logprobs_no_grad")
        started = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):  # Trainer prints each step's log dict; stdout keeps only the result
            trainer.train()
        wall = time.perf_counter() - started

    intervals = [b - a for a, b in zip(timer.ends, timer.ends[1:])]
    timed = intervals[args.warmup:]
    if not timed:
        raise SystemExit(f"no steps left to time: {len(intervals)} steps, warmup {args.warmup}")
    logs = timer.logs[args.warmup:] or timer.logs
    mean_log = lambda key: round(statistics.fmean(log[key] for log in logs if key in log), 3) if any(key in log for log in logs) else None  # noqa: E731
    result = {
        "trl_s_per_step": round(statistics.fmean(timed), 4),
        "trl_s_per_step_median": round(statistics.median(timed), 4),
        # on_step_begin -> on_step_end: generate, reward, reference and policy passes, optimizer step; without
        # the batch fetch and TRL's per-step logging (the span r1's time/step_s covers)
        "trl_s_per_step_inner": round(statistics.fmean(timer.inner[args.warmup:]), 4),
        "steps_timed": len(timed),
        "split": split.mean(args.warmup),  # seconds per step in each part of on_step_begin -> on_step_end
        "completion_length_mean": mean_log("completions/mean_length"),
        "clipped_ratio": mean_log("completions/clipped_ratio"),
        "reward_mean": mean_log("reward"),
        "stop_token_ids": stops,
        "wall_s": round(wall, 1),
        "group_size": args.group_size,
        "prompts_per_step": args.prompts_per_step,
        "max_new_tokens": args.max_new_tokens,
        "threads": torch.get_num_threads(),
        "prompts": args.prompts,
        "trl_version": trl.__version__,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
