"""One vote table: a searcher's `select=` and a benchmark's `--vote` pick the same winner on the same samples."""

import json

import pytest

from reason.bench.runner import RunConfig, run_benchmark
from reason.searchers.sampling import finish
from reason.testing import FakeGenerator
from reason.types import Compute, Problem, Sample
from reason.voting import ALIASES, UNSCORED, VOTES, vote_name, vote_rule

Q = Problem(question="q?", answer="1")

SAMPLE_SETS = {
    # two unscored "1"s against one "2" scored 0.5: the case where the old tables disagreed
    "unscored": [Sample(text="a", answer="1"), Sample(text="b", answer="1"), Sample(text="c", answer="2", score=0.5)],
    "scored": [Sample(text="a", answer="4", score=0.9), Sample(text="b", answer="5", score=0.5),
               Sample(text="c", answer="5", score=0.6)],
    "truncated": [Sample(text="a", answer="7", finish_reason="length"), Sample(text="b", answer="7", finish_reason="length"),
                  Sample(text="c", answer="8", finish_reason="stop")],
}
WINNERS = {
    ("unscored", "majority"): "1", ("unscored", "majority-finished"): "1", ("unscored", "weighted"): "1",
    ("unscored", "best"): "1",  # unscored weighs UNSCORED = 1.0 > 0.5
    ("scored", "majority"): "5", ("scored", "majority-finished"): "5", ("scored", "weighted"): "5",
    ("scored", "best"): "4",
    ("truncated", "majority"): "7", ("truncated", "majority-finished"): "8", ("truncated", "weighted"): "7",
    ("truncated", "best"): "7",
    # no sample here carries a confidence (no logprobs): each weighs UNSCORED, a majority vote
    ("unscored", "confidence"): "1", ("scored", "confidence"): "5", ("truncated", "confidence"): "7",
}


def _searcher_winner(rule: str, samples: list[Sample]) -> str | None:
    return finish("test", Q, samples, Compute(), 0.0, select=rule).answer


def _bench_winner(rule: str, samples: list[Sample], tmp_path) -> str | None:
    texts = [f"The answer is {s.answer}." for s in samples]
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"question": "q?", "answer": "1", "id": "p"}) + "\n")

    # the searcher's own samples come from self-consistency over a scripted model; the vote is re-run by --vote
    config = RunConfig(dataset=str(data), strategy="self-consistency", params={"n": len(samples)}, backend="fake",
                       vote=rule, cache=None)
    run_benchmark(config, tmp_path / rule, FakeGenerator(texts))
    record = json.loads((tmp_path / rule / "records.jsonl").read_text().splitlines()[0])
    return record["predicted"]


@pytest.mark.parametrize("rule", list(VOTES))
@pytest.mark.parametrize("name", list(SAMPLE_SETS))
def test_every_rule_picks_the_stated_winner_through_the_searcher_path(rule, name):
    assert _searcher_winner(rule, SAMPLE_SETS[name]) == WINNERS[(name, rule)]


@pytest.mark.parametrize("rule", list(VOTES))
def test_the_bench_path_uses_the_same_rules(rule, tmp_path):
    samples = SAMPLE_SETS["scored"]
    unscored = [s.model_copy(update={"score": None}) for s in samples]  # self-consistency scores nothing
    assert _bench_winner(rule, unscored, tmp_path) == _searcher_winner(rule, unscored)


def test_the_rules_are_one_table_and_old_names_still_work():
    assert list(VOTES) == ["majority", "majority-finished", "weighted", "best", "confidence"]
    assert vote_name("max-score") == "best" and vote_rule("max-score") is VOTES["best"]
    assert set(ALIASES.values()) <= set(VOTES) and UNSCORED == 1.0
