"""Accuracy against mean generated tokens, with 95% bootstrap intervals, from finished `reason bench` runs.

For a run whose problems each carry N samples (self-consistency, best-of-N, ...): the majority vote over k of
them (maj@k, the unbiased subset estimate `reason bench` reports) and the oracle pass@k, for k = 1, 2, 4, ... N,
each at k times the run's mean generated tokens per sample; where a verifier scored every sample (best-of-N),
also best@k and weighted@k (choosing by score among k of the same samples); and the run's own answer (its
vote rule or verifier) at its mean generated tokens per problem. Any other run (CoT, beam search) is one
point: its accuracy at its mean generated tokens. Verifier tokens are not on the axis; the table gives each
run's mean PRM tokens beside it.

Only the problems every run finished are compared (the table says how many), matched by id, so the
bootstrap resamples the same problems for every line: intervals are the 2.5th and 97.5th percentiles over
`--resamples` resamples. Differences against self-consistency are paired the same way: each line's point
minus the baseline run's majority vote at the k whose tokens are closest, and the baseline's majority vote
at each k minus any one-point run (greedy CoT), resampled together, so a difference whose interval excludes
0 is one the data supports. A line another run already has point for point (best-of-N rescoring the
baseline's own samples repeats its majority vote) is shown once. For a run whose samples a verifier scored,
the verifier's AUC (right vs wrong samples, pooled) with an interval over the same kind of resamples.
Prints markdown tables; writes a PNG. Leaves out: corrections for comparing many lines at once.

Usage: python benchmarks/budget_curves.py RUN_DIR [RUN_DIR ...] [--baseline RUN_NAME] [--png PATH] [--resamples 2000]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
from pathlib import Path

from reason.bench.metrics import k_values, maj_at_k, pass_at_k, sample_labels, selected_at_k
from reason.bench.records import ProblemRecord, read_records
from reason.prm_train import auc

INDEPENDENT = ("self-consistency", "best-of-n")
"""Strategies whose samples are independent draws, so k of them are what a k-sample run would have drawn
(beam search's finished beams are not: a subset of them is not a smaller beam search)."""

Curve = list[tuple[float, list[float]]]
"""Points of one line: (mean generated tokens, each compared problem's score 0..1)."""
Point = tuple[float, float, float, float]
"""(mean generated tokens, accuracy, interval low, interval high)."""


def natural(problem_id: str) -> tuple[object, ...]:
    """Sort key that puts gsm8k-test-9 before gsm8k-test-10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", problem_id))


def common_records(runs: list[Path]) -> dict[str, list[ProblemRecord]]:
    """Each run's records for the problems every run finished, in one id order."""
    loaded = {run.name: {r.id: r for r in read_records(run)} for run in runs}
    for name, records in loaded.items():
        if not records:
            raise SystemExit(f"{name}: no finished problems")
    ids = sorted(set.intersection(*(set(records) for records in loaded.values())), key=natural)
    if not ids:
        raise SystemExit("the runs have no finished problem in common")
    return {name: [records[i] for i in ids] for name, records in loaded.items()}


def lines_of(records: list[ProblemRecord]) -> dict[str, Curve]:
    """A run's lines: its own answer, and the @k lines its samples allow."""
    per_record = statistics.fmean(r.compute.generated_tokens for r in records)
    lines: dict[str, Curve] = {"answer": [(per_record, [float(r.correct) for r in records])]}
    n = min(len(r.samples) for r in records)
    if n < 2 or records[0].strategy not in INDEPENDENT:
        return lines
    per_sample = statistics.fmean(s.generated_tokens for r in records for s in r.samples)
    labelled = [sample_labels(r) for r in records]
    scored = all(s.score is not None for r in records for s in r.samples)
    for k in k_values(n):
        tokens = k * per_sample
        lines.setdefault("majority vote@k", []).append((tokens, [maj_at_k(*lc, k) for lc in labelled]))
        if scored:
            for select in ("best", "weighted"):
                scores = [selected_at_k(*lc, [s.score or 0.0 for s in r.samples], k, select)
                          for lc, r in zip(labelled, records, strict=True)]
                lines.setdefault(f"{select}@k", []).append((tokens, scores))
        right = [pass_at_k(len(r.samples), sum(s.correct for s in r.samples), k) for r in records]
        lines.setdefault("oracle pass@k", []).append((tokens, right))
    return lines


def bootstrap(scores: list[float], draws: list[list[int]]) -> tuple[float, float, float]:
    """The mean and its 95% percentile interval over the given resamples of problem indices."""
    means = sorted(statistics.fmean(scores[i] for i in draw) for draw in draws)
    return statistics.fmean(scores), means[int(0.025 * len(means))], means[int(0.975 * len(means)) - 1]


def paired(line: list[float], baseline: list[float], draws: list[list[int]]) -> tuple[float, float, float]:
    """The mean difference line - baseline and its interval, over the same resamples."""
    return bootstrap([a - b for a, b in zip(line, baseline, strict=True)], draws)


def differences(all_lines: dict[str, dict[str, Curve]], baseline: str, draws: list[list[int]]) -> list[str]:
    """Every point of every other line against the baseline's majority vote at the closest tokens."""
    reference = all_lines[baseline].get("majority vote@k")
    if reference is None:
        raise SystemExit(f"{baseline}: its samples give no majority vote (pick a run with N > 1 via --baseline)")
    rows = ["| line | tokens | compared with | difference [95% paired interval] | supported |",
            "| --- | --- | --- | --- | --- |"]

    def row(name: str, tokens: float, scores: list[float], other: str, other_scores: list[float]) -> str:
        mean, low, high = paired(scores, other_scores, draws)
        verdict = "better" if low > 0 else "worse" if high < 0 else "no difference shown"
        return f"| {name} | {tokens:.0f} | {other} | {100 * mean:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}] | {verdict} |"

    for run, lines in all_lines.items():
        for line, curve in lines.items():
            if "oracle" in line or run == baseline:
                continue
            for tokens, scores in curve:
                base_tokens, base_scores = min(reference, key=lambda point: abs(point[0] - tokens))
                rows.append(row(f"{run}: {line}", tokens, scores, f"{baseline}: majority vote at {base_tokens:.0f}",
                                base_scores))
    for run, lines in all_lines.items():  # and does voting beat a one-sample run (greedy CoT)?
        if run != baseline and list(lines) == ["answer"]:
            single_tokens, single = lines["answer"][0]
            rows += [row(f"{baseline}: majority vote", tokens, scores, f"{run} at {single_tokens:.0f}", single)
                     for tokens, scores in reference]
    return rows


def without_repeats(all_lines: dict[str, dict[str, Curve]]) -> dict[str, dict[str, Curve]]:
    """Drops a line that an earlier run already has point for point (best-of-N rescoring self-consistency's
    samples has the very same majority-vote and oracle lines)."""
    kept: dict[str, dict[str, Curve]] = {}
    for run, lines in all_lines.items():
        kept[run] = {line: curve for line, curve in lines.items()
                     if line == "answer" or not any(earlier.get(line) == curve for earlier in kept.values())}
    return kept


def verifier_quality(records: dict[str, list[ProblemRecord]], resamples: int, seed: int) -> list[str]:
    """For each run whose samples a verifier scored: the AUC of score for right vs wrong, pooled over samples."""
    rows = ["| run | samples (right) | verifier AUC [95% interval] |", "| --- | --- | --- |"]
    for name, run in records.items():
        if not all(s.score is not None for r in run for s in r.samples) or not any(r.samples for r in run):
            continue
        pooled = [[(s.score or 0.0, s.correct) for s in r.samples] for r in run]
        figure = _auc([pair for problem in pooled for pair in problem])
        rng = random.Random(seed)
        draws = sorted(a for a in (_auc([pair for _ in run for pair in pooled[rng.randrange(len(run))]])
                                   for _ in range(resamples)) if a is not None)
        right = sum(y for problem in pooled for _, y in problem)
        shown = "n/a" if figure is None or not draws else (
            f"{figure:.3f} [{draws[int(0.025 * len(draws))]:.3f}, {draws[int(0.975 * len(draws)) - 1]:.3f}]")
        rows.append(f"| {name} | {sum(map(len, pooled))} ({right}) | {shown} |")
    return rows if len(rows) > 2 else []


def _auc(pairs: list[tuple[float, bool]]) -> float | None:
    return auc([score for score, _ in pairs], [right for _, right in pairs])


def table(points: dict[str, dict[str, list[Point]]], prm_tokens: dict[str, float], count: int) -> list[str]:
    rows = [f"| line ({count} problems) | PRM tokens/problem | mean generated tokens -> accuracy [95% interval] |",
            "| --- | --- | --- |"]
    for run, lines in points.items():
        for line, curve in lines.items():
            shown = ", ".join(f"{t:.0f} -> {100 * a:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]" for t, a, lo, hi in curve)
            rows.append(f"| {run}: {line} | {prm_tokens[run]:.0f} | {shown} |")
    return rows


def plot(points: dict[str, dict[str, list[Point]]], count: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    for run, lines in points.items():
        for line, curve in lines.items():
            xs, ys = [p[0] for p in curve], [100 * p[1] for p in curve]
            errors = [[100 * (p[1] - p[2]) for p in curve], [100 * (p[3] - p[1]) for p in curve]]
            axes.errorbar(xs, ys, yerr=errors, marker="o", markersize=3, capsize=2, label=f"{run}: {line}",
                          linestyle="--" if "oracle" in line else "-")
    axes.set_xscale("log", base=2)
    axes.set_xlabel("mean generated tokens per problem (policy)")
    axes.set_ylabel(f"accuracy (%), {count} problems, 95% bootstrap interval")
    axes.legend(fontsize=6)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--baseline", default=None, help="the self-consistency run (default: the first run given)")
    parser.add_argument("--png", type=Path, default=None)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    records = common_records(args.runs)
    count = len(next(iter(records.values())))
    rng = random.Random(args.seed)
    draws = [[rng.randrange(count) for _ in range(count)] for _ in range(args.resamples)]
    all_lines = without_repeats({name: lines_of(run) for name, run in records.items()})
    points = {name: {line: [(t, *bootstrap(s, draws)) for t, s in curve] for line, curve in lines.items()}
              for name, lines in all_lines.items()}
    prm_tokens = {name: statistics.fmean(r.compute.prm_prompt_tokens + r.compute.prm_generated_tokens for r in run) for name, run in records.items()}
    print("\n".join(table(points, prm_tokens, count)))
    print()
    print("\n".join(differences(all_lines, args.baseline or args.runs[0].name, draws)))
    quality = verifier_quality(records, min(args.resamples, 500), args.seed)
    if quality:
        print()
        print("\n".join(quality))
    if args.png:
        plot(points, count, args.png)
        print(f"\nplot: {args.png}")


if __name__ == "__main__":
    main()
