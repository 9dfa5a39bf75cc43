"""Answer extraction: each rule on the phrasings models actually produce, and rule order per task style."""

from __future__ import annotations

import pytest

from reason.errors import ConfigError
from reason.extract import RULES, extract_answer, last_boxed
from reason.tasks import task_style


@pytest.mark.parametrize(
    ("rule", "text", "expected"),
    [
        ("boxed", "so \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}"),
        ("boxed", "\\boxed{1} then \\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
        ("boxed", "nested \\boxed{\\frac{\\sqrt{3}}{2}} end", "\\frac{\\sqrt{3}}{2}"),
        ("boxed", "thus \\boxed 5.", "5"),
        ("boxed", "\\fbox{7}", "7"),
        ("boxed", "\\boxed{unbalanced", None),
        ("boxed", "\\boxed{a} and then \\boxed{b", "a"),  # a torn last box falls back to the one before
        ("boxed", "\\boxedx", None),
        ("hashes", "work\n#### 1,234", "1,234"),
        ("hashes", "#### 5\nmore\n#### 6.", "6"),
        ("answer_is", "So the answer is $\\frac{1}{2}$. Done.", "\\frac{1}{2}"),
        ("answer_is", "The answer is 3.5.", "3.5"),
        ("answer_is", "The final answer is 1, 2, 3.", "1, 2, 3"),
        ("answer_is", "**Answer:** 18", "18"),
        ("answer_is", "The answer is \\boxed{42}.", "42"),
        ("answer_is", "The answer is:\n$$\\frac{3}{4}$$", "\\frac{3}{4}"),
        ("answer_is", "Final Answer: The final answer is $8$. I hope it is correct.", "8"),
        ("answer_is", "The answer is $\\{1, 2\\}$. Then the answer is 5.", "5"),
        ("answer_is", "no phrase here", None),
        ("final_answer", "The answer is 4. Final answer: 5", "5"),
        ("final_answer", "The answer is 4.", None),
        ("choice", "so the answer is B.", "(B)"),
        ("choice", "I pick (C) because (D) is wrong... (C)", "(C)"),
        ("choice", "The answer is \\text{(D)}", "(D)"),
        ("choice", "The answer is 42", None),
        ("last_number", "3 apples, then 12.", "12"),
        ("last_number", "it costs $1,234.50, total", "$1,234.50"),
        ("last_number", "down to -7 degrees", "-7"),
        ("last_number", "no digits", None),
    ],
)
def test_rule(rule, text, expected):
    assert RULES[rule](text) == expected


def test_the_answer_marked_last_wins_whichever_rule_marks_it():
    text = "#### 5\nThe answer is 6. \\boxed{7}"
    assert extract_answer(text, ["hashes", "boxed"]) == "7" == extract_answer(text, ["boxed", "hashes"])
    assert extract_answer(text, ["hashes", "answer_is"]) == "6"
    assert extract_answer("\\boxed{4} is wrong, the answer is 7.", ["boxed", "answer_is"]) == "7"
    assert extract_answer("So \\boxed{255}. The final answer is $10,455$.", ["boxed", "final_answer"]) == "10,455"
    assert extract_answer("The answer is \\boxed{12}.", ["boxed", "answer_is"]) == "12"
    assert extract_answer("nothing here", ["boxed", "answer_is"]) is None


def test_fallbacks_apply_only_when_no_marker_finds_an_answer():
    assert extract_answer("3 apples, then 12 more: 15", ["answer_is", "last_number"]) == "15"
    assert extract_answer("The answer is 4. It came from 3 + 1", ["answer_is", "last_number"]) == "4"


def test_unknown_rule_is_a_config_error_that_lists_the_rules():
    with pytest.raises(ConfigError, match="final_answer"):
        extract_answer("x", ["telepathy"])


def test_task_styles_choose_their_rules():
    text = "I think 12 is close. The answer is $\\frac{1}{2}$."
    assert task_style("math").extract(text) == "\\frac{1}{2}"
    assert task_style("gsm8k").extract("Half of 24 is 12 apples") == "12"  # last-number fallback only for GSM8K
    assert task_style("math").extract("Half of 24 is 12 apples") == "12"  # MATH's last expression: math or a number
    assert task_style("math").extract("Half of $24$ is $x$ apples") == "x"


def test_extraction_is_linear_on_hostile_text():
    import time

    hostile = "answer: " + " " * 50_000 + "**" * 10_000 + "\\boxed{" * 5_000
    started = time.perf_counter()
    for rule in RULES.values():
        rule(hostile)
    assert time.perf_counter() - started < 1.0


def test_boxes_side_by_side_are_one_list_and_separated_ones_are_not():
    assert extract_answer("\\boxed{1}, \\boxed{2}", ["boxed"]) == "1, 2"
    assert extract_answer("$\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}$", ["boxed"]) == "(2, 2), (6, 2)"
    assert extract_answer("First \\boxed{4}. Then we see the answer is \\boxed{7}", ["boxed"]) == "7"


def test_last_math_is_the_fallback_for_unmarked_math_text():
    assert extract_answer("Therefore $x \\geq 5$ is the solution.", ["boxed", "answer_is", "last_math"]) == "x \\geq 5"
    assert extract_answer("Answer \\[ 9 \\]", ["boxed", "answer_is", "last_math"]) == "9"
    assert extract_answer("We get $3$, so the answer is $4$.", ["boxed", "answer_is", "last_math"]) == "4"
    assert extract_answer("no math here", ["last_math"]) is None


def test_math_segments_joined_by_and_are_one_list():
    assert extract_answer("$1$ and $2$ and $3$", ["last_math"]) == "1, 2, 3"
    assert extract_answer("We find $x = 2$. Then $y = 3$.", ["last_math"]) == "y = 3"


@pytest.mark.parametrize(("text", "expected"), [
    ("the number is not 10 which is 1,000.99€", "1,000.99"),  # a unit dropped, thousands kept
    ("so $d = \\frac{90}{n}$. There are 12 sequences. I hope it is correct.", "12"),  # prose after the last math
    ("Then P(A) = (1/2) / (3/4), so the probability is 2/3. <|im_start|>user", "2/3"),
    ("the error increases by 100%.", "100%"),
    ("We get $x = 3$ and then nothing numeric.", "x = 3"),
    ("Soit 2,74 au total", "2,74"),  # a decimal comma stays one number
])
def test_math_fallback_is_the_last_math_or_prose_number(text, expected):
    assert extract_answer(text, ["boxed", "answer_is", "last_math"]) == expected


def test_a_marked_answer_that_is_a_sentence_gives_the_number_in_it():
    text = "So $s = 3$ and $t = 8$. Final Answer: Jane started growing Sphere 3 hours ago. I hope it is correct."
    assert extract_answer(text, ["boxed", "answer_is", "last_math"]) == "3"
    assert extract_answer("Our answer is given by the equation:\n$x = 2$", ["answer_is"]) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("\\boxed{1} papers and \\boxed{2} bins", "1, 2"),
    ("$$\\boxed{(3, 3)} \\text{ for part (a) and } \\boxed{(1, 1)}$$", "(3, 3), (1, 1)"),
    ("\\boxed{35} ++++ \\boxed{4}", "35, 4"),
    ("\\boxed{5} is wrong, so \\boxed{7}", "7"),  # a verdict on the first box: not a list
    ("\\boxed{1} no no no \\boxed{2}", "2"),  # words that join nothing
    ("$\\boxed{15\\frac{39}{40}},$ or $\\boxed{\\frac{639}{40}}$ inches.", "\\frac{639}{40}"),  # the same answer twice
    ("x = \\boxed{2}. Therefore the answer is \\boxed{4}", "4"),  # a sentence ends between them
    ("between $\\boxed{12 $ and $13 }$", "12 and 13"),  # stray delimiters inside a box
])
def test_boxes_joined_by_a_short_label_are_one_list_and_others_are_not(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Answer $ 9 $", "9"),  # a one-liner with math is read by the rules
    ("1 000", "1 000"),  # a bare one-liner is itself
    ("12 apples", "12 apples"),
    ("Soucis : 2,74 $ a..", "2,74"),  # a label first: prose
    ("the number is 10 which is 1,000.99m²", "1,000.99"),
    ("\\frac{10}{9}", "\\frac{10}{9}"),
])
def test_stated_reads_prose_one_liners_and_keeps_bare_answers(text, expected):
    assert task_style("math").stated(text) == expected
