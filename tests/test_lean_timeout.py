"""A non-terminating tactic against the real Lean: the check times out and the stuck checker is killed.

Kept in its own module, named to run after the other Lean tests: killing the session's checker
means the next check pays for a fresh start (tens of seconds), which only the slow test does.
"""

from __future__ import annotations

import os

import pytest

from reason.verifiers.lean import LeanVerifier

NEVER_ENDS = "theorem stuck : False := by\n  sleep 100000000\n  trivial"


def test_non_terminating_tactic_times_out_and_the_checker_is_killed(lean_checker):
    pid = lean_checker.pid
    assert pid is not None
    verdict = LeanVerifier(backend="wasm", timeout_s=5).check_source(NEVER_ENDS)
    assert verdict.status == "timeout"
    assert not lean_checker.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the stuck process is gone, not left spinning


@pytest.mark.slow
def test_the_next_check_starts_a_fresh_checker(lean_checker):
    LeanVerifier(backend="wasm", timeout_s=3).check_source(NEVER_ENDS)
    verdict = LeanVerifier(backend="wasm").check_source("theorem back : 1 + 1 = 2 := rfl")
    assert verdict.status == "pass"
    assert lean_checker.running and len(lean_checker.startups) >= 2
