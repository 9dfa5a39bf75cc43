"""Program of thought: scripted programs run in the real sandbox; then the bundled model end to end."""

from __future__ import annotations

import pytest

from reason.api import make_searcher
from reason.bench.datasets import load_dataset
from reason.generator import MeteredGenerator
from reason.searchers.program_of_thought import ProgramOfThought
from reason.testing import FakeGenerator
from reason.types import Problem

EGGS = Problem(question="Janet has 3 boxes of 6 eggs and eats 2. How many are left?", answer="16")


def fenced(code: str) -> str:
    """What the model writes after the opening fence the searcher puts in its turn (the closing fence stops it)."""
    return code + "\n"


def test_the_program_output_is_the_answer():
    gen = FakeGenerator([fenced("boxes = 3\neggs = boxes * 6 - 2\nprint(eggs)")])
    result = ProgramOfThought().search(EGGS, gen)
    assert result.answer == "16"
    [run] = result.trace["runs"]
    assert run["status"] == "pass" and run["stdout"] == "16\n"
    assert "boxes * 6" in run["program"]
    assert gen.calls[0].prompts[0].endswith("assistant: ```python\n")  # the model's turn opens a program
    assert gen.calls[0].params.stop == ("```",)
    assert result.samples[0].text == "```python\nboxes = 3\neggs = boxes * 6 - 2\nprint(eggs)\n```"


def test_printed_sentence_is_read_with_the_task_rules():
    gen = FakeGenerator([fenced("print('The answer is', 7 * 3)")])
    assert ProgramOfThought().search(Problem(question="7 threes?"), gen).answer == "21"


@pytest.mark.parametrize(
    "text, status",
    [
        (fenced("print(1 / 0)"), "fail"),
        (fenced("while True:\n    pass"), "timeout"),
        ("I think the answer is 12.", "fail"),
        ("   ", "no-program"),
        (fenced("import socket\nsocket.create_connection(('127.0.0.1', 80))"), "fail"),  # refused by the sandbox: the program failed
    ],
)
def test_a_failing_program_gives_no_answer(text, status):
    searcher = ProgramOfThought(limits={"wall_s": 3, "cpu_s": 1})
    result = searcher.search(EGGS, FakeGenerator([text]))
    assert result.answer is None
    assert result.trace["runs"][0]["status"] == status


def test_several_programs_are_voted():
    programs = [fenced("print(16)"), fenced("print(15)"), fenced("print(8 * 2)")]
    result = ProgramOfThought(n=3, temperature=0.7).search(EGGS, FakeGenerator(programs))
    assert result.answer == "16"
    assert [(c.answer, c.votes) for c in result.candidates] == [("16", 2), ("15", 1)]
    assert len(result.trace["runs"]) == 3


def test_registered_as_a_searcher():
    searcher = make_searcher("program-of-thought", n=2, temperature=0.5)
    assert isinstance(searcher, ProgramOfThought) and searcher.n == 2


@pytest.mark.model
def test_program_of_thought_on_the_bundled_model(vllm_generator):
    """Real model, real sandbox, three GSM8K problems: assert the wiring, not the accuracy."""
    problems = load_dataset("gsm8k").problems[:3]
    metered = MeteredGenerator(vllm_generator)
    searcher = ProgramOfThought(max_tokens=96, seed=0)
    executed = 0
    for problem in problems:
        result = searcher.search(problem, metered)
        [sample] = result.samples
        [run] = result.trace["runs"]
        assert sample.generated_tokens > 0
        assert result.compute.generated_tokens == sample.generated_tokens
        if run["program"] is None:
            assert run["status"] == "no-program" and sample.answer is None
            continue
        assert run["program"] in sample.text  # the code came from the model's own text
        assert run["status"] in ("pass", "fail", "error", "timeout")
        executed += 1
        assert sample.answer == run["answer"]  # the recorded answer is the sandbox's, not the text's
        if run["status"] != "pass":
            assert sample.answer is None
    assert metered.calls == len(problems)
    assert executed >= 1  # the opened fence makes even this small model write code, which the sandbox ran
