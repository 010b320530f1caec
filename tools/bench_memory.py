"""Peak memory of a few GRPO steps: full fine-tuning, gradient checkpointing, LoRA.

    python tools/bench_memory.py [--stand-in DIR] [--steps 2] [--settings full checkpointing lora lora+checkpointing]
                                 [--lora-rank 16] [--threads N] [--device auto|cpu|cuda] [--out FILE]
                                 [--max-new-tokens 256] [--group-size 8] [--prompts-per-step 4] [hydra overrides ...]
    python tools/bench_memory.py --paper     # the same settings for a 7B dense model on one 80 GiB GPU, on paper

Runs ``phase=grpo`` on the ``qwen3-dense-50m`` stand-in (``tools/build_standins.py``,
48.8 M float32 parameters; built into a temporary folder unless ``--stand-in`` names
one) at completions of up to 256 tokens, G = 8, 4 prompts per step (32 completions,
one optimizer step over all of them), once per setting (:data:`SETTINGS`):

* ``full``: full fine-tuning, with the frozen reference copy GRPO keeps for its KL term;
* ``checkpointing``: the same with ``model.gradient_checkpointing=true`` (each decoder
  layer's activations recomputed in backward instead of kept);
* ``lora``: ``model.lora.enabled=true`` at ``--lora-rank``: the base weights frozen, no
  reference copy (the reference is the policy with its adapter switched off);
* ``lora+checkpointing``: both.

Each setting runs in a fresh process, one after another (this file again, with a hidden
``--child`` flag, calling ``r1.run.main`` in-process). On the CPU the child reports two
peaks, each with its value after importing torch, transformers, Lightning, peft and r1,
just before the phase (the baseline), so that peak - baseline is what the phase itself
added: weights, gradients, optimizer states, the reference copy, rollouts and activations:

* the peak resident set (``ru_maxrss``): what the operating system had to provide. It
  also counts memory malloc holds without a live tensor in it: holes between live blocks
  and the freed memory ``runtime.keep_freed_memory`` keeps for reuse (up to 1 GiB);
* the peak of malloc's bytes in use (glibc's ``mallinfo2``, sampled every
  :data:`HEAP_POLL_S` by a thread): live tensors and little else, the CPU counterpart of
  CUDA's allocated bytes. The two can rank settings differently: LoRA keeps fewer
  activations than full fine-tuning but allocates more short-lived tensors between them
  (each adapted projection adds its output to the frozen one's), which fragments the
  heap, so its resident peak can be the higher one. The policy's own weights are not in
  it: transformers leaves them in the safetensors file's memory map, outside malloc
  (the same in every setting; a reference copy is malloc's). "-" where the C library has
  no ``mallinfo2`` (not glibc, or glibc before 2.33).

On CUDA (``trainer=gpu``, bf16 autocast over float32 weights) it reports
``torch.cuda.max_memory_allocated()``, with a baseline of 0. Two steps are the default
because AdamW allocates its states in the first optimizer step: only the second backward
runs with them in memory. Checkpoint writes are off, and the LoRA runs export the adapter alone
(``model.lora.merge_on_export=false``), so the merged copy written at the end does not
count. A randomly initialised model rarely emits a stop token, so nearly every
completion runs to the 256-token cap: the worst case for memory (the table gives the
measured mean length).

Prints one Markdown table (and writes it to ``--out``). On two CPU cores each setting
takes about two minutes, most of it generating the completions; all four, 7-8 minutes.

``--paper`` prints the same settings for Qwen2.5-7B (7.6 B parameters) at the same
rollout shape, from :func:`paper_estimate`: bf16 weights and gradients, fp32 AdamW
states (8 bytes a trained parameter), a bf16 reference copy, LoRA r = 16 on every
linear projection of the decoder layers (fp32 adapter, its gradients and AdamW states),
and a rough lower bound on activations: the tensors each matmul, norm and activation
keeps for backward in bf16 with flash attention (no T x T scores), the completion
logits (bf16, plus the fp32 copy log-softmax keeps). Full fine-tuning does not fit in
80 GiB whatever the activations (weights, gradients, AdamW states and reference copy
alone are 99 GiB); LoRA alone is at the edge (76 GiB of a lower bound, 55 of them
activations); LoRA with checkpointing fits with room to spare (26 GiB).
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

REPO = Path(__file__).resolve().parents[1]
STANDIN = "qwen3-dense-50m"
"""The stand-in ``tools/build_standins.py`` builds for this measurement."""

GIB = 1 << 30
MIB = 1 << 20


class Setting(NamedTuple):
    label: str
    lora: bool
    checkpointing: bool


SETTINGS: dict[str, Setting] = {
    "full": Setting("full fine-tuning + reference copy", lora=False, checkpointing=False),
    "checkpointing": Setting("full + gradient checkpointing", lora=False, checkpointing=True),
    "lora": Setting("LoRA, adapter-off reference", lora=True, checkpointing=False),
    "lora+checkpointing": Setting("LoRA + gradient checkpointing", lora=True, checkpointing=True),
}


class RolloutShape(NamedTuple):
    """One GRPO step's batch: ``prompts`` x ``group_size`` completions, trained in one forward.

    (Named tuples rather than dataclasses keep the file loadable with importlib from its
    path, without registering it in ``sys.modules``.)
    """

    prompts: int = 4
    group_size: int = 8
    max_new_tokens: int = 256
    prompt_tokens: int = 64
    """Prompt length assumed on paper (the benchmark uses the task's own prompts)."""

    @property
    def sequences(self) -> int:
        return self.prompts * self.group_size


SHAPE = RolloutShape()


# ----------------------------------------------------------------------------- the benchmark


def setting_overrides(name: str, stand_in: Path, steps: int, lora_rank: int, shape: RolloutShape = SHAPE) -> list[str]:
    """The ``python -m r1.run`` overrides of one setting (run folders and device come on top)."""
    setting = SETTINGS[name]
    overrides = [
        "phase=grpo", "phase.init_from=model", "model=hf", f"model.name_or_path={stand_in}", "logger=none",
        f"phase.max_steps={steps}", f"phase.max_new_tokens={shape.max_new_tokens}", f"phase.group_size={shape.group_size}",
        f"phase.prompts_per_step={shape.prompts}", "phase.val_prompts=0", "phase.progress_bar=false",
        "phase.log_completions_every=0", f"phase.checkpoint_every={steps + 1}",
    ]
    if setting.checkpointing:
        overrides.append("model.gradient_checkpointing=true")
    if setting.lora:
        overrides += ["model.lora.enabled=true", f"model.lora.r={lora_rank}", "model.lora.merge_on_export=false"]
    return overrides


def peak_rss_bytes() -> int:
    """This process's peak resident set so far (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (malloc.h, glibc >= 2.33): every field a ``size_t``."""

    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _mallinfo2():
    """glibc's ``mallinfo2`` through ctypes, or None where the C library has none."""
    name = ctypes.util.find_library("c")
    try:
        function = ctypes.CDLL(name).mallinfo2 if name else None
    except (OSError, AttributeError):
        return None
    if function is not None:
        function.restype = _MallInfo2
    return function


MALLINFO2 = _mallinfo2()
HEAP_POLL_S = 0.005
"""How often :class:`HeapPeak` samples; a spike shorter than this can be missed (the resident peak cannot)."""


def heap_in_use() -> int | None:
    """Bytes malloc has handed out and not had back, over all arenas and mapped blocks; None without ``mallinfo2``."""
    if MALLINFO2 is None:
        return None
    info = MALLINFO2()
    return info.uordblks + info.hblkhd


class HeapPeak:
    """The highest :func:`heap_in_use` seen by a daemon thread sampling it every ``every`` seconds until :meth:`stop`.

    The thread holds the GIL only for the sample itself; torch releases it while it computes.
    """

    def __init__(self, every: float = HEAP_POLL_S) -> None:
        self.start_bytes = heap_in_use()
        self.peak = self.start_bytes
        self._every = every
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True) if self.start_bytes is not None else None
        if self._thread is not None:
            self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(self._every):
            self.peak = max(self.peak, heap_in_use())

    def stop(self) -> int | None:
        """Stop sampling; the peak, one last sample included."""
        self._done.set()
        if self._thread is not None:
            self._thread.join()
            self.peak = max(self.peak, heap_in_use())
        return self.peak


