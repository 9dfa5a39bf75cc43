"""Prompt tokens that continue the model's own tokens, so a prefix cache hits exactly.

A tree search asks for the next step of a partial solution by sending the chat plus
the steps so far. Sent as text, that prefix is re-tokenized, and text the model
generated as tokens [" 4", ".\\n\\n"] may come back as [" 4.", "\\n\\n"]: the
backend's cache, keyed on tokens, then misses from that point on. `continued_ids`
builds the prompt from the tokens the model actually saw and produced instead
(`ChatPrompt.continues`), keeping only as many of them as spell a leading part of
the assistant prefix, and tokenizes just the text after that part.
Leaves out: choosing the tokenizer; each backend passes its own (the model's).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from reason.types import ChatPrompt

logger = logging.getLogger(__name__)


def continued_ids(tokenizer: Any, head: str, prefix: str, continues: Sequence[int]) -> list[int] | None:
    """Token ids for the prompt `head + prefix`, reusing `continues` where it spells the same text.

    `head` is the rendered chat up to the assistant's turn, `prefix` the assistant text
    so far, `continues` an earlier prompt's ids plus the ids generated after it. Returns
    None when `continues` does not start with `head`'s own tokens (another model or
    template made it): the caller then sends text as before.

    Example (a tokenizer whose tokens are characters): head "Q:", prefix "ab|c", continues
    ids of "Q:ab|x" -> ids of "Q:" + "ab|" from `continues`, then the tokens of "c".
    """
    base = tokenizer.encode(head)
    if list(continues[: len(base)]) != base:
        logger.debug("continuation ids do not start with this prompt's head; sending text")
        return None
    generated = list(continues[len(base) :])
    kept = _longest_spelling(tokenizer, generated, prefix)
    spelled = _decode(tokenizer, generated[:kept])
    rest = prefix[len(spelled) :]
    tail = tokenizer.encode(rest, add_special_tokens=False) if rest else []
    return base + generated[:kept] + tail


def chat_prompt_ids(tokenizer: Any, render: Callable[[ChatPrompt], str], prompt: ChatPrompt) -> list[int] | None:
    """`continued_ids` for a chat: its head is `render` of the chat without the assistant prefix.

    None when the prompt continues nothing, or its ids are not this chat's (send text then).
    """
    if not prompt.continues:
        return None
    head = render(prompt.model_copy(update={"assistant_prefix": ""}))
    return continued_ids(tokenizer, head, prompt.assistant_prefix, prompt.continues)


def _longest_spelling(tokenizer: Any, ids: list[int], text: str) -> int:
    """The most leading ids whose decoded text is a prefix of `text`.

    Usually all of them (the prefix is the generated text plus the delimiter the ids end
    with), or all but the last (a stop string that ended inside a token, a rollout cut
    into steps); a binary search covers the rest.
    """
    if text.startswith(_decode(tokenizer, ids)):
        return len(ids)
    low, high = 0, len(ids) - 1  # ids[:low] spells a prefix; ids[:high + 1] does not
    while low < high:
        middle = (low + high + 1) // 2
        if text.startswith(_decode(tokenizer, ids[:middle])):
            low = middle
        else:
            high = middle - 1
    return low


def _decode(tokenizer: Any, ids: list[int]) -> str:
    return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
