"""Runs end to end with a scripted model: records, resume, kills, concurrency, config pinning, rescore."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_bench_support import arithmetic_generator, write_arithmetic

from reason.bench.errors import RunDirError
from reason.bench.records import RECORDS_FILE, read_records
from reason.bench.rescore import rescore
from reason.bench.runner import SUMMARY_FILE, RunConfig, run_benchmark
from reason.errors import GeneratorError, UnknownComponentError
from reason.registry import registry
from reason.types import Verdict

REPO = Path(__file__).resolve().parents[1]


def config(data: Path, **changes) -> RunConfig:
    base = dict(dataset=str(data), question_field="q", answer_field="a", id_field="id", strategy="cot", backend="fake")
    return RunConfig(**(base | changes))


@pytest.fixture
def data(tmp_path):
    return write_arithmetic(tmp_path / "arith.jsonl", 12)


def test_a_run_writes_one_full_record_per_problem_and_a_summary(tmp_path, data):
    gen = arithmetic_generator(wrong_every=4)
    out = run_benchmark(config(data, strategy="self-consistency", params={"n": 4, "max_tokens": 64}), tmp_path / "r", gen)
    records = {r.id: r for r in read_records(tmp_path / "r")}
    assert sorted(records) == sorted(f"p{i}" for i in range(12))
    r = records["p5"]
    assert (r.question, r.reference, r.predicted, r.correct, r.verdict.status) == ("What is 5 + 10?", "15", "15", True, "pass")
    assert [(c.answer, c.votes, c.correct) for c in r.candidates] == [("15", 3, True), ("16", 1, False)]
    assert [s.correct for s in r.samples] == [True, True, True, False]
    assert r.compute.generated_tokens == sum(s.generated_tokens for s in r.samples) > 0
    assert r.compute.model_calls == 1 and r.compute.prompt_tokens > 0 and r.cache.generated == 4
    summary = json.loads((tmp_path / "r" / SUMMARY_FILE).read_text())
    assert summary["accuracy"] == 1.0 and summary["pass_at"]["1"] == 0.75 and summary["maj_at"]["4"] == 1.0
    assert out.summary.problems == 12 and out.new_records == 12 and out.session_cache.generated == 48


def test_resume_skips_finished_problems_and_extends_with_a_higher_limit(tmp_path, data):
    gen = arithmetic_generator()
    run_benchmark(config(data, limit=5), tmp_path / "r", gen)
    assert len(gen.calls) == 5
    again = run_benchmark(config(data, limit=5), tmp_path / "r", gen)
    assert again.new_records == 0 and len(gen.calls) == 5
    more = run_benchmark(config(data, limit=8), tmp_path / "r", gen)
    assert more.new_records == 3 and more.summary.problems == 8 and len(gen.calls) == 8


def test_resume_after_a_kill_mid_write_redoes_only_the_torn_problem_from_the_cache(tmp_path, data):
    run_benchmark(config(data), tmp_path / "r", arithmetic_generator())
    path = tmp_path / "r" / RECORDS_FILE
    raw = path.read_bytes()
    last = raw.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(raw[: last + len(raw[last:]) // 2])  # the last record is half written
    gen = arithmetic_generator()
    out = run_benchmark(config(data), tmp_path / "r", gen)
    assert out.new_records == 1
    assert out.session_cache.hits == 1 and len(gen.calls) == 0  # its generation was cached before the "kill"
    ids = [json.loads(line)["id"] for line in path.read_text().splitlines()]
    assert sorted(ids) == sorted(f"p{i}" for i in range(12)) and len(ids) == 12


KILLED_RUN = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[3])
    from reason.bench.runner import RunConfig, run_benchmark
    from test_bench_support import arithmetic_generator
    cfg = RunConfig(dataset=sys.argv[1], question_field="q", answer_field="a", id_field="id",
                    strategy="self-consistency", params={"n": 3}, backend="fake", concurrency=3)
    run_benchmark(cfg, sys.argv[2], arithmetic_generator(wrong_every=3, delay_s=0.02))
    """
)


