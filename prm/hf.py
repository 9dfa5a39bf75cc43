"""Hugging Face PRMs of the two common shapes, run locally with transformers.

- "causal-tag" (Math-Shepherd style): a causal LM reads the question and the steps,
  each followed by a step tag; a step's score is P(good) / (P(good) + P(bad)) of the
  next-token distribution at its tag.
- "token-classification" (Qwen2.5-Math-PRM style): a per-token classification or
  reward head; the steps are joined by a separator token (inside the model's chat
  template when it has one) and a step's score is the positive class's probability
  at its separator.

The shape comes from the config's `architectures` unless given. The marker strings
(step tag, separator, good/bad tokens) come from the parameters, else from the model
config (attributes `step_tag`, `step_separator`, `good_token`, `bad_token`), else the
shape's conventional default; their ids always come from the model's own tokenizer,
which must encode each as exactly one token. The positive class is read from the
config's `id2label` (a label like "good"/"positive"), else the last class.
Leaves out: downloading (the model is a local folder or already in the HF cache),
quantised loading, multi-device placement.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import ConfigDict, Field, PrivateAttr, field_validator

from reason.errors import ConfigError, ModelNotFoundError, PRMError
from reason.registry import named
from reason.reward import StepsBatch
from reason.types import Problem, Validated

POSITIVE_LABELS = {"good", "positive", "correct", "pos", "+", "yes", "true"}
ARCHITECTURES = {  # config.architectures suffix -> (shape, transformers auto class)
    "ForCausalLM": ("causal-tag", "AutoModelForCausalLM"),
    "ForTokenClassification": ("token-classification", "AutoModelForTokenClassification"),
    "ForProcessRewardModel": ("token-classification", "AutoModel"),
}


def single_token(tokenizer: Any, text: str, what: str, after_space: bool = False) -> int:
    """The one token id `text` gets from this tokenizer (after a space when `after_space`).

    Whitespace-only tokens in front are skipped (SentencePiece and byte-level BPE mark a
    leading space differently); anything else that is not exactly one token is an error.
    """
    variants = [f" {text}", text] if after_space else [text, f" {text}"]
    for variant in variants:
        ids = tokenizer.encode(variant, add_special_tokens=False)
        while len(ids) > 1 and not tokenizer.decode(ids[:1]).strip():
            ids = ids[1:]
        if len(ids) == 1 and tokenizer.decode(ids).strip() == text.strip():
            return ids[0]
    raise ConfigError(f"the {what} {text!r} is not a single token in this tokenizer; pass the model's own {what}")


@dataclass(frozen=True)
class CausalTag:
    """Math-Shepherd shape: "question step1 TAG\\nstep2 TAG\\n", scored at each TAG."""

    marker: int
    tag: str
    good: int
    bad: int

    @classmethod
    def build(cls, tokenizer: Any, config: Any, prm: HFPRM) -> CausalTag:
        tag = prm.step_tag or getattr(config, "step_tag", None) or "ки"
        good = prm.good_token or getattr(config, "good_token", None) or "+"
        bad = prm.bad_token or getattr(config, "bad_token", None) or "-"
        return cls(
            single_token(tokenizer, tag, "step tag", after_space=True),
            tag,
            single_token(tokenizer, good, "good token"),
            single_token(tokenizer, bad, "bad token"),
        )

    def encode(self, tokenizer: Any, question: str, steps: Sequence[str]) -> list[int]:
        body = "".join(f"{step.replace(self.tag, '')} {self.tag}\n" for step in steps)
        return tokenizer.encode(f"{question} {body}")

    def read(self, logits: Any) -> list[float]:
        return logits[:, [self.good, self.bad]].softmax(-1)[:, 0].tolist()


@dataclass(frozen=True)
class TokenClassification:
    """Qwen2.5-Math-PRM shape: steps joined by a separator, the positive class read at each separator."""

    marker: int
    separator: str
    positive: int

    @classmethod
    def build(cls, tokenizer: Any, config: Any, prm: HFPRM) -> TokenClassification:
        separator = prm.step_tag or getattr(config, "step_separator", None) or "<extra_0>"
        labels = {int(i): str(name).lower() for i, name in (getattr(config, "id2label", None) or {}).items()}
        positive = next((i for i, name in sorted(labels.items()) if name in POSITIVE_LABELS), max(labels, default=1))
        return cls(single_token(tokenizer, separator, "step separator"), separator, positive)

    def encode(self, tokenizer: Any, question: str, steps: Sequence[str]) -> list[int]:
        body = "".join(f"{step.replace(self.separator, '')}{self.separator}" for step in steps)
        if not getattr(tokenizer, "chat_template", None):
            return tokenizer.encode(f"{question}\n{body}")
        chat = [{"role": "user", "content": question}, {"role": "assistant", "content": body}]
        return tokenizer.encode(tokenizer.apply_chat_template(chat, tokenize=False), add_special_tokens=False)

    def read(self, logits: Any) -> list[float]:
        return logits.float().softmax(-1)[:, self.positive].tolist()


SHAPES: dict[str, Any] = {"causal-tag": CausalTag, "token-classification": TokenClassification}
"""Every PRM shape by name; `HFPRM.shape` names one (or "auto")."""


@dataclass(frozen=True)
class Loaded:
    model: Any
    tokenizer: Any
    config: Any
    shape: str


@functools.lru_cache(maxsize=2)
def load(path: str, shape: str, device: str, trust_remote_code: bool) -> Loaded:
    """Load once per (path, shape, device); the shape "auto" is resolved from the config."""
    try:
        import transformers
    except ImportError as exc:
        raise ConfigError(f"the hf PRM needs transformers and torch ({exc})") from exc
    try:
        config = transformers.AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except OSError as exc:
        raise ModelNotFoundError(f"no Hugging Face PRM at {path!r}: {exc}") from exc
    shape_name, auto_class = _shape_of(config, shape)
    model = getattr(transformers, auto_class).from_pretrained(path, trust_remote_code=trust_remote_code)
    return Loaded(model.to(device).eval(), tokenizer, config, shape_name)


def _shape_of(config: Any, shape: str) -> tuple[str, str]:
    for arch in getattr(config, "architectures", None) or []:
        for suffix, (found, auto_class) in ARCHITECTURES.items():
            if arch.endswith(suffix) and shape in ("auto", found):
                return found, auto_class
    if shape != "auto":
        return shape, next(auto for found, auto in ARCHITECTURES.values() if found == shape)
    archs = getattr(config, "architectures", None)
    raise ConfigError(f"cannot tell the PRM shape from architectures {archs}; pass shape= one of {', '.join(SHAPES)}")


class HFPRM(Validated):
    """Args: model (local folder), shape ("auto" or a name in SHAPES), marker overrides, device, batch_size.

    Example:
        >>> prm = HFPRM(model="/models/math-shepherd-mistral-7b-prm")        # doctest: +SKIP
        >>> prm.score(Problem(question="2+2?"), [["2 + 2 = 4", "The answer is 4."]])  # doctest: +SKIP
        [[0.93, 0.97]]
    """

    # Not frozen: it counts the tokens it processed (its parameters never change after construction).
    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "hf"

    model: str
    shape: str = "auto"
    step_tag: str | None = None
    """The step tag (causal-tag) or separator (token-classification); None: from the config, else the default."""
    good_token: str | None = None
    bad_token: str | None = None
    device: str = "cpu"
    batch_size: int = Field(default=8, ge=1)
    max_length: int = Field(default=4096, ge=16)
    trust_remote_code: bool = False
    _processed: int = PrivateAttr(default=0)

    @field_validator("shape")
    @classmethod
    def _check_shape(cls, value: str) -> str:
        return named(value, ("auto", *SHAPES), "PRM shape", "shapes")

    @property
    def tokens_processed(self) -> int:
        """Tokens this PRM has run through its model (reported as PRM compute)."""
        return self._processed

    def score(self, problem: Problem, steps_batch: StepsBatch) -> list[list[float]]:
        loaded = load(self.model, self.shape, self.device, self.trust_remote_code)
        reader = SHAPES[loaded.shape].build(loaded.tokenizer, loaded.config, self)
        encoded = [reader.encode(loaded.tokenizer, problem.question, steps) for steps in steps_batch]
        scores: list[list[float]] = []
        for start in range(0, len(encoded), self.batch_size):
            chunk = encoded[start : start + self.batch_size]
            scores += self._forward(loaded, reader, chunk, steps_batch[start : start + self.batch_size])
        return scores

    def _forward(self, loaded: Loaded, reader: Any, ids: list[list[int]], steps: StepsBatch) -> list[list[float]]:
        import torch

        if max(map(len, ids)) > self.max_length:
            raise PRMError(f"a solution is {max(map(len, ids))} tokens, over the PRM's max_length {self.max_length}")
        width = max(map(len, ids))
        pad = loaded.tokenizer.pad_token_id or 0
        input_ids = torch.tensor([row + [pad] * (width - len(row)) for row in ids], device=self.device)
        mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in ids], device=self.device)
        with torch.no_grad():
            out = loaded.model(input_ids=input_ids, attention_mask=mask)
        logits = out.logits if hasattr(out, "logits") else out[0]
        self._processed += sum(map(len, ids))
        return [self._read(reader, logits[i], row, len(s)) for i, (row, s) in enumerate(zip(ids, steps))]

    @staticmethod
    def _read(reader: Any, logits: Any, row: list[int], n_steps: int) -> list[float]:
        positions = [i for i, token in enumerate(row) if token == reader.marker]
        if len(positions) != n_steps:
            raise PRMError(
                f"found {len(positions)} step markers for {n_steps} steps; the tokenizer splits the marker in context"
            )
        return reader.read(logits[positions])
