"""Joining an existing cluster: `ray start --head` on loopback, then `reason bench --ray-address` (and RAY_ADDRESS).

The driver is the real CLI in a subprocess, as a user runs it; the cluster is always
stopped afterwards (`ray stop --force`), whatever happened.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from test_bench_support import write_arithmetic

from reason.bench.records import read_records
from reason.bench.runner import RunConfig, run_benchmark
from reason.testing import FakeGenerator

pytest.importorskip("ray")

REPO = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))
# Token authentication on, with a token of this test's own (a driver joining by address must opt in).
ENV = os.environ | {"RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(REPO), "RAY_AUTH_MODE": "token",
                    "RAY_AUTH_TOKEN": secrets.token_hex(32)}
FAKE = ["--backend", "fake", "--backend-opt", 'script=["The answer is 3."]', "--backend-opt", "cycle=true"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def head():
    """A one-node cluster on loopback, as `ray start --head` makes it on a head node."""
    port = free_port()
    start = [RAY, "start", "--head", "--port", str(port), "--num-cpus", "2", "--node-ip-address", "127.0.0.1",
             "--disable-usage-stats", "--include-dashboard", "false", "--object-store-memory", str(200 * 1024**2)]
    try:
        done = subprocess.run(start, capture_output=True, text=True, env=ENV, timeout=240)
        assert done.returncode == 0, done.stdout + done.stderr
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, env=ENV, timeout=120)


def bench(data: Path, out: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "reason.bench_cli", "run", str(data), "--question-field", "q", "--answer-field", "a",
            "--id-field", "id", "--strategy", "self-consistency", "--n", "2", *FAKE, "--out", str(out), "-q", *extra]
    return subprocess.run(args, capture_output=True, text=True, env=env or ENV, timeout=300)


def test_the_cli_joins_a_running_cluster_by_address_and_by_ray_address(tmp_path, head):
    data = write_arithmetic(tmp_path / "arith.jsonl", 5)
    out = tmp_path / "run"
    first = bench(data, out, "--ray-address", head, "--replicas", "2", "--limit", "3")
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    assert "3 problems solved now" in first.stdout
    second = bench(data, out, "--ray", env=ENV | {"RAY_ADDRESS": head})  # resumes: the other 2
    assert second.returncode == 0, second.stdout + second.stderr[-3000:]
    assert "2 problems solved now" in second.stdout
    config = RunConfig(dataset=str(data), question_field="q", answer_field="a", id_field="id", backend="fake",
                       backend_options={"script": ["The answer is 3."], "cycle": True}, strategy="self-consistency",
                       params={"n": 2})
    run_benchmark(config, tmp_path / "local", FakeGenerator(["The answer is 3."], cycle=True))
    drop = {"wall_time_s": True, "compute": {"wall_time_s"}}
    remote = {r.id: r.model_dump(exclude=drop) for r in read_records(out)}
    local = {r.id: r.model_dump(exclude=drop) for r in read_records(tmp_path / "local")}
    assert remote == local and len(remote) == 5 and remote["p1"]["correct"] and not remote["p2"]["correct"]
    assert json.loads((out / "summary.json").read_text())["failures"] == 0


def test_the_cli_sweeps_on_a_running_cluster(tmp_path, head):
    data = write_arithmetic(tmp_path / "arith.jsonl", 4)
    args = [sys.executable, "-m", "reason.bench_cli", "sweep", str(data), "--question-field", "q", "--answer-field", "a",
            "--id-field", "id", "--strategies", "cot,self-consistency", "--budgets", "8,16", *FAKE,
            "--out", str(tmp_path / "sweep"), "-q", "--ray-address", head, "--replicas", "2"]
    done = subprocess.run(args, capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    points = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    # "The answer is 3." is 4 tokens: budgets 8 and 16 give self-consistency n=2 and n=4; only p1 is right
    assert [(p["strategy"], p["params"].get("n"), p["accuracy"]) for p in points] == [
        ("cot", None, 0.25), ("self-consistency", 2, 0.25), ("self-consistency", 4, 0.25)]
    wrong = subprocess.run(args[:-4] + ["--replicas", "2"], capture_output=True, text=True, env=ENV, timeout=120)
    assert wrong.returncode != 0 and "need --ray" in wrong.stdout + wrong.stderr
