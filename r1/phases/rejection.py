"""``phase=rejection``: sample k responses per prompt from a checkpoint, keep those that pass the filters.

R1's third stage generated ~600k reasoning samples from the RL checkpoint and
kept only the correct, readable ones; the result is the SFT/distillation data.
Here::

    python -m r1.run phase=rejection                   # the GRPO model of this config (run phase=grpo first)
    python -m r1.run phase=rejection model=hf model.name_or_path=<saved folder>

The policy follows :mod:`r1.phases.start` (``phase.init_from``): by default the
finished GRPO run of this config, else its cold-start SFT model, else one line saying
what to run first; never the untrained base model unless asked (``phase.init_from=model``).
Prompts come from the task's train split (``phase.num_prompts``): the built-in
task, or any dataset with ``task=dataset task.path=<file>`` (:mod:`r1.tasks.dataset`).
Prompts without a gold answer, or longer than ``prompt.max_tokens``, are skipped and
counted in ``report.json``. Responses are recorded as the filters read them: a
prompt's think prefill (``<think>`` written by the chat template) included.

**Built for long jobs.** Prompts are processed in chunks of ``phase.chunk_size``;
each finished chunk is written as one file (``chunks/<index>.json``: its kept
samples and its counts) to a temporary name, fsync'd and renamed, so a chunk is
either fully recorded or not at all. Each chunk's generation is seeded by the run
seed and the chunk's index, so redoing a chunk gives the same samples. Killing the
job and running the **same command** again resumes it: the output folder is
derived from the config (``<paths.output_root>/rejection/run-<digest>``, the digest
of everything that decides the samples), finished chunks are skipped, and no sample
is lost or written twice. ``phase.output_dir=<folder>`` names the folder instead;
resuming into it with a different config is refused. A finished folder is marked
done (:func:`r1.phases.common.mark_done`) once its outputs are written.

Outputs in that folder: ``dataset/`` (``datasets.save_to_disk``), ``samples.jsonl``
(per kept sample: ``id``, ``prompt``, ``answer``, ``response``, ``sample_index``,
``num_tokens``, ``truncated``, ``filters_passed``), ``report.json`` (how many each
filter rejected; also printed as a table) and ``config.json`` (what made it).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from r1.data.chat import PromptFormat, PromptSettings
from r1.errors import ConfigError, DataError
from r1.filters.cascade import CAP, apply_filters, build_filters
from r1.phases.common import (
    atomic_write,
    build_logger,
    digest,
    lock_folder,
    mark_done,
    read_done,
    read_settings,
    release_folder,
    run_dir,
)
from r1.phases.prompting import PromptScreen, read_prompt_settings
from r1.protocols import Sample
from r1.seeds import derive_seed
from r1.settings import bounded, differences, to_plain

COLUMNS = ("id", "prompt", "answer", "response", "sample_index", "num_tokens", "truncated", "filters_passed")
"""The fields of every kept sample, in ``samples.jsonl`` and the dataset."""

REPORT_WIDTH = 100
"""Characters per line of the printed rejection table."""

NOT_IN_DIGEST = ("output_dir", "device", "init_from", "grpo")
"""Settings that do not change which samples are produced (the resolved policy stands for ``init_from`` and ``grpo``)."""


@dataclass
class RejectionSettings:
    """``conf/phase/rejection.yaml``: where prompts come from, how they are sampled, where the result goes."""

    name: str
    """The phase (``rejection``)."""
    init_from: str
    """The policy: ``auto`` | ``grpo`` | ``sft`` | ``model`` | a saved folder (see :mod:`r1.phases.start`)."""
    grpo: list[str]
    """Overrides of the GRPO run whose model ``auto``/``grpo`` look for, as on its command line."""
    num_prompts: int | None = bounded(ge=1)
    """Prompts to sample: the first N of the task's split (null = every row of a dataset task)."""
    split: str
    """The task split the prompts come from."""
    samples_per_prompt: int = bounded(ge=1)
    """k: responses generated per prompt."""
    max_kept_per_prompt: int | None = bounded(ge=1)
    """Most responses kept per prompt after the filters (null = no cap)."""
    chunk_size: int = bounded(ge=1)
    """Prompts per chunk: the unit of progress, of atomic writes and of resuming."""
    temperature: float = bounded(ge=0)
    """Sampling temperature."""
    top_p: float = bounded(gt=0, le=1)
    """Nucleus sampling threshold."""
    max_new_tokens: int = bounded(ge=1)
    """Response budget."""
    device: str
    """``auto`` = cuda when available, else cpu; or any torch device string."""
    output_dir: str | None
    """Where to write and resume; null = ``<paths.output_root>/rejection/run-<digest of what decides the samples>``."""


