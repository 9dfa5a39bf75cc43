"""Continuous batching (reason.backends.continuous): calls join the running batch and return when their own
sequences end. A scripted engine shows the logic (errors, shutdown, who waits for whom); the bundled model
through vLLM's own engine shows it holds there: greedy results equal `LLM.generate`'s, and a short call made
while a long one runs comes back first."""

from __future__ import annotations

import threading
import time

import pytest

from reason.backends.batching import MicroBatchingGenerator
from reason.backends.continuous import ContinuousBatchingGenerator, shared_backend, supports_continuous_batching
from reason.errors import GeneratorError
from reason.testing import FakeGenerator
from reason.thinking import ThinkingBudget
from reason.types import Completion, SamplingParams


class _Output:
    def __init__(self, request_id: str, text: str) -> None:
        self.request_id, self.text, self.finished = request_id, text, True


class ScriptedEngine:
    """vLLM's engine surface: a request of prompt "p" with max_tokens k finishes k steps after it was added."""

    def __init__(self) -> None:
        self.now = 0
        self.running: dict[str, tuple[int, str]] = {}  # internal id -> (finishing step, our id)
        self.aborted: list[str] = []
        self.step_delay_s = 0.002

    def add_request(self, request_id, model_input, params):
        if model_input == "too long":
            raise ValueError("prompt is longer than the model's context")
        internal = f"{request_id}-x"
        self.running[internal] = (self.now + params, request_id)
        return internal

    def step(self):
        time.sleep(self.step_delay_s)
        self.now += 1
        done = [i for i, (at, _) in self.running.items() if at <= self.now]
        return [_Output(self.running.pop(i)[1], f"done at {self.now}") for i in done]

    def abort_request(self, ids, internal=False):
        assert internal
        for i in ids:
            self.running.pop(i, None)
            self.aborted.append(i)

    def has_unfinished_requests(self):
        return bool(self.running)


class ScriptedBackend:
    name = "scripted-engine"
    supports_continuous_batching = True

    def __init__(self) -> None:
        self.engine = ScriptedEngine()

    def engine_request(self, prompt, params: SamplingParams):
        return prompt, params.max_tokens

    def completions(self, output) -> list[Completion]:
        return [Completion(text=output.text)]

    def generate(self, prompts, params):  # never used: the engine thread feeds the engine directly
        raise AssertionError("generate bypasses the engine")

    def close(self) -> None:
        pass


def finished_at(completions: list[list[Completion]]) -> list[int]:
    return [int(row[0].text.split()[-1]) for row in completions]


def test_a_short_call_made_while_a_long_one_runs_returns_first():
    backend = ScriptedBackend()
    shared = ContinuousBatchingGenerator(backend)
    try:
        results = {}
        long = threading.Thread(target=lambda: results.setdefault("long", shared.generate(
            ["a", "b"], SamplingParams(max_tokens=200))))
        long.start()
        while backend.engine.now < 10:  # the long call is running
            time.sleep(0.001)
        short = shared.generate(["c"], SamplingParams(max_tokens=5))
        assert backend.engine.running  # the long call is still going when the short one is back
        long.join()
        assert finished_at(short)[0] < finished_at(results["long"])[0] == finished_at(results["long"])[1] == 200
        assert shared.requests_added == 3
    finally:
        shared.shutdown()


def test_a_refused_prompt_fails_its_own_call_only():
    backend = ScriptedBackend()
    shared = ContinuousBatchingGenerator(backend)
    try:
        with pytest.raises(GeneratorError, match="refused a request: prompt is longer"):
            shared.generate(["fine", "too long"], SamplingParams(max_tokens=3))
        assert backend.engine.aborted == ["0-x"]  # its first prompt, already added, is taken back
        assert finished_at(shared.generate(["next"], SamplingParams(max_tokens=2))) == [2]
    finally:
        shared.shutdown()


