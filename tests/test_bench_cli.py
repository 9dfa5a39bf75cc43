"""`reason bench` through typer's CliRunner on `bench_app`: run (short and long form), resume, rescore, sweep."""

import json

import pytest
from test_bench_support import Arithmetic, write_arithmetic
from typer.testing import CliRunner

from reason.bench.records import read_records
from reason.bench_cli import bench_app, parse_pairs
from reason.errors import ConfigError
from reason.registry import registry

runner = CliRunner()


@pytest.fixture
def arith_backend():
    """The arithmetic fake registered as a backend, as a plugin would be; records each build."""
    from reason.testing import FakeGenerator

    built = []

    def factory(**options):
        gen = FakeGenerator(Arithmetic(wrong_every=options.pop("wrong_every", 0)), name="arith", **options)
        built.append(gen)
        return gen

    registry.register("generator", "arith", factory)
    yield built
    registry.unregister("generator", "arith")


@pytest.fixture
def data(tmp_path):
    return str(write_arithmetic(tmp_path / "arith.jsonl", 6))


FIELDS = ["--question-field", "q", "--answer-field", "a", "--id-field", "id"]


def test_a_cache_path_on_the_command_line_is_read_from_the_working_directory(tmp_path, data, arith_backend,
                                                                             monkeypatch):
    """`--cache runs/a/generations.sqlite` from the project folder is that file, not one under the new run's folder:
    a second strategy rescoring the first's samples through it generates nothing."""
    monkeypatch.chdir(tmp_path)
    common = [data, *FIELDS, "--n", "3", "--temperature", "0.5", "-p", "seed=0", "--backend", "arith", "--limit", "4"]
    first = runner.invoke(bench_app, [*common, "-s", "self-consistency", "--out", "runs/a"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(bench_app, [*common, "-s", "best-of-n", "-p", "prm=fake", "--out", "runs/b",
                                       "--cache", "runs/a/generations.sqlite"])
    assert second.exit_code == 0, second.output
    assert "12 completions from cache, 0 generated" in second.output
    assert not (tmp_path / "runs" / "b" / "runs").exists()
    stored = json.loads((tmp_path / "runs" / "b" / "run.json").read_text())["config"]["cache"]
    assert stored == str(tmp_path / "runs" / "a" / "generations.sqlite")


def test_parse_pairs():
    assert parse_pairs(["n=8", "t=0.5", "name=x", 'stop=["a"]'], "--param") == {"n": 8, "t": 0.5, "name": "x", "stop": ["a"]}
    with pytest.raises(ConfigError, match="not key=value"):
        parse_pairs(["oops"], "--param")


def test_short_form_runs_with_strategy_params_and_backend_options(tmp_path, data, arith_backend):
    out = tmp_path / "sc"
    args = [data, *FIELDS, "--strategy", "self-consistency", "--n", "4", "--temperature", "0.5", "-p", "max_tokens=64",
            "--backend", "arith", "--backend-opt", "wrong_every=2", "--limit", "5", "--out", str(out), "-c", "2"]
    result = runner.invoke(bench_app, args)
    assert result.exit_code == 0, result.output
    assert "maj@4" in result.output and "pass@4" in result.output and "0 completions from cache, 20 generated" in result.output
    records = read_records(out)
    assert len(records) == 5 and all(len(r.samples) == 4 for r in records)
    stored = json.loads((out / "run.json").read_text())["config"]
    assert stored["params"] == {"n": 4, "temperature": 0.5, "max_tokens": 64}
    assert stored["backend_options"] == {"wrong_every": 2}
    again = runner.invoke(bench_app, ["run", *args])  # long form, same run: resumes with nothing to do
    assert again.exit_code == 0, again.output
    assert "0 problems solved now" in again.output


def test_rescore_command_generates_nothing(tmp_path, data, arith_backend):
    out = tmp_path / "sc"
    first = runner.invoke(bench_app, [data, *FIELDS, "-s", "self-consistency", "--n", "3", "-b", "arith", "-o", str(out), "-q"])
    assert first.exit_code == 0, first.output
    result = runner.invoke(bench_app, ["rescore", str(out), "--vote", "weighted"])
    assert result.exit_code == 0, result.output
    assert "18 completions from cache, 0 generated" in result.output
    assert len(arith_backend) == 1  # no backend was built for the rescore
    assert (out / "rescore" / "weighted-match" / "summary.json").is_file()


def test_sweep_command_writes_table_and_plot(tmp_path, data, arith_backend):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sweep"
    result = runner.invoke(bench_app, ["sweep", data, *FIELDS, "--strategies", "cot,self-consistency", "--budgets", "24,48",
                                       "-b", "arith", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    table = (out / "sweep.md").read_text()
    assert "| self-consistency | n=2 | 24 |" in table and "| self-consistency | n=4 | 48 |" in table
    assert (out / "sweep.png").stat().st_size > 0
    assert len(json.loads((out / "sweep.json").read_text())) == 3


def test_errors_are_one_line_messages_with_exit_code_2(tmp_path, arith_backend):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok"}\n{"question": \n')
    result = runner.invoke(bench_app, [str(bad), "-b", "arith", "-o", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert f"{bad}:2: not valid JSON" in result.stderr and "Traceback" not in result.output
    unknown = runner.invoke(bench_app, [str(bad), "-s", "no-such-searcher", "-o", str(tmp_path / "r")])
    assert unknown.exit_code == 2 and "unknown searcher 'no-such-searcher'" in unknown.stderr
    missing = runner.invoke(bench_app, ["rescore", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "not a benchmark run" in missing.stderr


def test_no_arguments_shows_help():
    result = runner.invoke(bench_app, [])
    assert "rescore" in result.output and "sweep" in result.output


def test_a_finished_run_resumes_without_building_a_backend(tmp_path, data, arith_backend):
    args = [data, *FIELDS, "-b", "arith", "-o", str(tmp_path / "r"), "-q"]
    assert runner.invoke(bench_app, [*args, "--limit", "2"]).exit_code == 0
    again = runner.invoke(bench_app, [*args, "--limit", "2"])
    assert again.exit_code == 0, again.output
    assert len(arith_backend) == 1  # nothing left to solve: no engine started
    more = runner.invoke(bench_app, [*args, "--limit", "3"])
    assert more.exit_code == 0 and len(arith_backend) == 2 and "1 problems solved now" in more.output


def test_ctrl_c_says_how_far_it_got_and_that_the_same_command_resumes(tmp_path):
    from reason.testing import FakeGenerator

    calls = []

    def answer_then_interrupt(prompt, params):
        calls.append(prompt)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return "The answer is 18."

    registry.register("generator", "interrupted", lambda **options: FakeGenerator(answer_then_interrupt))
    try:
        out = tmp_path / "run"
        result = runner.invoke(bench_app, ["gsm8k", "-b", "interrupted", "--limit", "5", "-o", str(out), "-q"])
    finally:
        registry.unregister("generator", "interrupted")
    assert result.exit_code == 130
    assert f"interrupted: 2 problems finished and kept in {out}; the same command resumes" in " ".join(result.stderr.split())
    assert len((out / "records.jsonl").read_text().splitlines()) == 2


def test_the_bench_bar_hears_every_model_call_like_the_interactive_solver(tmp_path):
    """One stream of search events (reason.watch.SearchProgress) for the bench bar and the interactive solver."""
    from reason.bench.runner import RunConfig, run_benchmark
    from reason.testing import FakeGenerator
    from reason.watch import SearchProgress

    heard: list[tuple[str, SearchProgress]] = []

    class Listening:
        def start(self, total, finished):
            pass

        def advance(self, record):
            pass

        def searching(self, problem, progress):
            heard.append((problem.id, progress))

    registry.register("generator", "sc-fake", lambda **o: FakeGenerator(["The answer is 18."], cycle=True))
    try:
        config = RunConfig(dataset="gsm8k", strategy="self-consistency", params={"n": 2}, backend="sc-fake", limit=3,
                           concurrency=2, cache=None)
        run_benchmark(config, tmp_path / "r", progress=Listening())
    finally:
        registry.unregister("generator", "sc-fake")
    assert {pid for pid, _ in heard} == {"gsm8k-test-0", "gsm8k-test-1", "gsm8k-test-2"}
    assert all(p.samples == 2 and p.leader == "18" for _, p in heard)
