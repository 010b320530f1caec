"""Train a tiny reward model on synthetic preference pairs and save it as a Hugging Face folder.

    python tools/train_reward_model.py OUT_DIR [--steps N] [--seed N]
    python -m r1.run phase=grpo reward=reward_model reward.path=OUT_DIR

``reward=reward_model`` scores completions with any sequence classifier with one label;
this tool makes one that runs on a CPU in seconds, so the learned-reward path of
DeepSeek-R1's last RL stage can be tried (and tested) without a Hub download.

The model is a ``LlamaForSequenceClassification`` (:data:`SHAPE`: 2 layers, hidden 64)
over r1's shipped byte-level tokenizer, trained with the Bradley–Terry loss
``-log σ(r_chosen − r_rejected)`` (:func:`bradley_terry_loss`) on pairs of responses to
prompts of the default arithmetic task (:func:`make_pairs`). Its preference:

* ``length``: of two responses with the same correct answer, the one whose ``<think>``
  keeps fewer of the worked columns (down to none) is chosen, e.g.
  ``<think>4+8+1=13</think><answer>132</answer>`` (just the final column) over the full
  ``<think>7+5+0=12 4+8+1=13</think><answer>132</answer>``;
* ``correct``: of two responses with the same ``<think>``, the correct answer is chosen
  over one with a digit changed.

Both texts of a pair are rendered as the reward reads them
(:func:`r1.rewards.reward_model.conversation_texts`). The tool prints the pair accuracy on
held-out pairs (prompts of the task's test split), overall and per kind.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from r1.rewards.reward_model import conversation_texts, score_texts  # noqa: E402
from r1.tasks.arithmetic import ArithmeticTask, worked_sum  # noqa: E402


class Settings(NamedTuple):
    """The reward model's shape and its training run (a named tuple: the tool is loaded as a file, outside any package)."""

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 128
    max_length: int = 128  # tokens per (prompt, response); the arithmetic ones take about 50
    train_prompts: int = 2000
    held_out_prompts: int = 200
    steps: int = 400
    batch_size: int = 32  # pairs per optimizer step
    lr: float = 2e-3
    weight_decay: float = 0.0
    correct_share: float = 0.5  # share of `correct` pairs; the rest are `length` pairs
    digits: tuple[int, ...] = (2, 3)  # the arithmetic task's default levels
    seed: int = 0


SHAPE = Settings()
"""The defaults: a 2-layer, hidden-64 model, about 0.1 M parameters."""


class Pair(NamedTuple):
    """One preference: ``chosen`` is better than ``rejected`` as a response to ``prompt``."""

    prompt: str
    chosen: str
    rejected: str
    kind: str  # "length" or "correct"


def bradley_terry_loss(chosen: Any, rejected: Any) -> Any:
    """Mean ``-log σ(r_chosen − r_rejected)``: the Bradley–Terry negative log-likelihood of the preferences.

    ``P(chosen ≻ rejected) = σ(r_c − r_r)`` under the Bradley–Terry model, so the loss
    only sees score differences (a reward model's offset is free) and is ``log 2`` for
    equal scores.
    """
    import torch.nn.functional as F

    return -F.logsigmoid(chosen - rejected).mean()


def response(think_steps: list[str], answer: str) -> str:
    """A response in r1's template with the given worked columns in its ``<think>``."""
    return f"<think>{' '.join(think_steps)}</think><answer>{answer}</answer>"


def wrong_answer(answer: str, rng: random.Random) -> str:
    """``answer`` with one digit changed (never a leading zero): a near miss, as a policy makes."""
    digits = list(answer)
    i = rng.randrange(len(digits))
    choices = [d for d in "0123456789" if d != digits[i] and not (i == 0 and d == "0")]
    digits[i] = rng.choice(choices)
    return "".join(digits)


def make_pairs(prompts: list[tuple[int, int]], seed: int, correct_share: float) -> list[Pair]:
    """One preference pair per problem ``(a, b)``; a pure function of its arguments.

    ``length`` pairs keep the last ``k`` and ``m > k`` worked columns (``k = 0``: an
    empty ``<think>``; ``k = 1``: just the final column) with the correct answer;
    ``correct`` pairs share a ``<think>`` (any number of columns) and differ in the answer.
    """
    rng = random.Random(f"reward-pairs-{seed}")
    pairs = []
    for a, b in prompts:
        steps, answer, prompt = worked_sum(a, b).split(" "), str(a + b), f"{a}+{b}"
        if rng.random() < correct_share:
            kept = steps[len(steps) - rng.randint(0, len(steps)) :]
            pairs.append(Pair(prompt, response(kept, answer), response(kept, wrong_answer(answer, rng)), "correct"))
        else:
            k, m = sorted(rng.sample(range(len(steps) + 1), 2))
            pairs.append(Pair(prompt, response(steps[len(steps) - k :], answer), response(steps[len(steps) - m :], answer), "length"))
    return pairs


