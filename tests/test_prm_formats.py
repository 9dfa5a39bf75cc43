"""Published PRM formats, scored through `prm=hf` with no flags, against each author's own recipe.

For each format the test builds a tiny look-alike checkpoint with random weights (the same config
class, `architectures`, weight-key layout, special tokens and chat template as the hub folder; the real
Mistral vocabulary from `mistral_common`, which vLLM installs; else the bundled SmolLM2 BPE with the
format's special tokens), then re-implements the author's published scoring code (the model card's
loop, RLHFlow's `prm_evaluate.py`, Qwen's card `make_step_rewards`, Skywork's `prepare_input` and
value head) on the same weights, and asks for per-step scores equal to 1e-5, batched with unequal
lengths. Sources and what each author does: ../shared/prm-formats.md. Then one test per load guard.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from safetensors.torch import load_file, save_file

from reason.errors import ConfigError
from reason.prm.hf import HFPRM
from reason.prm.hf_load import load
from reason.types import Problem

Q = Problem(question="Tom has 3 apples and buys 2 more. How many apples does he have?")
SOLUTIONS = [["Tom starts with 3 apples.", "3 + 2 = 5.", "The answer is 5."], ["3 - 2 = 1, so one.", "The answer is 1."]]
CARD_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
TINY = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
        "num_key_value_heads": 2}


def _scores_equal(got, want):
    assert [len(s) for s in got] == [len(s) for s in want]
    for row_got, row_want in zip(got, want):
        assert row_got == pytest.approx(row_want, abs=1e-5)


def _bundled_tokenizer(bundled_model_path):
    return transformers.AutoTokenizer.from_pretrained(bundled_model_path)


def _rewrite_config(folder: Path, **fields) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update(fields)
    path.write_text(json.dumps(config, indent=2))


def _add_weights(folder: Path, extra: dict) -> None:
    path = folder / "model.safetensors"
    state = load_file(str(path))
    state.update(extra)
    save_file(state, str(path), metadata={"format": "pt"})


# -- Math-Shepherd (peiyi9979/math-shepherd-mistral-7b-prm) ---------------------------------------------

@pytest.fixture(scope="module")
def shepherd_dir(tmp_path_factory):
    """The hub's layout: tokenizer.model + tokenizer_config.json (no tokenizer.json, no chat template), llama."""
    mistral_common = pytest.importorskip("mistral_common")
    folder = tmp_path_factory.mktemp("math-shepherd")
    shutil.copy(Path(mistral_common.__file__).parent / "data" / "tokenizer.model.v1", folder / "tokenizer.model")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "LlamaTokenizer", "legacy": None, "add_bos_token": True, "add_eos_token": False,
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}))
    torch.manual_seed(1)
    transformers.LlamaForCausalLM(transformers.LlamaConfig(vocab_size=32000, **TINY)).save_pretrained(folder)
    return folder


