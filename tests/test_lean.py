"""The Lean verifier against a real Lean: the WebAssembly checker, started once for the whole session.

The session fixture `lean_checker` (tests/conftest.py) installs Lean with the project's own
installer when it is absent, then starts the one checker process every test here shares. The
wall-clock timeout of a non-terminating tactic (which kills that process) is in
tests/test_lean_timeout.py, which runs after the other Lean tests.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from reason.registry import registry
from reason.types import Problem
from reason.verifiers.lean import LeanVerifier, formal_statement, lean_code, lean_source
from reason.verifiers.lean_backend import LeanRun, parse_messages
from reason.verifiers.lean_cli import lean_app

COMM = Problem(question="theorem add_comm' (a b : Nat) : a + b = b + a := by sorry", task="lean")


@pytest.fixture
def lean(lean_checker) -> LeanVerifier:
    return LeanVerifier(backend="wasm", timeout_s=60)


def test_true_statement_with_a_correct_proof_passes(lean, lean_checker):
    pid = lean_checker.pid
    verdict = lean.check_source("theorem two_add_two : 2 + 2 = 4 := by decide\ntheorem zero_add' (n : Nat) : 0 + n = n := by simp")
    assert verdict.status == "pass", verdict.detail
    assert lean_checker.pid == pid  # the session's one checker answered, no new process


def test_false_statement_fails_with_leans_message(lean):
    verdict = lean.check_source("theorem bad : 2 + 2 = 5 := by decide")
    assert verdict.status == "fail"
    assert "decide" in verdict.detail and "2 + 2 = 5" in verdict.detail and "false" in verdict.detail
    assert verdict.detail.startswith("1:")  # positions refer to the checked text, not to our prefix


def test_sorry_fails_although_lean_only_warns(lean):
    verdict = lean.check_source("theorem lazy (n : Nat) : n + 0 = n := by sorry")
    assert (verdict.status, verdict.detail) == ("fail", "the proof uses sorry")


def test_type_error_fails(lean):
    verdict = lean.check_source('def seven : Nat := "seven"')
    assert verdict.status == "fail" and "mismatch" in verdict.detail.lower()


def test_native_decide_is_refused_unless_allowed(lean_checker):
    source = "theorem big : 1000 < 1000000 := by native_decide"
    refused = LeanVerifier(backend="wasm").check_source(source)
    assert refused.status == "fail" and "native_decide" in refused.detail
    allowed = LeanVerifier(backend="wasm", allow_native_decide=True).check_source(source)
    assert "native_decide is not allowed" not in allowed.detail  # Lean itself was asked


def test_running_out_of_heartbeats_is_a_timeout(lean_checker):
    source = "theorem busy (a b c : Nat) (h : a < b) (h2 : b < c) : a + 2 ≤ c := by omega"
    assert LeanVerifier(backend="wasm").check_source(source).status == "pass"
    starved = LeanVerifier(backend="wasm", heartbeats=1).check_source(source)
    assert starved.status == "timeout"
    assert "heartbeats" in starved.detail


def test_requests_do_not_see_each_other(lean):
    assert lean.check_source("def reasonShared : Nat := 1").status == "pass"
    verdict = lean.check_source("theorem uses : reasonShared = 1 := rfl")
    assert verdict.status == "fail" and "reasonShared" in verdict.detail


def test_proof_completes_the_problems_statement(lean):
    assert lean.verify(COMM, "by omega").status == "pass"
    assert lean.verify(COMM, "omega").status == "pass"  # bare tactics
    restated = "Here it is:\n```lean\ntheorem add_comm' (a b : Nat) : a + b = b + a := by\n  omega\n```"
    assert lean.verify(COMM, restated).status == "pass"
    wrong = lean.verify(COMM, "by decide")
    assert wrong.status == "fail" and wrong.detail


def test_a_different_theorem_does_not_count(lean):
    verdict = lean.verify(COMM, "```lean\ntheorem easy : True := trivial\n```")
    assert (verdict.status, verdict.detail) == ("fail", "the candidate proves a different theorem")


def test_no_lean_at_all_is_an_error(lean):
    verdict = lean.verify(Problem(question="What is 2 + 2?"), "The answer is 4.")
    assert verdict.status == "error"


def test_checks_are_fast_once_loaded(lean, lean_checker):
    for _ in range(3):
        run = lean_checker.check("theorem quick (a b : Nat) : a + b = b + a := by omega", timeout_s=60)
        assert isinstance(run, LeanRun) and run.status == "done" and run.exit_code == 0
    assert run.ms < 5000  # tens to hundreds of ms on an idle machine; generous for a busy one


def test_cli_status_and_check(lean_checker, tmp_path):
    runner = CliRunner()
    status = runner.invoke(lean_app, ["status"])
    assert status.exit_code == 0 and "WebAssembly Lean" in status.output
    good, bad = tmp_path / "good.lean", tmp_path / "bad.lean"
    good.write_text("theorem g : 3 * 4 = 12 := by decide\n")
    bad.write_text("theorem b : 3 * 4 = 13 := by decide\n")
    assert runner.invoke(lean_app, ["check", str(good)]).exit_code == 0
    failed = runner.invoke(lean_app, ["check", str(bad)])
    assert failed.exit_code == 1 and "fail" in failed.output


def test_cli_install_is_idempotent(lean_checker):
    result = CliRunner().invoke(lean_app, ["install"])
    assert result.exit_code == 0 and "already installed" in result.output


def test_registered_as_lean():
    assert registry.get("verifier", "lean") is LeanVerifier


# -- no Lean needed --------------------------------------------------------------------------


def test_messages_are_parsed_with_continuation_lines():
    output = "f.lean:3:29: error: Tactic `decide` proved that the proposition\n  2 + 2 = 5\nis false\nf.lean:4:8: warning: declaration uses `sorry`"
    first, second = parse_messages(output)
    assert (first.severity, first.line, first.column) == ("error", 3, 29)
    assert first.text.endswith("is false")
    assert (second.severity, second.text) == ("warning", "declaration uses `sorry`")


def test_statement_and_code_extraction():
    assert formal_statement(COMM) == "theorem add_comm' (a b : Nat) : a + b = b + a"
    assert lean_code("Proof:\n```lean4\nexample : True := trivial\n```") == "example : True := trivial"
    assert lean_code("The answer is 4.") is None
    assert lean_source(COMM, "by simp [Nat.add_comm]") == "theorem add_comm' (a b : Nat) : a + b = b + a := by simp [Nat.add_comm]\n"
