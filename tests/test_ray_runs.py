"""Benchmark runs on a real local Ray runtime (2 CPUs, started once for this module).

The replicas hold the scripted arithmetic model of `test_bench_support`; Ray workers
cannot import the tests directory, so those helpers travel to them by value.
Each Ray run is compared with a local run of the same config: same records (wall times
aside), however problems were spread, and whatever died on the way.
"""

import json
import os
import signal
import sys
import time
from functools import partial
from pathlib import Path

import pytest
import test_bench_support
from test_bench_support import arithmetic_generator, write_arithmetic

from reason.bench.records import RECORDS_FILE, read_records
from reason.bench.rescore import rescore
from reason.bench.runner import SUMMARY_FILE, RunConfig, run_benchmark
from reason.distributed import DistributedError, RayOptions, ray_pools
from reason.errors import ConfigError, GeneratorError
from reason.testing import FakeGenerator

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module", autouse=True)
def ray_runtime():
    """A local runtime started through the library's own path; torn down after the module."""
    from reason.distributed.pool import connect

    saved = os.environ.get("RAY_USAGE_STATS_ENABLED")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    connect(RayOptions(local_cpus=2, object_store_mb=200))
    ray.cloudpickle.register_pickle_by_value(test_bench_support)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.shutdown()
    if saved is None:
        os.environ.pop("RAY_USAGE_STATS_ENABLED", None)
    else:
        os.environ["RAY_USAGE_STATS_ENABLED"] = saved


@pytest.fixture
def data(tmp_path):
    return write_arithmetic(tmp_path / "arith.jsonl", 20)


def config(data: Path, **changes) -> RunConfig:
    base = dict(dataset=str(data), question_field="q", answer_field="a", id_field="id", backend="fake",
                strategy="self-consistency", params={"n": 4})
    return RunConfig(**(base | changes))


def on_ray(factory=None, **changes) -> RayOptions:
    return RayOptions(replicas=2, generator_factory=factory or partial(arithmetic_generator, 3), **changes)


def records(run_dir: Path, *exclude: str) -> dict[str, dict]:
    """Records by id, all fields but the timings (and `exclude`)."""
    drop = {"wall_time_s": True, "compute": {"wall_time_s"}} | {name: True for name in exclude}
    return {r.id: r.model_dump(exclude=drop) for r in read_records(run_dir)}


def record_ids(run_dir: Path) -> list[str]:
    return [json.loads(line)["id"] for line in (run_dir / RECORDS_FILE).read_text().splitlines()]


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / SUMMARY_FILE).read_text())


def test_a_ray_run_writes_the_records_of_a_local_run(tmp_path, data):
    run_benchmark(config(data), tmp_path / "local", arithmetic_generator(3))
    out = run_benchmark(config(data), tmp_path / "ray", pools=ray_pools(on_ray()))
    assert out.new_records == 20 and sorted(record_ids(tmp_path / "ray")) == sorted(f"p{i}" for i in range(20))
    assert records(tmp_path / "ray") == records(tmp_path / "local")
    assert any(not r["correct"] for r in records(tmp_path / "ray")["p1"]["samples"])  # the script's wrong samples
    timing = {"elapsed_s", "problems_per_min", "generated_tokens_per_s"}
    assert {k: v for k, v in summary(tmp_path / "ray").items() if k not in timing} == {
        k: v for k, v in summary(tmp_path / "local").items() if k not in timing
    }
    assert summary(tmp_path / "ray")["failures"] == 0
    replay = rescore(tmp_path / "ray")  # every generation reached the run's cache through the cache actor
    assert replay.session_cache.hits == 80 and replay.session_cache.generated == 0


def test_ray_and_local_runs_resume_each_other(tmp_path, data):
    run_benchmark(config(data), tmp_path / "whole", arithmetic_generator(3))
    run_dir = tmp_path / "mixed"
    run_benchmark(config(data, limit=6), run_dir, arithmetic_generator(3))
    assert run_benchmark(config(data, limit=14), run_dir, pools=ray_pools(on_ray())).new_records == 8
    assert run_benchmark(config(data), run_dir, arithmetic_generator(3)).new_records == 6
    assert run_benchmark(config(data), run_dir, pools=ray_pools(on_ray())).new_records == 0  # finished: Ray is not even asked
    assert len(record_ids(run_dir)) == 20
    assert records(run_dir) == records(tmp_path / "whole")


