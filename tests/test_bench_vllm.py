"""`reason bench` end to end on the real bundled model: 3 GSM8K problems, concurrent, then a rescore.

Uses the session's shared vLLM engine (`vllm_generator`); max_tokens stays small.
"""

import pytest

from reason.bench.records import read_records
from reason.bench.rescore import rescore
from reason.bench.runner import RunConfig, run_benchmark
from reason.generator import MeteredGenerator

pytestmark = pytest.mark.model


def test_three_gsm8k_problems_end_to_end_then_rescore_without_generating(tmp_path, vllm_generator):
    config = RunConfig(
        dataset="gsm8k", limit=3, strategy="self-consistency", params={"n": 2, "max_tokens": 48, "seed": 7},
        backend="vllm", concurrency=3,
    )
    backend = MeteredGenerator(vllm_generator)  # counts the merged calls that reach the engine
    out = run_benchmark(config, tmp_path / "run", backend)
    records = {r.id: r for r in read_records(tmp_path / "run")}
    assert sorted(records) == ["gsm8k-test-0", "gsm8k-test-1", "gsm8k-test-2"]
    for r in records.values():
        assert r.reference and len(r.samples) == 2
        assert 0 < r.compute.generated_tokens <= 96 and r.compute.prompt_tokens > 20
        assert r.compute.generated_tokens == sum(s.generated_tokens for s in r.samples)
        assert all(s.finish_reason in ("stop", "length") for s in r.samples)
        assert r.cache.generated == 2 and r.verdict.status in ("pass", "fail")
        assert r.correct == (r.predicted is not None and r.verdict.passed)
    assert 1 <= backend.calls <= 3
    assert backend.generated_tokens == sum(r.compute.generated_tokens for r in records.values())
    assert out.summary.problems == 3 and out.summary.pass_at.keys() == {1, 2}

    again = rescore(tmp_path / "run", vote="majority-finished")
    assert (again.session_cache.hits, again.session_cache.generated) == (6, 0)
    replayed = {r.id: r for r in read_records(again.run_dir)}
    assert {i: [s.text for s in r.samples] for i, r in replayed.items()} == {
        i: [s.text for s in r.samples] for i, r in records.items()
    }
    assert backend.calls <= 3  # the rescore never reached the engine
