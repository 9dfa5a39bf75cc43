"""Every user error through the real command line: one line on stderr, the documented exit code (2 for
usage and configuration), decided before any model load (the vLLM backend is made to fail the test if it
is ever built), and nothing written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reason.backends import vllm_backend
from reason.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_model_load(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded for an input error")

    monkeypatch.setattr(vllm_backend.VLLMGenerator, "__init__", refuse)


def _one_line_error(result, code: int, *needles: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


CASES = {
    "empty question": (["solve", ""], "the question is empty"),
    "blank question": (["solve", "   \n "], "the question is empty"),
    "unknown task": (["solve", "Q", "--task", "nope"], "unknown task style 'nope'"),
    "unknown strategy": (["solve", "Q", "-s", "nope"], "unknown searcher 'nope'"),
    "parameter the default strategy lacks": (["solve", "Q", "--n", "4"], "takes no parameter 'n'"),
    "unknown backend option": (["solve", "Q", "--backend", "fake", "--backend-opt", "nope=1"], "no option nope"),
    "bad vLLM option": (["solve", "Q", "--backend-opt", "gpu_memory_utilization=lots"], "gpu_memory_utilization"),
    "base url without http": (["solve", "Q", "--base-url", "http://x"], "--base-url is for --backend http"),
    "bench: out is /proc": (["bench", "run", "gsm8k", "--out", "/proc/x"], "cannot be written"),
    "bench: out under a file": (["bench", "run", "gsm8k", "--out", "/dev/null/x"], "cannot be written"),
    "bench: unknown backend option": (["bench", "run", "gsm8k", "--backend", "fake", "--backend-opt", "nope=1"], "no option nope"),
    "bench: unknown task": (["bench", "run", "gsm8k", "--task", "nope"], "unknown task style"),
    "bench: a ray address where nothing listens": (["bench", "run", "gsm8k", "--ray-address", "127.0.0.1:9"], "nothing answers"),
    "bench sweep: one unknown strategy": (["bench", "sweep", "gsm8k", "--strategies", "cot,nope"], "unknown searcher 'nope'"),
}


@pytest.mark.parametrize("args, needle", list(CASES.values()), ids=list(CASES))
def test_each_input_error_is_one_line_exit_2_before_any_model(args, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _one_line_error(runner.invoke(app, args), 2, needle)
    assert list(tmp_path.iterdir()) == []  # nothing written (not even the default runs/ folder)


def test_out_pointing_at_a_file_is_refused(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("keep")
    _one_line_error(runner.invoke(app, ["bench", "run", "gsm8k", "--out", str(target)]), 2, "is a file")
    assert target.read_text() == "keep"


def test_a_question_from_stdin(monkeypatch):
    from reason.registry import registry
    from reason.testing import FakeGenerator

    registry.register("generator", "stdin-test", lambda **options: FakeGenerator(["The answer is 7."]))
    try:
        result = runner.invoke(app, ["solve", "-", "--backend", "stdin-test", "--json"], input="What is 3 + 4?\n")
    finally:
        registry.unregister("generator", "stdin-test")
    assert result.exit_code == 0, result.stderr
    import json

    data = json.loads(result.stdout)
    assert data["answer"] == "7" and data["problem"]["question"] == "What is 3 + 4?"
    assert {"candidates", "compute", "trace"} <= set(data)


def test_version_and_the_real_entry_point():
    done = subprocess.run([str(Path(sys.executable).parent / "reason"), "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("reason ")
    error = subprocess.run([str(Path(sys.executable).parent / "reason"), "solve", "Q", "--task", "nope"],
                           capture_output=True, text=True, timeout=60)
    assert error.returncode == 2 and error.stdout == "" and error.stderr.count("\n") == 1


@pytest.mark.parametrize("lines, needle", [
    ("\n\n", "no problems in it"),
    ('{"question": "1+1?", "answer": "2"}\n{"question": "2+2?"}\n', ":2: no answer in field 'answer'"),
], ids=["empty dataset", "a line without its answer"])
@pytest.mark.parametrize("command", ["run", "sweep"])
def test_bad_datasets_are_refused_before_anything_is_written(lines, needle, command, tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text(lines)
    out = tmp_path / "out"
    _one_line_error(runner.invoke(app, ["bench", command, str(data), "--backend", "fake", "--out", str(out)]), 2, needle)
    assert not out.exists()


@pytest.mark.model
def test_a_model_load_is_quiet(tmp_path):
    """The real bundled model through the real command (another process, so the autouse refusal does not
    apply): the third-party notices vLLM and torch print while loading stay out of the terminal."""
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    done = subprocess.run([str(Path(sys.executable).parent / "reason"), "solve", "What is 2 + 2?", "--max-tokens", "8"],
                          capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and "answer:" in done.stdout
