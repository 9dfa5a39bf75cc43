"""The grader never hangs: hostile inputs and the hard time limit, from the main thread,
from other threads and from inside a daemonic multiprocessing worker (no signals involved).

These start real worker processes and run real SymPy, so each timeout costs a couple of seconds.
"""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from reason.verifiers.grader import Grader, GraderConfig, shared_pool
from reason.verifiers.timelimit import WorkerFailed, WorkerPool, WorkerTimeout

LIMIT_S = 2.0
SLACK_S = 1.5
"""Room for process scheduling on a loaded machine; the limit itself is enforced by a deadline."""


@pytest.fixture(scope="module")
def pool():
    pool = WorkerPool(preload=("reason.verifiers.symbolic",))
    yield pool
    pool.close()


@pytest.fixture()
def grader(pool) -> Grader:
    grader = Grader(GraderConfig(time_limit_s=LIMIT_S), pool=pool)
    grader.warm(wait=True)  # worker start-up is bounded separately; the limit is for the grading
    return grader


HOSTILE = [
    pytest.param("{" * 5000 + "1" + "}" * 5000, "1", {"fail"}, id="10k-nested-braces"),
    pytest.param("\\frac{1}{" * 150 + "2" + "}" * 150, "1", {"fail"}, id="150-nested-fracs"),
    pytest.param("(" * 900 + "1" + ")" * 900, "1", {"fail"}, id="900-nested-parens"),
    pytest.param("-" * 1900 + "1", "1", {"fail"}, id="1900-signs"),
    pytest.param("1+" * 50_000 + "1", "50001", {"pass", "timeout"}, id="100k-char-sum"),  # ~1 s of parsing: load decides
    pytest.param("x" * 100_000, "1", {"fail"}, id="100k-char-word"),
    pytest.param("1" + "\\pm 1" * 300, "1", {"fail"}, id="300-pm-signs"),
    pytest.param("10^{10^{10}}", "10^{10^{10}}", {"pass"}, id="10^10^10-itself"),
    pytest.param("((10!)!)!", "1", {"timeout", "error"}, id="factorial-tower"),
    pytest.param("e^{e^{e^{e^{10}}}}", "1", {"timeout", "error"}, id="exp-tower"),
    pytest.param("\\frac{1}{2", "0.5", {"fail"}, id="unclosed-frac"),
    pytest.param("}{", "1", {"fail"}, id="reversed-braces"),
    pytest.param("\\sqrt{", "2", {"fail"}, id="open-sqrt"),
    pytest.param("((1,2)", "(1,2)", {"fail"}, id="unbalanced-parens"),
    pytest.param("\\begin{pmatrix} 1 & 2", "1", {"fail"}, id="unclosed-matrix"),
    pytest.param("\\boxed{", "1", {"fail"}, id="open-boxed"),
]


@pytest.mark.parametrize(("prediction", "reference", "statuses"), HOSTILE)
def test_hostile_input_gets_a_verdict_within_the_time_limit(grader, prediction, reference, statuses):
    started = time.perf_counter()
    verdict = grader.grade(prediction, reference)
    elapsed = time.perf_counter() - started
    assert verdict.status in statuses, verdict
    assert elapsed < LIMIT_S + SLACK_S, f"{elapsed:.2f}s"


def test_a_100k_character_answer_is_graded_not_refused(pool):
    roomy = Grader(GraderConfig(time_limit_s=60), pool=pool)
    assert roomy.grade("1+" * 50_000 + "1", "50001").passed
    assert roomy.grade("1+" * 50_000 + "1", "50000").status == "fail"


def test_10_to_the_10_to_the_10_times_out_as_a_verdict_without_signals_and_is_not_cached(grader):
    alarm_handler = signal.getsignal(signal.SIGALRM)
    for _ in range(2):  # the second time too: a timeout is not remembered as an answer
        started = time.perf_counter()
        verdict = grader.grade("10^{10^{10}}", "2")
        assert verdict.status == "timeout" and verdict.rule == "time-limit", verdict
        assert "longer than 2s" in verdict.detail
        assert LIMIT_S * 0.9 < time.perf_counter() - started < LIMIT_S + SLACK_S
        grader.warm(wait=True)  # the killed worker's successor is already starting
    assert signal.getsignal(signal.SIGALRM) is alarm_handler and signal.alarm(0) == 0
    after = grader.grade("2^{2^{20}}", "4^{2^{19}}")  # too big for floats: decided by SymPy in the new worker
    assert after.passed and after.rule == "sympy"


