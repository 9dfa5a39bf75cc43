"""How each published PRM format is fed and read, as its authors do it (see ../shared/prm-formats.md).

A shape turns (question, steps) into token ids and the positions to read, and turns the model's
output at those positions into one score per step:
- "causal-tag" (Math-Shepherd): `"{question} {step} ки\\n{step} ки\\n..."`; at each tag, the softmax over
  the two tokens the model was trained to emit there, `" +"` and `" -"`, read as P(+).
- "chat-turn" (RLHFlow Llama3.1-8B-PRM): a chat where each step is a user turn (the first one prefixed
  by the question) and the assistant answers `+`; P(+) over {+, -} one token before each `+`. The
  whole solution is rendered once, so it is one forward however many steps.
- "token-classification" (Qwen2.5-Math-PRM): system prompt, the question as the user turn, the steps
  joined by `<extra_0>` as the assistant turn; the positive class's probability at each separator.
- "value-head" (Skywork-o1-Open-PRM): `bos + question + "\\n"`, then each step's tokens and the step
  token `"\\n"`; sigmoid of the value head at each step token.
Token ids come from the tokenizer in context (the last id of `"x " + token` for a token that follows
a space), checked to be one token, never from a table. Markers are removed from the steps (and the
question), so text cannot add or shift a read position.
Leaves out: Skywork steps with newlines inside (each of our steps is one step; the authors would split it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reason.errors import ConfigError

QWEN_PRM_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
"""The system turn of Qwen2.5-Math-PRM's model card."""
POSITIVE_LABELS = {"good", "positive", "correct", "pos", "+", "yes", "true"}


@dataclass(frozen=True)
class Encoded:
    ids: list[int]
    positions: list[int]
    """Where each step's score is read, one per step."""


def token_in_context(tokenizer: Any, text: str, what: str, after_space: bool) -> int:
    """The id `text` gets where the model meets it (after a space, or on its own); one token or an error."""
    ids = tokenizer.encode(f"x {text}" if after_space else text, add_special_tokens=False)
    if not ids or tokenizer.decode(ids[-1:]).strip() != text.strip():
        raise ConfigError(f"the {what} {text!r} is not a single token in this tokenizer; pass the model's own {what}")
    return ids[-1]


def good_share(logits: Any, good: int, bad: int) -> list[float]:
    """P(good) of the softmax over the two tokens {good, bad}, at each read position."""
    return logits[:, [good, bad]].float().softmax(-1)[:, 0].tolist()


def _setting(prm: Any, config: Any, field: str, config_key: str, default: Any) -> Any:
    return getattr(prm, field, None) or getattr(config, config_key, None) or default


@dataclass(frozen=True)
class CausalTag:
    tag: str
    tag_id: int
    good: int
    bad: int
    head = "lm"

    @classmethod
    def build(cls, tokenizer: Any, config: Any, prm: Any) -> CausalTag:
        tag = _setting(prm, config, "step_tag", "step_tag", "ки")
        good = _setting(prm, config, "good_token", "good_token", "+")
        bad = _setting(prm, config, "bad_token", "bad_token", "-")
        return cls(tag, token_in_context(tokenizer, tag, "step tag", True),
                   token_in_context(tokenizer, good, "good token", True), token_in_context(tokenizer, bad, "bad token", True))

    def encode(self, tokenizer: Any, question: str, steps: Sequence[str]) -> Encoded:
        body = "".join(f"{step.replace(self.tag, '')} {self.tag}\n" for step in steps)
        ids = tokenizer.encode(f"{question.replace(self.tag, '')} {body}")
        return Encoded(ids, [i for i, token in enumerate(ids) if token == self.tag_id])

    def read(self, logits: Any) -> list[float]:
        return good_share(logits, self.good, self.bad)

    def widest_id(self) -> int:
        return max(self.tag_id, self.good, self.bad)


