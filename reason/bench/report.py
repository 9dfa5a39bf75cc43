"""Showing results: a rich table for a run, a markdown table and a PNG plot for a sweep.

Leaves out: HTML reports and interactive plots.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from reason.bench.metrics import Summary
from reason.bench.sweep import SweepPoint, budgets_of
from reason.errors import ConfigError


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def summary_rows(summary: Summary) -> list[tuple[str, str]]:
    """(metric, value) pairs, shared by the rich table and plain-text output."""
    rows = [
        ("problems", str(summary.problems)),
        ("accuracy", f"{summary.accuracy:.1%} ({summary.correct}/{summary.problems})"),
    ]
    rows += [(f"maj@{k}", f"{v:.1%}") for k, v in summary.maj_at.items()]
    rows += [(f"pass@{k}", f"{v:.1%}") for k, v in summary.pass_at.items()]
    rows += [
        ("mean generated tokens / problem", _fmt(summary.mean_generated_tokens)),
        ("mean prompt tokens / problem", _fmt(summary.mean_prompt_tokens)),
        ("mean PRM tokens / problem", _fmt(summary.mean_prm_tokens)),
        ("mean model calls / problem", _fmt(summary.mean_model_calls)),
        ("problems / min", _fmt(summary.problems_per_min, ".2f")),
        ("generated tokens / s", _fmt(summary.generated_tokens_per_s)),
        ("cache: hits / generated", f"{summary.cache.hits} / {summary.cache.generated}"),
    ]
    return rows


def summary_table(summary: Summary, title: str) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in summary_rows(summary):
        table.add_row(name, value)
    return table


def sweep_markdown(points: Sequence[SweepPoint]) -> str:
    """One row per run: strategy, parameters, nominal budget, measured tokens, accuracy."""
    lines = [
        "| strategy | parameters | budget (tokens) | mean generated tokens / problem | accuracy | problems |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for p in sorted(points, key=lambda p: (p.strategy, p.mean_generated_tokens)):
        params = ", ".join(f"{k}={v}" for k, v in sorted(p.params.items())) or "-"
        budget = "-" if p.budget is None else str(p.budget)
        cells = [p.strategy, params, budget, f"{p.mean_generated_tokens:.1f}", f"{p.accuracy:.1%}", str(p.problems)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_sweep(points: Sequence[SweepPoint], path: Path, title: str) -> Path:
    """Accuracy against mean generated tokens per problem, one line per strategy, saved as PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display; file output only
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError(f"plotting needs matplotlib ({exc}); install reason[bench]") from exc
    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for strategy in dict.fromkeys(p.strategy for p in points):
        line = budgets_of(points, strategy)
        axes.plot([p.mean_generated_tokens for p in line], [100 * p.accuracy for p in line], marker="o", label=strategy)
    axes.set_xlabel("mean generated tokens per problem (policy)")
    axes.set_ylabel("accuracy (%)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
