"""Final-answer extraction from free model text.

Each rule is a small function `text -> str | None`; a task style lists which rules apply.
The rules that find a marked answer (`MARKERS`: boxed, hashes, answer_is, final_answer)
compete by position: the answer marked LAST in the text wins, whichever rule marked it
("\\boxed{4} is wrong, the answer is 7" -> 7; an intermediate box does not beat a later
"The final answer is"). Only when no marker finds anything do the fallbacks (choice,
last_number) apply, in the style's order:
- "boxed": the last `\\boxed{...}` / `\\fbox{...}` (nested braces respected; `\\boxed 5` too);
  boxes written side by side (`\\boxed{1}, \\boxed{2}`, `\\boxed{a} \\quad\\text{and}\\quad \\boxed{b}`) are one list
- "hashes": GSM8K's `#### 42`
- "answer_is": "The answer is X", "Final answer: X", "**Answer:** X" (the last one)
- "final_answer": only the "final answer" phrasings (Minerva's "Final Answer: The final answer is $X$.")
- "choice": a multiple-choice letter, "(B)" or "the answer is B"
- "last_math": the last $...$ / \\(...\\) / \\[...\\] segment, MATH's fallback (as Math-Verify's)
- "last_number": the last number in the text, GSM8K's fallback
Leaves out: normalising what it finds (the grader's job): the raw answer string is
returned, with only surrounding `$...$`, a wrapping `\\boxed{}` and markdown bold removed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from reason.errors import ConfigError

Rule = Callable[[str], str | None]

_NUMBER = r"(?<![A-Za-z\d.])(?:-?\$?\d[\d,]*(?:\.\d+)?|-?\.\d+)"  # not a digit inside a word (AZYUK2A)


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{...}`), nested braces respected.

    An unbalanced last box is skipped for the one before it: no answer rather than a torn one.
    Linear in the text's length, however many boxes are left open.
    Example: "so \\boxed{\\frac{1}{2}}." -> "\\frac{1}{2}"
    """
    found = _boxed_at(text)
    return found[1] if found else None


def _boxed_at(text: str) -> tuple[int, str] | None:
    """(start, content) of the last box; boxes written side by side ("\\boxed{1}, \\boxed{2}") are one list."""
    return _last_run(text, _boxes(text), _BOX_SEPARATOR)


def _last_run(text: str, found: list[tuple[int, int, str]], separator: re.Pattern[str]) -> tuple[int, str] | None:
    """(start, contents joined by ", ") of the last item and those before it that only `separator` parts.

    Example: "$1$ and $2$" with math segments and the and-separator -> (0, "1, 2")
    """
    if not found:
        return None
    run = [found[-1]]
    for item in reversed(found[:-1]):
        if not separator.fullmatch(text[item[1] : run[0][0]]):
            break
        run.insert(0, item)
    return run[0][0], ", ".join(content for _, _, content in run)


_BOX_SEPARATOR = re.compile(
    r"(?:\s|[,;$]|\\[()\[\]]|\\q?quad|\\text\{\s*(?:and|or|,)?\s*\}|\band\b|\\,)*"  # "\boxed{1}, \boxed{2}"
    r"|(?![^\n]*(?:[.!?](?:\s|$)|\b(?:is|are|was|were|not|wrong|incorrect|correct|answer|final|therefore|thus|hence|so"
    r"|but|instead|then|or)\b))(?=[^\n]*(?:\band\b|[,;])|[^A-Za-z\n]*$)[^\n]{0,40}"  # "\boxed{1} papers and \boxed{2}"
)
"""What may stand between boxes that are one list: separators, or a short label on the same line that joins them
("and", a comma; or no word at all) without ending a sentence or saying something about the box before it
("\boxed{5} is wrong, \boxed{7}" and "\boxed{1} no no \boxed{2}" are not lists; "\boxed{A}, or \boxed{B}" gives
the same answer twice, MATH's own style, and is not one either: the last box is the answer)."""


def _boxes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every complete box, in order; an unbalanced one is skipped."""
    closers: dict[int, int] | None = None
    found = []
    for match in _BOX.finditer(text):
        if closers is None:  # one brace scan, paid only when a box command is there
            closers = _matching_braces(text)
        if match.group(1) is not None:  # "\boxed 5": the argument is the next token
            found.append((match.start(), match.end(), match.group(1)))
        elif (open_at := match.end() - 1) in closers:
            content = text[open_at + 1 : closers[open_at]].replace("$", " ")  # "\boxed{12 $ and $13}": stray delimiters
            found.append((match.start(), closers[open_at] + 1, " ".join(content.split())))
    return found


_BOX = re.compile(r"\\(?:boxed|fbox)(?:\s*\{|\s+([^\s{$.,;]+))")


def _matching_braces(text: str) -> dict[int, int]:
    """Every balanced "{" index -> its "}" index, in one pass. Example: "{a{b}}" -> {0: 5, 2: 4}."""
    pairs, stack = {}, []
    for i, char in enumerate(text):
        if char == "{":
            stack.append(i)
        elif char == "}" and stack:
            pairs[stack.pop()] = i
    return pairs


def after_hashes(text: str) -> str | None:
    """GSM8K's `#### 42` marker. Example: "... #### 1,234" -> "1,234"."""
    found = _hashes_at(text)
    return found[1] if found else None


