"""Ray scaling: benchmark throughput with 1 vs 2 model replicas on a CPU-bound workload, as a ratio.

Workloads (--workload):
  burn   (default) every sample costs a fixed amount of pure-Python work (hashing) in its replica:
         a model that keeps its core busy and costs nothing else. The work is fixed, not the time,
         so two replicas sharing one core would show no gain.
  model  the bundled model in vLLM on CPU, one engine per replica with one CPU (one torch thread).

Each measurement is a whole `run_benchmark` run with `RayOptions(replicas=R, replica_cpus=1)` on a
local Ray runtime; throughput is the runner's own figure (problems solved over the solving time),
which leaves out Ray's and the replicas' start-up. The same workload run locally, without Ray, is
printed for reference, and so is the machine's own ceiling: the speed-up of the same hashing
in two plain processes over one (a shared or throttled VM gives less than its core count).

Usage: python benchmarks/ray_scaling.py [--workload burn|model] [--problems 24] [--n 4]
       [--sample-ms 50] [--max-tokens 16] [--repeats 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


class Burn:
    """A FakeGenerator script: `rounds` of SHA-256 per sample, then a fixed answer."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds

    def __call__(self, prompt: str, params) -> str:
        digest = prompt.encode()
        for _ in range(self.rounds):
            digest = hashlib.sha256(digest).digest()
        return f"Worked it out ({digest[:2].hex()}). The answer is 0."


def burn_generator(rounds: int):
    from reason.testing import FakeGenerator

    return FakeGenerator(Burn(rounds), name="burn")


def rounds_per_ms() -> float:
    """SHA-256 rounds this process does in a millisecond (best of a few tries)."""
    best = 0.0
    for _ in range(5):
        started, digest = time.perf_counter(), b"x"
        for _ in range(20_000):
            digest = hashlib.sha256(digest).digest()
        best = max(best, 20_000 / ((time.perf_counter() - started) * 1000))
    return best


def _hash(rounds: int) -> None:
    Burn(rounds)("ceiling", None)


def process_ceiling(rounds: int = 1_500_000) -> float:
    """Speed-up of two plain processes hashing at once over the same work done in one."""
    started = time.perf_counter()
    _hash(rounds)
    _hash(rounds)
    serial = time.perf_counter() - started
    workers = [multiprocessing.Process(target=_hash, args=(rounds,)) for _ in range(2)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return serial / (time.perf_counter() - started)


def workload(args: argparse.Namespace):
    """(run config, generator factory) for the chosen workload."""
    from reason.api import make_generator
    from reason.bench.runner import RunConfig

    if args.workload == "burn":
        rounds = int(rounds_per_ms() * args.sample_ms)
        config = RunConfig(dataset="gsm8k", limit=args.problems, strategy="self-consistency",
                           params={"n": args.n, "max_tokens": 64}, backend="fake", cache=None)
        return config, partial(burn_generator, rounds)
    config = RunConfig(dataset="gsm8k", limit=args.problems, strategy="cot",
                       params={"max_tokens": args.max_tokens, "temperature": 0.0}, backend="vllm", cache=None)
    return config, partial(make_generator, "vllm")


def throughput(config, factory, replicas: int | None, work_dir: Path) -> float:
    """Problems per second of one fresh run (replicas=None: locally, without Ray)."""
    from reason.bench.runner import run_benchmark
    from reason.distributed import RayOptions, ray_pools

    run_dir = work_dir / f"run-{replicas}-{time.monotonic_ns()}"
    if replicas is None:
        generator = factory()
        try:
            outcome = run_benchmark(config, run_dir, generator)
        finally:
            generator.close()
    else:
        options = RayOptions(replicas=replicas, replica_cpus=1, object_store_mb=200, generator_factory=factory)
        outcome = run_benchmark(config, run_dir, pools=ray_pools(options))
    shutil.rmtree(run_dir, ignore_errors=True)
    return outcome.summary.timed_problems / outcome.summary.elapsed_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=("burn", "model"), default="burn")
    parser.add_argument("--problems", type=int, default=24)
    parser.add_argument("--n", type=int, default=4, help="samples per problem (burn)")
    parser.add_argument("--sample-ms", type=float, default=50.0, help="CPU time per sample on an idle core (burn)")
    parser.add_argument("--max-tokens", type=int, default=16, help="tokens per answer (model)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per setting; the best one counts")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import ray

    config, factory = workload(args)
    ray.init(include_dashboard=False, object_store_memory=200 * 1024**2, log_to_driver=False)
    cores = int(ray.cluster_resources().get("CPU", 0))
    settings = (("local", None), ("ray-1", 1), ("ray-2", 2))
    runs: dict[str, list[float]] = {label: [] for label, _ in settings}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):  # settings interleaved, so a burst of load elsewhere hits them alike
            for label, replicas in settings:
                runs[label].append(throughput(config, factory, replicas, Path(tmp)))
                print(f"{label:>6}: {runs[label][-1]:.2f} problems/s", flush=True)
    ray.shutdown()
    figures = {label: max(values) for label, values in runs.items()}
    ratio = figures["ray-2"] / figures["ray-1"]
    ceiling = process_ceiling()
    load = os.getloadavg()[0]
    print(f"2 replicas / 1 replica: {ratio:.2f}x ({args.workload}, {args.problems} problems, {cores} CPUs, "
          f"load average {load:.1f}); two plain processes on this machine: {ceiling:.2f}x; "
          f"ideal {min(2, cores)}x")
    if args.json:
        args.json.write_text(json.dumps({"workload": args.workload, "cpus": cores, "load_average": load,
                                         "problems_per_s": figures, "ratio_2_over_1": ratio,
                                         "two_process_ceiling": ceiling}, indent=2))


if __name__ == "__main__":
    main()