def test_sigkill_at_any_moment_loses_no_finished_record_and_never_duplicates(tmp_path):
    data = write_arithmetic(tmp_path / "arith.jsonl", 60)
    run_dir = tmp_path / "r"
    path = run_dir / RECORDS_FILE
    env = os.environ | {"PYTHONPATH": str(REPO)}
    survivors: dict[str, str] = {}
    for round_, wait_lines in enumerate((3, 10, 20)):
        proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(data), str(run_dir), str(REPO / "tests")], env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if path.exists() and path.read_bytes().count(b"\n") >= wait_lines + 3 * round_:
                break
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        finished = {json.loads(line)["id"]: line for line in path.read_text().split("\n")[:-1]}
        assert len(finished) < 60  # killed mid-run, not after it
        assert all(finished.get(i) == line for i, line in survivors.items())  # nothing finished was lost or changed
        survivors = finished
    out = run_benchmark(
        RunConfig(dataset=str(data), question_field="q", answer_field="a", id_field="id", strategy="self-consistency",
                  params={"n": 3}, backend="fake", concurrency=3),
        run_dir, arithmetic_generator(wrong_every=3),
    )
    lines = path.read_text().splitlines()
    ids = [json.loads(line)["id"] for line in lines]
    assert len(ids) == len(set(ids)) == 60
    assert all(line in lines for line in survivors.values())
    assert out.new_records == 60 - len(survivors) and out.summary.problems == 60


def test_concurrent_run_gives_the_same_records_as_a_sequential_one(tmp_path, data):
    cfg = config(data, strategy="self-consistency", params={"n": 3})
    run_benchmark(cfg, tmp_path / "seq", arithmetic_generator(wrong_every=2))
    gen = arithmetic_generator(wrong_every=2, delay_s=0.01)
    run_benchmark(cfg.model_copy(update={"concurrency": 4}), tmp_path / "par", gen)
    strip = lambda r: r.model_dump(exclude={"wall_time_s", "compute"})  # noqa: E731
    seq = {r.id: strip(r) for r in read_records(tmp_path / "seq")}
    par = {r.id: strip(r) for r in read_records(tmp_path / "par")}
    assert seq == par
    assert len(gen.calls) < 12  # calls from worker threads were merged


def test_resuming_with_a_different_strategy_or_params_is_refused(tmp_path, data):
    run_benchmark(config(data, limit=2), tmp_path / "r", arithmetic_generator())
    with pytest.raises(RunDirError, match="different strategy, params"):
        run_benchmark(config(data, limit=2, strategy="self-consistency", params={"n": 2}), tmp_path / "r",
                      arithmetic_generator())
    with pytest.raises(RunDirError, match="model 'fake-arith'"):
        from reason.testing import FakeGenerator

        run_benchmark(config(data, limit=3), tmp_path / "r", FakeGenerator(["The answer is 1."], name="other"))


def test_a_failing_search_stops_the_run_but_keeps_finished_records(tmp_path, data):
    script = iter(["The answer is 0.", "The answer is 3."])

    def responder(prompt, params):
        try:
            return next(script)
        except StopIteration:
            raise GeneratorError("backend died") from None

    from reason.testing import FakeGenerator

    with pytest.raises(GeneratorError, match="backend died"):
        run_benchmark(config(data), tmp_path / "r", FakeGenerator(responder))
    assert [r.id for r in read_records(tmp_path / "r")] == ["p0", "p1"]
    assert json.loads((tmp_path / "r" / SUMMARY_FILE).read_text())["problems"] == 2


def test_rescore_regenerates_nothing_and_applies_another_vote_rule(tmp_path, data):
    gen = arithmetic_generator(wrong_every=2)
    run = run_benchmark(config(data, strategy="self-consistency", params={"n": 2}), tmp_path / "r", gen)
    # n=2 with one wrong sample: a 1-1 tie; the searcher keeps the first (right) answer
    assert run.summary.accuracy == 1.0
    calls = len(gen.calls)
    out = rescore(tmp_path / "r", vote="majority-finished")
    assert out.session_cache.generated == 0 and out.session_cache.hits == run.session_cache.generated == 24
    assert out.run_dir == tmp_path / "r" / "rescore" / "majority-finished-match"
    assert len(gen.calls) == calls
    assert out.summary.problems == 12 and out.summary.accuracy == 1.0
    assert all(r.vote == "majority-finished" for r in read_records(out.run_dir))