def test_shutting_down_aborts_what_runs_and_tells_its_callers():
    backend = ScriptedBackend()
    backend.engine.step_delay_s = 0.01
    shared = ContinuousBatchingGenerator(backend)
    errors = []

    def call():
        try:
            shared.generate(["slow"], SamplingParams(max_tokens=10_000))
        except GeneratorError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    while not backend.engine.running:
        time.sleep(0.001)
    shared.shutdown()
    caller.join(timeout=10)
    assert errors and "shut down" in str(errors[0]) and backend.engine.aborted == ["0-x"]
    with pytest.raises(GeneratorError, match="stopped"):
        shared.generate(["late"], SamplingParams(max_tokens=1))


def test_only_a_backend_that_is_itself_an_engine_is_fed_directly():
    assert supports_continuous_batching(ScriptedBackend())
    wrapped = ThinkingBudget(ScriptedBackend())  # passes capability flags through; its phases must not be bypassed
    assert wrapped.supports_continuous_batching and not supports_continuous_batching(wrapped)
    shared = shared_backend(wrapped)
    assert isinstance(shared, MicroBatchingGenerator)
    shared.shutdown()
    with pytest.raises(GeneratorError, match="does not expose its engine"):
        ContinuousBatchingGenerator(FakeGenerator(["x"]))


@pytest.mark.model
def test_the_bundled_model_through_vllm_s_engine(vllm_generator):
    prompts = ["What is 2 + 2?", "Name a prime number.", "What is 10 - 3?"]
    greedy = SamplingParams(temperature=0, max_tokens=24)
    expected = [[c.text for c in row] for row in vllm_generator.generate(prompts, greedy)]
    shared = ContinuousBatchingGenerator(vllm_generator)
    try:
        results: dict[int, list[list[Completion]]] = {}
        threads = [threading.Thread(target=lambda i=i: results.setdefault(i, shared.generate([prompts[i]], greedy)))
                   for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [[c.text for c in results[i][0]] for i in range(3)] == expected  # the same greedy text
        assert all(row[0].generated_tokens > 0 and row[0].prompt_tokens > 0 for i in range(3) for row in results[i])
        sampled = shared.generate(["Count to five."], SamplingParams(temperature=0.8, max_tokens=8, n=3, logprobs=2))
        assert len(sampled[0]) == 3 and all(c.logprobs for c in sampled[0])

        # a short call made while a long one runs comes back first
        done: dict[str, tuple[list[list[Completion]], float]] = {}
        steps = shared.engine_steps
        long = threading.Thread(target=lambda: done.setdefault("long", (shared.generate(
            ["1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,"], SamplingParams(temperature=0, max_tokens=150)),  # counts on
            time.perf_counter())))
        long.start()
        while shared.engine_steps < steps + 5:
            time.sleep(0.005)
        short = shared.generate(["Say hi."], SamplingParams(temperature=0, max_tokens=3))
        done["short"] = (short, time.perf_counter())
        long.join()
        assert done["long"][0][0][0].generated_tokens == 150  # it ran to its cap...
        assert done["short"][1] < done["long"][1]  # ...and the short call, made meanwhile, came back first
    finally:
        shared.shutdown()
    assert not vllm_generator.engine.has_unfinished_requests()
    assert [[c.text for c in row] for row in vllm_generator.generate(prompts, greedy)] == expected  # still usable


def test_an_output_that_cannot_be_read_fails_its_call_and_the_engine_goes_on():
    backend = ScriptedBackend()
    read = backend.completions
    backend.completions = lambda output: read(output) if output.text != "done at 1" else 1 / 0
    shared = ContinuousBatchingGenerator(backend)
    try:
        with pytest.raises(GeneratorError, match="unreadable vLLM output"):
            shared.generate(["x"], SamplingParams(max_tokens=1))
        assert finished_at(shared.generate(["y"], SamplingParams(max_tokens=1))) == [2]
    finally:
        shared.shutdown()
