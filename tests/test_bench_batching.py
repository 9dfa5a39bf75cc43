"""Micro-batching: concurrent calls merged per equal params, answers routed back, one backend thread."""

import threading

import pytest

from reason.backends.batching import MicroBatchingGenerator
from reason.errors import GeneratorError
from reason.testing import FakeGenerator
from reason.types import SamplingParams


class Recorder:
    """A responder that echoes the prompt and notes which thread the backend ran on."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.threads: set[int] = set()
        self.fail_on = fail_on

    def __call__(self, prompt: str, params: SamplingParams) -> str:
        self.threads.add(threading.get_ident())
        if prompt == self.fail_on:
            raise GeneratorError("backend failed")
        threading.Event().wait(0.01)
        return f"re: {prompt} @{params.max_tokens}"


def call_concurrently(batcher, jobs):
    """jobs: (prompts, params) per thread, all released at once; returns each thread's result."""
    results, barrier = [None] * len(jobs), threading.Barrier(len(jobs))

    def work(i, prompts, params):
        barrier.wait()
        try:
            results[i] = batcher.generate(prompts, params)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i, *job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_calls_with_equal_params_become_one_backend_call():
    recorder = Recorder()
    backend = FakeGenerator(recorder)
    batcher = MicroBatchingGenerator(backend, window_s=0.2)
    params = SamplingParams(max_tokens=8, n=2, temperature=0.5)
    jobs = [([f"p{i}", f"q{i}"], params) for i in range(8)]
    results = call_concurrently(batcher, jobs)
    batcher.shutdown()
    for i, result in enumerate(results):
        assert [[c.text for c in per] for per in result] == [[f"re: p{i} @8"] * 2, [f"re: q{i} @8"] * 2]
    assert len(backend.calls) == 1 and len(backend.calls[0].prompts) == 16
    assert recorder.threads and threading.get_ident() not in recorder.threads
    assert len(recorder.threads) == 1


def test_different_params_are_never_merged():
    backend = FakeGenerator(Recorder())
    batcher = MicroBatchingGenerator(backend, window_s=0.2)
    jobs = [([f"p{i}"], SamplingParams(max_tokens=8 + i % 2)) for i in range(6)]
    results = call_concurrently(batcher, jobs)
    batcher.shutdown()
    assert [r[0][0].text for r in results] == [f"re: p{i} @{8 + i % 2}" for i in range(6)]
    assert sorted(c.params.max_tokens for c in backend.calls) == [8, 9]


def test_a_backend_error_reaches_every_caller_of_that_batch_and_the_batcher_goes_on():
    backend = FakeGenerator(Recorder(fail_on="bad"))
    batcher = MicroBatchingGenerator(backend, window_s=0.2)
    results = call_concurrently(batcher, [(["bad"], SamplingParams()), (["good"], SamplingParams())])
    assert all(isinstance(r, GeneratorError) for r in results)
    assert batcher.generate(["later"], SamplingParams())[0][0].text == "re: later @512"
    batcher.shutdown()


def test_max_prompts_caps_a_batch():
    backend = FakeGenerator(Recorder())
    batcher = MicroBatchingGenerator(backend, window_s=0.2, max_prompts=4)
    call_concurrently(batcher, [([f"p{i}"], SamplingParams()) for i in range(8)])
    batcher.shutdown()
    assert all(len(c.prompts) <= 4 for c in backend.calls) and sum(len(c.prompts) for c in backend.calls) == 8


def test_capabilities_pass_through_and_close_closes_the_backend():
    class Closable(FakeGenerator):
        closed = False

        def close(self):
            self.closed = True

    inner = Closable(Recorder(), supports_prefix_cache=True)
    batcher = MicroBatchingGenerator(inner)
    assert batcher.supports_prefix_cache and batcher.name == "fake"
    batcher.close()
    assert inner.closed
    with pytest.raises(AttributeError):
        _ = batcher.no_such_attribute


def test_requests_differing_only_in_n_share_one_backend_call_and_seeded_ones_do_not():
    import threading

    from reason.backends.batching import MicroBatchingGenerator
    from reason.testing import FakeGenerator
    from reason.types import SamplingParams

    backend = FakeGenerator(lambda prompt, params: f"answer to {prompt.split()[-1]}")
    batcher = MicroBatchingGenerator(backend, window_s=0.3)
    results = {}

    def ask(name, n, seed=None):
        results[name] = batcher.generate([f"user: {name}"], SamplingParams(temperature=0.7, n=n, seed=seed))

    threads = [threading.Thread(target=ask, args=("a", 4)), threading.Thread(target=ask, args=("b", 2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [len(row) for row in results["a"]] == [4] and [len(row) for row in results["b"]] == [2]
    assert all(c.text == "answer to a" for c in results["a"][0]) and all(c.text == "answer to b" for c in results["b"][0])
    assert len(backend.calls) == 1 and backend.calls[0].params.n == 1 and len(backend.calls[0].prompts) == 6
    seeded = [threading.Thread(target=ask, args=("c", 4, 1)), threading.Thread(target=ask, args=("d", 2, 1))]
    for t in seeded:
        t.start()
    for t in seeded:
        t.join()
    assert len(backend.calls) == 3 and {c.params.n for c in backend.calls[1:]} == {4, 2}  # a seed pins a request's samples
    batcher.close()
