"""A generator watched from outside a search: after each model call, what the search has spent so far and
which answer leads; and a way to stop a search between model calls.

`WatchedGenerator(inner, task, on_call, cancelled)` passes every call through to `inner`, then calls
`on_call(progress)` with a `SearchProgress`; before each call it checks `cancelled()` and raises
`SearchCancelled` when it says so (a client that went away, a Ctrl-C). Any searcher works unchanged:
it sees only what it asks of the model. Calls pass straight through: give it a thread-safe generator
(`Engine.shared_generator`) when several searches run at once.
Leaves out: anything but counting and stopping.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from reason.errors import ReasonError
from reason.tasks import task_style
from reason.types import Completion, Prompt, SamplingParams


class SearchCancelled(ReasonError):
    """The search was stopped from outside, between two model calls."""


@dataclass(frozen=True)
class SearchProgress:
    calls: int
    samples: int
    tokens: int
    leader: str | None
    leader_votes: int

    def describe(self) -> str:
        lead = f"; leading: {self.leader} ({self.leader_votes} of {self.samples})" if self.leader is not None else ""
        return f"{self.calls} model calls, {self.samples} samples, {self.tokens} tokens{lead}"


class WatchedGenerator:
    def __init__(self, inner: Any, task: str, on_call: Callable[[SearchProgress], None],
                 cancelled: Callable[[], bool] = lambda: False) -> None:
        self.inner, self.style, self.on_call, self.cancelled = inner, task_style(task), on_call, cancelled
        self.calls = self.samples = self.tokens = 0
        self.votes: dict[str, int] = {}
        """Samples behind each answer, grouped by the task's equivalence as the final vote groups them."""
        self.equivalent = self.style.equivalent

    def __getattr__(self, name: str) -> Any:  # name, supports_*, tokenizer helpers: the inner generator's
        return getattr(self.inner, name)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        if self.cancelled():
            raise SearchCancelled("the search was cancelled")
        batches = self.inner.generate(prompts, params)
        self.calls += 1
        for completion in (c for batch in batches for c in batch):
            self.samples += 1
            self.tokens += completion.generated_tokens
            if (answer := self.style.extract(completion.text)) is not None:
                key = next((seen for seen in self.votes if self.equivalent(seen, answer)), answer)
                self.votes[key] = self.votes.get(key, 0) + 1
        leader = max(self.votes.items(), key=lambda item: item[1], default=(None, 0))
        self.on_call(SearchProgress(self.calls, self.samples, self.tokens, leader[0], leader[1]))
        return batches