def test_rescore_with_another_verifier(tmp_path, data):
    class Strict:
        name = "strict"

        def verify(self, problem, candidate):
            return Verdict(status="pass" if candidate == problem.answer and candidate.endswith("0") else "fail")

    run_benchmark(config(data), tmp_path / "r", arithmetic_generator())
    registry.register("verifier", "strict", Strict)
    try:
        out = rescore(tmp_path / "r", verifier="strict")
    finally:
        registry.unregister("verifier", "strict")
    # answers 0, 3, ..., 33: only 0 and 30 end in 0
    assert out.summary.correct == 2 and out.session_cache.generated == 0


def test_rescore_only_covers_what_the_run_finished(tmp_path, data):
    run_benchmark(config(data, limit=4), tmp_path / "r", arithmetic_generator())
    out = rescore(tmp_path / "r", vote="weighted")
    assert out.summary.problems == 4 and out.session_cache.hits == 4


def test_unknown_vote_rule_lists_the_known_ones(tmp_path, data):
    with pytest.raises(UnknownComponentError, match="best, confidence, majority, majority-finished, weighted"):
        run_benchmark(config(data, vote="mode"), tmp_path / "r", arithmetic_generator())


def test_traces_too_big_to_inline_go_to_a_file(tmp_path, data, monkeypatch):
    from reason.bench import grading
    from reason.searchers.cot import ChainOfThought

    monkeypatch.setattr(grading, "INLINE_TRACE_BYTES", 10)
    real = ChainOfThought.search

    def traced(self, problem, generator):
        return real(self, problem, generator).model_copy(update={"trace": {"nodes": list(range(50))}})

    monkeypatch.setattr(ChainOfThought, "search", traced)
    run_benchmark(config(data, limit=1), tmp_path / "r", arithmetic_generator())
    [record] = read_records(tmp_path / "r")
    assert record.trace is None and record.trace_file == "traces/p0.json"
    stored = json.loads((tmp_path / "r" / record.trace_file).read_text())
    assert stored["nodes"] == list(range(50)) and stored["tree"]["nodes"]  # the record's trace keeps the tree


def test_changed_backend_options_are_logged_not_refused(tmp_path, data, caplog):
    run_benchmark(config(data, limit=2, backend_options={"memory": 1}), tmp_path / "r", arithmetic_generator())
    with caplog.at_level("WARNING", logger="reason.bench.runner"):
        out = run_benchmark(config(data, limit=3, backend_options={"memory": 2}), tmp_path / "r", arithmetic_generator())
    assert out.new_records == 1 and "backend options changed" in caplog.text


def test_maj_and_pass_at_k_do_not_depend_on_the_vote_rule(tmp_path, data):
    gen = arithmetic_generator(wrong_every=3)
    run = run_benchmark(config(data, strategy="self-consistency", params={"n": 3}), tmp_path / "r", gen)
    # max-score on unscored samples keeps the first answer seen: the vote changes, maj@k must not
    other = rescore(tmp_path / "r", vote="max-score")
    assert other.summary.maj_at == run.summary.maj_at and other.summary.pass_at == run.summary.pass_at
    assert [s.group for s in read_records(tmp_path / "r")[0].samples] == [0, 0, 1]


class LocalPool:
    """A problem pool that solves here, and has already lost `failures` attempts (to earlier runs it served)."""

    def __init__(self, failures: int) -> None:
        self.name, self.failures, self.gen = "fake-arith", failures, arithmetic_generator(3)

    def solve(self, todo, searcher, cache):
        from reason.bench.runner import _solve

        self.failures += 1  # one attempt lost and retried in this run
        for problem in todo:
            yield _solve(problem, searcher, self.gen, cache)


def test_a_shared_pool_s_earlier_failures_are_not_counted_again(tmp_path, data):
    run_benchmark(config(data), tmp_path / "run", LocalPool(failures=5))
    assert json.loads((tmp_path / "run" / SUMMARY_FILE).read_text())["failures"] == 1