def _hashes_at(text: str) -> tuple[int, str] | None:
    matches = list(re.finditer(r"####\s*([^\n]+)", text))
    answer = matches[-1].group(1).strip().rstrip(".").strip() if matches else ""
    return (matches[-1].start(), answer) if answer else None


_ANSWER_PHRASE = re.compile(r"\banswer[\s*]*(?:is\b|:)[\s*:]*", re.IGNORECASE)
_FINAL_ANSWER_PHRASE = re.compile(r"\bfinal\s+answer[\s*]*(?:is\b|:)[\s*:]*", re.IGNORECASE)


def answer_is(text: str) -> str | None:
    """'The answer is X', 'Final answer: X', '**Answer:** X': what follows the last such phrase.

    Example: "So the answer is $\\frac{1}{2}$. Done." -> "\\frac{1}{2}"
    """
    found = _after_last(_ANSWER_PHRASE, text)
    return found[1] if found else None


def final_answer(text: str) -> str | None:
    """Only 'final answer' phrasings. Example: "Final Answer: The final answer is $8$. I hope it is correct." -> "8"."""
    found = _after_last(_FINAL_ANSWER_PHRASE, text)
    return found[1] if found else None


def _after_last(phrase: re.Pattern[str], text: str) -> tuple[int, str] | None:
    matches = list(phrase.finditer(text))
    if not matches:
        return None
    span = _sentence(text, matches[-1].end()).strip().strip("*").strip()
    span = re.sub(r'^\\?"(.*?)\\?"$', r"\1", span).strip()  # quoted: 'The final answer is \"$12$ and $13$\"
    if "\\boxed" in span or "\\fbox" in span:
        boxed = last_boxed(span)
        return (matches[-1].start(), boxed) if boxed else None
    span = unwrap(_stated_value(span))
    if span and _prose(span):  # "Final Answer: Jane started growing Sphere 3 hours ago." -> "3"
        span = "" if span.rstrip().endswith(":") else (last_math(span) or "")
    return (matches[-1].start(), span) if span else None


_COPULA = re.compile(r"\s(?:is|are|equals|=)\s+(?=\S)", re.IGNORECASE)


def _stated_value(span: str) -> str:
    """What a sentence says something is: "The largest $n$ is 34" -> "34"; a bare answer is itself."""
    outside = re.sub(r"\$[^$]*\$", lambda m: "_" * len(m.group(0)), span)  # an "=" inside math is the answer's own
    found = list(_COPULA.finditer(outside))
    return span[found[-1].end() :].strip() if found and re.search(r"[A-Za-z]{3,}", outside[: found[-1].start()]) else span


def _prose(text: str) -> bool:
    """Words, not an answer: "given by the equation:" (a rule must capture an answer), or a sentence of three words or
    more ("Jane started growing Sphere 3 hours ago"); "5 apples" and "x = 5 or x = 7" are answers."""
    stripped = text.strip()
    return stripped.endswith(":") or prose_words(stripped) >= 3


def prose_words(text: str) -> int:
    """Words of three letters or more outside math and LaTeX commands. Example: "$x$ is the answer" -> 2."""
    outside = re.sub(r"\$[^$]*\$|\\[A-Za-z]+", " ", text)
    return len(re.findall(r"[A-Za-z]{3,}", outside))


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


_CHOICE_AFTER_PHRASE = re.compile(r"\banswer[\s*]*(?:is\b|:)[\s*:]*\$?\(?\\?(?:text\{)?\(?([A-E])\)?(?![A-Za-z])")
_CHOICE_IN_PARENS = re.compile(r"\(([A-E])\)")


def choice(text: str) -> str | None:
    """A multiple-choice letter, as "(B)". Example: "... so the answer is B." -> "(B)"."""
    matches = _CHOICE_AFTER_PHRASE.findall(text) or _CHOICE_IN_PARENS.findall(text)
    return f"({matches[-1]})" if matches else None


_MATH_SEGMENT = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$])\$((?:[^$\\]|\\.)+?)\$", re.DOTALL)
"""$$...$$, \\[...\\], \\(...\\) and $...$; an escaped dollar (\\$) inside is text, not the end."""


