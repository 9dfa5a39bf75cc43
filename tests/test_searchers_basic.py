import pytest

import reason
from reason.errors import ConfigError
from reason.extract import extract_answer
from reason.searchers.cot import ChainOfThought
from reason.searchers.self_consistency import SelfConsistency
from reason.testing import FakeGenerator
from reason.types import Problem, Sample
from reason.verifiers.basic import same_answer
from reason.voting import group_answers, majority


@pytest.mark.parametrize(
    ("text", "rules", "expected"),
    [
        ("so \\boxed{\\frac{1}{2}} done", ["boxed"], "\\frac{1}{2}"),
        ("\\boxed{1} then \\boxed{2}", ["boxed"], "2"),
        ("\\boxed{unbalanced", ["boxed"], None),
        ("work\n#### 1,234", ["hashes"], "1,234"),
        ("The answer is 7.", ["answer_is"], "7"),
        ("Final answer: 12", ["answer_is"], "12"),
        ("3 apples then 12 pears.", ["last_number"], "12"),
        ("no digits here", ["hashes", "last_number"], None),
        ("#### 5\nThe answer is 6.", ["hashes", "answer_is"], "6"),  # the answer marked last wins
    ],
)
def test_extraction_rules(text, rules, expected):
    assert extract_answer(text, rules) == expected


def test_unknown_extraction_rule_is_config_error():
    with pytest.raises(ConfigError, match="unknown extraction rule"):
        extract_answer("x", ["telepathy"])


@pytest.mark.parametrize(("a", "b", "same"), [("1,000", "1000.0", True), ("$5", "5", True), ("3", "4", False), ("abc", "abc ", True)])
def test_basic_numeric_comparison(a, b, same):
    assert same_answer(a, b) is same


def test_group_answers_skips_missing_and_keeps_first_appearance_order():
    assert group_answers(["2", None, "2.0", "3"], same_answer) == [[0, 2], [3]]


def test_majority_vote_ties_go_to_first_seen():
    samples = [Sample(text="", answer=a) for a in ["4", "5", "5", "4", "6"]]
    candidates = majority(samples, same_answer)
    assert [(c.answer, c.votes) for c in candidates] == [("4", 2), ("5", 2), ("6", 1)]
    assert candidates[0].sample_indices == (0, 3)


def test_self_consistency_draws_n_in_one_call_and_records_every_vote():
    gen = FakeGenerator(["The answer is 3.", "#### 5", "so 5", "nothing", "The answer is 3.", "The answer is 5."])
    result = SelfConsistency(n=6, temperature=0.8).search(Problem(question="q?"), gen)
    assert len(gen.calls) == 1 and gen.calls[0].params.n == 6
    assert result.answer == "5"
    assert [(c.answer, c.votes) for c in result.candidates] == [("5", 3), ("3", 2)]
    assert sum(c.votes for c in result.candidates) == 5  # one sample had no answer
    assert result.samples[3].answer is None
    assert result.reasoning == "#### 5"
    assert result.compute.model_calls == 1
    assert result.compute.generated_tokens == sum(len(s.text.split()) for s in result.samples)


def test_cot_is_greedy_single_sample():
    gen = FakeGenerator(["Step one.\nThe answer is 42."])
    result = ChainOfThought().search(Problem(question="q?"), gen)
    assert gen.calls[0].params.temperature == 0.0 and gen.calls[0].params.n == 1
    assert result.answer == "42" and result.strategy == "cot"


def test_no_answer_at_all_gives_none():
    result = SelfConsistency(n=2).search(Problem(question="q"), FakeGenerator(["hmm", "well"]))
    assert result.answer is None and result.candidates == ()


def test_prompt_uses_task_template():
    gen = FakeGenerator(["\\boxed{2}"])
    result = reason.Engine(generator=gen).solve("1+1?", "cot", task="math")
    assert "\\boxed{}" in gen.calls[0].prompts[0] and "1+1?" in gen.calls[0].prompts[0]
    assert result.answer == "2"


def test_engine_rejects_bad_params_with_config_errors():
    engine = reason.Engine(generator=FakeGenerator(["1"]))
    with pytest.raises(ConfigError, match="n"):
        engine.solve("q", "self-consistency", n=0)
    with pytest.raises(ConfigError, match="task style"):
        engine.solve("q", "cot", task="poetry")
    with pytest.raises(reason.UnknownComponentError):
        engine.solve("q", "beam-me-up")
