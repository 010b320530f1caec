"""Write evaluation results as JSON, a Markdown table in the R1 paper's style, and a bar chart."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def markdown_table(results: Mapping[str, Mapping[str, Any]], model: str, titles: Mapping[str, str] | None = None) -> str:
    """The results as the DeepSeek-R1 paper's benchmark table, plus a details table.

    The first table has one row per benchmark and metric (``AIME 2024 (Pass@1)``),
    the model as the column, values in percent; maj@k appears as "Cons@k", as
    the paper names it.
    """
    titles = titles or {}
    lines = [f"| Benchmark (Metric) | {model} |", "|---|---:|"]
    for name, m in results.items():
        title = titles.get(name, name)
        k = m.get("k", 1)
        lines.append(f"| {title} (Pass@1) | {_pct(m.get('pass@1'))} |")
        if k > 1:
            lines.append(f"| {title} (Pass@{k}) | {_pct(m.get('pass@k'))} |")
            if m.get("maj@k") is not None:
                lines.append(f"| {title} (Cons@{k}) | {_pct(m.get('maj@k'))} |")
    lines += ["", "| Benchmark | problems | samples each | format | mean length (tokens) | truncated |", "|---|---:|---:|---:|---:|---:|"]
    for name, m in results.items():
        length = m.get("mean_length")
        lines.append(
            f"| {titles.get(name, name)} | {m.get('n')} | {m.get('k')} | {_pct(m.get('format_rate'))} | "
            f"{'-' if length is None else f'{length:.1f}'} | {_pct(m.get('truncated_rate'))} |"
        )
    return "\n".join(lines) + "\n"


def bar_chart(results: Mapping[str, Mapping[str, Any]], path: str | Path, model: str, titles: Mapping[str, str] | None = None) -> Path:
    """A grouped bar chart (pass@1, pass@k, maj@k per benchmark) saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    titles = titles or {}
    names = list(results)
    series = [("pass@1", "Pass@1"), ("pass@k", "Pass@k"), ("maj@k", "Cons@k (maj@k)")]
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(names) + 2), 3.6))
    for s, (key, label) in enumerate(series):
        xs = [i + (s - (len(series) - 1) / 2) * width for i in range(len(names))]
        raw = [results[n].get(key) for n in names]
        bars = ax.bar(xs, [0.0 if v is None else 100 * v for v in raw], width, label=label)
        ax.bar_label(bars, labels=["" if v is None else f"{100 * v:.1f}" for v in raw], fontsize=7, padding=1)  # no bar, no "0.0"
    ax.set_xticks(range(len(names)), [f"{titles.get(n, n)}\n(k={results[n].get('k')})" for n in names])
    ax.set_ylim(0, 118)  # room for the legend above the 100 % line
    ax.set_ylabel("accuracy (%)")
    ax.set_title(model, fontsize=10)
    ax.legend(fontsize=8, loc="upper center", ncol=len(series), frameon=False)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_json(data: Any, path: str | Path) -> Path:
    """Write JSON atomically (a reader never sees half a file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def flat_metrics(results: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """``{"<benchmark>/pass@1": x, ...}``: the numbers a logger and a sweep optimiser take."""
    flat: dict[str, float] = {}
    for name, m in results.items():
        for key in ("pass@1", "pass@k", "maj@k", "format_rate", "mean_length", "truncated_rate"):
            if m.get(key) is not None:
                flat[f"{name}/{key}"] = float(m[key])
    return flat


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"
