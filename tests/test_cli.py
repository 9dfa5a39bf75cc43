"""CLI tests: scripted generators for the logic, the real bundled model for the wiring."""

import pytest
from typer.testing import CliRunner

from reason.cli import app, parse_params
from reason.errors import ConfigError
from reason.registry import registry
from reason.testing import FakeGenerator

runner = CliRunner()


@pytest.fixture
def scripted_backend():
    """A generator registered under a name, as a plugin would be."""
    made = []

    def factory(**options):
        gen = FakeGenerator(["Half of 4 is 2.\nThe answer is 2.", "#### 3"], cycle=True)
        made.append((gen, options))
        return gen

    registry.register("generator", "scripted", factory)
    yield made
    registry.unregister("generator", "scripted")


def test_parse_params_reads_json_values():
    assert parse_params(["n=8", "temperature=0.5", "agg=min", "stop=[\"\\n\"]"]) == {
        "n": 8, "temperature": 0.5, "agg": "min", "stop": ["\n"]
    }
    with pytest.raises(ConfigError):
        parse_params(["novalue"])


def test_solve_prints_reasoning_candidates_answer_and_compute(scripted_backend):
    result = runner.invoke(app, ["solve", "What is half of 4?", "--backend", "scripted", "-s", "self-consistency", "--n", "3"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Half of 4 is 2." in out
    assert "answer: 2" in out
    assert "generated tokens" in out and "1 model calls" in out
    assert scripted_backend[0][0].calls[0].params.n == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["solve", "q", "--strategy", "nope"], "unknown searcher 'nope'"),
        (["solve", "q", "--model", "/no/such/model"], "does not exist"),
        (["solve", "q", "-s", "cot", "--n", "4"], "invalid parameters for strategy 'cot'"),
        (["solve", "q", "--base-url", "http://x"], "--base-url is for --backend http"),
    ],
)
def test_bad_input_is_one_line_error_not_traceback(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_interactive_solver_keeps_model_and_takes_commands(scripted_backend):
    session = "What is half of 4?\n/strategy self-consistency\n/n 2\n/bogus\n/params\nAnd now?\n/quit\n"
    result = runner.invoke(app, ["solve", "--backend", "scripted"], input=session)
    assert result.exit_code == 0, result.output
    assert len(scripted_backend) == 1  # one model for the whole session
    calls = scripted_backend[0][0].calls
    assert [c.params.n for c in calls] == [1, 2]
    assert "unknown command '/bogus'" in result.output
    assert "strategy=self-consistency" in result.output
    assert result.output.count("answer:") == 2


def test_interactive_solver_ends_on_end_of_input(scripted_backend):
    result = runner.invoke(app, ["solve", "--backend", "scripted"], input="")
    assert result.exit_code == 0


def test_components_lists_every_group():
    result = runner.invoke(app, ["components"])
    assert result.exit_code == 0
    for name in ("vllm", "http", "cot", "self-consistency", "match"):
        assert name in result.output