def _math_shepherd_card(folder, question, solutions):
    """The model card's loop (as OpenR reproduces it, ids in its comments: [648, 387] and 12902)."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    candidate_tokens = tokenizer.encode("+ -")[1:]
    step_tag_id = tokenizer.encode("ки")[-1]
    assert (candidate_tokens, step_tag_id) == ([648, 387], 12902)  # the card's published ids
    scores, inputs = [], []
    for steps in solutions:
        output = "\n".join(f"{step} ки" for step in steps)
        input_id = torch.tensor([tokenizer.encode(f"{question} {output}")])
        with torch.no_grad():
            logits = model(input_id).logits[:, :, candidate_tokens]
        step_scores = logits.softmax(dim=-1)[:, :, 0][input_id == step_tag_id]
        scores.append(step_scores.tolist())
        inputs.append(input_id[0].tolist())
    return scores, inputs


def test_math_shepherd_scores_as_its_card(shepherd_dir):
    prm = HFPRM(model=str(shepherd_dir), batch_size=2)
    want, card_inputs = _math_shepherd_card(shepherd_dir, Q.question, SOLUTIONS)
    _scores_equal(prm.score(Q, SOLUTIONS), want)
    loaded = load(str(shepherd_dir), "auto", "cpu", "auto", False)
    assert loaded.shape == "causal-tag"
    from reason.prm.hf_shapes import CausalTag

    reader = CausalTag.build(loaded.tokenizer, loaded.config, prm)
    assert (reader.tag_id, reader.good, reader.bad) == (12902, 648, 387)
    for steps, card in zip(SOLUTIONS, card_inputs):
        ours = reader.encode(loaded.tokenizer, Q.question, steps).ids
        assert ours[: len(card)] == card and len(ours) - len(card) <= 2  # ours ends with the card's text + "\n"


# -- RLHFlow (Llama3.1-8B-PRM-Deepseek-Data / -Mistral-Data) ------------------------------------------------

LLAMA31_TEMPLATE = (
    "{{- bos_token }}{%- if date %}<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
    "Today Date: 26 Jul 2024\n\n<|eot_id|>{%- endif %}{%- for message in messages %}<|start_header_id|>"
    "{{ message['role'] }}<|end_header_id|>\n\n{{ message['content'] | trim }}<|eot_id|>{%- endfor %}"
    "{%- if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{%- endif %}"
)


@pytest.fixture(scope="module", params=["date-header", "no-date-header"])
def rlhflow_dir(request, tmp_path_factory, bundled_model_path):
    tokenizer = _bundled_tokenizer(bundled_model_path)
    tokenizer.add_special_tokens({"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "additional_special_tokens": [
        "<|start_header_id|>", "<|end_header_id|>"]})
    tokenizer.add_tokens(["ки", " ки"])  # both single tokens, as in Llama-3: the old Math-Shepherd path would not fail
    tokenizer.pad_token = tokenizer.eos_token
    template = LLAMA31_TEMPLATE.replace("{%- if date %}", "{%- if true %}" if request.param == "date-header" else "{%- if false %}")
    tokenizer.chat_template = template
    folder = tmp_path_factory.mktemp(f"rlhflow-{request.param}")
    torch.manual_seed(2)
    transformers.LlamaForCausalLM(transformers.LlamaConfig(vocab_size=len(tokenizer), **TINY)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _rlhflow_authors(folder, question, solutions):
    """RLHFlow/RLHF-Reward-Modeling math-rm/prm_evaluate.py, select_sample: one chat per step prefix."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    plus_tag_id = tokenizer.encode("+")[-1]
    minus_tag_id = tokenizer.encode("-")[-1]
    candidate_tokens = [plus_tag_id, minus_tag_id]
    scores = []
    for steps in solutions:
        conversation, step_scores = [], []
        for k, step in enumerate(steps):
            text = question + " " + step if k == 0 else step
            conversation.append({"content": text, "role": "user"})
            conversation.append({"content": "+", "role": "assistant"})
            rendered = tokenizer.apply_chat_template(conversation, tokenize=False)
            input_ids = torch.tensor([tokenizer.encode(rendered, add_special_tokens=False)])
            with torch.no_grad():
                logits = model(input_ids).logits[:, -3, candidate_tokens]
            step_scores.append(logits.softmax(dim=-1)[:, 0].item())
        scores.append(step_scores)
    return scores


def test_rlhflow_scores_as_the_authors_loop_in_one_batched_forward(rlhflow_dir):
    prm = HFPRM(model=str(rlhflow_dir), batch_size=2)
    _scores_equal(prm.score(Q, SOLUTIONS), _rlhflow_authors(rlhflow_dir, Q.question, SOLUTIONS))
    assert load(str(rlhflow_dir), "auto", "cpu", "auto", False).shape == "chat-turn"
    one_by_one = [HFPRM(model=str(rlhflow_dir), batch_size=1).score(Q, [steps])[0] for steps in SOLUTIONS]
    _scores_equal(prm.score(Q, SOLUTIONS), one_by_one)


# -- Qwen/Qwen2.5-Math-PRM-7B ----------------------------------------------------------------------------------

CHATML_OTHER_SYSTEM = (
    "{%- if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{%- endif %}"
    "{%- for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{%- endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}"
)


