"""Every registered searcher: reachable by name from the Python API and the CLI, parameters validated, budget kept."""

import random

import pytest
from typer.testing import CliRunner

import reason
from reason.budget import Budget
from reason.cli import app
from reason.errors import ConfigError
from reason.registry import registry
from reason.testing import FakeGenerator, FakePRM
from reason.types import Problem


@pytest.fixture(scope="module", autouse=True)
def _no_engine_left_behind():
    """`reason.solve` keeps its engine for the next call; close it so later modules start without one."""
    yield
    reason.close_all()


NEW = ["adaptive-sc", "beam", "best-of-n", "dvts", "mcts", "refine", "tot-bfs", "tot-dfs"]


def judge_or_solve(prompt, params):
    """The judge (one token, logprobs) says Yes; the policy writes a short solution."""
    if params.max_tokens == 1 and params.logprobs:
        return "Yes"
    return "3 + 4 = 7\n\nThe answer is 7."


def test_every_searcher_and_prm_is_registered():
    assert set(NEW) <= set(registry.names("searcher"))
    assert {"llm-judge", "hf", "verifier", "fake"} <= set(registry.names("prm"))
    for name in NEW:
        assert registry.get("searcher", name).strategy == name


@pytest.mark.parametrize("name", NEW + ["cot", "self-consistency"])
def test_solve_accepts_every_searcher_by_name_with_default_parameters(name):
    result = reason.solve("What is 3 + 4?", strategy=name, backend="fake", backend_options={"script": judge_or_solve})
    assert result.strategy == name and result.answer == "7"
    assert result.tree is not None and result.tree.number_of_nodes() >= 2
    assert result.compute.model_calls >= 1


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("beam", {"step_score": "median"}, "step scores: last, min, prod, mean"),
        ("mcts", {"prm": "oracle"}, "unknown prm 'oracle'"),
        ("dvts", {"select": "random"}, "vote rules: majority, majority-finished, weighted, best"),
        ("tot-dfs", {"threshold": 2}, "threshold"),
        ("best-of-n", {"base": "nope"}, "unknown base searcher"),
        ("refine", {"verifier": "oracle"}, "unknown verifier 'oracle'"),
        ("beam", {"budget": {"tokens": -1}}, "budget.tokens"),
        ("adaptive-sc", {"confidence": 0.4}, "confidence"),
    ],
)
def test_bad_parameters_are_config_errors(name, params, message):
    with pytest.raises(ConfigError, match=message):
        reason.make_searcher(name, **params)


@pytest.fixture
def scripted_backend():
    registry.register("generator", "scripted-steps", lambda **options: FakeGenerator(judge_or_solve))
    yield
    registry.unregister("generator", "scripted-steps")


@pytest.mark.parametrize("name", NEW)
def test_cli_solve_runs_every_searcher(name, scripted_backend):
    result = CliRunner().invoke(app, ["solve", "What is 3 + 4?", "--backend", "scripted-steps", "-s", name])
    assert result.exit_code == 0, result.output
    assert "answer: 7" in result.output


def _random_steps(seed: int):
    rng = random.Random(seed)

    def script(prompt, params):
        if params.max_tokens == 1:
            return rng.choice(["Yes", "No"])
        words = " ".join(rng.choice(["two", "plus", "three", "is", "five"]) for _ in range(rng.randint(1, 6)))
        return words + (" The answer is 5." if rng.random() < 0.3 else "")

    return script


@pytest.mark.parametrize("name", [n for n in NEW + ["cot", "self-consistency"]])
@pytest.mark.parametrize(("tokens", "calls"), [(7, None), (30, None), (100, 5), (None, 3)])
def test_budget_is_never_exceeded(name, tokens, calls):
    for seed in range(3):
        per_call = "step_tokens" if "step_tokens" in reason.registry.get("searcher", name).model_fields else "max_tokens"
        searcher = reason.make_searcher(name, **{per_call: 7}, budget=Budget(tokens=tokens, calls=calls))
        if "prm" in type(searcher).model_fields:
            searcher = searcher.model_copy(
                update={"prm": FakePRM(lambda steps: [0.5 + 0.1 * (len(s) % 5) for s in steps])}
            )
        gen = FakeGenerator(_random_steps(seed))
        result = searcher.search(Problem(question="What is two plus three?"), gen)
        if tokens is not None:
            assert result.compute.generated_tokens <= tokens
        if calls is not None:
            assert result.compute.model_calls <= calls
        policy_calls = [c for c in gen.calls if c.params.max_tokens != 1]
        assert len(policy_calls) == result.compute.model_calls


@pytest.mark.parametrize("name", ["beam", "dvts", "mcts", "tot-bfs", "tot-dfs"])
def test_tree_searchers_cap_steps_by_step_tokens_and_refuse_max_tokens(name):
    searcher = reason.make_searcher(name, step_tokens=9, prm="fake")
    assert searcher.step_tokens == 9
    with pytest.raises(ConfigError, match="use step_tokens"):
        reason.make_searcher(name, max_tokens=9)