def child(args: argparse.Namespace, extra: list[str]) -> int:
    """Run one setting in this process and write what it measured to ``args.result`` as JSON."""
    import lightning  # noqa: F401  - imported before the baseline, as the phase would
    import peft  # noqa: F401
    import torch
    import transformers  # noqa: F401

    if args.threads:
        torch.set_num_threads(args.threads)

    import r1.phases.grpo  # noqa: F401
    from r1.run import main

    cuda = args.device == "cuda"
    work = Path(args.result).parent
    run_dir = work / f"run-{args.child}"
    overrides = setting_overrides(args.child, args.stand_in, args.steps, args.lora_rank, rollout_shape(args))
    overrides += [f"paths.output_root={work / 'outputs'}", f"paths.run_dir={run_dir}", *(["trainer=gpu"] if cuda else []), *extra]
    baseline = torch.cuda.memory_allocated() if cuda else peak_rss_bytes()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    heap = None if cuda else HeapPeak()
    started = time.perf_counter()
    try:
        main(overrides)
    except SystemExit as stop:
        if stop.code not in (None, 0):
            raise
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() if cuda else peak_rss_bytes()
    heap_peak = heap.stop() if heap is not None else None
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    steps = [row for row in history if "completion/length_mean" in row]
    summary = json.loads((run_dir / "summary.json").read_text())
    result = {
        "setting": args.child, "device": args.device, "peak_bytes": peak, "baseline_bytes": baseline, "seconds": seconds,
        "heap_peak_bytes": heap_peak, "heap_baseline_bytes": heap.start_bytes if heap is not None else None,
        "completion_length_mean": sum(row["completion/length_mean"] for row in steps) / len(steps),
        "trainable_parameters": summary["model/trainable_parameters"], "threads": torch.get_num_threads(),
    }
    Path(args.result).write_text(json.dumps(result))
    return 0


