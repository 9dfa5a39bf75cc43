"""The lean-prover searcher: scripted model outputs, checked by the session's real Lean checker."""

from __future__ import annotations

import pytest

from reason.api import make_searcher
from reason.searchers.lean_prover import LeanProver
from reason.testing import FakeGenerator
from reason.types import Problem

STATEMENT = Problem(question="theorem add_comm' (a b : Nat) : a + b = b + a := by sorry", task="lean")
WASM = {"backend": "wasm", "timeout_s": 60}


def fenced(code: str) -> str:
    return f"Here is the proof.\n```lean\n{code}\n```"


def test_first_correct_proof_is_accepted(lean_checker):
    gen = FakeGenerator([fenced("theorem add_comm' (a b : Nat) : a + b = b + a := by\n  omega")])
    result = LeanProver(lean=WASM).search(STATEMENT, gen)
    assert result.answer is not None and "omega" in result.answer
    assert result.answer.startswith("theorem add_comm' (a b : Nat) : a + b = b + a")
    assert [a["verdict"]["status"] for a in result.trace["attempts"]] == ["pass"]
    assert len(gen.calls) == 1
    assert "Lean 4" in gen.calls[0].prompts[0]


def test_lean_error_is_fed_back_and_the_retry_succeeds(lean_checker):
    gen = FakeGenerator([fenced("theorem add_comm' (a b : Nat) : a + b = b + a := by\n  decide"), "by omega"])
    result = LeanProver(lean=WASM).search(STATEMENT, gen)
    first, second = result.trace["attempts"]
    assert first["verdict"]["status"] == "fail"
    assert second["verdict"]["status"] == "pass"
    retry_prompt = gen.calls[1].prompts[0]
    assert "Lean rejected this proof" in retry_prompt
    assert first["verdict"]["detail"].splitlines()[0] in retry_prompt  # Lean's own message went back
    assert "decide" in retry_prompt  # and so did the failed attempt
    assert result.answer is not None and result.samples[1].score == 1.0 and result.samples[0].score == 0.0


def test_sorry_and_native_decide_are_never_accepted(lean_checker):
    gen = FakeGenerator(["by sorry", "by native_decide", fenced("theorem add_comm' (a b : Nat) : a + b = b + a := Nat.add_comm a b")])
    result = LeanProver(lean=WASM, max_attempts=3).search(STATEMENT, gen)
    statuses = [a["verdict"]["status"] for a in result.trace["attempts"]]
    assert statuses == ["fail", "fail", "pass"]
    assert "sorry" in result.trace["attempts"][0]["verdict"]["detail"]
    assert "native_decide" in result.trace["attempts"][1]["verdict"]["detail"]
    assert "Nat.add_comm" in result.answer


def test_gives_up_after_max_attempts_without_an_answer(lean_checker):
    gen = FakeGenerator(["by rfl"], cycle=True)
    result = LeanProver(lean=WASM, max_attempts=2).search(STATEMENT, gen)
    assert result.answer is None and result.candidates == ()
    assert len(result.trace["attempts"]) == 2 and len(gen.calls) == 2
    assert result.compute.model_calls == 2


def test_without_lean_the_search_stops_at_once(monkeypatch):
    monkeypatch.setattr("reason.verifiers.lean_backend.installed", lambda: None)
    monkeypatch.setattr("reason.verifiers.lean_backend.shutil.which", lambda name: None)
    monkeypatch.setattr("reason.verifiers.lean_backend._backends", {})
    gen = FakeGenerator(["by omega"], cycle=True)
    result = LeanProver(lean={"backend": "auto"}).search(STATEMENT, gen)
    [attempt] = result.trace["attempts"]
    assert attempt["verdict"]["rule"] == "lean:unavailable"
    assert "reason lean install" in attempt["verdict"]["detail"]
    assert len(gen.calls) == 1


@pytest.mark.parametrize("params", [{"max_attempts": 2}, {"temperature": 0.5, "seed": 1}])
def test_registered_as_a_searcher(params):
    assert isinstance(make_searcher("lean-prover", **params), LeanProver)
