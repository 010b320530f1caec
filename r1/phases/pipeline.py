"""The whole R1 recipe in one command (``python -m r1.run``, ``phase=pipeline``).

cold-start SFT → GRPO → rejection sampling → distillation → evaluation of every stage;
with ``experiment=r1_full`` also R1's second half: a second SFT of the base model on the
rejection-sampled reasoning data mixed with general data (``phase.reasoning_share``, 3:1),
an RL stage over reasoning and general prompts together (``grpo2``), and distillation on
the same mix, each model scored on every task of ``phase.eval_tasks``.

Each stage is an ordinary phase, composed as ``python -m r1.run phase=<stage>``
would compose it (with the user's overrides and the pipeline's per-stage
overrides), and reads what the previous stage wrote: a Hugging Face folder or a
dataset folder. Stages live under ``<output_root>/pipeline/<name>-<config hash>/``;
a stage that finished there (:func:`r1.phases.common.mark_done`) is not run again, so
re-running the same command after a crash, or after adding a stage, only does what is
missing (and a stage killed mid-way resumes, as its phase does).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, open_dict

from r1.errors import ConfigError
from r1.phases.common import config_hash, finish_logging, lock_folder, mark_done, read_done, read_settings, release_folder, run_dir
from r1.settings import bounded

TRAINING_STAGES = ("sft", "grpo", "rejection", "sft2", "grpo2", "distill")
MODEL_STAGES = {"base": "", "sft": "sft", "grpo": "grpo", "sft2": "sft2", "grpo2": "grpo2", "student": "distill"}
"""The stage whose saved model each evaluated label scores ("" = none: the base model)."""
EVALUATED = tuple(MODEL_STAGES)
TITLES = {
    "base": "Base model", "sft": "Cold-start SFT", "grpo": "GRPO (RL)", "sft2": "SFT on rejection + general data",
    "grpo2": "RL over all scenarios", "student": "Distilled student",
}
BAR_COLOURS = ["#999999", "#6699cc", "#cc3333", "#9966cc", "#cc8833", "#66aa66"]
"""The accuracy-by-stage bars, in :data:`EVALUATED` order."""
PLOT_DPI = 100
"""Resolution of the report's plots."""