@dataclass(frozen=True)
class ChatTurn:
    good: int
    bad: int
    head = "lm"

    @classmethod
    def build(cls, tokenizer: Any, config: Any, prm: Any) -> ChatTurn:
        if not getattr(tokenizer, "chat_template", None):
            raise ConfigError("the chat-turn PRM shape needs a tokenizer with a chat template")
        good = _setting(prm, config, "good_token", "good_token", "+")
        bad = _setting(prm, config, "bad_token", "bad_token", "-")
        return cls(tokenizer.encode(good, add_special_tokens=False)[-1], tokenizer.encode(bad, add_special_tokens=False)[-1])

    def encode(self, tokenizer: Any, question: str, steps: Sequence[str]) -> Encoded:
        chat: list[dict[str, str]] = []
        for k, step in enumerate(steps):
            chat += [{"role": "user", "content": f"{question} {step}" if k == 0 else step},
                     {"role": "assistant", "content": "+"}]
        ids = _render(tokenizer, chat)
        positions: list[int] = []
        for k in range(len(steps)):
            prefix = _render(tokenizer, chat[: 2 * k + 2])
            plus = max((i for i, token in enumerate(prefix) if token == self.good), default=-1)
            if ids[: len(prefix)] != prefix or plus <= (positions[-1] + 1 if positions else 0):
                raise ConfigError("this chat template does not render the assistant's '+' as one token after each step")
            positions.append(plus - 1)
        return Encoded(ids, positions)

    def read(self, logits: Any) -> list[float]:
        return good_share(logits, self.good, self.bad)

    def widest_id(self) -> int:
        return max(self.good, self.bad)


def _render(tokenizer: Any, chat: list[dict[str, str]]) -> list[int]:
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=False)
    return tokenizer.encode(text, add_special_tokens=False)


@dataclass(frozen=True)
class TokenClassification:
    separator: str
    separator_id: int
    positive: int
    system: str | None
    head = "classes"

    @classmethod
    def build(cls, tokenizer: Any, config: Any, prm: Any) -> TokenClassification:
        separator = _setting(prm, config, "step_tag", "step_separator", "<extra_0>")
        labels = {int(i): str(name).lower() for i, name in (getattr(config, "id2label", None) or {}).items()}
        positive = next((i for i, name in sorted(labels.items()) if name in POSITIVE_LABELS), 1)
        qwen = any(str(a).endswith("ForProcessRewardModel") for a in getattr(config, "architectures", None) or [])
        system = _setting(prm, config, "system", "prm_system_prompt", QWEN_PRM_SYSTEM if qwen else None)
        return cls(separator, token_in_context(tokenizer, separator, "step separator", False), positive, system)

    def encode(self, tokenizer: Any, question: str, steps: Sequence[str]) -> Encoded:
        body = "".join(f"{step.replace(self.separator, '')}{self.separator}" for step in steps)
        question = question.replace(self.separator, "")
        if getattr(tokenizer, "chat_template", None):
            chat = [{"role": "system", "content": self.system}] if self.system else []
            chat += [{"role": "user", "content": question}, {"role": "assistant", "content": body}]
            ids = tokenizer.encode(tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=False))
        else:
            ids = tokenizer.encode(f"{question}\n{body}")
        return Encoded(ids, [i for i, token in enumerate(ids) if token == self.separator_id])

    def read(self, logits: Any) -> list[float]:
        return logits.float().softmax(-1)[:, self.positive].tolist()

    def widest_id(self) -> int:
        return self.positive


@dataclass(frozen=True)
class ValueHead:
    bos: str
    step_token: str
    step_id: int
    head = "value"

    @classmethod
    def build(cls, tokenizer: Any, config: Any, prm: Any) -> ValueHead:
        if tokenizer.bos_token is None:
            raise ConfigError("the value-head PRM shape (Skywork) starts from the tokenizer's bos_token; this one has none")
        step_token = _setting(prm, config, "step_tag", "step_token", "\n")
        return cls(tokenizer.bos_token, step_token, token_in_context(tokenizer, step_token, "step token", False))

    def encode(self, tokenizer: Any, question: str, steps: Sequence[str]) -> Encoded:
        ids = tokenizer.encode(self.bos + question + "\n")
        positions: list[int] = []
        for step in steps:
            ids += tokenizer.encode(step.replace(self.step_token, " "), add_special_tokens=False) + [self.step_id]
            positions.append(len(ids) - 1)
        return Encoded(ids, positions)

    def read(self, values: Any) -> list[float]:
        return values.float().sigmoid()[:, 0].tolist()

    def widest_id(self) -> int:
        return 0


SHAPES: dict[str, Any] = {
    "causal-tag": CausalTag, "chat-turn": ChatTurn, "token-classification": TokenClassification, "value-head": ValueHead,
}
"""Every PRM shape by name; `HFPRM.shape` names one (or "auto")."""
