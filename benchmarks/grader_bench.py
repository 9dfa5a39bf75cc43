"""Grader benchmark: our grader and Math-Verify on the same labelled pairs, in one run.

Prints, for both graders, agreement with the hand-labelled truth of
tests/data/grader_pairs.jsonl and gradings per second, then the throughput ratio.
Our grader is timed from cold caches (verdicts, normal forms and parses cleared
before every pass); its SymPy worker is started before timing (start-up is a
one-off, bounded separately from the per-grading limit). Math-Verify is called the
documented way, `verify(parse("$gold$"), parse("$prediction$"))`.
With --datasets it also grades every MATH-500 reference answer against the boxed
answer of its own solution, and GSM8K test's 1,319 answers against themselves
reformatted, with both graders.

    pip install -e '.[bench]'          # math-verify
    python benchmarks/grader_bench.py [--repeat 5] [--datasets] [--show 25]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from reason.extract import after_hashes, last_boxed
from reason.verifiers.grader import Grader

ROOT = Path(__file__).resolve().parents[1]
PAIRS = ROOT / "tests" / "data" / "grader_pairs.jsonl"
DATA = ROOT.parent / "shared" / "data"

Judge = Callable[[str, str], bool]
"""(prediction, reference) -> equal?"""


def load_pairs(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def ours() -> tuple[Grader, Judge]:
    grader = Grader()
    grader.warm(wait=True)
    return grader, lambda prediction, reference: grader.grade(prediction, reference).passed


def math_verify() -> Judge:
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)

    def judge(prediction: str, reference: str) -> bool:
        try:
            return bool(verify(parse(f"${reference}$"), parse(f"${prediction}$")))
        except Exception:
            return False

    return judge


def timed(judge: Judge, pairs: list[tuple[str, str]], before: Callable[[], None] = lambda: None) -> tuple[list[bool], float]:
    before()
    started = time.perf_counter()
    results = [judge(p, r) for p, r in pairs]
    return results, time.perf_counter() - started


def run_pairs(pairs: list[dict], repeat: int, show: int) -> None:
    grader, our_judge = ours()
    items = [(p["prediction"], p["reference"]) for p in pairs]
    truth = [p["equal"] for p in pairs]
    our_runs = [timed(our_judge, items, grader.clear_cache) for _ in range(repeat)]
    our_results = our_runs[0][0]
    our_time = statistics.median(t for _, t in our_runs)
    mv_results, mv_time = timed(math_verify(), items)

    n = len(pairs)
    print(f"pair set: {n} pairs ({sum(truth)} equal, {n - sum(truth)} unequal) from {PAIRS.relative_to(ROOT)}")
    rows = [("ours", our_results, our_time), ("math-verify", mv_results, mv_time)]
    print(f"{'grader':<12} {'agreement':>16} {'gradings/s':>12} {'total s':>9}")
    for name, results, seconds in rows:
        agree = sum(r == t for r, t in zip(results, truth))
        print(f"{name:<12} {agree:>5}/{n} {100 * agree / n:6.2f}% {n / seconds:>12,.0f} {seconds:>9.3f}")
    print(f"throughput ratio (ours / math-verify): {mv_time / our_time:,.1f}x  (ours: median of {repeat} cold-cache passes)")
    for name, results, _ in rows:
        wrong = [(p, r) for p, r in zip(pairs, results) if r != p["equal"]]
        print(f"\n{name}: {len(wrong)} disagreements with the truth" + (":" if wrong and show else ""))
        for pair, _ in wrong[:show]:
            print(f"  [{pair['kind']}] {pair['prediction']!r} vs {pair['reference']!r}: truth {pair['equal']}")


def run_datasets() -> None:
    math500 = [json.loads(x) for x in (DATA / "math" / "math500.jsonl").read_text("utf-8").splitlines() if x.strip()]
    gsm8k = [after_hashes(json.loads(x)["answer"]) for x in (DATA / "gsm8k" / "test.jsonl").read_text("utf-8").splitlines() if x.strip()]
    styles = (lambda n: f"{n:,}", lambda n: f"\\${n}", lambda n: f"{n}.00", lambda n: f"\\boxed{{{n}}}", lambda n: f"{n} dollars")
    sets = {
        "MATH-500 boxed vs answer": [(last_boxed(r["solution"]) or "", r["answer"]) for r in math500],
        "GSM8K #### N reformatted": [(styles[i % len(styles)](int(a.replace(",", ""))), a) for i, a in enumerate(gsm8k)],  # type: ignore[union-attr]
    }
    grader, our_judge = ours()
    judges = {"ours": (our_judge, grader.clear_cache), "math-verify": (math_verify(), lambda: None)}
    print(f"\n{'dataset':<28} {'grader':<12} {'pass':>11} {'seconds':>9} {'gradings/s':>11}")
    for name, items in sets.items():
        for judge_name, (judge, before) in judges.items():
            results, seconds = timed(judge, items, before)
            print(f"{name:<28} {judge_name:<12} {sum(results):>5}/{len(items):<5} {seconds:>9.3f} {len(items) / seconds:>11,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--repeat", type=int, default=5, help="timed passes of our grader (median reported)")
    parser.add_argument("--show", type=int, default=25, help="disagreements listed per grader")
    parser.add_argument("--datasets", action="store_true", help="also grade MATH-500 and GSM8K against themselves")
    args = parser.parse_args()
    run_pairs(load_pairs(args.pairs), args.repeat, args.show)
    if args.datasets:
        run_datasets()


if __name__ == "__main__":
    main()
