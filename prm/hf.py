"""Hugging Face process reward models, run locally with transformers, scored as their authors score them.

`HFPRM(model=folder)` reads the folder, picks its shape (`prm/hf_load.py`: Math-Shepherd's step tag,
RLHFlow's chat turns, Qwen2.5-Math-PRM's token classes, Skywork's value head; `shape=` always wins),
builds the input and reads the scores as the shape's authors do (`prm/hf_shapes.py`). Solutions are
batched with right padding. One longer than the model's context (`max_length`, by default the
config's `max_position_embeddings`) is cut from the left, as its_hub does, and steps cut off take the
first kept step's score; it is counted in `truncated`, never an error. `granularity="outcome"` scores
the whole answer as one step (its score repeated for every step). A value-head PRM keeps the keys and
values of the sequences it scored last (`prefix_cache_tokens`, `prm/hf_prefix.py`): a partial solution that
extends one scored before runs only its new tokens, as a stepwise search's children extend their parent.
Leaves out: downloading, quantised loading, several devices.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, PrivateAttr, field_validator

from reason.errors import PRMError
from reason.prm.hf_load import Loaded, check_width, load
from reason.prm.hf_prefix import PrefixCache, forward_with_prefixes
from reason.prm.hf_shapes import SHAPES, Encoded
from reason.registry import named
from reason.reward import StepsBatch
from reason.types import Problem, Validated

logger = logging.getLogger(__name__)


class HFPRM(Validated):
    """Args: model (local folder), shape ("auto" or a name in SHAPES), marker and system-prompt overrides,
    device, dtype, batch_size, max_length, granularity, prefix_cache_tokens.

    Example:
        >>> prm = HFPRM(model="/models/Qwen2.5-Math-PRM-7B")        # doctest: +SKIP
        >>> prm.score(Problem(question="2+2?"), [["2 + 2 = 4", "The answer is 4."]])  # doctest: +SKIP
        [[0.93, 0.97]]
    """

    # Not frozen: it counts what it processed (its parameters never change after construction).
    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "hf"

    model: str
    shape: str = "auto"
    step_tag: str | None = None
    """The step tag (causal-tag), separator (token-classification) or step token (value-head); None: the
    config's, else the format's own."""
    good_token: str | None = None
    bad_token: str | None = None
    system: str | None = None
    """System turn for token-classification PRMs with a chat template; None: the config's, else the model
    card's for Qwen2.5-Math-PRM, else none."""
    device: str = "cpu"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    batch_size: int = Field(default=8, ge=1)
    max_length: int | None = Field(default=None, ge=16)
    """Longest input in tokens; None: the model's `max_position_embeddings`."""
    granularity: Literal["step", "outcome"] = "step"
    trust_remote_code: bool = False
    prefix_cache_tokens: int = Field(default=8192, ge=0)
    """Tokens of recently scored sequences whose keys and values are kept for the value-head shape (0: none)."""
    _processed: int = PrivateAttr(default=0)
    _truncated: int = PrivateAttr(default=0)
    _prefixes: PrefixCache | None = PrivateAttr(default=None)

    @field_validator("shape")
    @classmethod
    def _check_shape(cls, value: str) -> str:
        return named(value, ("auto", *SHAPES), "PRM shape", "shapes")

    @property
    def tokens_processed(self) -> int:
        """Tokens this PRM has run through its model (reported as PRM compute)."""
        return self._processed

    @property
    def tokens_reused(self) -> int:
        """Tokens a kept prefix saved from running through the model again (with `tokens_processed`, what a
        full forward of every scored sequence would have run)."""
        return self._prefixes.reused if self._prefixes is not None else 0

    @property
    def truncated(self) -> int:
        """Solutions cut from the left to fit the model's context."""
        return self._truncated

    def score(self, problem: Problem, steps_batch: StepsBatch) -> list[list[float]]:
        loaded = load(self.model, self.shape, self.device, self.dtype, self.trust_remote_code)
        reader = self._reader_for(loaded)
        scored = [["\n\n".join(steps)] for steps in steps_batch] if self.granularity == "outcome" else steps_batch
        encoded = [self._fit(reader.encode(loaded.tokenizer, problem.question, steps), len(steps), loaded)
                   for steps in scored]
        scores: list[list[float]] = []
        if prefixes := self._prefix_cache(loaded):
            scores = self._forward_kept(loaded, reader, encoded, prefixes)
        else:
            for start in range(0, len(encoded), self.batch_size):
                scores += self._forward(loaded, reader, encoded[start : start + self.batch_size])
        if self.granularity == "outcome":
            return [[got[0]] * len(steps) for got, steps in zip(scores, steps_batch)]
        return scores

    def _reader_for(self, loaded: Loaded) -> Any:
        """The shape's reader (its token ids looked up in the tokenizer), built once per loaded model and marker
        settings and kept with the model: a search scores every step, the lookups need not be repeated."""
        key = (self.step_tag, self.good_token, self.bad_token, self.system)
        if key not in loaded.readers:
            loaded.readers[key] = SHAPES[loaded.shape].build(loaded.tokenizer, loaded.config, self)
        return loaded.readers[key]

    def _fit(self, encoded: Encoded, n_steps: int, loaded: Loaded) -> Encoded:
        if len(encoded.positions) != n_steps:
            raise PRMError(f"found {len(encoded.positions)} step markers for {n_steps} steps; the tokenizer splits "
                           "the marker in context")
        limit = self.max_length or loaded.max_length
        if limit is None or len(encoded.ids) <= limit:
            return encoded
        cut = len(encoded.ids) - limit
        self._truncated += 1
        logger.warning("a solution of %d tokens was cut from the left to the PRM's %d", len(encoded.ids), limit)
        return Encoded(encoded.ids[cut:], [p - cut for p in encoded.positions])

    def _prefix_cache(self, loaded: Loaded) -> PrefixCache | None:
        """The kept prefixes, for a value-head model without sliding-window attention; None otherwise."""
        if self.prefix_cache_tokens == 0 or loaded.head is None or loaded.shape != "value-head" \
                or getattr(loaded.config, "sliding_window", None):
            return None
        if self._prefixes is None:
            self._prefixes = PrefixCache(self.prefix_cache_tokens)
        return self._prefixes

    def _forward_kept(self, loaded: Loaded, reader: Any, encoded: Sequence[Encoded],
                      prefixes: PrefixCache) -> list[list[float]]:
        outputs, processed = forward_with_prefixes(loaded, [e.ids for e in encoded], prefixes, self.device,
                                                   self.batch_size)
        self._processed += processed
        for output in outputs:
            check_width(output, reader)
        return [_read(reader, output, e.positions) for output, e in zip(outputs, encoded)]

    def _forward(self, loaded: Loaded, reader: Any, batch: Sequence[Encoded]) -> list[list[float]]:
        import torch

        width = max(len(e.ids) for e in batch)
        pad = loaded.tokenizer.pad_token_id or 0
        input_ids = torch.tensor([e.ids + [pad] * (width - len(e.ids)) for e in batch], device=self.device)
        mask = torch.tensor([[1] * len(e.ids) + [0] * (width - len(e.ids)) for e in batch], device=self.device)
        with torch.no_grad():
            out = loaded.model(input_ids=input_ids, attention_mask=mask, output_hidden_states=loaded.head is not None)
            if loaded.head is not None:
                hidden = out.hidden_states[-1] if getattr(out, "hidden_states", None) is not None else out[0]
                output = loaded.head(hidden.float())
            else:
                output = out.logits if hasattr(out, "logits") else out[0]
        check_width(output, reader)
        self._processed += sum(len(e.ids) for e in batch)
        return [_read(reader, output[i], e.positions) for i, e in enumerate(batch)]


def _read(reader: Any, output: Any, positions: list[int]) -> list[float]:
    """Scores at the kept positions; a step cut off by truncation takes the first kept step's score."""
    kept = [p for p in positions if p >= 0]
    if not kept:
        raise PRMError("truncation left no step to score")
    scores = reader.read(output[kept])
    return [scores[0]] * (len(positions) - len(kept)) + scores