def test_the_time_limit_holds_in_threads(grader):
    jobs = [("10^{10^{10}}", "4"), ("0.5", "\\frac12"), ("(x+1)^2", "x^2+2x+1"), ("2^{2^{20}}", "4^{2^{19}}"), ("3", "4")]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(jobs)) as threads:
        verdicts = list(threads.map(lambda job: grader.grade(*job), jobs))
    elapsed = time.perf_counter() - started
    assert [v.status for v in verdicts][1:3] == ["pass", "pass"]
    assert verdicts[0].status == "timeout"
    assert verdicts[3].status in ("pass", "timeout")  # shares the one worker with the hostile grading
    assert verdicts[4].status == "fail"
    # one worker: the SymPy gradings queue, and each one's wait counts against its own limit
    assert elapsed < 2 * LIMIT_S + 10, f"{elapsed:.2f}s"


def _grade_in_child(pairs: list[tuple[str, str]]) -> tuple[bool, list[tuple[str, float]]]:
    """Runs inside a daemonic multiprocessing worker, which may not start multiprocessing children."""
    grader = Grader(GraderConfig(time_limit_s=LIMIT_S))
    results = []
    try:
        for prediction, reference in pairs:
            grader.warm(wait=True)
            started = time.perf_counter()
            verdict = grader.grade(prediction, reference)
            results.append((verdict.status, time.perf_counter() - started))
        return multiprocessing.current_process().daemon, results
    finally:
        shared_pool().close()  # the child's own pool (a fork does not share its parent's)


def test_the_time_limit_holds_inside_a_daemonic_worker_process():
    with multiprocessing.get_context("fork").Pool(1) as processes:
        daemonic, results = processes.apply(_grade_in_child, ([("10^{10^{10}}", "5"), ("2^{2^{20}}", "4^{2^{19}}")],))
    (hostile, elapsed), (normal, _) = results
    assert daemonic and hostile == "timeout" and elapsed < LIMIT_S + SLACK_S
    assert normal == "pass"


def test_worker_pool_reports_errors_and_recovers():
    pool = WorkerPool()  # no preload: a bare worker restarts quickly
    pool.start(wait=True)
    assert pool.call("math:factorial", 5, timeout_s=5) == 120
    with pytest.raises(WorkerFailed, match="ValueError"):
        pool.call("math:factorial", -1, timeout_s=5)
    with pytest.raises(WorkerTimeout, match="longer than 0.3s"):
        pool.call("time:sleep", 5, timeout_s=0.3)
    assert pool.call("math:factorial", 6, timeout_s=30) == 720
    pool.close()


def test_a_closed_pool_refuses_calls():
    closed = WorkerPool()
    closed.close()
    with pytest.raises(WorkerFailed, match="closed"):
        closed.call("math:factorial", 3, timeout_s=5)


ORPHAN = textwrap.dedent(
    """
    import sys, threading
    from reason.verifiers.timelimit import WorkerPool
    pool = WorkerPool(size=1)
    pool.start(wait=True)
    print(pool._idle[0].process.pid, flush=True)
    # a computation in C that holds the GIL: a thread in the worker could not watch for us
    pool.call("math:factorial", 10**9, timeout_s=600)
    """
)


def test_a_grading_worker_dies_with_its_killed_parent(tmp_path):
    """SIGKILL the process that owns a worker while the worker computes in C: the worker must not live on."""
    parent = subprocess.Popen([sys.executable, "-c", ORPHAN], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    time.sleep(1.0)  # the worker is inside factorial now
    assert _alive(worker)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker), "the grading worker outlived its parent"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
