"""Many problems at once through one Engine: `solve_many`, the async twins, several threads on one engine,
and `reason.solve` given a list; their model calls merged into shared backend batches."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import reason
from reason.api import Engine
from reason.errors import ConfigError, UnknownComponentError
from reason.registry import registry
from reason.testing import FakeGenerator


class CountingGenerator(FakeGenerator):
    """Answers "a + b" questions; records how many prompts each backend call carried and which thread made it."""

    def __init__(self) -> None:
        super().__init__(self._answer)
        self.batch_sizes: list[int] = []
        self.threads: set[str] = set()

    def _answer(self, prompt, params):
        numbers = [int(t) for t in prompt.replace("?", " ").split() if t.isdigit()]
        return f"The answer is {sum(numbers[-2:])}."

    def generate(self, prompts, params):
        self.batch_sizes.append(len(prompts))
        self.threads.add(threading.current_thread().name)
        return super().generate(prompts, params)


QUESTIONS = [f"What is {i} + {i + 1}?" for i in range(24)]


def test_solve_many_keeps_order_and_batches_model_calls():
    generator = CountingGenerator()
    with Engine(generator=generator) as engine:
        results = engine.solve_many(QUESTIONS, "self-consistency", n=2, concurrency=8)
    assert [r.answer for r in results] == [str(2 * i + 1) for i in range(24)]
    assert max(generator.batch_sizes) > 1 and len(generator.batch_sizes) < 24  # merged into shared batches
    assert generator.threads == {"reason-microbatcher"}  # the backend is only ever called from one thread


def test_several_threads_on_one_engine():
    generator = CountingGenerator()
    with Engine(generator=generator) as engine, ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda q: engine.solve(q, "cot").answer, QUESTIONS))
    assert answers == [str(2 * i + 1) for i in range(24)] and generator.threads == {"reason-microbatcher"}


def test_async_twins():
    async def main(engine: Engine):
        one = await engine.asolve("What is 2 + 3?")
        many = await engine.asolve_many(QUESTIONS[:4], "cot")
        return one.answer, [r.answer for r in many]

    with Engine(generator=CountingGenerator()) as engine:
        assert asyncio.run(main(engine)) == ("5", ["1", "3", "5", "7"])


def test_reason_solve_takes_a_list():
    registry.register("generator", "counting", lambda **options: CountingGenerator())
    try:
        results = reason.solve(QUESTIONS[:3], backend="counting")
        assert [r.answer for r in results] == ["1", "3", "5"]
    finally:
        reason.close_all()
        registry.unregister("generator", "counting")


def test_a_bad_choice_fails_before_any_model_call():
    generator = CountingGenerator()
    with Engine(generator=generator) as engine, pytest.raises((ConfigError, UnknownComponentError)):
        engine.solve_many(QUESTIONS, "nope")
    assert generator.batch_sizes == []