def last_math(text: str) -> str | None:
    """The last math segment ($...$, $$...$$, \\(...\\), \\[...\\]) or number written in prose, whichever comes
    later: MATH-style text with no marked answer (as Math-Verify's last-expression fallback). Segments joined only by
    "and", "or" or commas are one list ("$1$ and $2$" -> "1, 2"). A number in prose keeps its thousands separators,
    a decimal comma, a "/" fraction and a "%", and drops a unit ("1,000.99m²" -> "1,000.99").

    Example: "Therefore $x \\geq 5$ is the solution." -> "x \\geq 5"; "so $d = 90/n$; there are 12." -> "12"
    """
    segments = [(m.start(), m.end(), next(g for g in m.groups() if g is not None).strip())
                for m in _MATH_SEGMENT.finditer(text)]
    found = _last_run(text, [s for s in segments if s[2]], _MATH_JOIN)
    # a number wins only after the last segment (or when no segment holds anything: then math has no digits)
    prose = text[segments[-1][1]:] if found is not None else text
    numbers = list(_PROSE_NUMBER.finditer(prose))
    if numbers:
        return numbers[-1].group(0).replace(" ", "")
    return found[1] if found else None


_PROSE_NUMBER = re.compile(
    r"(?<![A-Za-z\d.,/^_\\])-?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:,\d{1,2}(?![\d,]))?)"
    r"(?:\s?/\s?\d+(?:\.\d+)?)?%?(?![\d])"
)


_MATH_JOIN = re.compile(r"\s*(?:,|;|\band\b|\bor\b)\s*(?:(?:and|or)\s+)?")


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
    "last_math": last_math,
    "last_number": last_number,
}
"""Every extraction rule by name; task styles refer to these names."""


MARKERS: dict[str, Callable[[str], tuple[int, str] | None]] = {
    "boxed": _boxed_at,
    "hashes": _hashes_at,
    "answer_is": lambda text: _after_last(_ANSWER_PHRASE, text),
    "final_answer": lambda text: _after_last(_FINAL_ANSWER_PHRASE, text),
}
"""The rules that find a marked answer, each with where its marker starts: the latest marker wins."""


def extract_answer(text: str, rules: Sequence[str]) -> str | None:
    """The answer marked last by any of the named marker rules; else the first fallback rule that finds one.

    Example: extract_answer("\\boxed{4} is wrong; the answer is 7.", ["boxed", "answer_is"]) -> "7"
    """
    unknown = [name for name in rules if name not in RULES]
    if unknown:
        raise ConfigError(f"unknown extraction rule {unknown[0]!r}; rules: {', '.join(RULES)}")
    marked = [at for name in rules if name in MARKERS and (at := MARKERS[name](text))]
    if marked:
        return max(marked, key=lambda at: at[0])[1]  # max() keeps the first of equal positions
    for name in rules:
        if name not in MARKERS and (answer := RULES[name](text)):
            return answer
    return None


_MAX_WRAPPERS = 8
"""Layers of $...$ / \\boxed{} stripped; more is not an answer format, and each layer costs a scan."""
_DELIMITERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


def unwrap(text: str) -> str:
    """Strip surrounding math delimiters and a wrapping `\\boxed{...}`, repeatedly.

    Example: "$\\boxed{\\frac12}$." -> "\\frac12"
    """
    for _ in range(_MAX_WRAPPERS):
        stripped = text.strip().rstrip(".").strip()
        for opener, closer in _DELIMITERS:
            if len(stripped) > len(opener) + len(closer) and stripped.startswith(opener) and stripped.endswith(closer):
                stripped = stripped[len(opener) : -len(closer)]
                break
        stripped = _unbox(stripped)
        if stripped == text:
            return text
        text = stripped
    return text


def _unbox(text: str) -> str:
    for command in ("\\boxed", "\\fbox"):
        if text.startswith(command):
            open_at = text.find("{")
            if open_at != -1 and not text[len(command) : open_at].strip() and group_end(text, open_at) == len(text) - 1:
                return text[open_at + 1 : -1].strip()
    return text


def group_end(text: str, open_at: int) -> int:
    """Index of the brace closing the one at `open_at`, or -1 when unbalanced. Example: ("{a{b}}c", 0) -> 5."""
    depth = 0
    for i in range(open_at, len(text)):
        char = text[i]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def same_text(a: str, b: str) -> bool:
    """The "exact" equivalence: the same answer once delimiters and a wrapping box are stripped.

    Example: same_text("$42$", "42") -> True; same_text("0.5", "1/2") -> False
    """
    return unwrap(a).strip() == unwrap(b).strip()


def printed_answer(stdout: str) -> str | None:
    """What a program printed as its answer: its last non-empty output line.

    Example: "working...\n18\n\n" -> "18"
    """
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    return lines[-1] if lines else None
