"""Lean admits only the standard axioms, decided by Lean's own environment, not by the source text.

Every trust escape is tried with the statement given (the candidate only proves it) and without
one (the candidate's own file), with the text filter on and off (off: the environment alone must
refuse it), and through the cascade's Lean tier. Honest proofs, classical ones included, pass.
The WebAssembly checker of the session (tests/conftest.py) answers all of them.
"""

from __future__ import annotations

import pytest

from reason.types import Problem
from reason.verifiers.cascade import CascadeVerifier
from reason.verifiers.lean import LeanVerifier, axiom_verdict, named_theorems
from reason.verifiers.lean_backend import LeanMessage, LeanRun, printed_axioms

STATEMENT = Problem(question="theorem t : (1 : Nat) = 2 := by sorry", task="lean")
FREE = Problem(question="Prove something.", task="lean")

ESCAPES = {
    "user axiom": "axiom cheat : False\ntheorem t : (1 : Nat) = 2 := cheat.elim",
    "axiom in a namespace": "namespace N\naxiom cheat : False\nend N\ntheorem t : (1 : Nat) = 2 := N.cheat.elim",
    "sorryAx by name": "theorem t : (1 : Nat) = 2 := sorryAx _ false",
    "ofReduceBool": "theorem t : (1 : Nat) = 2 := by\n  have h : False := by native_decide\n  exact h.elim",
    "implemented_by": (
        "def f (n : Nat) : Bool := false\n@[implemented_by f] def g (n : Nat) : Bool := true\n"
        "theorem t : (1 : Nat) = 2 := by\n  have : g 0 = false := by native_decide\n  simp [g] at this"
    ),
    "unsafe cast": (
        "unsafe def bad : (1 : Nat) = 2 := unsafeCast ()\n"
        "@[implemented_by bad] opaque bad' : (1 : Nat) = 2\ntheorem t : (1 : Nat) = 2 := bad'"
    ),
    "an example": "axiom cheat : False\nexample : (1 : Nat) = 2 := cheat.elim",
    "extern": '@[extern "reason_true"] def g (n : Nat) : Bool := false\ntheorem t : g 0 = true := by native_decide',
}


@pytest.fixture
def lean(lean_checker) -> LeanVerifier:
    return LeanVerifier(backend="wasm", timeout_s=60)


@pytest.mark.parametrize("escape", list(ESCAPES))
@pytest.mark.parametrize("text_filter", [True, False])
def test_no_trust_escape_passes_without_a_statement(lean, escape, text_filter):
    verdict = lean.check_source(ESCAPES[escape], text_filter=text_filter)
    assert verdict.status != "pass", verdict.detail


@pytest.mark.parametrize(("source", "axiom"), [
    (ESCAPES["user axiom"], "cheat"),
    (ESCAPES["axiom in a namespace"], "N.cheat"),
    ("theorem t : 1000 < 1000000 := by native_decide", "Lean.ofReduceBool"),  # true, but the compiler's word
    ("theorem t (n : Nat) : n = n := sorryAx _ false", "sorryAx"),
])
def test_the_environment_alone_names_the_axiom(lean, source, axiom):
    verdict = lean.check_source(source, text_filter=False)
    assert verdict.status == "fail" and (axiom in verdict.detail or "sorry" in verdict.detail), verdict.detail


@pytest.mark.parametrize("proof", [
    ":= cheat.elim",  # a constant the statement's file never declared
    ":= sorryAx _ false",
    ":= by\n  have h : False := by native_decide\n  exact h.elim",
])
def test_no_trust_escape_passes_a_given_statement(lean, proof):
    assert lean.verify(STATEMENT, proof).status != "pass"


@pytest.mark.parametrize("escape", list(ESCAPES))
def test_no_escape_written_as_the_candidate_passes_a_given_statement(lean, escape):
    assert lean.verify(STATEMENT, ESCAPES[escape]).status != "pass"


