"""``phase=eval``: pass@1, pass@k and maj@k of a model on one or more benchmarks.

The R1 protocol: ``k`` samples per problem at temperature 0.6 and top-p 0.95;
pass@1 is the mean correctness over the samples, pass@k the unbiased estimator,
maj@k the majority answer's correctness. Any checkpoint a phase wrote, or any Hub
model, evaluates with one command::

    python -m r1.run phase=eval benchmark=math500 model=hf model.name_or_path=outputs/grpo/<date>/<time>-<suffix>/hf
    python -m r1.run phase=eval benchmark=math_suite benchmark.limit=50 phase.k=4

Writes to the run folder: ``results.json`` (per benchmark: pass@1, pass@k, maj@k,
n, k, mean length, format rate), ``results.md`` (the R1 paper's table, also
printed), ``completions.jsonl`` (every response with its score) and ``results.png``.

Benchmarks are plugins; a benchmark node may also hold the protocol keys ``k``,
``limit`` and ``max_new_tokens``, which this phase applies to any benchmark (the
plugin's factory never sees them). A node with a ``suite`` mapping runs each member
(see ``conf/benchmark/math_suite.yaml``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from r1.benchmarks.report import bar_chart, flat_metrics, markdown_table, write_json
from r1.benchmarks.scoring import completion_records, score_benchmark, summarize
from r1.data.chat import PromptFormat
from r1.errors import ConfigError
from r1.phases.common import build_logger, read_settings, run_dir
from r1.phases.generation import load_for_generation, progress_bar
from r1.phases.prompting import PromptScreen, read_prompt_settings
from r1.seeds import derive_seed
from r1.settings import bounded, to_plain

PROTOCOL_KEYS = ("k", "limit", "max_new_tokens")
"""Benchmark-node keys this phase applies itself, so they work with any benchmark plugin."""


@dataclass
class EvalSettings:
    """``conf/phase/eval.yaml``: how responses are sampled for every benchmark."""

    name: str
    """The phase (``eval``)."""
    k: int | None = bounded(ge=1)
    """Samples per problem for every benchmark; null = each benchmark's own k (AIME 64, MATH-500 4, ...)."""
    temperature: float = bounded(ge=0)
    """Sampling temperature (R1's evaluation protocol: 0.6)."""
    top_p: float = bounded(gt=0, le=1)
    """Nucleus sampling threshold (R1: 0.95)."""
    max_new_tokens: int = bounded(ge=1)
    """Response budget unless the benchmark sets its own."""
    batch_size: int = bounded(ge=1)
    """Responses generated together (``batch_size // k`` problems at a time, at least one)."""
    device: str
    """``auto`` = cuda when available, else cpu; or any torch device string."""


@dataclass
class Plan:
    """One benchmark, its problems and how to sample them."""

    name: str
    title: str
    benchmark: Any
    samples: list[dict[str, Any]]
    k: int
    max_new_tokens: int


def benchmark_specs(node: Mapping[str, Any] | DictConfig) -> list[tuple[str, dict[str, Any]]]:
    """``(result name, config node)`` of each benchmark to run: the node itself, or each ``suite`` member.

    A suite member's result name is its key in the suite, so one benchmark can run
    twice with different options (``suite: {math500: ..., math500_think: {name:
    math500, prompt_style: think}}``). A suite's own non-null protocol keys
    (``limit``, ``k``, ``max_new_tokens``) override its members', so
    ``benchmark=math_suite benchmark.limit=20`` limits all.
    """
    spec = to_plain(node)
    if not isinstance(spec, dict):
        raise ConfigError(f"the benchmark config must be a mapping, got {spec!r}")
    suite = spec.get("suite")
    if suite is None:
        return [(str(spec.get("name")), spec)]
    members = list(suite.items()) if isinstance(suite, Mapping) else [(m if isinstance(m, str) else m.get("name"), m) for m in suite]
    if not members:
        raise ConfigError("benchmark.suite is empty; add benchmarks to it or choose one benchmark (benchmark=math500)")
    shared = {key: spec[key] for key in PROTOCOL_KEYS if spec.get(key) is not None}
    return [(str(label), {**({"name": m} if isinstance(m, str) else dict(m)), **shared}) for label, m in members]