@dataclass
class PipelineSettings:
    """``conf/phase/pipeline.yaml``: which stages run, which models are scored, and each stage's overrides."""

    name: str
    """The phase (``pipeline``)."""
    label: str
    """Names the working folder (and the experiment variant)."""
    stages: list[str]
    """Training stages, run in the order sft, grpo, rejection, distill (a subset works)."""
    evaluate: list[str]
    """Models scored on the held-out split at the end: base, sft, grpo, student."""
    sft: list[str]
    """Overrides of the cold-start SFT stage, as on the command line."""
    grpo: list[str]
    """Overrides of the GRPO stage."""
    rejection: list[str]
    """Overrides of the rejection-sampling stage."""
    sft2: list[str]
    """Overrides of the second SFT (the base model on rejection-sampled reasoning data mixed with the run's task's examples)."""
    grpo2: list[str]
    """Overrides of the RL stage over all scenarios (from the second SFT's model)."""
    distill: list[str]
    """Overrides of the distillation stage."""
    eval: list[str]
    """Overrides of every evaluation stage."""
    reasoning_share: float = bounded(gt=0, le=1)
    """With ``sft2``: the rejection-sampled reasoning data's share of the second SFT's and the distillation's mix; the rest is the stage task's own examples."""
    eval_tasks: list[str]
    general_data: dict[str, Any] | None
    """With ``sft2``: the general part of the mix as a ``data.mixture`` entry (``path`` and field names, e.g. a chat
    JSONL with ``messages_field``); null = the stage task's own examples (``task=general`` in ``experiment=r1_full``)."""
    """Task options every model is scored on (``benchmark=heldout`` of each); empty = the run's task."""

    def __post_init__(self) -> None:
        unknown = [s for s in self.stages if s not in TRAINING_STAGES]
        if unknown:
            raise ConfigError(f"unknown pipeline stage(s) {unknown} in phase.stages; choose from: {', '.join(TRAINING_STAGES)}")
        bad = [e for e in self.evaluate if e not in EVALUATED]
        if bad:
            raise ConfigError(f"unknown model(s) to evaluate {bad} in phase.evaluate; choose from: {', '.join(EVALUATED)}")
        if "distill" in self.stages and "rejection" not in self.stages:
            raise ConfigError("the distill stage needs the rejection stage's dataset; add 'rejection' to phase.stages")
        if "sft2" in self.stages and "rejection" not in self.stages:
            raise ConfigError("the sft2 stage mixes in the rejection stage's dataset; add 'rejection' to phase.stages")
        if "grpo2" in self.stages and "sft2" not in self.stages:
            raise ConfigError("the grpo2 stage starts from the sft2 stage's model; add 'sft2' to phase.stages")


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run the configured stages in order; returns (and writes) the report's numbers."""
    pipe = read_settings(PipelineSettings, cfg.phase)
    check_eval_tasks(pipe.eval_tasks)  # before any stage runs, not after the training ones
    stages, evaluated = pipe.stages, pipe.evaluate

    root = Path(cfg.paths.output_root) / "pipeline" / f"{pipe.label}-{config_hash(cfg)}"
    lock_folder(root)  # the same command twice at once: the second is refused in one line
    print(f"[pipeline] stages {' -> '.join(stages)}; working folder {root}", flush=True)
    started = time.perf_counter()
    outputs: dict[str, dict[str, Any]] = {}
    policy: str | None = None  # the newest policy folder; None = the base model from `model`

    if "sft" in stages:
        outputs["sft"] = stage(root, "sft", pipe.sft)
        policy = outputs["sft"]["hf_dir"]
    if "grpo" in stages:
        init = policy or "model"
        outputs["grpo"] = stage(root, "grpo", [f"phase.init_from={init}", *pipe.grpo])
        policy = outputs["grpo"]["hf_dir"]
    if "rejection" in stages:
        # each stage samples from the policy the stages before it trained: the base model when none did
        start = _model(policy) if policy else ["phase.init_from=model"]
        outputs["rejection"] = stage(root, "rejection", [*start, f"phase.output_dir={root / 'rejection'}", *pipe.rejection])
    reasoning_mix = None
    if "sft2" in stages:
        # R1's stage 3: the base model again, on reasoning samples from the RL model plus general data
        reasoning_mix = mixture_override(outputs["rejection"]["dataset_dir"], pipe.reasoning_share, pipe.general_data)
        outputs["sft2"] = stage(root, "sft2", [reasoning_mix, *pipe.sft2], phase="sft")
        policy = outputs["sft2"]["hf_dir"]
    if "grpo2" in stages:
        outputs["grpo2"] = stage(root, "grpo2", [f"phase.init_from={policy}", *pipe.grpo2], phase="grpo")
        policy = outputs["grpo2"]["hf_dir"]
    if "distill" in stages:
        data = reasoning_mix or f"data.path={outputs['rejection']['dataset_dir']}"
        teacher = [f"phase.teacher={policy}"] if policy else []
        outputs["distill"] = stage(root, "distill", [data, *teacher, *pipe.distill])

    models = {label: outputs.get(stage_name, {}).get("hf_dir") for label, stage_name in MODEL_STAGES.items()}
    primary = str(cfg.task.name)
    tasks = pipe.eval_tasks or [primary]
    scores: dict[str, dict[str, Any]] = {}
    for label in evaluated:
        if label != "base" and not models[label]:
            continue
        by_task = {}
        for task in tasks:
            name = f"eval_{label}" if task == primary else f"eval_{label}_{task}"
            chosen = [] if task == primary else [f"task={task}"]
            by_task[task] = _heldout(stage(root, name, [*_model(models[label]), *chosen, *pipe.eval], phase="eval"))
        scores[label] = {**by_task.get(primary, by_task[tasks[0]]), "tasks": by_task}

    report = write_report(root, cfg, scores, outputs, time.perf_counter() - started)
    for folder in {root, run_dir(cfg)}:
        (folder / "report.md").write_text(report["markdown"], encoding="utf-8")
    print(report["markdown"], flush=True)
    print(f"[pipeline] report: {root / 'report.md'}", flush=True)
    _log_report(cfg, report, root)
    finish_logging()
    release_folder(root)
    return {k: v for k, v in report.items() if k != "markdown"}


