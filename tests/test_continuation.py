"""`continued_ids`: prompt tokens that reuse the model's own tokens where they spell the same text.

A character tokenizer with a few merged tokens makes every case checkable by hand; the
bundled model's real tokenizer shows the re-tokenization the function exists to avoid.
"""

from typing import ClassVar

import pytest

from reason.continuation import continued_ids


class CharTokenizer:
    """Ids are characters, except the merged tokens in MERGES (a small stand-in for BPE)."""

    MERGES: ClassVar[dict[str, int]] = {"\n\n": 1000, ".\n\n": 1001, "\n\n\n": 1002}

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        ids, i = [], 0
        while i < len(text):
            merged = max((m for m in self.MERGES if text.startswith(m, i)), key=len, default=None)
            ids.append(self.MERGES[merged] if merged else ord(text[i]))
            i += len(merged) if merged else 1
        return ids

    def decode(self, ids, skip_special_tokens=True, clean_up_tokenization_spaces=True) -> str:
        names = {v: k for k, v in self.MERGES.items()}
        return "".join(names.get(i) or chr(i) for i in ids)


TOK = CharTokenizer()
HEAD = "Q: 2+2?\nA: "


def ids(text: str) -> list[int]:
    return TOK.encode(text)


def test_the_model_s_own_tokens_are_kept_where_re_tokenizing_would_merge_them():
    # the model wrote "4." then "\n\n" as two tokens; the text "4.\n\n" re-tokenizes to "4", ".\n\n"
    generated = [ord("4"), ord("."), 1000]
    continues = ids(HEAD) + generated
    assert ids(HEAD + "4.\n\nSo") != continues + ids("So")  # the text route changes the tokens
    assert continued_ids(TOK, HEAD, "4.\n\nSo", continues) == continues + ids("So")


def test_a_stop_string_that_ended_inside_a_token_keeps_all_tokens_but_that_one():
    # "\n\n\n" was generated; the step's text ends at the stop string "\n\n", and the child
    # continues after it: the last token spells more than the prefix, so it is re-tokenized
    continues = ids(HEAD) + [ord("4"), 1002]
    assert continued_ids(TOK, HEAD, "4\n\nThe", continues) == ids(HEAD) + [ord("4")] + ids("\n\nThe")


def test_a_rollout_s_tokens_are_cut_where_an_inner_step_ends():
    rollout = ids(HEAD) + [ord("a"), 1000, ord("b"), 1000, ord("c")]
    assert continued_ids(TOK, HEAD, "a\n\n", rollout) == ids(HEAD) + [ord("a"), 1000]
    assert continued_ids(TOK, HEAD, "a\n\nb\n\n", rollout) == rollout[:-1]
    assert continued_ids(TOK, HEAD, "a\n\nx", rollout) == ids(HEAD) + [ord("a"), 1000, ord("x")]


def test_tokens_from_another_prompt_head_are_not_used():
    assert continued_ids(TOK, "Q: 3+3?\nA: ", "4", ids(HEAD) + [ord("4")]) is None
    assert continued_ids(TOK, HEAD, "", ids(HEAD)) == ids(HEAD)


@pytest.mark.model
def test_bundled_tokenizer_round_trip_of_a_generated_step(bundled_model_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(bundled_model_path)
    head = tokenizer.apply_chat_template([{"role": "user", "content": "2+2?"}], tokenize=False, add_generation_prompt=True)
    # tokens as a model may emit them: " 4" "." "\n\n" (the text route would give " 4", ".\n\n" or similar)
    step = [tokenizer.convert_tokens_to_ids(t) for t in tokenizer.tokenize(" 4")] + tokenizer.encode(".") + tokenizer.encode("\n\n")
    continues = tokenizer.encode(head) + step
    spliced = continued_ids(tokenizer, head, " 4.\n\nNext", continues)
    assert spliced[: len(continues)] == continues
    assert tokenizer.decode(spliced) == head + " 4.\n\nNext"