def run_setting(name: str, args: argparse.Namespace, extra: list[str], work: Path) -> dict[str, Any]:
    """One setting in a fresh process (:func:`child`); its measurements, or SystemExit with one line."""
    result = work / f"{name}.json"
    command = [
        sys.executable, str(Path(__file__).resolve()), "--child", name, "--result", str(result), "--stand-in", str(args.stand_in),
        "--steps", str(args.steps), "--lora-rank", str(args.lora_rank), "--device", args.device,
        "--max-new-tokens", str(args.max_new_tokens), "--group-size", str(args.group_size), "--prompts-per-step", str(args.prompts_per_step),
        *(["--threads", str(args.threads)] if args.threads else []), *extra,
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "R1_DISABLE_PLUGIN_AUTOLOAD": os.environ.get("R1_DISABLE_PLUGIN_AUTOLOAD", "1")}
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    process = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env)
    if process.returncode != 0 or not result.exists():
        lines = [line.strip() for line in process.stderr.splitlines() if line.strip()]
        raise SystemExit(f"bench_memory: error: setting '{name}' failed (exit {process.returncode}): {lines[-1] if lines else 'no output'}")
    return json.loads(result.read_text())


def measured_table(results: Sequence[dict[str, Any]], model: str, lora_rank: int, steps: int, shape: RolloutShape = SHAPE) -> str:
    """The Markdown table of :func:`child` results on ``model`` (its description), with the notes that say how to read it.

    Each measure (the resident set or CUDA's allocated bytes; on the CPU also malloc's
    bytes in use) gets its peak, its value before the phase, the difference (the training
    part) and that difference as a multiple of full fine-tuning's.
    """
    cuda = bool(results) and results[0]["device"] == "cuda"
    measures = [("peak_bytes", "baseline_bytes", "peak allocated (CUDA)" if cuda else "peak RSS")]
    if any(r.get("heap_peak_bytes") is not None for r in results):
        measures.append(("heap_peak_bytes", "heap_baseline_bytes", "peak heap in use"))
    full = next((r for r in results if r["setting"] == "full"), None)
    header, rule = ["setting"], ["---"]
    for _, _, name in measures:
        header += [name, "before the phase", "training part", "x full"]
        rule += ["---:"] * 4
    header += ["trainable parameters", "completion tokens (mean)", "seconds"]
    rule += ["---:"] * 3
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|"]
    for r in results:
        cells = [SETTINGS[r["setting"]].label.replace("LoRA", f"LoRA r={lora_rank}")]
        for peak_key, base_key, _ in measures:
            if r.get(peak_key) is None:
                cells += ["-"] * 4
                continue
            training = r[peak_key] - r[base_key]
            reference = full[peak_key] - full[base_key] if full is not None and full.get(peak_key) is not None else None
            cells += [f"{r[peak_key] / MIB:,.0f} MiB", f"{r[base_key] / MIB:,.0f} MiB", f"{training / MIB:,.0f} MiB",
                      f"{training / reference:.2f}" if reference else "-"]
        cells += [f"{r['trainable_parameters']:,}", f"{r['completion_length_mean']:.0f}", f"{r['seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    threads = results[0]["threads"] if results else 0
    lines += [
        "",
        f"(GRPO on {model}, {steps} steps of {shape.prompts} prompts x G = {shape.group_size}, completions "
        f"up to {shape.max_new_tokens} tokens, one optimizer step per rollout; {'CUDA' if cuda else f'CPU, {threads} threads'}. "
        "'training part' = peak minus the process's value just before the phase; 'x full' compares those. The model is randomly "
        "initialised, so nearly every completion runs to the cap: the worst case for memory. Each setting ran in a fresh process."
        + ("" if cuda or len(measures) == 1 else
           f" RSS counts what the OS provided, free heap memory and holes included; heap in use counts live allocations, sampled every "
           f"{HEAP_POLL_S * 1000:g} ms, but not the policy's own weights, which stay mapped from their safetensors file in every setting.")
        + ")",
    ]
    return "\n".join(lines)


def stand_in_folder(given: Path | None, work: Path) -> Path:
    """The stand-in to measure: ``given`` (checked), or one built into ``work`` with tools/build_standins.py."""
    if given is not None:
        if not (given / "config.json").is_file():
            raise SystemExit(
                f"bench_memory: error: no model in {given} (no config.json); build it with "
                f"python tools/build_standins.py OUT_DIR --only {STANDIN} and pass --stand-in OUT_DIR/{STANDIN}"
            )
        return given.resolve()
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # one bar per saved file says nothing here
    return load_builder().build_standins(work, [STANDIN])[STANDIN]


def load_builder():
    """``tools/build_standins.py`` as a module (tools/ is no package)."""
    spec = importlib.util.spec_from_file_location("build_standins", REPO / "tools" / "build_standins.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    return builder


def describe_model(folder: Path) -> str:
    """``name (N M parameters, dtype)`` of a saved model folder, read from its files without loading it."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    dtype = config.get("dtype") or config.get("torch_dtype") or "dtype unknown"
    return f"{folder.name} ({load_builder().saved_parameter_count(folder) / 1e6:.1f} M parameters, {dtype})"


# ----------------------------------------------------------------------------- on paper


class DenseModel(NamedTuple):
    """A dense decoder's shape, as far as memory goes."""

    name: str
    parameters: int
    hidden: int
    layers: int
    intermediate: int
    kv_dim: int
    """Key/value heads x head size (grouped-query attention)."""
    vocab: int


QWEN25_7B = DenseModel("Qwen2.5-7B", parameters=7_615_616_512, hidden=3584, layers=28, intermediate=18944, kv_dim=4 * 128, vocab=152_064)

WEIGHT_BYTES = 2
"""bf16 weights, gradients, reference copy and activations."""
FP32_BYTES = 4
ADAMW_STATES = 2
"""AdamW keeps two fp32 states (first and second moment) per trained parameter."""
LOGIT_BYTES = WEIGHT_BYTES + FP32_BYTES
"""Per completion token and vocabulary entry: the bf16 logits and the fp32 copy log-softmax keeps for backward."""


def lora_parameters(model: DenseModel, rank: int) -> int:
    """Adapter parameters with rank ``rank`` on each decoder layer's q, k, v, o, gate, up and down projections: r x (in + out) each."""
    h, kv, i = model.hidden, model.kv_dim, model.intermediate
    per_layer = (h + h) + (h + kv) + (h + kv) + (h + h) + (h + i) + (h + i) + (i + h)
    return rank * per_layer * model.layers


def layer_activation_bytes(model: DenseModel) -> int:
    """Bytes one token keeps for backward in one decoder layer (bf16, flash attention; a lower bound).

    Seven hidden-sized tensors (both norms' inputs, the attention and MLP inputs, q before
    its norm, q and the attention output kept by attention), three key/value-sized ones
    (k before its norm, k and v) and four of the MLP's width (gate, its SiLU, up, and the
    product the down projection reads).
    """
    return WEIGHT_BYTES * (7 * model.hidden + 3 * model.kv_dim + 4 * model.intermediate)


def paper_estimate(model: DenseModel, setting: Setting, shape: RolloutShape = SHAPE, lora_rank: int = 16) -> dict[str, float]:
    """Bytes of each part of one GRPO update's peak for ``setting``: weights, gradients, optimizer, reference, activations, logits, total.

    Pure arithmetic (module docstring for the assumptions). Activations: every layer's
    per-token tensors (:func:`layer_activation_bytes`) for all prompt and completion
    tokens; with checkpointing, each layer's input only, plus one layer's full set while
    it is recomputed.
    """
    tokens = shape.sequences * (shape.prompt_tokens + shape.max_new_tokens)
    trained = lora_parameters(model, lora_rank) if setting.lora else model.parameters
    parts = {
        "weights": model.parameters * WEIGHT_BYTES + (trained * FP32_BYTES if setting.lora else 0),
        "gradients": trained * (FP32_BYTES if setting.lora else WEIGHT_BYTES),
        "optimizer": trained * ADAMW_STATES * FP32_BYTES,
        "reference": 0 if setting.lora else model.parameters * WEIGHT_BYTES,
    }
    per_layer = tokens * layer_activation_bytes(model)
    kept = tokens * WEIGHT_BYTES * model.hidden * model.layers + per_layer if setting.checkpointing else per_layer * model.layers
    parts["activations"] = kept
    parts["logits"] = shape.sequences * shape.max_new_tokens * model.vocab * LOGIT_BYTES
    parts["total"] = sum(parts.values())
    return {key: float(value) for key, value in parts.items()}


HEADROOM = 0.1
"""Share of the GPU an estimate must leave free to count as fitting: the estimate is a lower bound, and the CUDA
context, allocator slack and the KV cache of generation are not in it."""


def fits(total: float, capacity: float) -> str:
    """``yes`` with :data:`HEADROOM` to spare, ``at the edge`` within it, ``no`` over ``capacity``."""
    if total <= (1 - HEADROOM) * capacity:
        return "yes"
    return "at the edge" if total <= capacity else "no"


def paper_table(model: DenseModel = QWEN25_7B, gpu_gib: float = 80.0, shape: RolloutShape = SHAPE, lora_rank: int = 16) -> str:
    """:func:`paper_estimate` for every setting, in GiB, and whether it fits in ``gpu_gib``."""
    lines = [
        f"| {model.name}, {shape.sequences} completions of {shape.prompt_tokens} + {shape.max_new_tokens} tokens | weights | gradients "
        f"| AdamW states | reference copy | activations | logits | total | fits {gpu_gib:g} GiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for setting in SETTINGS.values():
        parts = paper_estimate(model, setting, shape, lora_rank)
        cells = [f"{parts[key] / GIB:.1f}" for key in ("weights", "gradients", "optimizer", "reference", "activations", "logits", "total")]
        label = setting.label.replace("LoRA", f"LoRA r={lora_rank}")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {fits(parts['total'], gpu_gib * GIB)} |")
    lines += [
        "",
        f"(On paper, GiB: bf16 weights, gradients and reference copy; fp32 AdamW states; LoRA r={lora_rank} on every linear projection "
        f"({lora_parameters(model, lora_rank) / 1e6:.1f} M parameters, fp32 with their gradients and states); activations a lower bound "
        "(bf16, flash attention, one optimizer step over the whole rollout). CUDA context, allocator slack and generation's KV cache "
        "come on top; phase.mini_batch_size divides activations and logits by the number of mini-batches.)",
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- command line


def parse(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    """The options, and the remaining ``key=value`` overrides passed to every setting; anything else is an error."""
    parser = argparse.ArgumentParser(prog="bench_memory.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stand-in", type=Path, default=None, help=f"the {STANDIN} folder (default: build one into a temporary folder)")
    parser.add_argument("--steps", type=int, default=2, help="GRPO steps per setting (2 or more: AdamW's states exist from the second)")
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS), metavar="NAME",
                        help=f"which settings, in this order (default: {' '.join(SETTINGS)})")
    parser.add_argument("--lora-rank", type=int, default=16, help="model.lora.r of the LoRA settings")
    parser.add_argument("--max-new-tokens", type=int, default=SHAPE.max_new_tokens, help="phase.max_new_tokens")
    parser.add_argument("--group-size", type=int, default=SHAPE.group_size, help="phase.group_size (G)")
    parser.add_argument("--prompts-per-step", type=int, default=SHAPE.prompts, help="phase.prompts_per_step")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS and torch threads of each run (default: torch's choice)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto = cuda when torch sees a GPU")
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    parser.add_argument("--paper", action="store_true", help="print the on-paper 7B table and exit (runs nothing)")
    parser.add_argument("--child", choices=list(SETTINGS), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, default=None, help=argparse.SUPPRESS)
    args, extra = parser.parse_known_args(argv)
    unknown = [item for item in extra if "=" not in item or item.startswith("-")]
    if unknown:
        parser.error(f"unrecognized argument {unknown[0]!r} (hydra overrides are key=value)")
    for flag in ("steps", "lora_rank", "max_new_tokens", "group_size", "prompts_per_step", "threads"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
    return args, extra


def rollout_shape(args: argparse.Namespace) -> RolloutShape:
    """The measured step's shape from the command line (the prompt length is the task's own)."""
    return RolloutShape(prompts=args.prompts_per_step, group_size=args.group_size, max_new_tokens=args.max_new_tokens)


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = parse(argv)
    if args.paper:
        print(paper_table(lora_rank=args.lora_rank))
        return 0
    if args.child:
        return child(args, extra)
    if args.device == "auto":
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_memory-") as tmp:
        work = Path(tmp)
        args.stand_in = stand_in_folder(args.stand_in, work)
        results = []
        for name in args.settings:
            results.append(run_setting(name, args, extra, work))
            heap = results[-1]["heap_peak_bytes"]
            print(f"{name}: peak {results[-1]['peak_bytes'] / MIB:,.0f} MiB" + (f", heap in use {heap / MIB:,.0f} MiB" if heap else "")
                  + f" in {results[-1]['seconds']:.0f} s", file=sys.stderr, flush=True)
        model = describe_model(args.stand_in)
    table = measured_table(results, model, args.lora_rank, args.steps, rollout_shape(args))
    print(table)
    print(f"(wall time {time.perf_counter() - started:.0f} s)")
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
