"""Accuracy against mean generated tokens, with 95% bootstrap intervals, from finished `reason bench` runs.

For a run whose problems each carry N samples (self-consistency, best-of-N, ...): the majority vote over k of
them (maj@k, the unbiased subset estimate `reason bench` reports) and the oracle pass@k, for k = 1, 2, 4, ... N,
each at k times the run's mean generated tokens per sample; and the run's own answer (its vote rule or
verifier) at its mean generated tokens per problem. Any other run (beam search, a PRM-guided search) is one
point: its accuracy at its mean generated tokens. Intervals: the 2.5th and 97.5th percentiles of the figure
over `--resamples` bootstrap resamples of the problems (the same resampled problems for every line). Runs
compared should cover the same problems; the table says how many each has.
Prints a markdown table; writes a PNG. Leaves out: paired tests between two strategies (compare intervals).

Usage: python benchmarks/budget_curves.py RUN_DIR [RUN_DIR ...] [--png docs/gsm8k-curves.png] [--resamples 2000]
"""

from __future__ import annotations

import argparse
import random
import statistics
from pathlib import Path

from reason.bench.metrics import k_values, maj_at_k, pass_at_k, sample_labels
from reason.bench.records import ProblemRecord, read_records

Point = tuple[float, float, float, float]
"""(mean generated tokens, accuracy, interval low, interval high)."""


def per_problem(records: list[ProblemRecord]) -> dict[str, list[float]]:
    """Each line's per-problem scores (0..1), keyed by line name, in record order."""
    lines: dict[str, list[float]] = {"answer": [float(r.correct) for r in records]}
    n = min(len(r.samples) for r in records)
    if n > 1:
        for k in k_values(n):
            lines[f"maj@{k}"] = [maj_at_k(*sample_labels(r), k) for r in records]
            lines[f"pass@{k}"] = [pass_at_k(len(r.samples), sum(s.correct for s in r.samples), k) for r in records]
    return lines


def bootstrap(scores: list[float], draws: list[list[int]]) -> tuple[float, float, float]:
    """The mean and its 95% percentile interval over the given resamples of problem indices."""
    means = sorted(statistics.fmean(scores[i] for i in draw) for draw in draws)
    return statistics.fmean(scores), means[int(0.025 * len(means))], means[int(0.975 * len(means)) - 1]


def curves(run: Path, resamples: int, seed: int) -> tuple[str, int, dict[str, list[Point]]]:
    records = read_records(run)
    if not records:
        raise SystemExit(f"{run}: no finished problems")
    rng = random.Random(seed)
    draws = [[rng.randrange(len(records)) for _ in records] for _ in range(resamples)]
    per_sample = statistics.fmean(s.generated_tokens for r in records for s in r.samples) if records[0].samples else 0.0
    per_record = statistics.fmean(r.compute.generated_tokens for r in records)
    lines = per_problem(records)
    name = run.name
    out: dict[str, list[Point]] = {f"{name}: answer": [(per_record, *bootstrap(lines["answer"], draws))]}
    for kind in ("maj", "pass"):
        points = [(int(key.split("@")[1]) * per_sample, *bootstrap(scores, draws))
                  for key, scores in lines.items() if key.startswith(kind + "@")]
        if points:
            out[f"{name}: {'majority vote' if kind == 'maj' else 'oracle pass'}@k"] = points
    return name, len(records), out


def table(runs: list[tuple[str, int, dict[str, list[Point]]]]) -> str:
    rows = ["| line | problems | mean generated tokens -> accuracy [95% bootstrap interval] |", "| --- | --- | --- |"]
    for _, count, lines in runs:
        for line, points in lines.items():
            shown = ", ".join(f"{t:.0f} -> {100 * a:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]" for t, a, lo, hi in points)
            rows.append(f"| {line} | {count} | {shown} |")
    return "\n".join(rows)


def plot(runs: list[tuple[str, int, dict[str, list[Point]]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    for _, _, lines in runs:
        for line, points in lines.items():
            xs, ys = [p[0] for p in points], [100 * p[1] for p in points]
            errors = [[100 * (p[1] - p[2]) for p in points], [100 * (p[3] - p[1]) for p in points]]
            style = {"linestyle": "--"} if "oracle" in line else {}
            axes.errorbar(xs, ys, yerr=errors, marker="o", markersize=3, capsize=2, label=line, **style)
    axes.set_xscale("log", base=2)
    axes.set_xlabel("mean generated tokens per problem")
    axes.set_ylabel("accuracy (%)")
    axes.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--png", type=Path, default=None)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    runs = [curves(run, args.resamples, args.seed) for run in args.runs]
    print(table(runs))
    if args.png:
        plot(runs, args.png)
        print(f"plot: {args.png}")


if __name__ == "__main__":
    main()