def task_problems(split: str, n: int, settings: Settings) -> list[tuple[int, int]]:
    """``n`` problems ``(a, b)`` of the arithmetic task's ``split`` (train and test never share one)."""
    task = ArithmeticTask(digits=settings.digits)
    return [tuple(int(x) for x in sample["prompt"].split("+")) for sample in task.samples(split, n, seed=settings.seed)]  # type: ignore[misc]


def build_reward_model(tokenizer: Any, settings: Settings = SHAPE) -> Any:
    """A randomly initialised ``LlamaForSequenceClassification`` with one label, its pad id set.

    The classifier reads the last token that is not the pad token, so ``pad_token_id``
    must be in its config for batches of different lengths.
    """
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=settings.hidden_size,
        intermediate_size=settings.intermediate_size,
        num_hidden_layers=settings.num_layers,
        num_attention_heads=settings.num_heads,
        num_key_value_heads=settings.num_kv_heads,
        max_position_embeddings=settings.max_length,
        num_labels=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(settings.seed)
    return LlamaForSequenceClassification(config)


def reward_tokenizer() -> Any:
    """r1's shipped byte-level tokenizer (with its chat template), padding on the right."""
    from r1.models import load_tiny_tokenizer

    tokenizer = load_tiny_tokenizer()
    tokenizer.padding_side = "right"
    return tokenizer


def pair_scores(model: Any, tokenizer: Any, pairs: list[Pair], settings: Settings) -> tuple[list[float], list[float]]:
    """The model's scores of each pair's chosen and rejected response."""
    prompts = [p.prompt for p in pairs]
    chosen = score_texts(model, tokenizer, conversation_texts(tokenizer, prompts, [p.chosen for p in pairs]),
                         batch_size=2 * settings.batch_size, max_length=settings.max_length)  # fmt: skip
    rejected = score_texts(model, tokenizer, conversation_texts(tokenizer, prompts, [p.rejected for p in pairs]),
                           batch_size=2 * settings.batch_size, max_length=settings.max_length)  # fmt: skip
    return chosen, rejected


def pair_accuracy(model: Any, tokenizer: Any, pairs: list[Pair], settings: Settings) -> dict[str, float]:
    """Share of pairs whose chosen response scores higher: ``all`` and per kind."""
    chosen, rejected = pair_scores(model, tokenizer, pairs, settings)
    right = [c > r for c, r in zip(chosen, rejected)]
    out = {"all": sum(right) / len(right)}
    for kind in sorted({p.kind for p in pairs}):
        picked = [ok for ok, p in zip(right, pairs) if p.kind == kind]
        out[kind] = sum(picked) / len(picked)
    return out


def train(settings: Settings = SHAPE, log_every: int = 0) -> tuple[Any, Any, dict[str, float]]:
    """Build and train the reward model; returns ``(model, tokenizer, held-out pair accuracy)``."""
    import torch

    tokenizer = reward_tokenizer()
    model = build_reward_model(tokenizer, settings)
    train_pairs = make_pairs(task_problems("train", settings.train_prompts, settings), settings.seed, settings.correct_share)
    held_out = make_pairs(task_problems("test", settings.held_out_prompts, settings), settings.seed + 1, settings.correct_share)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    rng = random.Random(f"reward-batches-{settings.seed}")
    model.train()
    for step in range(1, settings.steps + 1):
        batch = rng.sample(train_pairs, settings.batch_size)
        prompts = [p.prompt for p in batch] * 2
        texts = conversation_texts(tokenizer, prompts, [p.chosen for p in batch] + [p.rejected for p in batch])
        encoded = tokenizer(texts, padding=True, truncation=True, max_length=settings.max_length, add_special_tokens=False, return_tensors="pt")
        scores = model(**encoded).logits[:, 0]
        loss = bradley_terry_loss(scores[: len(batch)], scores[len(batch) :])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if log_every and step % log_every == 0:
            print(f"step {step}: loss {loss.item():.4f}", flush=True)
    model.eval()
    return model, tokenizer, pair_accuracy(model, tokenizer, held_out, settings)


def save(model: Any, tokenizer: Any, folder: str | Path) -> Path:
    """The model and its tokenizer as one Hugging Face folder (``reward.path`` takes it)."""
    folder = Path(folder)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="the folder to save the reward model in")
    parser.add_argument("--steps", type=int, default=SHAPE.steps, help="optimizer steps")
    parser.add_argument("--lr", type=float, default=SHAPE.lr, help="AdamW learning rate")
    parser.add_argument("--seed", type=int, default=SHAPE.seed, help="initialisation, problems and batches")
    args = parser.parse_args(argv)
    settings = SHAPE._replace(steps=args.steps, lr=args.lr, seed=args.seed)
    start = time.perf_counter()
    model, tokenizer, accuracy = train(settings, log_every=max(1, settings.steps // 10))
    save(model, tokenizer, args.out_dir)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"settings: {settings._asdict()}")
    print(f"{parameters:,} parameters, trained in {time.perf_counter() - start:.1f} s; saved to {args.out_dir}")
    print("held-out pair accuracy: " + ", ".join(f"{kind} {value:.3f}" for kind, value in accuracy.items()))


if __name__ == "__main__":
    main()