# ----------------------------------------------------------------------------- the output folder


def sample_config(cfg: DictConfig, settings: RejectionSettings, model_cfg: Any) -> dict[str, Any]:
    """Everything that decides the samples: the policy, prompt source, sampler, filters, seed, phase settings.

    The policy counts by its weights, not only its path: new weights saved under the same
    ``model.name_or_path`` give another digest (:func:`r1.models.loading.weights_fingerprint`),
    so a resumed run never mixes samples of two models.
    """
    from r1.models.loading import weights_fingerprint

    phase = {k: v for k, v in dataclasses.asdict(settings).items() if k not in NOT_IN_DIGEST}
    return {
        "seed": int(cfg.seed),
        "model": to_plain(model_cfg),
        "weights": weights_fingerprint(model_cfg.get("name_or_path")),
        "task": to_plain(cfg.task),
        "prompt": to_plain(cfg.prompt),
        "sampler": to_plain(cfg.sampler),
        "filter": to_plain(cfg.filter),
        "phase": phase,
    }


def output_folder(cfg: DictConfig, settings: RejectionSettings, config: dict[str, Any]) -> Path:
    """``phase.output_dir``, else ``<paths.output_root>/rejection/run-<digest of config>``: the same command, the same folder."""
    if settings.output_dir:
        return Path(settings.output_dir).expanduser()
    return Path(str(cfg.paths.output_root)) / "rejection" / f"run-{digest(config)}"


def claim_folder(folder: Path, config: dict[str, Any]) -> None:
    """Create ``folder`` for this config, or check that an existing one was made by the same config.

    The folder is claimed for this process first (:func:`r1.phases.common.lock_folder`: a
    second job on it is refused in one line), then leftovers of a killed job (temporary
    files it was writing) are removed.
    """
    lock_folder(folder, "phase.output_dir")
    (folder / "chunks").mkdir(exist_ok=True)
    for stale in [*folder.glob(".*.tmp"), *(folder / "chunks").glob(".*.tmp")]:
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink(missing_ok=True)
    marker = folder / "config.json"
    config = json.loads(json.dumps(config, default=str))
    if marker.exists():
        previous = json.loads(marker.read_text(encoding="utf-8"))
        changed = differences(previous, config)
        if changed:
            shown = "; ".join(f"{key}: {old!r} -> {new!r}" for key, old, new in changed[:3]) + ("; ..." if len(changed) > 3 else "")
            raise ConfigError(
                f"'{folder}' holds a rejection run made with a different config ({shown}); "
                "run the same config to resume it, or choose a new phase.output_dir"
            )
    else:
        atomic_write(marker, json.dumps(config, indent=2, sort_keys=True) + "\n")


def chunk_path(folder: Path, index: int) -> Path:
    return folder / "chunks" / f"{index:06d}.json"


