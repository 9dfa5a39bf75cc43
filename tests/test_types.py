import pytest
from pydantic import ValidationError

from reason.errors import ConfigError, ReasonError
from reason.types import ChatMessage, ChatPrompt, Compute, Problem, Sample, SamplingParams


def test_sampling_params_validate_ranges():
    with pytest.raises(ConfigError):
        SamplingParams(temperature=-1)
    with pytest.raises(ConfigError):
        SamplingParams(top_p=0)
    with pytest.raises(ConfigError):
        SamplingParams(max_tokens=0)


def test_sampling_params_reject_unknown_fields_and_are_frozen():
    with pytest.raises(ConfigError):
        SamplingParams(max_token=5)
    params = SamplingParams()
    with pytest.raises(ConfigError):
        params.n = 3


def test_greedy_with_several_samples_is_rejected():
    with pytest.raises(ConfigError, match="identical greedy samples"):
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
    with pytest.raises(ConfigError):
        Problem(question="")


@pytest.mark.parametrize(
    "build",
    [lambda: SamplingParams(temperature=-1), lambda: Problem(question=""), lambda: Sample(text=1j),
     lambda: setattr(SamplingParams(), "n", 3)],
)
def test_no_pydantic_validation_error_reaches_a_user(build):
    with pytest.raises(ReasonError) as caught:
        build()
    assert isinstance(caught.value, ConfigError) and not isinstance(caught.value, ValidationError)
