"""The engine's data: what goes into a model call and a search, and what comes out.

Every type here is frozen and rejects unknown fields, so a typo in a parameter
name is an error instead of a silently ignored knob. Backends translate these to
their own request types at their edge; no backend type appears in a signature.
Leaves out: anything backend-specific (memory settings, URLs) — those live in
each backend's own config.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from reason.errors import ConfigError


def first_error(exc: ValidationError) -> str:
    """Pydantic's first complaint, as "field: message" (a nested model's field as "outer.inner")."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, ConfigError) and inner.field:  # a nested model of ours said it first
        return f"{where + '.' if where else ''}{inner.field}: {inner.reason}"
    return f"{where or 'value'}: {err['msg']}"


class Validated(BaseModel):
    """Base for every model of ours: a bad value is a `ConfigError` (a `ReasonError`), never
    pydantic's `ValidationError`, whether the object is built directly or through the registry.

    (`model_validate`, used to read stored records, keeps pydantic's own error.)
    """

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            where, _, reason = first_error(exc).partition(": ")
            raise ConfigError(f"invalid {type(self).__name__}: {where}: {reason}", field=where, reason=reason) from exc

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:  # a frozen model, or a bad value on assignment
            raise ConfigError(f"cannot set {type(self).__name__}.{name}: {first_error(exc)}") from exc