def plan_benchmarks(settings: EvalSettings, node: Any, registry: Any) -> list[Plan]:
    """Build every benchmark of the ``benchmark`` node and load its problems (before the model, so mistakes fail fast)."""
    plans = []
    for label, spec in benchmark_specs(node):
        protocol = {key: protocol_value(label, key, spec.pop(key, None)) for key in PROTOCOL_KEYS}
        benchmark = registry.build("benchmark", spec)
        samples = benchmark.load()
        if protocol["limit"] is not None:
            samples = samples[: protocol["limit"]]
        k = protocol_value(label, "k", first_set(settings.k, protocol["k"], benchmark.default_k))
        max_new = protocol_value(label, "max_new_tokens", first_set(protocol["max_new_tokens"], getattr(benchmark, "max_new_tokens", None), settings.max_new_tokens))
        title = getattr(benchmark, "title", benchmark.name) if label == benchmark.name else label
        plans.append(Plan(label, title, benchmark, samples, k, max_new))
    names = [p.name for p in plans]
    if len(set(names)) != len(names):
        raise ConfigError(f"benchmark names repeat in the suite: {names}; give each a distinct key under benchmark.suite")
    return plans


def protocol_value(label: str, key: str, value: Any) -> Any:
    """A protocol key's value (``k``, ``limit``, ``max_new_tokens``): a whole number of at least 1, or null; else one line.

    Python slicing would take ``limit=-1`` as "all but the last", and a ``k`` of 0 samples
    nothing, so both are refused rather than run.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"benchmark.{key} of '{label}' must be a whole number of at least 1 (or null), not {value!r}")
    return value


def first_set(*values: Any) -> Any:
    """The first value that is not None (a 0 counts as set, so it is refused by the caller, not skipped)."""
    return next((value for value in values if value is not None), None)


@dataclass
class Generations:
    """A plan's responses grouped by problem, with their token counts and cut-off flags."""

    responses: list[list[str]]
    lengths: list[list[int]]
    truncated: list[list[bool]]
    generated_tokens: float = 0.0
    generate_s: float = 0.0