def check_eval_tasks(tasks: list[str]) -> None:
    """One line for a ``phase.eval_tasks`` entry the eval stage could not compose (an unknown task option)."""
    from hydra.errors import MissingConfigException

    from r1.phases.compose import compose_phase

    for task in tasks:
        try:
            compose_phase("eval", [f"task={task}"])
        except MissingConfigException as error:
            listed = str(error).split("Config search path")[0]  # Hydra lists the group's options, then its search path
            options = [line.strip() for line in listed.splitlines() if line.startswith("\t")]
            raise ConfigError(f"unknown task '{task}' in phase.eval_tasks; choose from: {', '.join(options)}") from None


def mixture_override(reasoning_dir: str, reasoning_share: float, general: dict[str, Any] | None = None) -> str:
    """``data.mixture``: the rejection-sampled dataset at ``reasoning_share``; the general data (or the stage task's examples) for the rest."""
    share = round(1.0 - reasoning_share, 6)
    entries = [{"path": reasoning_dir, "ratio": reasoning_share}]
    if share > 0:
        entries.append({"path": None, **(general or {}), "ratio": share})
    return "data.mixture=[" + ", ".join("{" + ", ".join(f"{k}: {_override_value(v)}" for k, v in e.items()) + "}" for e in entries) + "]"


def _override_value(value: Any) -> str:
    """A value as Hydra's override grammar reads it: null, numbers and booleans bare, everything else quoted."""
    if value is None:
        return "null"
    if isinstance(value, (bool, int, float)):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return json.dumps(str(value))


def stage(root: Path, name: str, overrides: list[str], phase: str | None = None) -> dict[str, Any]:
    """Run one stage into ``root/name`` unless it already finished there; returns its summary."""
    from r1.phases import dispatch
    from r1.phases.compose import compose_phase

    folder = root / name
    finished = read_done(folder)
    if finished is not None:
        print(f"[pipeline] {name}: already done, reusing {folder}", flush=True)
        return finished
    print(f"[pipeline] {name}: running", flush=True)
    stage_cfg = compose_phase(phase or name, [*overrides, f"paths.run_dir={folder}"])
    with open_dict(stage_cfg):
        stage_cfg.paths.output_root = str(root.parent.parent)
        if stage_cfg.get("logger") and "group" in stage_cfg.logger:
            stage_cfg.logger.group = root.name  # one W&B group per pipeline, one run per stage
            stage_cfg.logger.name = name
    began = time.perf_counter()
    try:
        summary = dict(dispatch(stage_cfg) or {})
    finally:
        finish_logging()
    summary["stage_seconds"] = time.perf_counter() - began
    mark_done(folder, summary)
    return summary


def _model(folder: str | None) -> list[str]:
    """Overrides that load a saved policy folder (none: the `model` config itself, the base model)."""
    return ["model=hf", f"model.name_or_path={folder}", "model.dtype=float32"] if folder else []


def _heldout(summary: dict[str, Any]) -> dict[str, Any]:
    """pass@1, format rate and mean think length of the held-out benchmark from an eval stage's summary."""
    return {
        "pass@1": summary.get("heldout/pass@1"),
        "format_rate": summary.get("heldout/format_rate"),
        "pass@k": summary.get("heldout/pass@k"),
        "think_chars": think_length(summary.get("output_dir")),
        "output_dir": summary.get("output_dir"),
    }