class StandInQwenPRM(transformers.Qwen2PreTrainedModel):
    """The published architecture (as vLLM's and sglang's qwen2_rm ports read it): body + 2-layer `score` head."""

    def __init__(self, config):
        super().__init__(config)
        self.model = transformers.Qwen2Model(config)
        hidden = config.hidden_size
        self.score = torch.nn.Sequential(torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        return (self.score(self.model(input_ids=input_ids, attention_mask=attention_mask)[0]),)


@pytest.fixture(scope="module")
def qwen_prm_dir(tmp_path_factory, bundled_model_path):
    tokenizer = _bundled_tokenizer(bundled_model_path)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<extra_0>"]})
    tokenizer.chat_template = CHATML_OTHER_SYSTEM
    folder = tmp_path_factory.mktemp("qwen-prm")
    torch.manual_seed(3)
    config = transformers.Qwen2Config(vocab_size=len(tokenizer), max_position_embeddings=4096, **TINY)
    StandInQwenPRM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    _rewrite_config(folder, architectures=["Qwen2ForProcessRewardModel"], model_type="qwen2", auto_map={
        "AutoConfig": "configuration_qwen2_rm.Qwen2RMConfig",
        "AutoModel": "modeling_qwen2_rm.Qwen2ForProcessRewardModel"})
    (folder / "configuration_qwen2_rm.py").write_text("# stand-in: the hub's remote code is never run by reason\n")
    (folder / "modeling_qwen2_rm.py").write_text("# stand-in: the hub's remote code is never run by reason\n")
    return folder


def _qwen_card(folder, question, solutions):
    """Qwen2.5-Math-PRM-7B's model card: the system prompt, steps joined by <extra_0>, make_step_rewards."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = StandInQwenPRM.from_pretrained(folder).eval()
    step_sep_id = tokenizer.encode("<extra_0>")[0]
    scores, inputs = [], []
    for steps in solutions:
        messages = [{"role": "system", "content": CARD_SYSTEM}, {"role": "user", "content": question},
                    {"role": "assistant", "content": "<extra_0>".join(steps) + "<extra_0>"}]
        conversation_str = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        input_ids = tokenizer.encode(conversation_str, return_tensors="pt")
        with torch.no_grad():
            outputs = model(input_ids=input_ids)
        token_masks = input_ids == step_sep_id
        probabilities = torch.nn.functional.softmax(outputs[0], dim=-1) * token_masks.unsqueeze(-1)
        sample = probabilities[0]
        scores.append(sample[sample != 0].view(-1, 2)[:, 1].tolist())
        inputs.append(input_ids[0].tolist())
    return scores, inputs


def test_qwen_math_prm_scores_as_its_card_without_remote_code(qwen_prm_dir):
    prm = HFPRM(model=str(qwen_prm_dir), batch_size=2)
    want, card_inputs = _qwen_card(qwen_prm_dir, Q.question, SOLUTIONS)
    _scores_equal(prm.score(Q, SOLUTIONS), want)
    loaded = load(str(qwen_prm_dir), "auto", "cpu", "auto", False)
    assert loaded.shape == "token-classification" and type(loaded.model).__name__ == "Qwen2Model"
    from reason.prm.hf_shapes import TokenClassification

    reader = TokenClassification.build(loaded.tokenizer, loaded.config, prm)
    fed = reader.encode(loaded.tokenizer, Q.question, SOLUTIONS[0]).ids
    assert fed == card_inputs[0] and CARD_SYSTEM in loaded.tokenizer.decode(fed)
    ids = torch.tensor([fed])
    with torch.no_grad():
        native = loaded.head(loaded.model(input_ids=ids)[0])
        stand_in = StandInQwenPRM.from_pretrained(qwen_prm_dir).eval()(input_ids=ids)[0]
    assert torch.allclose(native, stand_in, atol=1e-6)


# -- Skywork-o1-Open-PRM-Qwen-2.5 ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def skywork_dir(tmp_path_factory, bundled_model_path):
    tokenizer = _bundled_tokenizer(bundled_model_path)
    folder = tmp_path_factory.mktemp("skywork-prm")
    torch.manual_seed(4)
    config = transformers.Qwen2Config(vocab_size=len(tokenizer), max_position_embeddings=4096, **TINY)
    transformers.Qwen2ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    _add_weights(folder, {"v_head.summary.weight": torch.randn(1, TINY["hidden_size"]),
                          "v_head.summary.bias": torch.randn(1)})
    _rewrite_config(folder, architectures=["Qwen2ForPrmModel"], model_type="qwen2")
    return folder


def _skywork_authors(folder, question, solutions):
    """skywork-o1-prm-inference: prepare_input, prepare_batch_input_for_model, the value head, derive_step_rewards."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    body = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    weights = load_file(str(folder / "model.safetensors"))
    summary = torch.nn.Linear(TINY["hidden_size"], 1)
    summary.load_state_dict({"weight": weights["v_head.summary.weight"], "bias": weights["v_head.summary.bias"]})
    step_token = "\n"
    batch_ids, batch_flags = [], []
    for steps in solutions:
        response = step_token.join(steps)
        prompt_ids = tokenizer.encode(tokenizer.bos_token + question + "\n")
        response_ids, reward_flags = [], [0] * len(prompt_ids)
        step_token_id = tokenizer.encode(step_token)[-1]
        for step in response.split(step_token):
            step_ids = tokenizer.encode(step) if step != "" else []
            step_ids += [step_token_id]
            flag = [0] * len(step_ids)
            flag[-1] = 1
            response_ids.extend(step_ids)
            reward_flags.extend(flag)
        batch_ids.append(prompt_ids + response_ids)
        batch_flags.append(reward_flags)
    pad = tokenizer.pad_token_id
    input_ids = torch.nn.utils.rnn.pad_sequence([torch.LongTensor(i) for i in batch_ids], batch_first=True, padding_value=pad)
    mask = torch.nn.utils.rnn.pad_sequence([torch.LongTensor([1] * len(i)) for i in batch_ids], batch_first=True)
    flags = torch.nn.utils.rnn.pad_sequence([torch.LongTensor(f) for f in batch_flags], batch_first=True)
    with torch.no_grad():
        hidden = body(input_ids=input_ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1]
        rewards = summary(hidden).squeeze(-1).sigmoid()
    return [[rewards[i][j].item() for j in torch.nonzero(flags[i] == 1).view(-1)] for i in range(len(solutions))]


def test_skywork_scores_as_its_inference_code(skywork_dir):
    prm = HFPRM(model=str(skywork_dir), batch_size=2)
    _scores_equal(prm.score(Q, SOLUTIONS), _skywork_authors(skywork_dir, Q.question, SOLUTIONS))
    assert load(str(skywork_dir), "auto", "cpu", "auto", False).shape == "value-head"



def test_skywork_scores_a_growing_beam_from_kept_prefixes_as_its_inference_code(skywork_dir):
    """A beam's children extend their parent: with kept keys and values only the new step runs through the
    model, and every step's scores still equal the authors' full forward over the whole partial solution."""
    kept, fresh = HFPRM(model=str(skywork_dir), batch_size=2), HFPRM(model=str(skywork_dir), prefix_cache_tokens=0)
    parent: list[str] = []
    for step in ["Tom starts with 3 apples.", "He buys 2 more.", "3 + 2 = 5.", "The answer is 5."]:
        children = [parent + [step], parent + [step + " So far so good."], parent + ["3 - 2 = 1."]]
        _scores_equal(kept.score(Q, children), _skywork_authors(skywork_dir, Q.question, children))
        fresh.score(Q, children)
        parent = children[0]
    assert kept.tokens_processed + kept.tokens_reused == fresh.tokens_processed  # every token read, once or kept
    assert kept.tokens_processed < fresh.tokens_processed / 2


def test_skywork_runs_the_question_best_of_n_samples_share_once(skywork_dir):
    kept, fresh = HFPRM(model=str(skywork_dir)), HFPRM(model=str(skywork_dir), prefix_cache_tokens=0)
    samples = [*SOLUTIONS, *SOLUTIONS, ["A different path.", "The answer is 7."]]
    _scores_equal(kept.score(Q, samples), _skywork_authors(skywork_dir, Q.question, samples))
    fresh.score(Q, samples)
    tokenizer = transformers.AutoTokenizer.from_pretrained(skywork_dir)
    question = len(tokenizer.encode(tokenizer.bos_token + Q.question + "\n"))
    assert kept.tokens_processed == fresh.tokens_processed - 4 * question  # run once instead of five times
    assert kept.tokens_processed + kept.tokens_reused == fresh.tokens_processed


# -- guards, long inputs, outcome scoring --------------------------------------------------------------------

def test_unused_head_weights_are_refused(qwen_prm_dir, skywork_dir):
    with pytest.raises(ConfigError, match="would not use.*score"):
        HFPRM(model=str(qwen_prm_dir), shape="causal-tag").score(Q, SOLUTIONS)
    with pytest.raises(ConfigError, match="would not use.*v_head"):
        HFPRM(model=str(skywork_dir), shape="chat-turn").score(Q, SOLUTIONS)


def test_a_head_missing_from_the_checkpoint_is_refused(tmp_path, qwen_prm_dir):
    folder = tmp_path / "headless"
    shutil.copytree(qwen_prm_dir, folder)
    state = {k: v for k, v in load_file(str(folder / "model.safetensors")).items() if not k.startswith("score.")}
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ConfigError, match="head weights in the checkpoint are missing"):
        HFPRM(model=str(folder)).score(Q, SOLUTIONS)


