"""A few GRPO steps per trainer/sampler configuration on this machine's GPU, one JSON line each.

Run by ``tools/gpu_check.sh`` (which first installs the wheels a bare GPU image lacks);
``python tools/gpu_check.py --accelerator cpu`` runs the same configurations on CPU, to
check the script itself. Each configuration is a plain ``python -m r1.run phase=grpo
phase.init_from=model ...`` in a child process (wrapped only to read
``torch.cuda.max_memory_allocated`` at exit), so a failure is reported and the next
configuration still runs. Throughput is read from the run's ``history.jsonl``; the first
step (CUDA warm-up, allocator growth) is left out of the medians.

Line fields: ``config``, ``ok``, ``tokens_per_s_per_gpu`` (completion tokens trained per
second of step time, per GPU), ``gen_tokens_per_s`` (the sampler's own rate),
``step_s``, ``generate_s``, ``peak_mem_gib``, ``reward_first``/``reward_last``,
``wall_s``; on failure ``rc`` and ``error`` (the last lines of the output).
"""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import json
import os
import runpy
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE_ENV = "R1_GPU_CHECK_PROBE"

# A few GRPO steps of P=16 prompts x G=16 samples; no validation, one checkpoint at the end.
BASE = [
    "phase=grpo", "phase.init_from=model", "logger=none", "phase.progress_bar=false",
    "phase.val_prompts=0", "phase.log_completions_every=0", "phase.train_prompts=512",
    "phase.prompts_per_step=16", "phase.group_size=16", "phase.max_new_tokens=48",
]
# The tiny DeepSeek-V3 architecture at hidden 1024 (224 M parameters): enough work for the GPU to matter.
WIDE = [
    "model.architecture.hidden_size=1024", "model.architecture.num_layers=8", "model.architecture.num_heads=16",
    "model.architecture.dense_intermediate_size=2816", "model.architecture.expert_intermediate_size=512",
    "model.architecture.kv_lora_rank=256", "model.architecture.rope_head_dim=32",
    "model.architecture.nope_head_dim=64", "model.architecture.v_head_dim=64",
]
FSDP_ONE_GPU = ["trainer=fsdp", "trainer.devices=1"]
CONFIGS: dict[str, list[str]] = {
    "gpu-tiny": ["trainer=gpu"],
    "fsdp-tiny": FSDP_ONE_GPU,
    "gpu-h1024": ["trainer=gpu", *WIDE],
    "fsdp-h1024": [*FSDP_ONE_GPU, *WIDE],
    "fsdp-h1024-minibatch": [*FSDP_ONE_GPU, *WIDE, "phase.mini_batch_size=64"],
    # vLLM's MLA kernels take only DeepSeek-V3's own latent width, kv_lora_rank 512 + rope 64 (the tiny default has 32 + 16)
    "vllm-mla576": ["trainer=gpu", "sampler=vllm", "model.architecture.kv_lora_rank=512", "model.architecture.rope_head_dim=64"],
    "vllm-mla576-tis": ["trainer=gpu", "sampler=vllm", "model.architecture.kv_lora_rank=512", "model.architecture.rope_head_dim=64",
                        "phase.rollout_correction=tis"],
    # model.lora / model.gradient_checkpointing: the peak memory each saves at this width (tools/bench_memory.py on CPU)
    "gpu-h1024-lora": ["trainer=gpu", *WIDE, "model.lora.enabled=true"],
    "gpu-h1024-checkpointing": ["trainer=gpu", *WIDE, "model.gradient_checkpointing=true"],
    "fsdp-h1024-lora": [*FSDP_ONE_GPU, *WIDE, "model.lora.enabled=true"],
}


def probe(args: list[str]) -> None:
    """Run ``python -m r1.run ARGS`` in this process and write peak GPU memory to $R1_GPU_CHECK_PROBE at exit."""
    target = Path(os.environ[PROBE_ENV])

    def report() -> None:
        import torch

        cuda = torch.cuda.is_available()
        target.write_text(json.dumps({
            "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3) if cuda else None,
            "device": torch.cuda.get_device_name(0) if cuda else "cpu",
            "torch": torch.__version__,
        }))

    atexit.register(report)
    sys.argv = ["r1.run", *args]
    runpy.run_module("r1.run", run_name="__main__", alter_sys=True)


def for_cpu(overrides: list[str]) -> list[str]:
    """The same configuration on CPU processes, smaller (to check this script without a GPU)."""
    out = ["phase.prompts_per_step=2", "phase.group_size=4", "phase.max_new_tokens=16"]
    for item in overrides:
        if item == "trainer=gpu":
            out += ["trainer=cpu"]
        elif item == "trainer=fsdp":
            out += [item, "trainer.accelerator=cpu", "trainer.precision=32-true"]
        else:
            out.append(item)
    return out


def median_after_warmup(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if key in r]
    values = values[1:] if len(values) > 1 else values
    return round(statistics.median(values), 4) if values else None


