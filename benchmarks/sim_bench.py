"""Every searcher's accuracy against generated tokens in the simulated environment (reason.sim), at two PRM
qualities, beside the oracle pass@N curve: the one place where strategies can be compared without a model.

The world: SimConfig(seed=0, signal=1.0) (4 steps of 16 tokens, per-step success ~ Beta(3, 1), four
Zipf-weighted wrong answers per problem; DeepConf's token confidence is 1 nat higher on sound steps). For each
N in --ns: self-consistency@N, DeepConf@N offline and online (keep half; online for N > 4 warm-up traces, also
with the consensus stop at 0.95), best-of-N (weighted) and beam search (N beams, width 2)
and particle filtering (N particles, the authors' logit weights) with the simulated PRM at each AUC; CoT once. The oracle is the closed
form 1 - (1 - q_i)^N, at N whole solutions' tokens. Prints a markdown table; writes a PNG.

Usage: python benchmarks/sim_bench.py [--problems 500] [--ns 1,2,4,8,16] [--aucs 0.95,0.7] [--png docs/sim-curves.png]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from reason.registry import registry
from reason.sim import SimConfig, SimGenerator, SimPRM, SimWorld

CONFIG = SimConfig(seed=0, signal=1.0)
SOLUTION_TOKENS = CONFIG.steps * CONFIG.step_tokens


def run(strategy: str, problems: int, **params: object) -> tuple[float, float]:
    """(mean generated tokens, accuracy) of one searcher over the first `problems` simulated problems."""
    generator, searcher = SimGenerator(CONFIG), registry.build("searcher", strategy, **params)
    results = [searcher.search(p, generator) for p in SimWorld(CONFIG).problems(problems)]
    return (statistics.mean(r.compute.generated_tokens for r in results),
            sum(r.answer == r.problem.answer for r in results) / len(results))


def curves(problems: int, ns: list[int], aucs: list[float]) -> dict[str, list[tuple[float, float]]]:
    world = SimWorld(CONFIG)
    lines: dict[str, list[tuple[float, float]]] = {
        "oracle pass@N": [(n * SOLUTION_TOKENS, statistics.mean(world.pass_at(i, n) for i in range(problems))) for n in ns],
        "cot": [run("cot", problems, max_tokens=256)],
        "self-consistency": [run("self-consistency", problems, n=n, max_tokens=256) for n in ns],
        "deepconf offline (keep 1/2)": [run("deepconf", problems, n=n, keep=0.5, window=16, max_tokens=256) for n in ns],
        "deepconf online (keep 1/2, 4 warm-up)": [
            run("deepconf", problems, n=n, keep=0.5, window=16, max_tokens=256, mode="online", warmup=4, chunk_tokens=16)
            for n in ns if n > 4],
        "deepconf online + consensus 0.95": [
            run("deepconf", problems, n=n, keep=0.5, window=16, max_tokens=256, mode="online", warmup=4, chunk_tokens=16,
                consensus=0.95)
            for n in ns if n > 4],
    }
    for auc in aucs:
        prm = SimPRM(auc=auc)
        lines[f"best-of-n weighted, PRM AUC {auc}"] = [
            run("best-of-n", problems, n=n, prm=prm, max_tokens=256, select="weighted") for n in ns]
        lines[f"beam (width 2), PRM AUC {auc}"] = [
            run("beam", problems, n=n, width=2, prm=prm, step_tokens=64, max_steps=8) for n in ns if n >= 2]
        lines[f"particle filter, PRM AUC {auc}"] = [
            run("particle-filter", problems, n=n, prm=prm, step_tokens=64, max_steps=8) for n in ns]
    return lines


def table(lines: dict[str, list[tuple[float, float]]]) -> str:
    rows = ["| strategy | mean generated tokens -> accuracy |", "| --- | --- |"]
    for name, points in lines.items():
        rows.append(f"| {name} | " + ", ".join(f"{t:.0f} -> {100 * a:.1f}%" for t, a in points) + " |")
    return "\n".join(rows)


def plot(lines: dict[str, list[tuple[float, float]]], path: Path, problems: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    for name, points in lines.items():
        style = {"color": "black", "linestyle": "--"} if name.startswith("oracle") else {}
        if "0.7" in name:
            style["linestyle"] = ":"
        axes.plot([t for t, _ in points], [100 * a for _, a in points], marker="o", markersize=3, label=name, **style)
    axes.set_xscale("log", base=2)
    axes.set_xlabel("mean generated tokens per problem")
    axes.set_ylabel("accuracy (%)")
    axes.set_title(f"reason.sim, {problems} problems: accuracy vs generated tokens")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=500)
    parser.add_argument("--ns", default="1,2,4,8,16")
    parser.add_argument("--aucs", default="0.95,0.7")
    parser.add_argument("--png", type=Path, default=Path("docs/sim-curves.png"))
    args = parser.parse_args()
    started = time.perf_counter()
    lines = curves(args.problems, [int(n) for n in args.ns.split(",")], [float(a) for a in args.aucs.split(",")])
    print(table(lines))
    print(f"\n{args.problems} problems, {time.perf_counter() - started:.0f} s")
    plot(lines, args.png, args.problems)
    print(f"plot: {args.png}")


if __name__ == "__main__":
    main()