def test_an_output_too_narrow_for_the_shape_is_refused(tmp_path, bundled_model_path):
    tokenizer = _bundled_tokenizer(bundled_model_path)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<extra_0>"]})
    config = transformers.LlamaConfig(vocab_size=len(tokenizer), num_labels=1, **TINY)
    transformers.LlamaForTokenClassification(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="1 classes"):
        HFPRM(model=str(tmp_path)).score(Q, SOLUTIONS)


def test_a_marker_that_is_not_one_token_is_refused(shepherd_dir):
    with pytest.raises(ConfigError, match="step tag 'not-a-token-tag' is not a single token"):
        HFPRM(model=str(shepherd_dir), step_tag="not-a-token-tag").score(Q, SOLUTIONS)


def test_an_over_long_solution_is_cut_from_the_left_never_an_error(qwen_prm_dir, tmp_path):
    folder = tmp_path / "short-context"
    shutil.copytree(qwen_prm_dir, folder)
    _rewrite_config(folder, max_position_embeddings=128)
    long = [[f"Step {i}: adding {i} apples gives {i + 5} apples in all, as we counted." for i in range(12)]]
    prm = HFPRM(model=str(folder))
    scores = prm.score(Q, long + SOLUTIONS)
    assert [len(s) for s in scores] == [12, 3, 2] and prm.truncated == 1
    assert all(0 < s < 1 for s in scores[0]) and len(set(scores[0][:3])) == 1  # cut steps take the first kept score
    assert scores[1:] == HFPRM(model=str(folder)).score(Q, SOLUTIONS)


