"""The sandbox fails closed: without the isolation asked for, nothing runs, and never as root.

Checked on the host, not by trusting the sandbox's report: a file the program would write, a listener
the program would connect to.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from reason.types import Problem
from reason.verifier import unavailable
from reason.verifiers.code import CodeVerifier
from reason.verifiers.sandbox import Sandbox, SandboxLimits, _weak_mode_refused
from reason.verifiers.sandbox_bwrap import unreachable


def _hostile(marker: Path, port: int) -> str:
    return (f"open({str(marker)!r}, 'w').write('escaped')\n"
            f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'escaped')\n"
            "print(42)")


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            received.append(connection.recv(100))
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join()
    server.close()


@pytest.mark.parametrize("layer", ["auto", "bwrap", "namespaces"])
def test_refused_namespaces_mean_no_run(tmp_path, listener, monkeypatch, layer):
    port, received = listener
    monkeypatch.setenv("REASON_SANDBOX_REFUSE_NAMESPACES", "1")  # what a container that filters unshare does
    marker = tmp_path / "escaped.txt"
    tmp_path.chmod(0o777)
    result = Sandbox(SandboxLimits(python_guards=False, layer=layer)).run(_hostile(marker, port))
    assert (result.status, result.unavailable, result.isolation) == ("error", True, "none")
    assert "sandbox:unavailable" in result.detail and "apt-get install bubblewrap" in result.detail
    assert not marker.exists() and received == [] and result.stdout == ""


def test_the_code_verifier_says_unavailable_not_fail(monkeypatch):
    monkeypatch.setenv("REASON_SANDBOX_REFUSE_NAMESPACES", "1")
    verdict = CodeVerifier().verify(Problem(question="q", answer="4"), "```python\nprint(4)\n```\nThe answer is 4.")
    assert verdict.status == "error" and verdict.rule == "sandbox:unavailable" and unavailable(verdict)


@pytest.mark.skipif(os.geteuid() != 0, reason="the weak mode's own-uid rule is about root")
def test_the_weak_mode_never_runs_the_program_as_root(tmp_path, listener):
    port, received = listener
    marker = tmp_path / "escaped.txt"
    limits = SandboxLimits(namespaces=False, python_guards=False)
    result = Sandbox(limits).run("import os\nprint(os.getuid())\n" + _hostile(marker, port))
    if _weak_mode_refused(limits):  # this machine: Python lives under /root, which another uid cannot enter
        assert (result.status, result.unavailable) == ("error", True) and "own uid" in result.detail
        assert result.stdout == "" and not marker.exists() and received == []
    else:
        assert result.isolation == "rlimits+uid" and result.stdout.split()[0] != "0"


def test_unreachable_names_the_first_folder_others_cannot_enter():
    base = Path(tempfile.mkdtemp(dir="/var/tmp"))  # pytest's tmp_path is itself closed to others
    try:
        locked = base / "locked"
        (locked / "inner").mkdir(parents=True)
        base.chmod(0o755)
        locked.chmod(0o700)
        assert unreachable(locked / "inner") == str(locked)
        locked.chmod(0o755)
        assert unreachable(locked / "inner") is None
    finally:
        shutil.rmtree(base)