def generate(
    plan: Plan, model: Any, tokenizer: Any, sampler: Any, settings: EvalSettings, seed: int, progress: Any, prompt_format: PromptFormat,
) -> Generations:
    """Sample ``plan.k`` responses per problem in batches of about ``batch_size`` responses.

    Responses are the full ones a benchmark scores: a prompt's think prefill, then the generated text.
    """
    task = progress.add_task(plan.title, total=len(plan.samples) * plan.k)
    prompts = prompt_format.render_many([s["prompt"] for s in plan.samples])
    out = Generations([], [], [])
    batch = max(1, settings.batch_size // plan.k)  # prompts per batch
    for b, first in enumerate(range(0, len(prompts), batch)):
        rollout = sampler.generate(
            model,
            tokenizer,
            prompts[first : first + batch],
            num_samples=plan.k,
            max_new_tokens=plan.max_new_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            seed=batch_seed(seed, plan.name, b),
        )
        token_counts, cut = rollout.completion_lengths.tolist(), rollout.truncated.tolist()
        for i in range(len(rollout.texts) // plan.k):  # row i * k + j is sample j of prompt i
            group = slice(i * plan.k, (i + 1) * plan.k)
            out.responses.append([prompt_format.full_response(text) for text in rollout.texts[group]])
            out.lengths.append(token_counts[group])
            out.truncated.append(cut[group])
        out.generated_tokens += rollout.stats.get("generated_tokens", 0.0)
        out.generate_s += rollout.stats.get("generate_s", 0.0)
        progress.advance(task, len(rollout.texts))
    return out


def write_report(out: Path, results: dict[str, dict[str, Any]], plans: list[Plan], label: str, protocol: dict[str, Any]) -> str:
    """``results.json``, ``results.md`` and ``results.png``; returns the Markdown table."""
    titles = {p.name: p.title for p in plans}
    write_json({"model": label, "protocol": protocol, "benchmarks": results}, out / "results.json")
    table = markdown_table(results, label, titles)
    policies = ", ".join(f"{name}: {policy}" for name, policy in protocol.get("extraction", {}).items())
    if policies:
        table += f"\nAnswers read with the extraction policy ({policies}).\n"
    (out / "results.md").write_text(table, encoding="utf-8")
    bar_chart(results, out / "results.png", label, titles)
    return table


def run(cfg: DictConfig) -> dict[str, Any]:
    """Generate, score and report every configured benchmark; returns the flat metrics."""
    from r1.plugins import get_registry

    start = time.perf_counter()
    settings = read_settings(EvalSettings, cfg.phase)
    prompt = read_prompt_settings(cfg)
    registry = get_registry(cfg.plugins.blocked)
    plans = plan_benchmarks(settings, cfg.benchmark, registry)
    out = run_dir(cfg)
    logger = build_logger(cfg)  # before the model: a logger that cannot start fails in seconds, not after the run
    model, tokenizer = load_for_generation(cfg.model, settings.device)
    sampler = registry.build("sampler", cfg.sampler)
    prompt_format = PromptFormat(tokenizer, prompt)
    skipped = {plan.name: drop_long_prompts(plan, prompt_format) for plan in plans}

    results: dict[str, dict[str, Any]] = {}
    completions = out / "completions.jsonl"
    completions.unlink(missing_ok=True)
    tokens, seconds = 0.0, 0.0
    with progress_bar("responses") as progress:
        for plan in plans:
            gen = generate(plan, model, tokenizer, sampler, settings, int(cfg.seed), progress, prompt_format)
            scored = score_benchmark(plan.benchmark, plan.samples, gen.responses)
            results[plan.name] = summarize(plan.benchmark, scored, gen.lengths, gen.truncated)
            results[plan.name].update(skipped[plan.name])
            with completions.open("a", encoding="utf-8") as handle:
                for row in completion_records(plan.name, scored, gen.lengths, gen.truncated):
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            tokens, seconds = tokens + gen.generated_tokens, seconds + gen.generate_s

    elapsed = time.perf_counter() - start
    protocol = {
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "max_new_tokens": {p.name: p.max_new_tokens for p in plans},
        "extraction": {p.name: getattr(p.benchmark, "extraction", "template") for p in plans},
        "seed": int(cfg.seed),
        "seconds": round(elapsed, 2),
        "tokens_per_s": round(tokens / seconds, 1) if seconds else 0.0,
    }
    table = write_report(out, results, plans, model_label(cfg), protocol)
    print(table, end="")
    print(f"Results in {out} ({elapsed:.1f} s)")

    summary = flat_metrics(results)
    if logger:
        logger.log_metrics(summary, step=0)
        logger.save()
        logger.finalize("success")
    return {**summary, "output_dir": str(out)}


def drop_long_prompts(plan: Plan, prompt_format: PromptFormat) -> dict[str, int]:
    """Leave out problems whose prompt exceeds ``prompt.max_tokens``; returns what the results record as skipped.

    ``skipped/no_answer`` counts the rows the benchmark itself left out for want of a gold
    answer (its ``skipped_rows``, when it has one); neither kind is in the scores' denominator.
    """
    screen = PromptScreen(prompt_format, need_answer=False)
    kept = [sample for sample in plan.samples if screen.usable(sample)]
    if len(kept) < len(plan.samples):
        print(f"[eval] {plan.title}: {len(plan.samples) - len(kept)} problems skipped, prompt over prompt.max_tokens", flush=True)
    if not kept:
        raise ConfigError(f"benchmark '{plan.name}': every prompt is longer than prompt.max_tokens={prompt_format.settings.max_tokens}; raise it")
    plan.samples = kept
    counts = screen.summary()
    counts["skipped/no_answer"] = int(getattr(plan.benchmark, "skipped_rows", 0) or 0)
    return counts


def batch_seed(seed: int, benchmark: str, batch: int) -> int:
    """A sampling seed per (run seed, benchmark, batch): results do not depend on the batch order."""
    return derive_seed(seed, "eval", benchmark, batch)


def model_label(cfg: DictConfig) -> str:
    """How tables name the model: its path or Hub id, else the model config option."""
    name = cfg.model.get("name_or_path")
    if name:
        return str(name).rstrip("/")
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            return str(HydraConfig.get().runtime.choices.get("model", "model"))
    except (ImportError, ValueError):  # pragma: no cover
        pass
    target = OmegaConf.select(cfg, "model.architecture._target_", default="model")
    return str(target).rsplit(".", 1)[-1]
