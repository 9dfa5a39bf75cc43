"""Task styles: how a problem becomes a prompt and how an answer is read back.

A task style is a prompt template file in `reason/prompts/<name>.toml` with a system
message, a user template (with `{question}`), the extraction rules that apply and, by
name, the answer equivalence its votes group by (`equivalence = "math"` by default: the
grader's, registered in the registry's `equivalence` group, found there on first use).
Leaves out: few-shot example selection; a template holds its examples inline.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from reason.errors import ConfigError
from reason.extract import MARKERS, extract_answer, prose_words
from reason.registry import registry
from reason.types import ChatMessage, ChatPrompt, Problem

Equivalence = Callable[[str, str], bool]


@dataclass(frozen=True)
class TaskStyle:
    name: str
    system: str
    user: str
    extract_rules: tuple[str, ...]
    equivalence: str = "math"
    """Registered name of the answer equivalence ("math": the grader's, so 0.5, 1/2 and \\frac{1}{2} are one answer)."""

    @property
    def equivalent(self) -> Equivalence:
        """Are two answers the same? The named equivalence, loaded on first use."""
        check: Equivalence = registry.get("equivalence", self.equivalence)
        return check

    def prompt(self, problem: Problem) -> ChatPrompt:
        messages = [ChatMessage(role="user", content=self.user.format(question=problem.question))]
        if self.system:
            messages.insert(0, ChatMessage(role="system", content=self.system))
        return ChatPrompt(messages=tuple(messages))

    def extract(self, text: str) -> str | None:
        return extract_answer(text, self.extract_rules)

    def stated(self, text: str) -> str | None:
        """The answer a candidate states: an explicitly marked one ("the answer is", a box, ...), else a
        short one-liner as it is, else the task's guess (e.g. the last number).

        Example: "3 * 4 = 12. The answer is 12." -> "12"; "\\frac{1}{2}" -> "\\frac{1}{2}"; "7; 4" -> "7; 4"
        """
        text = text.strip()
        explicit = extract_answer(text, [rule for rule in self.extract_rules if rule in MARKERS])
        if explicit:
            return explicit
        one_liner = bool(text) and "\n" not in text and len(text) <= 60
        if one_liner and not _wordy(text) and not _MATH_OPENER.search(text):
            return text
        return self.extract(text) or (text if one_liner else None)


_MATH_OPENER = re.compile(r"\$.*\$|\\[(\[]")
"""Math delimiters: a one-liner with them is read by the style's rules ("Answer $ 9 $" -> "9")."""


def _wordy(text: str) -> bool:
    """Prose rather than an answer: two words outside math, or a label first ("Soucis : 2,74"); "12 apples" is not."""
    return prose_words(text) >= 2 or bool(re.match(r"\s*[A-Za-z]{3,}\s*:", text))


def task_names() -> list[str]:
    folder = resources.files("reason") / "prompts"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


@cache
def task_style(name: str) -> TaskStyle:
    """Load a task style by name (the prompt file's stem)."""
    if name not in task_names():
        raise ConfigError(f"unknown task style {name!r}; task styles: {', '.join(task_names())}")
    raw = tomllib.loads((resources.files("reason") / "prompts" / f"{name}.toml").read_text("utf-8"))
    style = TaskStyle(name=name, system=raw.get("system", ""), user=raw["user"], extract_rules=tuple(raw["extract"]),
                      equivalence=raw.get("equivalence", "math"))
    registry.target("equivalence", style.equivalence)  # an unknown name fails here, listing the registered ones
    return style
