"""Final-answer extraction from free model text.

Each rule is a small function `text -> str | None`; a task style lists which rules
apply, in order, and the first that finds something wins:
- "boxed": the last `\\boxed{...}` / `\\fbox{...}` (nested braces respected; `\\boxed 5` too)
- "hashes": GSM8K's `#### 42`
- "answer_is": "The answer is X", "Final answer: X", "**Answer:** X" (the last one)
- "final_answer": only the "final answer" phrasings (Minerva's "Final Answer: The final answer is $X$.")
- "choice": a multiple-choice letter, "(B)" or "the answer is B"
- "last_number": the last number in the text, GSM8K's fallback
Leaves out: normalising what it finds (the grader's job): the raw answer string is
returned, with only surrounding `$...$`, a wrapping `\\boxed{}` and markdown bold removed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from reason.errors import ConfigError
from verifiers.normalize import group_end, unwrap

Rule = Callable[[str], str | None]

_NUMBER = r"-?\$?\d[\d,]*(?:\.\d+)?|-?\.\d+"
_BOX_COMMANDS = ("\\boxed", "\\fbox")


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{...}`), nested braces respected.

    Example: "so \\boxed{\\frac{1}{2}}." -> "\\frac{1}{2}"
    """
    start = max(text.rfind(c) for c in _BOX_COMMANDS)
    while start != -1:
        found = _boxed_at(text, start)
        if found is not None:
            return found
        start = max(text.rfind(c, 0, start) for c in _BOX_COMMANDS)
    return None


def _boxed_at(text: str, start: int) -> str | None:
    command = next(c for c in _BOX_COMMANDS if text.startswith(c, start))
    rest = text[start + len(command) :]
    stripped = rest.lstrip()
    if stripped.startswith("{"):
        open_at = start + len(command) + len(rest) - len(stripped)
        end = group_end(text, open_at)
        return text[open_at + 1 : end].strip() if end != -1 else None  # unbalanced: no answer, not a torn one
    if rest[:1].isspace():  # "\boxed 5": the argument is the next token
        token = re.match(r"\s+([^\s$.,;]+)", rest)
        return token.group(1) if token else None
    return None


def after_hashes(text: str) -> str | None:
    """GSM8K's `#### 42` marker. Example: "... #### 1,234" -> "1,234"."""
    matches = re.findall(r"####\s*([^\n]+)", text)
    return matches[-1].strip().rstrip(".").strip() or None if matches else None


_ANSWER_PHRASE = re.compile(r"\banswer\**\s*(?:is\b|:)\s*\**\s*:?", re.IGNORECASE)
_FINAL_ANSWER_PHRASE = re.compile(r"\bfinal\s+answer\**\s*(?:is\b|:)\s*\**\s*:?", re.IGNORECASE)


def answer_is(text: str) -> str | None:
    """'The answer is X', 'Final answer: X', '**Answer:** X': what follows the last such phrase.

    Example: "So the answer is $\\frac{1}{2}$. Done." -> "\\frac{1}{2}"
    """
    return _after_last(_ANSWER_PHRASE, text)


def final_answer(text: str) -> str | None:
    """Only 'final answer' phrasings. Example: "Final Answer: The final answer is $8$. I hope it is correct." -> "8"."""
    return _after_last(_FINAL_ANSWER_PHRASE, text)


def _after_last(phrase: re.Pattern[str], text: str) -> str | None:
    matches = list(phrase.finditer(text))
    if not matches:
        return None
    span = _sentence(text, matches[-1].end()).strip().strip("*").strip()
    if any(c in span for c in _BOX_COMMANDS):
        return last_boxed(span)
    span = unwrap(span)
    return span or None


def _sentence(text: str, start: int) -> str:
    """Text from start to the end of its sentence: a newline or a '. ' outside $...$ and braces."""
    while start < len(text) and text[start].isspace():
        start += 1
    depth, in_math, i = 0, False, start
    while i < len(text):
        char = text[i]
        if char == "$":
            in_math = not in_math
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif not in_math and depth <= 0 and (char == "\n" or (char == "." and text[i + 1 : i + 2] in ("", " ", "\n"))):
            break
        i += 1
    return text[start:i]


_CHOICE_AFTER_PHRASE = re.compile(r"\banswer\**\s*(?:is\b|:)\s*\**\s*:?\s*\$?\(?\\?(?:text\{)?\(?([A-E])\)?(?![A-Za-z])")
_CHOICE_IN_PARENS = re.compile(r"\(([A-E])\)")


def choice(text: str) -> str | None:
    """A multiple-choice letter, as "(B)". Example: "... so the answer is B." -> "(B)"."""
    matches = _CHOICE_AFTER_PHRASE.findall(text) or _CHOICE_IN_PARENS.findall(text)
    return f"({matches[-1]})" if matches else None


def last_number(text: str) -> str | None:
    """The last number in the text, GSM8K-style fallback. Example: "3 apples, then 12." -> "12"."""
    matches = re.findall(_NUMBER, text)
    return matches[-1].rstrip(".,") if matches else None


RULES: dict[str, Rule] = {
    "boxed": last_boxed,
    "hashes": after_hashes,
    "answer_is": answer_is,
    "final_answer": final_answer,
    "choice": choice,
    "last_number": last_number,
}
"""Every extraction rule by name; task styles refer to these names."""


def extract_answer(text: str, rules: Sequence[str]) -> str | None:
    """Apply the named rules in order; the first non-empty result wins."""
    for name in rules:
        try:
            rule = RULES[name]
        except KeyError:
            raise ConfigError(f"unknown extraction rule {name!r}; rules: {', '.join(RULES)}") from None
        found = rule(text)
        if found:
            return found
    return None