def read_chunks(folder: Path, count: int) -> Iterator[dict[str, Any]]:
    """The recorded chunks, in order (only those that exist)."""
    for index in range(count):
        path = chunk_path(folder, index)
        if path.exists():
            yield json.loads(path.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- prompts


def load_prompts(cfg: DictConfig, settings: RejectionSettings, registry: Any, screen: PromptScreen) -> list[Sample]:
    """The usable prompts of the task's split, each with ``id``, ``prompt``, ``answer``; the rest counted by ``screen``."""
    task = registry.build("task", cfg.task)
    try:
        samples = task.samples(settings.split, settings.num_prompts, seed=int(cfg.seed))
    except ValueError as error:
        raise ConfigError(f"task '{cfg.task.name}' cannot give {settings.num_prompts} {settings.split} prompts: {error}") from error
    prompts = [{"id": str(s["id"]), "prompt": str(s["prompt"]), "answer": str(s["answer"])} for s in samples if screen.usable(s)]
    if len({p["id"] for p in prompts}) != len(prompts):
        raise DataError(f"task '{cfg.task.name}' gives repeated prompt ids; ids must be unique per prompt (task.id_column)")
    return prompts


def chunk_seed(seed: int, index: int) -> int:
    """The sampling seed of chunk ``index``: the same chunk always draws the same samples."""
    return derive_seed(seed, "rejection", index)


# ----------------------------------------------------------------------------- one chunk


def make_samples(prompts: list[Sample], texts: list[str], lengths: list[int], truncated: list[bool], k: int) -> list[Sample]:
    """One sample per generated response (``k`` per prompt, grouped by prompt)."""
    samples = []
    for i, prompt in enumerate(prompts):
        for j in range(k):
            row = i * k + j
            samples.append(
                {
                    "id": prompt["id"],
                    "prompt": prompt["prompt"],
                    "answer": prompt["answer"],
                    "response": texts[row],
                    "sample_index": j,
                    "num_tokens": int(lengths[row]),
                    "truncated": bool(truncated[row]),
                }
            )
    return samples


def filter_chunk(index: int, prompts: list[Sample], samples: list[Sample], steps: list, max_per_prompt: int | None, stats: dict[str, float]) -> dict[str, Any]:
    """The record of a finished chunk: kept samples (in ``COLUMNS`` order) and its counts."""
    result = apply_filters(steps, samples, max_per_prompt)
    return {
        "chunk": index,
        "prompt_ids": [p["id"] for p in prompts],
        "generated": len(samples),
        "truncated": sum(s["truncated"] for s in samples),
        "kept": [{column: sample.get(column) for column in COLUMNS} for sample in result.kept],
        "rejected_by": result.rejected_by,
        "seen": result.seen,
        "passed": result.passed,
        "errors": result.errors,
        "generated_tokens": float(stats.get("generated_tokens", 0.0)),
        "generate_s": float(stats.get("generate_s", 0.0)),
    }


def check_prompts(chunks: list[dict[str, Any]], prompts: list[Sample], size: int, folder: Path) -> None:
    """Refuse to mix runs: every recorded chunk must hold the prompts the current config gives it."""
    for chunk in chunks:
        index = chunk["chunk"]
        expected = [p["id"] for p in prompts[index * size : (index + 1) * size]]
        if chunk["prompt_ids"] != expected:
            raise DataError(
                f"chunk {index} in {folder} was generated for other prompts than the current config gives it "
                "(did the prompt file change?); use a new phase.output_dir"
            )


# ----------------------------------------------------------------------------- outputs


def summarize_chunks(chunks: list[dict[str, Any]], folder: Path, prompts: int) -> dict[str, Any]:
    """Totals over all chunks, for ``report.json``."""
    generated = sum(c["generated"] for c in chunks)
    kept = [s for c in chunks for s in c["kept"]]
    rejected: dict[str, int] = {}
    seen: dict[str, int] = {}
    passed: dict[str, int] = {}
    for chunk in chunks:
        for name, value in chunk["rejected_by"].items():
            rejected[name] = rejected.get(name, 0) + value
        for name, value in chunk["seen"].items():
            seen[name] = seen.get(name, 0) + value
        for name, value in chunk["passed"].items():
            passed[name] = passed.get(name, 0) + value
    tokens = sum(c["generated_tokens"] for c in chunks)
    seconds = sum(c["generate_s"] for c in chunks)
    return {
        "output_dir": str(folder),
        "prompts": prompts,
        "chunks": len(chunks),
        "generated": generated,
        "kept": len(kept),
        "keep_rate": len(kept) / generated if generated else 0.0,
        "prompts_with_kept": len({s["id"] for s in kept}),
        "rejected_by": rejected,
        "seen": seen,
        "passed": passed,
        "errors": sum(c["errors"] for c in chunks),
        "truncated": sum(c["truncated"] for c in chunks),
        "mean_kept_tokens": sum(s["num_tokens"] for s in kept) / len(kept) if kept else 0.0,
        "generate_s": round(seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1) if seconds else 0.0,
    }


def write_outputs(folder: Path, chunks: list[dict[str, Any]], report: dict[str, Any]) -> Path:
    """``samples.jsonl``, ``dataset/`` and ``report.json``, rebuilt from the chunk files (idempotent)."""
    kept = [s for c in chunks for s in c["kept"]]
    atomic_write(folder / "samples.jsonl", "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in kept))
    dataset_dir = save_dataset(kept, folder / "dataset")
    atomic_write(folder / "report.json", json.dumps(report, indent=2) + "\n")
    return dataset_dir


def save_dataset(rows: list[dict[str, Any]], folder: Path) -> Path:
    """Save ``rows`` as a ``datasets`` folder that ``datasets.load_from_disk`` opens, even when empty."""
    import datasets
    from datasets import Dataset, Features, List, Value

    features = Features(
        {
            "id": Value("string"),
            "prompt": Value("string"),
            "answer": Value("string"),
            "response": Value("string"),
            "sample_index": Value("int32"),
            "num_tokens": Value("int32"),
            "truncated": Value("bool"),
            "filters_passed": List(Value("string")),
        }
    )
    data = Dataset.from_dict({column: [row[column] for row in rows] for column in COLUMNS}, features=features)
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        data.save_to_disk(str(tmp), num_shards=1 if len(data) == 0 else None)
    finally:
        if was_enabled:
            datasets.enable_progress_bars()
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return folder


def print_report(report: dict[str, Any]) -> None:
    """The rejection counts as a table: each filter, what it saw and what it rejected."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"rejection sampling: kept {report['kept']} of {report['generated']} ({100 * report['keep_rate']:.1f} %)")
    for column in ("filter", "seen", "rejected", "rejected %"):
        table.add_column(column, justify="left" if column == "filter" else "right")
    for name, rejected in report["rejected_by"].items():
        seen = report["kept"] + rejected if name == CAP else report["seen"].get(name, 0)
        table.add_row(name, str(seen), str(rejected), f"{100 * rejected / seen:.1f}" if seen else "-")
    console = Console(width=REPORT_WIDTH)
    console.print(table)
    console.print(f"{report['prompts_with_kept']} of {report['prompts']} prompts kept at least one response; output: {report['output_dir']}")


# ----------------------------------------------------------------------------- the runner


def sample_chunks(
    cfg: DictConfig, settings: RejectionSettings, model_cfg: Any, registry: Any, prompts: list[Sample], pending: list[int], folder: Path, steps: list,
    prompt: PromptSettings,
) -> None:
    """Generate, filter and atomically record each pending chunk, with a progress bar over prompts."""
    from r1.phases.generation import load_for_generation, progress_bar

    k, size = settings.samples_per_prompt, settings.chunk_size
    model, tokenizer = load_for_generation(model_cfg, settings.device)
    sampler = registry.build("sampler", cfg.sampler)
    prompt_format = PromptFormat(tokenizer, prompt)
    done = len(prompts) - sum(len(prompts[i * size : (i + 1) * size]) for i in pending)
    with progress_bar("prompts") as progress:
        bar = progress.add_task("rejection sampling", total=len(prompts), completed=done)
        for index in pending:
            chunk = prompts[index * size : (index + 1) * size]
            rollout = sampler.generate(
                model,
                tokenizer,
                prompt_format.render_many([p["prompt"] for p in chunk]),
                num_samples=k,
                max_new_tokens=settings.max_new_tokens,
                temperature=settings.temperature,
                top_p=settings.top_p,
                seed=chunk_seed(int(cfg.seed), index),
            )
            texts = [prompt_format.full_response(text) for text in rollout.texts]  # as the filters read them: the prefill included
            samples = make_samples(chunk, texts, rollout.completion_lengths.tolist(), rollout.truncated.tolist(), k)
            record = filter_chunk(index, chunk, samples, steps, settings.max_kept_per_prompt, rollout.stats)
            atomic_write(chunk_path(folder, index), json.dumps(record, ensure_ascii=False) + "\n")
            progress.advance(bar, len(chunk))


def run(cfg: DictConfig) -> dict[str, Any]:
    """Generate, filter and record every pending chunk, then write the dataset and the report."""
    from r1.models import load_tokenizer
    from r1.phases.start import sampling_policy
    from r1.plugins import get_registry

    settings = read_settings(RejectionSettings, cfg.phase)
    prompt = read_prompt_settings(cfg)
    model_cfg = sampling_policy(cfg, settings.init_from, settings.grpo)
    registry = get_registry(cfg.plugins.blocked)
    steps = build_filters(to_plain(cfg.filter.filters) if cfg.filter.get("filters") is not None else [], registry)
    # Only a token cap needs the tokenizer before sampling (to count each prompt's tokens).
    capped = PromptFormat(load_tokenizer(model_cfg.get("tokenizer") or model_cfg.get("name_or_path")), prompt) if prompt.max_tokens is not None else None
    screen = PromptScreen(capped)
    prompts = load_prompts(cfg, settings, registry, screen)
    screen.report("rejection")
    if not prompts:
        skipped = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in sorted(screen.skipped.items()))
        raise DataError(f"no prompts to sample: the task gave none that can be used{f' ({skipped})' if skipped else ''}")
    config = sample_config(cfg, settings, model_cfg)
    folder = output_folder(cfg, settings, config)
    claim_folder(folder, config)
    (run_dir(cfg) / "rejection_output.txt").write_text(f"{folder.resolve()}\n", encoding="utf-8")

    size = settings.chunk_size
    count = (len(prompts) + size - 1) // size
    check_prompts(list(read_chunks(folder, count)), prompts, size, folder)
    finished = read_done(folder)
    if finished is not None:  # every output is written: nothing to sample, load or rebuild
        release_folder(folder)
        print_report(json.loads((folder / "report.json").read_text(encoding="utf-8")))
        return finished
    logger = build_logger(cfg)  # before sampling: a logger that cannot start fails in seconds, not after the run
    pending = [i for i in range(count) if not chunk_path(folder, i).exists()]
    if pending:  # a folder whose chunks are all recorded is only re-assembled: no model is loaded
        sample_chunks(cfg, settings, model_cfg, registry, prompts, pending, folder, steps, prompt)

    chunks = list(read_chunks(folder, count))
    if len(chunks) != count:  # pragma: no cover - every pending chunk was just written
        raise DataError(f"{folder} is missing chunk files; run the same command again to finish it")
    report = summarize_chunks(chunks, folder, len(prompts))
    report.update(screen.summary())
    dataset_dir = write_outputs(folder, chunks, report)
    print_report(report)
    if logger:
        metrics = {"rejection/kept": float(report["kept"]), "rejection/keep_rate": report["keep_rate"], "rejection/generated": float(report["generated"])}
        metrics.update({f"rejection/rejected_by/{name}": float(n) for name, n in report["rejected_by"].items()})
        logger.log_metrics(metrics, step=0)
        logger.save()
        logger.finalize("success")
    summary = {
        "kept": report["kept"],
        "generated": report["generated"],
        "keep_rate": report["keep_rate"],
        "output_dir": str(folder),
        "dataset_dir": str(dataset_dir),
        "samples_path": str(folder / "samples.jsonl"),
        **screen.summary(),
    }
    mark_done(folder, summary)
    return summary