def think_length(output_dir: str | None) -> float | None:
    """Mean characters inside ``<think>`` over an eval's responses (``completions.jsonl``); None without them.

    The tiny default's tokenizer is byte-level, so characters are about tokens; what matters
    is the contrast, a worked chain of thought on reasoning prompts against a brief one on general ones.
    """
    from r1.template import chain_of_thought

    path = Path(output_dir or "") / "completions.jsonl"
    if not output_dir or not path.is_file():
        return None
    # split on newlines only: a response may hold other Unicode line breaks, which str.splitlines also splits on
    responses = [json.loads(line)["response"] for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    return sum(len(chain_of_thought(r).strip()) for r in responses) / len(responses) if responses else None


def write_report(root: Path, cfg: DictConfig, scores: dict[str, dict[str, Any]], outputs: dict[str, dict[str, Any]], seconds: float) -> dict[str, Any]:
    """``report.md`` with the stage table and its plots (reward curve, accuracy by stage, expert load of MoE policies)."""
    lines = [
        "# R1 recipe report",
        "",
        f"Task `{cfg.task.name}`, seed {cfg.seed}, {seconds / 60:.1f} min in total (stages reused from earlier runs count 0).",
        "",
    ]
    tasks = list(next(iter(scores.values()), {}).get("tasks") or {cfg.task.name: {}})
    if len(tasks) == 1:
        lines += ["| Model | held-out pass@1 | format rate | pass@k | think length |", "| --- | ---: | ---: | ---: | ---: |"]
        for label, row in scores.items():
            lines.append(f"| {TITLES[label]} | {_pct(row['pass@1'])} | {_pct(row['format_rate'])} | {_pct(row['pass@k'])} | {_num(row.get('think_chars'))} |")
    else:
        lines += [
            "| Model | " + " | ".join(f"{task} pass@1" for task in tasks) + " | " + " | ".join(f"{task} think length" for task in tasks) + " |",
            "| --- |" + " ---: |" * (2 * len(tasks)),
        ]
        for label, row in scores.items():
            by_task = row.get("tasks") or {}
            accuracy = " | ".join(_pct(by_task.get(task, {}).get("pass@1")) for task in tasks)
            think = " | ".join(_num(by_task.get(task, {}).get("think_chars")) for task in tasks)
            lines.append(f"| {TITLES[label]} | {accuracy} | {think} |")
    lines.append("")
    sft, grpo, student = (scores.get(k, {}).get("pass@1") for k in ("sft", "grpo", "student"))
    if sft is not None and grpo is not None:
        lines.append(f"GRPO over SFT: {100 * (grpo - sft):+.1f} points of held-out pass@1.")
    final = next((label for label in ("grpo2", "sft2", "grpo") if scores.get(label)), None)
    kept = _kept_shares(scores, final)
    if kept:
        lines.append("The student keeps " + ", ".join(f"{100 * share:.0f} % of the {TITLES[final]} model's {task} pass@1" for task, share in kept.items()) + ".")
    if "grpo2" in scores and "grpo" in scores:
        for task, row in (scores["grpo2"].get("tasks") or {}).items():
            before = (scores["grpo"].get("tasks") or {}).get(task, {}).get("pass@1")
            if before is not None and row.get("pass@1") is not None:
                lines.append(f"{task}: {100 * (row['pass@1'] - before):+.1f} points from the reasoning RL stage to the final model.")
    if "rejection" in outputs:
        kept = outputs["rejection"].get("kept")
        generated = outputs["rejection"].get("generated")
        if kept is not None and generated:
            lines.append(f"Rejection sampling kept {kept} of {generated} responses.")
    lines.append("")
    plots = []
    curve = _reward_curve(root, outputs.get("grpo"))
    if curve:
        plots.append(curve)
        lines += ["![GRPO reward and held-out accuracy](grpo_curve.png)", ""]
    bars = _accuracy_bars(root, scores)
    if bars:
        plots.append(bars)
        lines += ["![Held-out pass@1 by stage](accuracy_by_stage.png)", ""]
    loads = _expert_loads(outputs)
    load_summary = _expert_load_summary(loads)
    if load_summary:
        lines += _expert_load_lines(load_summary)
    load = _expert_load(root, loads)
    if load:
        plots.append(load)
        lines += ["![Expert load per layer: SFT against GRPO](expert_load.png)", ""]
    lines += ["Held-out pass@1: mean correctness over k samples per problem at the eval temperature (R1 protocol).", ""]
    report = {
        "markdown": "\n".join(lines),
        "scores": scores,
        "seconds": seconds,
        "folder": str(root),
        "plots": [str(p) for p in plots],
        "grpo_minus_sft": None if sft is None or grpo is None else grpo - sft,
        "student_over_teacher": None if not grpo or student is None else student / grpo,
        "student_kept": kept,
        "expert_load": load_summary,
    }
    (root / "report.json").write_text(json.dumps({k: v for k, v in report.items() if k != "markdown"}, indent=2, default=str))
    return report


def _reward_curve(root: Path, grpo: dict[str, Any] | None) -> Path | None:
    if not grpo or not grpo.get("run_dir"):
        return None
    history_file = Path(grpo["run_dir"]) / "history.jsonl"
    if not history_file.is_file():
        return None
    rows = [json.loads(line) for line in history_file.read_text().splitlines() if line.strip()]
    train = [(r["step"], r["reward/mean"]) for r in rows if "reward/mean" in r]
    val = [(r["step"], r["val/accuracy"]) for r in rows if "val/accuracy" in r]
    if not train:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, left = plt.subplots(figsize=(7, 4))
    left.plot(*zip(*train), color="tab:blue", alpha=0.6, label="mean reward (train)")
    left.set_xlabel("GRPO step")
    left.set_ylabel("mean reward")
    if val:
        right = left.twinx()
        right.plot(*zip(*val), color="tab:red", marker="o", label="held-out accuracy (greedy)")
        right.set_ylabel("held-out accuracy")
        right.set_ylim(0, 1)
    figure.legend(loc="lower right")
    figure.tight_layout()
    path = root / "grpo_curve.png"
    figure.savefig(path, dpi=PLOT_DPI)
    plt.close(figure)
    return path


def _accuracy_bars(root: Path, scores: dict[str, dict[str, Any]]) -> Path | None:
    labels = [k for k, v in scores.items() if v.get("pass@1") is not None]
    if not labels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5))
    values = [100 * scores[k]["pass@1"] for k in labels]
    bars = axes.bar([TITLES[k] for k in labels], values, color=[BAR_COLOURS[EVALUATED.index(k)] for k in labels])
    axes.bar_label(bars, fmt="%.1f")
    axes.set_ylabel("held-out pass@1 (%)")
    axes.set_ylim(0, 100)
    figure.tight_layout()
    path = root / "accuracy_by_stage.png"
    figure.savefig(path, dpi=PLOT_DPI)
    plt.close(figure)
    return path


