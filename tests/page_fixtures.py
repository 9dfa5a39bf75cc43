"""Searches and runs for the trace explorer's tests and benchmark (no tests here), all from real searchers
on scripted models, with model text that tries to inject markup."""

from __future__ import annotations

import itertools
from pathlib import Path

from test_bench_support import Arithmetic, write_arithmetic

from reason.bench.runner import RunConfig, run_benchmark
from reason.budget import Budget
from reason.searchers.beam import BeamSearch
from reason.searchers.mcts import MCTS
from reason.testing import FakeGenerator, FakePRM, by_prefix
from reason.types import Problem, SearchResult

INJECTED = '<script>document.title="pwned"; window.__pwned = 1</script><img src=x onerror="window.__pwned=2">'
"""Step text that would run if the page ever wrote model text as markup."""

BEAM_STEPS = {
    "": ["48 / 2 = 24 clips in May.", "48 + 48 = 96.", f"Let me think {INJECTED}", "48 * 2 = 96."],
    "48 / 2 = 24 clips in May.": ["48 + 24 = 72 clips.", "24 - 48 = -24."],
    "48 + 48 = 96.": ["The answer is 96.", "96 / 2 = 48."],
    "48 / 2 = 24 clips in May.\n\n48 + 24 = 72 clips.": ["The answer is 72."],
    "48 / 2 = 24 clips in May.\n\n24 - 48 = -24.": ["The answer is -24."],
    "48 + 48 = 96.\n\n96 / 2 = 48.": ["The answer is 48."],
}
BEAM_SCORES = {"48 / 2 = 24 clips in May.": 0.9, "48 + 48 = 96.": 0.6, "48 * 2 = 96.": 0.2, "48 + 24 = 72 clips.": 0.95,
               "24 - 48 = -24.": 0.1, "The answer is 72.": 0.97, "The answer is 96.": 0.3, "96 / 2 = 48.": 0.4}
CLIPS = Problem(question="Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
                         "How many clips did Natalia sell altogether in April and May?", answer="72", id="clips")


def beam_result() -> SearchResult:
    """Beam search (n=4, width=2) with a scripted PRM: pruned roots, a chosen path to 72, a wrong 96, an injected step."""
    generator = FakeGenerator(by_prefix(BEAM_STEPS))
    return BeamSearch(n=4, width=2, prm=FakePRM(BEAM_SCORES, default=0.5)).search(CLIPS, generator)


def mcts_result(iterations: int = 700) -> SearchResult:
    """A real MCTS over scripted steps: about 2,100 nodes at 700 iterations, every 400th step an answer."""
    counter = itertools.count()

    def respond(prompt: str, params: object) -> str:
        i = next(counter)
        if i % 400 == 399:
            return f"The answer is {i % 7}."
        return f"Step {i}: add {i % 13} and <b>{i % 3}</b> to get {i}. {INJECTED if i % 97 == 0 else ''}"

    prm = FakePRM(lambda steps: [(sum(map(ord, s)) % 1000) / 1000 for s in steps])
    searcher = MCTS(iterations=iterations, children=3, max_steps=40, prm=prm, budget=Budget(tokens=10**8))
    return searcher.search(Problem(question=f"A long puzzle {INJECTED}?", answer="3", id="big"), FakeGenerator(respond))


def arithmetic_run(tmp_path: Path, problems: int, strategy: str = "beam", params: dict | None = None) -> Path:
    """A real benchmark run directory over "What is i + 2i?" problems, every third sample wrong."""
    data = write_arithmetic(tmp_path / "arith.jsonl", problems)
    config = RunConfig(dataset=str(data), question_field="q", answer_field="a", id_field="id", strategy=strategy,
                       backend="fake", params=params or {"n": 2, "width": 1, "prm": "fake"}, concurrency=1)
    run_dir = tmp_path / f"run-{strategy}"
    run_benchmark(config, run_dir, FakeGenerator(Arithmetic(wrong_every=3), name="fake-arith"))
    return run_dir
