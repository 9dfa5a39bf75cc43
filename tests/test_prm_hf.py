"""The Hugging Face PRM loader, on tiny randomly initialised models built and saved here (no hub).

Both shapes are checked against the model itself: a causal model's logits at the k-th
marker equal its last logits on the text cut just after that marker, so each step's
score can be recomputed independently from a prefix.
"""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from reason.errors import ConfigError, ModelNotFoundError
from reason.prm.hf import HFPRM
from reason.searchers.beam import BeamSearch
from reason.testing import FakeGenerator, by_prefix
from reason.types import Problem

Q = Problem(question="Tom has 3 apples and buys 2 more. How many?")
STEPS = [["3 + 2 = 5", "The answer is 5."], ["3 - 2 = 1", "so one", "The answer is 1."]]


def _tiny(tokenizer, **extra):
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=1024,
        **extra,
    )
    torch.manual_seed(0)
    return config


@pytest.fixture(scope="module")
def causal_prm_dir(tmp_path_factory, bundled_model_path):
    """Math-Shepherd shape with its own step tag, declared in the model config."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(bundled_model_path)
    tokenizer.add_tokens(["<step>"])
    config = _tiny(tokenizer)
    config.step_tag = "<step>"
    folder = tmp_path_factory.mktemp("causal-prm")
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def token_class_prm_dir(tmp_path_factory, bundled_model_path):
    """Qwen2.5-Math-PRM shape: a 2-class token head, read at <extra_0>; here class 0 is the good one."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(bundled_model_path)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<extra_0>"]})
    config = _tiny(tokenizer, num_labels=2, id2label={0: "good", 1: "bad"}, label2id={"good": 0, "bad": 1})
    folder = tmp_path_factory.mktemp("token-class-prm")
    transformers.LlamaForTokenClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def _last_logits(model, tokenizer, text, add_special_tokens=True):
    ids = tokenizer.encode(text, add_special_tokens=add_special_tokens)
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0, -1]


def test_causal_tag_scores_each_step_at_its_tag(causal_prm_dir):
    prm = HFPRM(model=causal_prm_dir)
    scores = prm.score(Q, STEPS)
    assert [len(s) for s in scores] == [2, 3]
    tokenizer = transformers.AutoTokenizer.from_pretrained(causal_prm_dir)
    model = transformers.AutoModelForCausalLM.from_pretrained(causal_prm_dir).eval()
    good, bad = (tokenizer.encode(f"x {t}", add_special_tokens=False)[-1] for t in "+-")  # as met after a space
    for steps, got in zip(STEPS, scores):
        for k in range(len(steps)):
            text = Q.question + " " + "".join(f"{s} <step>\n" for s in steps[:k]) + f"{steps[k]} <step>"
            pair = _last_logits(model, tokenizer, text)[[good, bad]].softmax(-1)
            assert got[k] == pytest.approx(pair[0].item(), rel=1e-4)
    assert prm.tokens_processed > 0


def test_token_classification_reads_the_configured_positive_class_at_separators(token_class_prm_dir):
    prm = HFPRM(model=token_class_prm_dir)
    scores = prm.score(Q, STEPS)
    tokenizer = transformers.AutoTokenizer.from_pretrained(token_class_prm_dir)
    model = transformers.AutoModelForTokenClassification.from_pretrained(token_class_prm_dir).eval()
    for steps, got in zip(STEPS, scores):
        body = "".join(f"{s}<extra_0>" for s in steps)
        chat = tokenizer.apply_chat_template(
            [{"role": "user", "content": Q.question}, {"role": "assistant", "content": body}], tokenize=False
        )
        for k in range(len(steps)):
            cut = chat[: _nth(chat, "<extra_0>", k) + len("<extra_0>")]
            probs = _last_logits(model, tokenizer, cut, add_special_tokens=False).softmax(-1)
            assert got[k] == pytest.approx(probs[0].item(), rel=1e-4)  # class 0 is "good" in this config


def _nth(text, marker, k):
    at = -1
    for _ in range(k + 1):
        at = text.index(marker, at + 1)
    return at


def test_a_marker_inside_a_step_cannot_shift_the_scores(causal_prm_dir):
    prm = HFPRM(model=causal_prm_dir)
    assert len(prm.score(Q, [["3 + 2 = 5 <step> really", "The answer is 5."]])[0]) == 2


def test_markers_must_be_single_tokens_of_the_model(causal_prm_dir, token_class_prm_dir):
    with pytest.raises(ConfigError, match="step tag 'not-a-token-tag' is not a single token"):
        HFPRM(model=causal_prm_dir, step_tag="not-a-token-tag").score(Q, STEPS)
    with pytest.raises(ConfigError, match="step separator"):
        HFPRM(model=token_class_prm_dir, step_tag="<unknown-sep>").score(Q, STEPS)


def test_shape_and_path_errors(causal_prm_dir, tmp_path):
    with pytest.raises(ValueError, match="shapes: auto, causal-tag, chat-turn, token-classification, value-head"):
        HFPRM(model=causal_prm_dir, shape="reward-head")
    with pytest.raises(ModelNotFoundError):
        HFPRM(model=str(tmp_path / "missing")).score(Q, STEPS)


def test_hf_prm_guides_a_beam_search_by_name(causal_prm_dir):
    gen = FakeGenerator(
        by_prefix(
            {"": ["3 + 2 = 5", "3 - 2 = 1"], "3 + 2 = 5": ["The answer is 5."], "3 - 2 = 1": ["The answer is 1."]}
        )
    )
    result = BeamSearch(n=2, width=1, prm={"name": "hf", "params": {"model": causal_prm_dir}}).search(Q, gen)
    assert len(result.samples) == 2 and all(s.score is not None and 0 < s.score < 1 for s in result.samples)
    assert result.compute.prm_calls == 2 and result.compute.prm_prompt_tokens > 0
