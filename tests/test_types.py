import pytest
from pydantic import ValidationError

from reason.types import ChatMessage, ChatPrompt, Compute, Problem, SamplingParams


def test_sampling_params_validate_ranges():
    with pytest.raises(ValidationError):
        SamplingParams(temperature=-1)
    with pytest.raises(ValidationError):
        SamplingParams(top_p=0)
    with pytest.raises(ValidationError):
        SamplingParams(max_tokens=0)


def test_sampling_params_reject_unknown_fields_and_are_frozen():
    with pytest.raises(ValidationError):
        SamplingParams(max_token=5)
    params = SamplingParams()
    with pytest.raises(ValidationError):
        params.n = 3


def test_greedy_with_several_samples_is_rejected():
    with pytest.raises(ValidationError, match="identical greedy samples"):
        SamplingParams(temperature=0, n=4)


def test_chat_prompt_extension_keeps_messages_and_grows_prefix():
    base = ChatPrompt(messages=(ChatMessage(role="user", content="q"),))
    child = base.extended("step 1\n\n").extended("step 2")
    assert child.messages == base.messages
    assert child.assistant_prefix == "step 1\n\nstep 2"
    assert base.assistant_prefix == ""


def test_compute_adds_fieldwise():
    a = Compute(prompt_tokens=1, generated_tokens=2, model_calls=1, prm_calls=1, wall_time_s=0.5)
    b = Compute(prompt_tokens=10, generated_tokens=20, model_calls=2, prm_prompt_tokens=3, wall_time_s=1.0)
    total = a + b
    assert (total.prompt_tokens, total.generated_tokens, total.model_calls, total.prm_calls) == (11, 22, 3, 1)
    assert total.wall_time_s == pytest.approx(1.5)
    assert total.total_tokens == 11 + 22 + 3


def test_problem_needs_a_question():
    with pytest.raises(ValidationError):
        Problem(question="")