def started_replica_pids(pid_dir: Path) -> list[int]:
    return sorted(int(p.name) for p in pid_dir.iterdir())


def recording_replica(pid_dir: str, delay_s: float, wrong_every: int = 3) -> FakeGenerator:
    """The arithmetic model, slowed down, leaving its process id where the test can find it."""
    Path(pid_dir, str(os.getpid())).touch()
    return arithmetic_generator(wrong_every, delay_s)


def busy_search_worker(timeout_s: float = 10.0) -> int:
    """A worker process running a search right now (Ray titles it after the task's function)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::solve_problem"):
                    return int(entry.name)
            except OSError:
                continue
        time.sleep(0.01)
    raise AssertionError("no search task was running")


class KillAfter:
    """A progress hook that SIGKILLs a process once `after` records are written (the run is then mid-way)."""

    def __init__(self, after: int, victim) -> None:
        self.after, self.victim, self.done, self.killed = after, victim, 0, []

    def start(self, total, finished) -> None:
        pass

    def advance(self, record) -> None:
        self.done += 1
        if self.done == self.after:
            pid = self.victim()
            os.kill(pid, signal.SIGKILL)
            self.killed.append(pid)


@pytest.mark.parametrize("victim", ["replica", "search worker"])
def test_a_process_killed_mid_run_loses_and_duplicates_nothing(tmp_path, data, victim):
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    factory = partial(recording_replica, str(pid_dir), 0.1)
    pick = {"replica": lambda: started_replica_pids(pid_dir)[0], "search worker": busy_search_worker}[victim]
    killer = KillAfter(4, pick)
    run_benchmark(config(data), tmp_path / "ray", progress=killer, pools=ray_pools(on_ray(factory)))
    assert len(killer.killed) == 1
    ids = record_ids(tmp_path / "ray")
    assert len(ids) == len(set(ids)) == 20
    assert summary(tmp_path / "ray")["failures"] >= 1
    run_benchmark(config(data), tmp_path / "local", arithmetic_generator(3))
    # A retried problem may find its first attempt's generations in the cache: compare all else.
    assert records(tmp_path / "ray", "cache") == records(tmp_path / "local", "cache")
    if victim == "replica":
        assert len(started_replica_pids(pid_dir)) == 3  # Ray restarted the killed one


class Poison:
    """Answers like the arithmetic model, but its process dies on one question."""

    def __call__(self, prompt, params) -> str:
        if "What is 7 + 14?" in prompt:
            os._exit(1)
        return "The answer is 0."


def test_a_problem_that_keeps_killing_its_replica_stops_the_run_after_the_retries(tmp_path, data):
    options = on_ray(partial(FakeGenerator, Poison(), name="poison"), retries=2, max_in_flight=2)
    with pytest.raises(DistributedError, match="problem 'p7' failed 3 times"):
        run_benchmark(config(data, strategy="cot", params={}), tmp_path / "ray", pools=ray_pools(options))
    ids = record_ids(tmp_path / "ray")
    assert len(ids) == len(set(ids)) and "p7" not in ids
    assert summary(tmp_path / "ray")["failures"] == 3


class Broken:
    def __call__(self, prompt, params) -> str:
        raise GeneratorError("backend broke")


def test_errors_reach_the_caller_as_in_a_local_run(tmp_path, data):
    with pytest.raises(GeneratorError, match="backend broke"):
        run_benchmark(config(data), tmp_path / "a", pools=ray_pools(on_ray(partial(FakeGenerator, Broken()))))
    with pytest.raises(DistributedError, match="UnknownComponentError: unknown generator 'nope'"):  # in the replica
        run_benchmark(config(data, backend="nope"), tmp_path / "b", pools=ray_pools(RayOptions()))
    with pytest.raises(DistributedError, match="3 replicas x 1 CPU need 3 CPUs; the cluster has 2"):
        run_benchmark(config(data), tmp_path / "c", pools=ray_pools(RayOptions(replicas=3)))
    with pytest.raises(ConfigError, match="generator factory"):
        run_benchmark(config(data), tmp_path / "d", arithmetic_generator(), pools=ray_pools(RayOptions()))


class BatchRecorder:
    """The arithmetic model, slowed down; each replica process notes the largest batch it was handed."""

    def __init__(self, out_dir: str) -> None:
        self.inner = arithmetic_generator(0, 0.1)
        self.name, self.out, self.peak = "batches", Path(out_dir, str(os.getpid())), 0

    def generate(self, prompts, params):
        self.peak = max(self.peak, len(prompts))
        self.out.write_text(str(self.peak))
        return self.inner.generate(prompts, params)

    def close(self) -> None:
        pass


def test_problems_in_flight_are_bounded_and_spread_over_the_replicas(tmp_path, data):
    """4 problems in flight over 2 replicas: no replica is ever handed more than 2 prompts in one batch."""
    (tmp_path / "peaks").mkdir()
    options = on_ray(partial(BatchRecorder, str(tmp_path / "peaks")), max_in_flight=4)
    run_benchmark(config(data, strategy="cot", params={}), tmp_path / "ray", pools=ray_pools(options))
    peaks = [int(p.read_text()) for p in (tmp_path / "peaks").iterdir()]
    assert len(peaks) == 2 and max(peaks) <= 2


def test_a_sweep_on_ray_finds_the_local_sweep_s_points_with_one_set_of_replicas(tmp_path, data):
    from reason.bench.sweep import SweepConfig, run_sweep

    sweep = SweepConfig(dataset=str(data), strategies=("cot", "self-consistency"), budgets=(30, 60), limit=8,
                        common={"max_tokens": 32}, backend="fake", question_field="q", answer_field="a", id_field="id")
    # a model that is always right: the scripted wrong samples count per process, and the
    # runs of a sweep meet different replicas on Ray than the one local generator
    local = run_sweep(sweep, tmp_path / "local", arithmetic_generator(0))
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    on_cluster = run_sweep(sweep, tmp_path / "ray", pools=ray_pools(on_ray(partial(recording_replica, str(pid_dir), 0.0, 0))))
    assert len(on_cluster) == len(local) == 3  # cot, then self-consistency at n=2 and n=5
    moved = [p.model_copy(update={"run_dir": p.run_dir.replace(str(tmp_path / "ray"), str(tmp_path / "local"))})
             for p in on_cluster]
    assert moved == local
    for point in on_cluster:
        assert records(Path(point.run_dir)) == records(Path(point.run_dir.replace("/ray/", "/local/")))
    assert len(started_replica_pids(pid_dir)) == 2  # the replicas loaded their model once for all three runs
    with pytest.raises(ConfigError, match="generator factory"):
        run_sweep(sweep, tmp_path / "bad", arithmetic_generator(), pools=ray_pools(RayOptions()))


def reasoner() -> FakeGenerator:
    """A reasoning model: a 30-word thought opening with a decoy answer ("the answer is 1"), then its span closed;
    after the span, the sum asked for."""
    import re

    def respond(prompt, params):
        a, b = map(int, re.findall(r"What is (\d+) \+ (\d+)\?", prompt)[-1])
        if "</think>" in prompt.rsplit("assistant:", 1)[-1]:
            return f"The answer is {a + b}."
        return " ".join(["the", "answer", "is", "1"] + ["hmm"] * 26) + " </think>"

    return FakeGenerator(respond)


def test_a_thinking_budget_travels_with_the_searcher_to_the_ray_workers(tmp_path, data):
    from reason.thinking import ThinkingOptions

    thinking = config(data, params={"n": 2, "max_tokens": 40}, thinking=ThinkingOptions(max_thinking_tokens=10))
    local = run_benchmark(thinking, tmp_path / "local", reasoner())
    remote = run_benchmark(thinking, tmp_path / "ray", pools=ray_pools(on_ray(reasoner)))
    assert remote.summary.correct == local.summary.correct == 20  # the decoy in the span is never the answer
    assert records(tmp_path / "ray") == records(tmp_path / "local")
    assert all(r["compute"]["thinking_tokens"] == 20 for r in records(tmp_path / "ray").values())