EXPERT_LOAD_PROMPTS = 64
"""Held-out arithmetic problems (prompt + reference response) whose routing the expert-load plot counts."""
EXPERT_LOAD_BATCH = 16
"""Sequences per forward when counting the expert load."""
EXPERT_LOAD_TICKS = 32
"""Experts up to which every bar gets its number on the axis (more would overlap)."""
EXPERT_LOAD_COLOURS = {"sft": BAR_COLOURS[EVALUATED.index("sft")], "grpo": BAR_COLOURS[EVALUATED.index("grpo")]}


def _expert_loads(outputs: dict[str, dict[str, Any]]) -> dict[str, dict[int, Any]]:
    """Per MoE layer, the tokens each expert received from the SFT and the GRPO policy; {} unless both are MoE models.

    Both saved policies are run teacher-forced over the same fixed sample of held-out
    arithmetic problems (``conf/task/arithmetic.yaml``, seed 0), so the loads differ only by
    what training did to the routers.
    """
    folders = {label: (outputs.get(label) or {}).get("hf_dir") for label in ("sft", "grpo")}
    if not all(folder and Path(folder).is_dir() for folder in folders.values()):
        return {}
    from r1.models.moe_stats import saved_moe_layers
    from r1.phases.balance import held_out_arithmetic, load_saved, teacher_forced_load

    if not all(saved_moe_layers(folder) for folder in folders.values()):
        return {}
    samples = held_out_arithmetic(EXPERT_LOAD_PROMPTS, seed=0)
    loads: dict[str, dict[int, Any]] = {}
    for label, folder in folders.items():
        model, tokenizer = load_saved(folder)
        loads[label] = teacher_forced_load(model, tokenizer, samples, EXPERT_LOAD_BATCH, model.config.max_position_embeddings)[0]
    return loads if set(loads["sft"]) & set(loads["grpo"]) else {}