def test_the_lean_prover_never_returns_an_escape_as_proved(lean_checker):
    from reason.searchers.lean_prover import LeanProver
    from reason.testing import FakeGenerator

    fenced = [f"```lean\n{source}\n```" for source in ESCAPES.values()]
    result = LeanProver(lean={"backend": "wasm"}, max_attempts=len(fenced)).search(FREE, FakeGenerator(fenced))
    assert result.answer is None and all(a["verdict"]["status"] != "pass" for a in result.trace["attempts"])


def test_a_proof_that_smuggles_an_axiom_after_the_statement_fails(lean):
    candidate = "theorem t : (1 : Nat) = 2 := by\n  exact absurd rfl (by decide : (1 : Nat) ≠ 2) |>.elim\naxiom later : False"
    assert lean.verify(STATEMENT, candidate).status != "pass"


def test_native_decide_passes_only_when_allowed_and_then_by_the_environment(lean_checker):
    source = "theorem big : 1000 < 1000000 := by native_decide"
    assert LeanVerifier(backend="wasm").check_source(source, text_filter=False).rule == "lean:axioms"
    allowed = LeanVerifier(backend="wasm", allow_native_decide=True).check_source(source)
    assert allowed.status == "pass", allowed.detail


@pytest.mark.parametrize("source", [
    "theorem a (p : Prop) : p ∨ ¬p := Classical.em p",  # classical: propext, choice, Quot.sound
    "theorem b (f g : Nat → Nat) (h : ∀ x, f x = g x) : f = g := funext h",
    "theorem c : 2 + 2 = 4 := by decide",
    "namespace Deep.Space\ntheorem d (n : Nat) : n + 0 = n := by simp\nend Deep.Space",
    "example (a b : Nat) : a + b = b + a := by omega",
])
def test_honest_proofs_pass(lean, source):
    verdict = lean.check_source(source, text_filter=False)
    assert verdict.status == "pass", verdict.detail


def test_the_cascades_lean_tier_refuses_them_too(lean_checker):
    cascade = CascadeVerifier(tiers=("lean",))
    for escape in ("user axiom", "sorryAx by name", "ofReduceBool"):
        assert cascade.verify(FREE, ESCAPES[escape]).status != "pass"
    assert cascade.verify(STATEMENT.model_copy(update={"question": "theorem t : (2 : Nat) = 2 := by sorry"}),
                          "rfl").status == "pass"


def test_examples_are_named_and_namespaces_followed():
    source, names = named_theorems("namespace A.B\ntheorem t : True := trivial\nend A.B\nexample : 1 = 1 := rfl\n"
                                   "@[simp] theorem _root_.u : True := trivial\nexample : True := trivial")
    assert names == ["A.B.t", "reason_example_1", "u", "reason_example_2"]
    assert "theorem reason_example_1 : 1 = 1" in source and "\nexample" not in source


def test_the_axiom_rule_for_a_backend_that_sees_imported_proofs():
    """Native Lean (none here to run) imports proofs in full: anything listed beyond the three fails."""
    messages = (LeanMessage("info", 9, 0, "'t' depends on axioms: [propext, Classical.choice]"),
                LeanMessage("info", 10, 0, "'u' depends on axioms: [Nat.add_comm]"),
                LeanMessage("info", 11, 0, "'v'' does not depend on any axioms"))
    axioms = printed_axioms(messages)
    assert axioms == {"t": ("propext", "Classical.choice"), "u": ("Nat.add_comm",), "v'": ()}
    run = LeanRun("done", 0, messages, axioms=axioms)
    assert axiom_verdict(run, ["t", "v'"], allow_native=False) is None
    assert axiom_verdict(run, ["u"], allow_native=False).status == "fail"  # no hidden proofs there
    assert axiom_verdict(run, ["w"], allow_native=False).status == "fail"  # not reported: closed
    hidden = LeanRun("done", 0, messages, axioms=axioms, declared_here=frozenset())
    assert axiom_verdict(hidden, ["u"], allow_native=False) is None  # an imported theorem, hidden by the module import
