"""Sweeps: the budget-to-knobs table, runs at matched budgets, the markdown table and the PNG plot."""

import pytest
from test_bench_support import arithmetic_generator, write_arithmetic

from reason.api import make_searcher
from reason.bench.report import plot_sweep, sweep_markdown
from reason.bench.sweep import (
    BUDGET_MAPPERS,
    SweepConfig,
    SweepPoint,
    budget_params,
    run_slug,
    run_sweep,
)
from reason.budget import Budget
from reason.registry import registry
from reason.searcher import SearcherConfig


def test_budget_table_maps_tokens_to_each_strategys_knobs():
    assert budget_params("cot", 1000, 100.0) == {}
    assert budget_params("self-consistency", 1000, 120.0) == {"n": 8}
    assert budget_params("self-consistency", 100, 120.0) is None  # not even one solution fits
    assert set(BUDGET_MAPPERS) >= {"cot", "self-consistency", "best-of-n"}


def test_strategies_outside_the_table_use_a_budget_field_or_n():
    class Budgeted(SearcherConfig):
        budget: Budget = Budget()

    class Sampled(SearcherConfig):
        n: int = 1

    class Fixed(SearcherConfig):
        depth: int = 2

    for name, cls in (("budgeted", Budgeted), ("sampled", Sampled), ("fixed", Fixed)):
        registry.register("searcher", name, cls)
    try:
        assert budget_params("budgeted", 512, 100.0) == {"budget": {"tokens": 512}}
        assert budget_params("sampled", 512, 100.0) == {"n": 5}
        assert budget_params("fixed", 512, 100.0) == {}
    finally:
        for name in ("budgeted", "sampled", "fixed"):
            registry.unregister("searcher", name)


def test_tree_searchers_get_the_budget_as_their_hard_token_cap():
    for name in ("beam", "mcts", "dvts"):
        params = budget_params(name, 800, 200.0)
        assert params == {"budget": {"tokens": 800}}
        make_searcher(name, **params)  # the real searcher accepts it


def test_run_slug():
    assert run_slug("self-consistency", {"n": 4}) == "self-consistency-n4"
    assert run_slug("cot", {}) == "cot"


def test_sweep_runs_each_strategy_at_each_budget_once_and_reruns_from_cache(tmp_path):
    data = write_arithmetic(tmp_path / "arith.jsonl", 6)
    config = SweepConfig(
        dataset=str(data), strategies=("cot", "self-consistency"), budgets=(5, 30, 60, 61), common={"max_tokens": 32},
        backend="fake", concurrency=2, question_field="q", answer_field="a", id_field="id",
    )
    gen = arithmetic_generator(wrong_every=3)
    points = _run(config, tmp_path, gen)
    by = {(p.strategy, p.params.get("n")): p for p in points}
    # the CoT answer is 12 tokens ("i plus 2i is computed step by step. The answer is 3i."): budgets 30/60/61 -> n=2/5/5
    assert sorted(by) == [("cot", None), ("self-consistency", 2), ("self-consistency", 5)]
    assert by[("cot", None)].mean_generated_tokens == pytest.approx(12.0)
    assert by[("self-consistency", 5)].mean_generated_tokens == pytest.approx(60.0)
    assert by[("self-consistency", 5)].params == {"n": 5, "max_tokens": 32} and by[("cot", None)].params == {"max_tokens": 32}
    assert by[("self-consistency", 2)].budget == 30 and by[("cot", None)].budget is None
    calls = len(gen.calls)
    again = _run(config, tmp_path, gen)
    assert again == points and len(gen.calls) == calls


def _run(config, tmp_path, gen):
    return run_sweep(config, tmp_path / "sweep", gen)


def test_markdown_table_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    points = [
        SweepPoint(strategy="cot", budget=None, params={}, run_dir="r1", problems=10, accuracy=0.2, mean_generated_tokens=120.0),
        SweepPoint(strategy="self-consistency", budget=512, params={"n": 4}, run_dir="r2", problems=10, accuracy=0.3,
                   mean_generated_tokens=480.0),
        SweepPoint(strategy="self-consistency", budget=1024, params={"n": 8}, run_dir="r3", problems=10, accuracy=0.4,
                   mean_generated_tokens=960.0),
    ]
    table = sweep_markdown(points)
    assert table.splitlines()[2] == "| cot | - | - | 120.0 | 20.0% | 10 |"
    assert "| self-consistency | n=8 | 1024 | 960.0 | 40.0% | 10 |" in table
    png = plot_sweep(points, tmp_path / "plot.png", "test")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
