"""The PRM seam: named aggregations, metering, choices; the LLM-as-judge and verifier PRMs on scripted models."""

import math

import pytest

from reason.errors import ConfigError, PRMError
from reason.prm.from_verifier import VerifierPRM
from reason.prm.llm_judge import LLMJudgePRM
from reason.reward import (
    STEP_REDUCTIONS,
    MeteredPRM,
    build_prm,
    prm_choice,
    reduce_steps,
)
from reason.searchers.beam import BeamSearch
from reason.testing import FakeGenerator, FakePRM, by_prefix
from reason.types import Completion, Problem, TokenLogprob, TopLogprob

Q = Problem(question="What is 2 + 2?", answer="4")


@pytest.mark.parametrize(
    ("name", "expected"), [("last", 0.5), ("min", 0.25), ("prod", 0.9 * 0.25 * 0.5), ("mean", 0.55)]
)
def test_aggregations(name, expected):
    assert STEP_REDUCTIONS[name]([0.9, 0.25, 0.5]) == pytest.approx(expected)
    assert reduce_steps(name, []) == 0.0


def test_unknown_aggregation_lists_the_known_ones():
    with pytest.raises(ConfigError, match="step scores: last, min, prod, mean"):
        reduce_steps("median", [1.0])


def test_prm_choices_resolve_names_specs_and_objects():
    assert isinstance(build_prm("fake"), FakePRM)
    assert build_prm({"name": "fake", "params": {"default": 0.2}}).default == 0.2
    obj = FakePRM()
    assert build_prm(obj) is obj
    with pytest.raises(ConfigError, match="registered prms: .*llm-judge"):
        prm_choice("oracle")
    with pytest.raises(ConfigError, match="object with score"):
        prm_choice(42)


def test_metered_prm_rejects_wrongly_shaped_scores():
    broken = FakePRM(lambda steps: [0.5])  # one score whatever the number of steps
    metered = MeteredPRM(broken, FakeGenerator())
    assert metered.score(Q, [["only step"]]) == [[0.5]]
    with pytest.raises(PRMError, match="wrong shape"):
        metered.score(Q, [["a", "b"]])
    assert metered.compute().prm_calls == 2


def _completion(first: str, alternatives: dict[str, float]) -> Completion:
    top = tuple(TopLogprob(token=t, logprob=math.log(p)) for t, p in alternatives.items())
    return Completion(text=first, logprobs=(TokenLogprob(token=first, logprob=math.log(alternatives[first]), top=top),))


def test_judge_reads_p_yes_over_yes_and_no_spellings():
    judge = LLMJudgePRM()
    assert judge.p_yes(_completion("Yes", {"Yes": 0.5, " yes": 0.1, "No": 0.2, "Maybe": 0.2})) == pytest.approx(
        0.6 / 0.8
    )
    assert judge.p_yes(_completion("NO", {"NO": 0.9, "yes": 0.05})) == pytest.approx(0.05 / 0.95)
    assert judge.p_yes(_completion("Hmm", {"Hmm": 0.9})) == 0.5  # neither: no information
    assert judge.p_yes(Completion(text="Yes")) == 0.5  # no logprobs at all


def test_judge_asks_one_question_per_step_prefix_and_never_twice():
    gen = FakeGenerator(["Yes"], cycle=True)
    judge = LLMJudgePRM().bind(gen)
    assert judge.score(Q, [["2 + 2 = 4", "The answer is 4."]]) == [[1.0, 1.0]]
    first = gen.calls[0]
    assert (first.params.max_tokens, first.params.temperature, first.params.logprobs) == (1, 0.0, 20)
    assert len(first.prompts) == 2 and "Is step 2 correct?" in first.prompts[1]
    assert "Step 1: 2 + 2 = 4" in first.prompts[1] and "Step 2" not in first.prompts[0]
    judge.score(Q, [["2 + 2 = 4", "The answer is 4."], ["2 + 2 = 4", "So 4."]])
    assert len(gen.calls) == 2 and len(gen.calls[1].prompts) == 1  # only the new prefix is judged


def test_judge_needs_logprobs_and_a_model():
    with pytest.raises(ConfigError, match="does not return them"):
        LLMJudgePRM().bind(FakeGenerator(supports_logprobs=False))
    with pytest.raises(ConfigError, match="has no model"):
        LLMJudgePRM().score(Q, [["x"]])


def test_judge_in_a_search_is_reported_as_prm_compute():
    steps = by_prefix(
        {"": ["2 + 2 = 5", "2 + 2 = 4"], "2 + 2 = 4": ["The answer is 4."], "2 + 2 = 5": ["The answer is 5."]}
    )

    def script(prompt, params):
        if params.max_tokens == 1:
            return "No" if "Step 1: 2 + 2 = 5" in prompt else "Yes"
        return steps(prompt, params)

    gen = FakeGenerator(script)
    result = BeamSearch(n=2, width=1, prm="llm-judge").search(Q, gen)
    judge_calls = [c for c in gen.calls if c.params.max_tokens == 1]
    judged = sum(len(c.prompts) for c in judge_calls)
    assert result.compute.prm_calls == len(judge_calls) and result.compute.prm_generated_tokens == judged == 4
    assert result.compute.model_calls == len(gen.calls) - len(judge_calls)
    assert result.answer == "4"  # the judge said No to 2 + 2 = 5


def test_verifier_prm_checks_stated_answers_without_the_reference():
    seen = []

    def even(problem, answer):
        seen.append(problem.answer)
        return int(answer) % 2 == 0

    prm = VerifierPRM(verifier=even)
    assert prm.score(Q, [["2 + 2 = 4", "The answer is 4."], ["2 + 3 = 5", "The answer is 5."]]) == [
        [0.5, 1.0],
        [0.5, 0.0],
    ]
    assert seen == [None, None]
    step_prm = VerifierPRM(verifier=lambda p, text: "=" in text, check="step")
    assert step_prm.score(Q, [["2 + 2 = 4", "so four"]]) == [[1.0, 0.0]]
    undecided = VerifierPRM(verifier="match")  # needs a reference, which it never gets: neutral
    assert undecided.score(Q, [["The answer is 4."]]) == [[0.5]]


def test_a_verifier_is_named_with_its_parameters_as_a_prm_is():
    """`{"name": "code", "params": {...}}` builds the verifier with those parameters; bad ones are config errors."""
    arithmetic = {"name": "code", "params": {"checks": ["arithmetic"]}}
    prm = VerifierPRM(verifier=arithmetic, check="step")
    assert prm.score(Q, [["2 + 2 = 4", "3 * 4 = 13"]]) == [[1.0, 0.0]]  # each step's claim recomputed
    with pytest.raises(ConfigError, match="unknown check"):
        VerifierPRM(verifier={"name": "code", "params": {"checks": ["telepathy"]}}).score(Q, [["x"]])
    with pytest.raises(ConfigError, match="unknown verifier 'no-such'"):
        VerifierPRM(verifier={"name": "no-such"})
    as_config = BeamSearch(prm={"name": "verifier", "params": {"verifier": arithmetic, "check": "step"}})
    assert as_config.model_dump()["prm"]["params"]["verifier"] == arithmetic