def test_outcome_granularity_scores_the_whole_answer_once(qwen_prm_dir):
    whole = HFPRM(model=str(qwen_prm_dir)).score(Q, [["\n\n".join(SOLUTIONS[0])]])[0][0]
    assert HFPRM(model=str(qwen_prm_dir), granularity="outcome").score(Q, SOLUTIONS[:1]) == [[whole] * 3]


@pytest.mark.skipif(os.environ.get("REASON_PRM_FORMAT_PATHS") is None, reason="real checkpoints: set REASON_PRM_FORMAT_PATHS")
def test_real_checkpoints_load_with_their_shape():
    """On a machine with the real folders: REASON_PRM_FORMAT_PATHS='causal-tag=/m/shepherd,chat-turn=/m/rlhflow,...'."""
    for pair in os.environ["REASON_PRM_FORMAT_PATHS"].split(","):
        shape, path = pair.split("=", 1)
        assert load(path, "auto", "cpu", "auto", False).shape == shape
        assert len(HFPRM(model=path).score(Q, SOLUTIONS[:1])[0]) == 3


def test_dtype_is_a_parameter(qwen_prm_dir):
    full = HFPRM(model=str(qwen_prm_dir), dtype="float32").score(Q, SOLUTIONS)
    half = HFPRM(model=str(qwen_prm_dir), dtype="bfloat16").score(Q, SOLUTIONS)
    assert load(str(qwen_prm_dir), "auto", "cpu", "bfloat16", False).model.dtype == torch.bfloat16
    for a, b in zip(full, half):
        assert a == pytest.approx(b, abs=2e-2)
