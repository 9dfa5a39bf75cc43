"""Ray stays at the edge: without --ray nothing imports it, only reason/distributed/ does; options are plain data."""

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reason.distributed import RayOptions

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("reason", "searchers", "verifiers", "prm")  # folders; they install as reason.*

LOCAL_RUN = textwrap.dedent(
    """
    import json, sys
    from typer.testing import CliRunner
    from reason.bench_cli import bench_app
    args = [sys.argv[1], "--question-field", "q", "--answer-field", "a", "--id-field", "id", "--backend", "fake",
            "--backend-opt", 'script=["The answer is 3."]', "--backend-opt", "cycle=true", "--out", sys.argv[2], "-q"]
    done = CliRunner().invoke(bench_app, args)
    refused = CliRunner().invoke(bench_app, [*args, "--replicas", "2"])
    print(json.dumps({"done": done.exit_code, "refused": refused.exit_code, "message": refused.output,
                      "ray": "ray" in sys.modules}))
    """
)


def test_a_local_bench_run_never_imports_ray(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"id": f"p{i}", "q": f"What is {i} + {2 * i}?", "a": str(3 * i)}) + "\n"
                            for i in range(3)))
    env = os.environ | {"PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", LOCAL_RUN, str(data), str(tmp_path / "run")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["done"] == 0 and len((tmp_path / "run" / "records.jsonl").read_text().splitlines()) == 3
    assert report["refused"] == 2 and "need --ray" in report["message"]  # a usage error (reason/cli_support.py)
    assert report["ray"] is False


def _imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_reason_distributed_imports_ray():
    importers = {
        str(path.relative_to(REPO))
        for package in PACKAGES
        for path in (REPO / package).rglob("*.py")
        if "ray" in _imports_of(path)
    }
    assert importers == {f"reason/distributed/{name}.py" for name in ("pool", "remote", "scheduler")}


def test_options_pick_the_address_from_the_option_then_the_environment():
    assert RayOptions(address="h:6379").ray_address({"RAY_ADDRESS": "other:1"}) == "h:6379"
    assert RayOptions().ray_address({"RAY_ADDRESS": "other:1"}) == "other:1"
    assert RayOptions().ray_address({}) is None and RayOptions().ray_address({"RAY_ADDRESS": ""}) is None


def test_in_flight_defaults_to_two_problems_per_replica():
    assert RayOptions(replicas=3).in_flight() == 6
    assert RayOptions(replicas=3, max_in_flight=4).in_flight() == 4
    with pytest.raises(ValueError):
        RayOptions(replicas=0)