def summarise(name: str, root: Path, probe_file: Path, group_size: int, wall: float) -> dict:
    """One result line from a finished run's files."""
    summaries = sorted(root.glob("grpo/*/*/summary.json"))
    if not summaries:
        raise RuntimeError("the run wrote no summary.json")
    summary = json.loads(summaries[-1].read_text())
    history = [json.loads(line) for line in (summaries[-1].parent / "history.jsonl").read_text().splitlines() if line.strip()]
    steps = [r for r in history if "time/step_s" in r]
    world = int(summary.get("world_size", 1)) or 1
    per_step = [r["completion/length_mean"] * r["groups/count"] * group_size / r["time/step_s"] / world for r in steps]
    line = {
        "config": name,
        "ok": True,
        "tokens_per_s_per_gpu": round(statistics.median(per_step[1:] or per_step), 1) if per_step else None,
        "gen_tokens_per_s": median_after_warmup(steps, "perf/tokens_per_s"),
        "step_s": median_after_warmup(steps, "time/step_s"),
        "generate_s": median_after_warmup(steps, "time/generate_s"),
        "train_s": median_after_warmup(steps, "time/train_s"),
        "steps": len(steps),
        "world_size": world,
        "reward_first": round(steps[0]["reward/mean"], 4) if steps else None,
        "reward_last": round(steps[-1]["reward/mean"], 4) if steps else None,
        "hf_saved": bool(summary.get("hf_dir")) and Path(summary["hf_dir"], "config.json").is_file(),
        # the sampler's log-probs against the trainer's (train/inference mismatch), median per step
        "mismatch_mean": median_after_warmup(steps, "mismatch/logprob_diff_mean"),
        "mismatch_max": median_after_warmup(steps, "mismatch/logprob_diff_max"),
        "wall_s": round(wall, 1),
    }
    if probe_file.is_file():
        line.update(json.loads(probe_file.read_text()))
    return line


def run_config(name: str, overrides: list[str], args: argparse.Namespace, timeout: float) -> dict:
    root = Path(args.work) / name  # runs stay on the machine; only results and logs go to --out
    probe_file = root / "probe.json"
    root.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), "probe", *BASE, f"phase.max_steps={args.steps}",
               f"phase.checkpoint_every={args.steps}", f"paths.output_root={root}", *overrides]
    env = {**os.environ, PROBE_ENV: str(probe_file), "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    try:
        result = subprocess.run(command, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        tail = expired.stderr or ""
        tail = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
        return {"config": name, "ok": False, "rc": "timeout", "error": f"over {timeout:.0f} s: {tail[-800:]}"}
    wall = time.perf_counter() - started
    (Path(args.out) / f"{name}.log").write_text(result.stdout + "\n--- stderr ---\n" + result.stderr)
    if result.returncode != 0:
        lines = [ln for ln in (result.stderr + result.stdout).splitlines() if ln.strip() and "Warning" not in ln]
        return {"config": name, "ok": False, "rc": result.returncode, "error": " | ".join(lines[-6:])[-1500:]}
    group_size = int([item for item in command if item.startswith("phase.group_size=")][-1].split("=")[1])
    try:
        return summarise(name, root, probe_file, group_size=group_size, wall=wall)
    except Exception as error:  # noqa: BLE001 - report and go on to the next configuration
        return {"config": name, "ok": False, "rc": 0, "error": f"could not read the run's results: {error}"}


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "probe":
        probe(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=None, help=f"configurations to run (default: all of {', '.join(CONFIGS)})")
    parser.add_argument("--steps", type=int, default=4, help="GRPO steps per configuration")
    parser.add_argument("--timeout", type=int, default=100, help="seconds allowed per configuration")
    parser.add_argument("--budget", type=int, default=270, help="seconds for all configurations; the rest are skipped")
    parser.add_argument("--out", default=os.environ.get("OUT") or "/tmp/r1-gpu-check", help="where the JSON lines and per-configuration logs go")
    parser.add_argument("--work", default="/tmp/r1-gpu-check/runs", help="where the runs write their folders")
    parser.add_argument("--accelerator", choices=["gpu", "cpu"], default="gpu", help="cpu: check this script without a GPU")
    args = parser.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)

    results, deadline = [], time.monotonic() + args.budget
    for name, overrides in CONFIGS.items():
        if args.only is not None and name not in args.only:
            continue
        left = deadline - time.monotonic()
        if "sampler=vllm" in overrides and importlib.util.find_spec("vllm") is None:
            line = {"config": name, "ok": None, "skipped": "vllm is not installed"}
        elif left < 20:
            line = {"config": name, "ok": None, "skipped": f"the {args.budget} s budget is spent"}
        else:
            line = run_config(name, for_cpu(overrides) if args.accelerator == "cpu" else overrides, args, timeout=min(args.timeout, left))
        results.append(line)
        print(json.dumps(line), flush=True)
        with open(Path(args.out) / "gpu_check.jsonl", "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
    failed = [r["config"] for r in results if r.get("ok") is False]
    print(json.dumps({"summary": True, "passed": sum(r.get("ok") is True for r in results), "failed": failed}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