class Frozen(Validated):
    """Base for all value objects: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class SamplingParams(Frozen):
    """Per-request sampling knobs, shared by every backend."""

    temperature: float = Field(default=1.0, ge=0.0)
    """Randomness of sampling; 0 means greedy decoding."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    """Nucleus sampling: keep the smallest token set whose probability reaches top_p."""
    max_tokens: int = Field(default=512, ge=1)
    """Most tokens generated per sample."""
    n: int = Field(default=1, ge=1)
    """Samples per prompt, drawn in one backend call (not a Python loop)."""
    stop: tuple[str, ...] = ()
    """Strings that end a sample; the stop string itself is not returned."""
    seed: int | None = None
    """Per-request seed. Backends that cannot honour it say so (see `Generator.supports_request_seed`)."""
    logprobs: int | None = Field(default=None, ge=0, le=20)
    """Return per-token log-probabilities with this many alternatives (0: only the sampled token)."""
    max_thinking_tokens: int | None = Field(default=None, ge=1)
    """Cap on a reasoning model's thinking span; the span is then closed and the answer asked for
    (`reason.thinking`: every searcher's calls go through it when this or the next is set)."""
    min_thinking_tokens: int | None = Field(default=None, ge=1)
    """Floor on the thinking span: a model that closes it sooner is told "Wait" and thinks on (s1)."""

    @model_validator(mode="after")
    def _thinking_floor_under_cap(self) -> SamplingParams:
        if self.max_thinking_tokens and self.min_thinking_tokens and self.min_thinking_tokens > self.max_thinking_tokens:
            raise ConfigError(f"min_thinking_tokens={self.min_thinking_tokens} is over "
                              f"max_thinking_tokens={self.max_thinking_tokens}")
        return self

    @model_validator(mode="after")
    def _greedy_single(self) -> SamplingParams:
        if self.temperature == 0.0 and self.n > 1:
            raise ConfigError(
                f"n={self.n} with temperature=0 asks for {self.n} identical greedy samples; "
                "use temperature > 0 for several samples"
            )
        return self


class TopLogprob(Frozen):
    token: str
    logprob: float


class TokenLogprob(Frozen):
    """Log-probability of one generated token, with the backend's top alternatives."""

    token: str
    logprob: float
    top: tuple[TopLogprob, ...] = ()


EOS = "<eos>"
"""`Completion.stop_reason` of a sample the model itself ended (end-of-sequence token)."""


class Completion(Frozen):
    """One generated sample."""

    text: str
    token_ids: tuple[int, ...] = ()
    logprobs: tuple[TokenLogprob, ...] | None = None
    finish_reason: str = "stop"
    """'stop' (EOS or a stop string), 'length' (hit max_tokens), or a backend's own reason."""
    stop_reason: str | None = None
    """What ended a 'stop' sample, when the backend says: the stop string that matched, or EOS
    (the model ended its turn). None when the backend does not say, or the sample did not 'stop'."""
    prompt_tokens: int = 0
    prompt_token_ids: tuple[int, ...] = ()
    """The prompt's tokens as the model saw them, when the backend says (empty otherwise).
    With `token_ids` they are what a `ChatPrompt.continues` continues."""
    generated_tokens: int = 0
    cached_prompt_tokens: int = 0
    """Prompt tokens served from the backend's prefix cache (0 when unknown)."""
    thinking: str = ""
    """A reasoning model's thinking span, kept apart from `text` (the answer) under a thinking budget."""
    thinking_tokens: int = 0
    """Of `generated_tokens`, those spent in the thinking span."""


class ChatMessage(Frozen):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatPrompt(Frozen):
    """A conversation to be rendered with the model's chat template by the backend.

    `assistant_prefix` is text the assistant has already "said": the backend renders the
    conversation, opens the assistant turn and appends the prefix verbatim, so the model
    continues it. Tree searches extend a parent's prefix with one more step; every child
    then shares the parent's rendered tokens, which is what a prefix cache reuses.
    """

    messages: tuple[ChatMessage, ...]
    assistant_prefix: str = ""
    continues: tuple[int, ...] = ()
    """Token ids of an earlier prompt of this chat plus what the model generated after it
    (`Completion.prompt_token_ids + token_ids`). A backend holding the model's tokenizer
    sends those of them that spell the start of `assistant_prefix` as they are, and
    tokenizes only the rest, so the prefix cache sees exactly the tokens it computed
    (see `reason.continuation`). Backends that send text ignore it."""

    def extended(self, more: str, continues: tuple[int, ...] | None = None) -> ChatPrompt:
        """This chat with `more` assistant text; `continues` replaces the token ids when given."""
        update: dict[str, object] = {"assistant_prefix": self.assistant_prefix + more}
        if continues is not None:
            update["continues"] = continues
        return self.model_copy(update=update)


Prompt = str | ChatPrompt
"""A raw text prompt (sent as-is) or a chat conversation (templated by the backend)."""


class Problem(Frozen):
    """A question to solve, with its reference answer when known."""

    question: str = Field(min_length=1)
    answer: str | None = None
    """Reference answer, used for grading only; searchers never see it."""
    id: str | None = None
    task: str = "gsm8k"
    """Task style: picks the prompt template and the answer-extraction rules."""


class Compute(Frozen):
    """Compute spent, split into the policy model and the process reward model."""

    prompt_tokens: int = 0
    generated_tokens: int = 0
    model_calls: int = 0
    prm_prompt_tokens: int = 0
    prm_generated_tokens: int = 0
    prm_calls: int = 0
    wall_time_s: float = 0.0
    thinking_tokens: int = 0
    """Of the policy's generated tokens, those spent in thinking spans (under a thinking budget)."""

    def __add__(self, other: Compute) -> Compute:
        fields = type(self).model_fields
        return Compute(**{k: getattr(self, k) + getattr(other, k) for k in fields})

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.generated_tokens + self.prm_prompt_tokens + self.prm_generated_tokens


class Sample(Frozen):
    """One model output a searcher produced, with the answer extracted from it."""

    text: str
    answer: str | None
    finish_reason: str = "stop"
    generated_tokens: int = 0
    score: float | None = None
    thinking: str | None = None
    """The thinking span behind this sample, when a thinking budget kept it apart from `text`."""
    confidence: float | None = None
    """The model's own confidence in this sample (DeepConf's lowest window mean of token confidences), when the
    backend returned token logprobs; read by the "confidence" vote rule."""


class Candidate(Frozen):
    """A distinct answer and the support it got."""

    answer: str
    votes: int
    """How many samples gave an answer equivalent to this one."""
    score: float | None = None
    """Aggregate score (PRM or verifier) when the searcher uses one."""
    sample_indices: tuple[int, ...] = ()


class SearchResult(Frozen):
    """What every searcher returns."""

    strategy: str
    problem: Problem
    answer: str | None
    """The chosen final answer; None when no sample yielded one."""
    reasoning: str
    """The text of the sample the answer was taken from."""
    candidates: tuple[Candidate, ...]
    """Distinct answers, best first."""
    samples: tuple[Sample, ...]
    compute: Compute
    search_tree: dict[str, Any] | None = None
    """The search tree in networkx's node-link form (plain JSON; see `reason.tree`). `tree` is the graph."""
    trace: dict = Field(default_factory=dict)
    """Searcher-specific detail (MCTS statistics, refinement attempts, ...); the tree is `search_tree`."""

    @model_validator(mode="before")
    @classmethod
    def _tree_from_trace(cls, data: Any) -> Any:
        """Results stored before the tree was a field carried it as `trace["tree"]`."""
        if isinstance(data, dict) and isinstance(data.get("trace"), dict) and "tree" in data["trace"]:
            trace = dict(data["trace"])
            data = {**data, "trace": trace, "search_tree": data.get("search_tree") or trace.pop("tree")}
        return data

    @cached_property
    def tree(self) -> Any:
        """The search tree as a `networkx.DiGraph` (see `reason.tree`), built once; None when none was kept."""
        from reason.tree import graph_from_json  # networkx only when a tree is asked for

        return None if self.search_tree is None else graph_from_json(self.search_tree)

    def to_html(self) -> str:
        """This search as one self-contained HTML page: the tree, candidates, samples and compute (`reason.page`)."""
        from reason.page import page_html, search_payload

        return page_html(search_payload([self], title=f"reason: {self.strategy}"))

    def _repr_html_(self) -> str:
        """Jupyter's view: the page in a sandboxed iframe."""
        from reason.page import iframe_html

        return iframe_html(self.to_html())


class Verdict(Frozen):
    """A verifier's judgement. A wrong answer is a 'fail', never an exception."""

    status: Literal["pass", "fail", "error", "timeout"]
    rule: str | None = None
    """Which rule or tier decided."""
    detail: str = ""
    parsed: tuple[str, ...] = ()
    """The normalised forms that were compared, for inspection."""
    checks: tuple[Verdict, ...] = ()
    """The verdicts behind this one, in the order they ran (a cascade's tiers)."""

    @property
    def passed(self) -> bool:
        return self.status == "pass"
