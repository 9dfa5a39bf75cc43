"""Value-head PRM scoring of a growing beam, with and without kept prefixes, in one run.

The workload is a stepwise search's: for each of the first `--problems` GSM8K **train** problems, its reference
solution (one step a line) grows one step at a time, and at every step `--width` children of the current
partial solution are scored (the true next step and variants of it), as beam search scores a beam's
children. The same calls go to the shipped verifier (`prm=trained`, a value head over the bundled
SmolLM2-135M on this CPU) with `prefix_cache_tokens=0` and with the default, alternating problem by problem.
Prints seconds, tokens run through the model, the ratio, and the largest score difference between the two.

    python benchmarks/prm_prefix_bench.py [--problems 10] [--width 4]
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from pathlib import Path

from reason.prm.shipped import ShippedPRM
from reason.types import Problem

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k" / "train.jsonl"
VARIANTS = ["", " Let me check that.", " So far this is right.", " We keep this number."]


def beam_calls(row: dict, width: int) -> tuple[Problem, list[list[list[str]]]]:
    """The score calls a beam makes on this problem: per step, `width` children of the true partial solution."""
    steps = [re.sub(r"<<[^>]*>>", "", line) for line in row["answer"].split("\n") if line.strip()]
    calls = [[steps[:k] + [steps[k] + VARIANTS[j % len(VARIANTS)]] for j in range(width)] for k in range(len(steps))]
    return Problem(question=row["question"]), calls


def timed(prm: ShippedPRM, problem: Problem, calls: list[list[list[str]]]) -> tuple[float, list[float]]:
    start = time.perf_counter()
    scores = [score for call in calls for row in prm.score(problem, call) for score in row]
    return time.perf_counter() - start, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=10)
    parser.add_argument("--width", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = [json.loads(line) for line in DATA.read_text().splitlines()[: args.problems]]
    ShippedPRM().score(Problem(question="warm up"), [["1 + 1 = 2."]])  # load the model outside the timing
    seconds, tokens, worst = {"full": 0.0, "kept": 0.0}, {"full": 0, "kept": 0}, 0.0
    for row in rows:
        problem, calls = beam_calls(row, args.width)
        results = {}
        for arm, kept in (("full", 0), ("kept", 8192)):  # a new PRM per problem, as each search builds its own
            prm = ShippedPRM(prefix_cache_tokens=kept)
            elapsed, results[arm] = timed(prm, problem, calls)
            seconds[arm] += elapsed
            tokens[arm] += prm.tokens_processed
        worst = max(worst, *(abs(a - b) for a, b in zip(results["full"], results["kept"], strict=True)))
    print(f"{len(rows)} GSM8K train problems, {args.width} children a step, shipped verifier over SmolLM2-135M (CPU)")
    for arm in ("full", "kept"):
        print(f"{arm:>5}: {seconds[arm]:7.1f} s, {tokens[arm]:8,} tokens through the model")
    print(f"kept prefixes: {seconds['full'] / seconds['kept']:.1f}x faster, "
          f"{tokens['full'] / tokens['kept']:.1f}x fewer tokens; largest score difference {worst:.1e}")


if __name__ == "__main__":
    main()