def _expert_load_summary(loads: dict[str, dict[int, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """``{stage: {layer: layer_summary}}`` for report.json."""
    from r1.models.moe_stats import layer_summary

    return {label: {str(layer): layer_summary(counts) for layer, counts in sorted(by_layer.items())} for label, by_layer in loads.items()}


def _expert_load_lines(summary: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    """The report's expert-load table: per stage, the worst layer's max/mean and min/mean load, and dead experts."""
    lines = ["| Expert load (64 held-out problems) | worst max/mean | worst min/mean | dead experts (< 10 % of mean) |", "|---|---:|---:|---:|"]
    for label, layers in summary.items():
        rows = list(layers.values())
        lines.append(
            f"| {TITLES[label]} | {max(r['max_mean'] for r in rows):.2f} | {min(r['min_mean'] for r in rows):.2f} | {int(sum(r['dead'] for r in rows))} |"
        )
    return [*lines, ""]


def _expert_load(root: Path, loads: dict[str, dict[int, Any]]) -> Path | None:
    """``expert_load.png``: per MoE layer, each expert's share of the routed tokens after SFT and after GRPO."""
    layers = sorted(set(loads.get("sft", {})) & set(loads.get("grpo", {})))
    if not layers:
        return None
    import matplotlib

    from r1.models.moe_stats import load_shares

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, panels = plt.subplots(len(layers), 1, figsize=(8, 2.2 * len(layers) + 0.6), squeeze=False)
    width = 0.4
    for panel, layer in zip(panels[:, 0], layers):
        for offset, label in ((-width / 2, "sft"), (width / 2, "grpo")):
            shares = [100 * s for s in load_shares(loads[label][layer])]
            panel.bar([j + offset for j in range(len(shares))], shares, width=width, color=EXPERT_LOAD_COLOURS[label], label=TITLES[label])
        experts = len(loads["sft"][layer])
        panel.axhline(100 / experts, color="black", linestyle="--", linewidth=1, label="uniform share")
        if experts <= EXPERT_LOAD_TICKS:
            panel.set_xticks(range(experts))
        panel.set_ylabel(f"layer {layer}\nshare (%)")
    panels[-1, 0].set_xlabel("routed expert")
    panels[0, 0].legend(loc="upper right", fontsize="small")
    figure.tight_layout()
    path = root / "expert_load.png"
    figure.savefig(path, dpi=PLOT_DPI)
    plt.close(figure)
    return path


def _log_report(cfg: DictConfig, report: dict[str, Any], root: Path) -> None:
    """Send the report's numbers, table and plots to the configured logger (W&B, CSV)."""
    from r1.phases.common import build_logger

    with open_dict(cfg):
        if cfg.get("logger") and "group" in cfg.logger:
            cfg.logger.group = root.name
            cfg.logger.name = "report"
    logger = build_logger(cfg)
    if not logger:
        return
    metrics = {f"report/{label}/{key}": value for label, row in report["scores"].items() for key, value in row.items() if isinstance(value, (int, float))}
    metrics.update({
        f"report/{label}/{task}/{key}": value
        for label, row in report["scores"].items() for task, numbers in (row.get("tasks") or {}).items()
        for key, value in numbers.items() if isinstance(value, (int, float))
    })
    logger.log_metrics(metrics, step=0)
    if hasattr(logger, "log_text"):
        rows = [[label, row.get("pass@1"), row.get("format_rate")] for label, row in report["scores"].items()]
        logger.log_text(key="report", columns=["model", "pass@1", "format_rate"], data=rows)
    if hasattr(logger, "log_image"):
        for plot in report["plots"]:
            logger.log_image(key=Path(plot).stem, images=[plot])
    if type(logger).__name__ == "WandbLogger":  # the report file goes with the W&B run
        logger.experiment.save(str(root / "report.md"), base_path=str(root), policy="now")
    logger.save()
    logger.finalize("success")


def _kept_shares(scores: dict[str, dict[str, Any]], teacher: str | None) -> dict[str, float]:
    """Per task, the student's pass@1 over its teacher's (the last policy trained), where the teacher scores above 0."""
    if teacher is None or "student" not in scores:
        return {}
    shares = {}
    for task, row in (scores["student"].get("tasks") or {}).items():
        mine, theirs = row.get("pass@1"), (scores[teacher].get("tasks") or {}).get(task, {}).get("pass@1")
        if mine is not None and theirs:
            shares[task] = mine / theirs
    return shares


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"
