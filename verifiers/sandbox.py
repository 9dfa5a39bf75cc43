"""Run untrusted Python (model-written programs) in an isolated, resource-limited child process.

`Sandbox(limits).run(code)` returns a `SandboxResult` — pass (exit 0), fail (the program exited
non-zero or was killed, on its own), timeout (wall or CPU time), error (the host saw another limit
hit, or the program never started) — with stdout, stderr and the limit that was hit. It never
raises into the caller and never leaves a process behind.

Isolation, strongest available first (the launcher, `verifiers/sandbox_child.py`, applies it):
1. bubblewrap (`sandbox_bwrap.py`): a minimal root of its own, new user/PID/network/IPC/UTS
   namespaces, no nested user namespaces, as a leased uid of its own when we are root;
2. where bwrap is absent or refused, the launcher's own namespaces: the same kind of minimal root
   (built on a tmpfs and pivoted into), a fresh /proc, no network, an own uid as root.
Both add the seccomp filter (`sandbox_seccomp.py`: no sockets, mounts, namespaces, kernel keys,
ptrace, bpf, memfd, io_uring ...), rlimits (CPU, address space, processes, file size, open files),
a cgroup capping memory and processes where root can make one (`sandbox_cgroup.py`), a scrubbed
environment, stdin from /dev/null, and the audit-hook guards of `sandbox_boot.py`
(defence in depth, not a boundary). It fails closed: where neither layer can isolate, nothing
runs, and the result is an `error` with `unavailable` set (the code verifier's rule
"sandbox:unavailable"). Only `namespaces=False`, named explicitly, runs under rlimits and the
guards alone ("rlimits"), as root then always as an own uid ("rlimits+uid"), and where that uid
cannot reach the interpreter (a Python under /root) that mode is refused too.

Which limit ended a run is decided here, from what the host measured, never from the program's
exit code: the wall clock; CPU time (the run was killed and its processes used `cpu_s`, per the
kernel's accounting of the launcher's reaped tree); memory (the cgroup's OOM killer struck, or the
proportional anonymous and shared memory of all its processes, sampled every 50 ms, went over
`memory_mb`); output. A program that never started (no byte on the started pipe before its code ran)
is an `error`, never a `fail`.
Leaves out: languages other than Python, stdin for the program, GPU access; without a cgroup a run's
memory is bounded per process by RLIMIT_AS and in sum only by the 50 ms sampling.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Literal

from pydantic import Field

from reason.types import Frozen
from reason.verifiers import sandbox_bwrap
from reason.verifiers.sandbox_cgroup import RunCgroup
from reason.verifiers.sandbox_processes import (
    kill_group,
    kill_tree,
    kill_uid,
    leased_uid,
    own_process_count,
    tree_memory,
)
from reason.verifiers.sandbox_seccomp import deny_filter

logger = logging.getLogger(__name__)

Limit = Literal["wall_time", "cpu_time", "memory", "output"]
Layer = Literal["auto", "bwrap", "namespaces"]

_HERE = Path(__file__).resolve().parent
_LAUNCHER, _BOOT = _HERE / "sandbox_child.py", _HERE / "sandbox_boot.py"
_WATCH_S = 0.05
"""How often the host samples a run's memory."""
_KILLED_BY_CPU = {signal.SIGKILL, signal.SIGXCPU}


@functools.cache
def _boot_source() -> str:
    """The worker's bootstrap, passed as source: the private mounts can hide the file's own folder
    (a checkout under /tmp is under the sandbox's fresh /tmp)."""
    return _BOOT.read_text("utf-8")


class SandboxLimits(Frozen):
    """What one run may use."""

    wall_s: float = Field(default=10.0, gt=0)
    """Wall-clock seconds before the whole run is killed."""
    cpu_s: int = Field(default=5, ge=1)
    """CPU seconds per process (RLIMIT_CPU)."""
    memory_mb: int = Field(default=1024, ge=64)
    """Memory: the address space of each process (RLIMIT_AS), and the resident memory of all its processes
    together (sampled by the host; the run is killed past it)."""
    processes: int = Field(default=16, ge=1)
    """Processes the program may run at once, itself included (RLIMIT_NPROC)."""
    file_size_mb: int = Field(default=16, ge=1)
    """Largest file it may write (RLIMIT_FSIZE)."""
    open_files: int = Field(default=64, ge=16)
    """Open file descriptors (RLIMIT_NOFILE)."""
    scratch_mb: int = Field(default=64, ge=1)
    """Size of each private tmpfs it may write: its working directory, /tmp and /dev/shm."""
    max_output_bytes: int = Field(default=64_000, ge=1)
    """Bytes kept of stdout and of stderr; printing more than this kills the run."""
    python_guards: bool = True
    """Audit hooks refusing sockets, processes, ctypes and file writes outside the work dir (defence in depth)."""
    namespaces: bool = True
    """Isolate (bwrap or the launcher's own namespaces); where neither can, nothing runs. False names the weak
    mode explicitly: rlimits and the Python guards only (as root, always as an own uid)."""
    layer: Layer = "auto"
    """Which isolation layer: "auto" (bwrap where it works here, else own namespaces), or one of them by name
    (a named layer that is unavailable means no run)."""


class SandboxResult(Frozen):
    status: Literal["pass", "fail", "error", "timeout"]
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    """The program's exit code; negative for a signal; None when it never ran. Under bwrap a signal
    arrives as 128 + its number, as bwrap reports it."""
    limit: Limit | None = None
    """Which limit ended the run, as measured by the host (never read from the program's exit code)."""
    truncated: bool = False
    isolation: str = "none"
    """The layer and what it added, e.g. "bwrap+uid+seccomp", "namespaces+uid+seccomp", or the named weak
    mode "rlimits+uid" (as root) / "rlimits"; "none" when nothing ran."""
    unavailable: bool = False
    """No run: the isolation asked for is not available here (`detail` says why and how to get it)."""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    """CPU seconds the run's processes used (the kernel's accounting of the reaped tree)."""
    detail: str = ""


class Sandbox:
    """Runs Python source under `limits`.

    Example:
        >>> Sandbox().run("print(6 * 7)").stdout
        '42\\n'
    """

    def __init__(self, limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits()

    def run(self, code: str) -> SandboxResult:
        started = time.monotonic()
        if (refused := _refused(self.limits)) is not None:
            return SandboxResult(status="error", unavailable=True, detail=refused)
        work = Path(tempfile.mkdtemp(prefix="reason-sandbox-"))
        try:
            if os.geteuid() != 0:
                return _Run(self.limits, code, work, started, None).execute()
            with leased_uid() as uid:
                return _Run(self.limits, code, work, started, uid).execute()
        except Exception as exc:
            logger.exception("sandbox run failed")
            return SandboxResult(status="error", detail=f"sandbox failure: {exc}", wall_s=time.monotonic() - started)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def run_code(code: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """One-call convenience: `Sandbox(limits).run(code)`."""
    return Sandbox(limits).run(code)


class _Run:
    """One execution: spawn the launcher, pump its output, watch time and memory, clean up, judge."""

    def __init__(self, limits: SandboxLimits, code: str, work: Path, started: float, uid: int | None) -> None:
        self.limits, self.code, self.work, self.started, self.uid = limits, code, work, started, uid
        self.out, self.err = bytearray(), bytearray()
        self.status_lines: list[dict] = []
        self.limit: Limit | None = None
        self.truncated = self.program_started = False
        self.cpu_s = 0.0
        self.cgroup: RunCgroup | None = None

    def execute(self) -> SandboxResult:
        status_r, status_w = os.pipe()
        started_r, started_w = os.pipe()
        settings = _launcher_settings(self.limits, self.work, self.uid, status_fd=status_w, started_fd=started_w)
        self.cgroup = RunCgroup.make(self.work.name, self.limits.memory_mb * 2**20, settings["rlimits"]["RLIMIT_NPROC"] + 3)
        try:
            proc = self._spawn(status_w, started_w)
        finally:
            os.close(status_w)
            os.close(started_w)
        try:
            if self.cgroup is not None:
                self.cgroup.add(proc.pid)  # before it reads its settings, so before it starts anything
            self._feed(proc, settings)
            self._pump(proc, status_r, started_r)
        finally:
            self._kill_everything(proc)
            os.close(status_r)
            os.close(started_r)
            if self.cgroup is not None:
                if self.cgroup.oom_kills():
                    self.limit = self.limit or "memory"
                self.cgroup.remove()
        return self._result(proc)

    def _spawn(self, status_w: int, started_w: int) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-I", str(_LAUNCHER)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=_scrubbed_env(str(self.work)), cwd=self.work, pass_fds=(status_w, started_w), start_new_session=True,
        )

    def _feed(self, proc: subprocess.Popen, settings: dict) -> None:
        """Hand settings and program over on stdin from a thread, so a launcher that stops reading cannot block us."""
        payload = json.dumps({**settings, "program": self.code.encode("utf-8", "replace").decode("utf-8")}).encode()

        def write() -> None:
            try:
                proc.stdin.write(payload)  # type: ignore[union-attr]
                proc.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass

        threading.Thread(target=write, daemon=True).start()

    def _pump(self, proc: subprocess.Popen, status_r: int, started_r: int) -> None:
        deadline = self.started + self.limits.wall_s
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ, self.out)  # type: ignore[arg-type]
            sel.register(proc.stderr, selectors.EVENT_READ, self.err)  # type: ignore[arg-type]
            sel.register(status_r, selectors.EVENT_READ, "status")
            sel.register(started_r, selectors.EVENT_READ, "started")
            while sel.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.limit = self.limit or "wall_time"
                    return
                for key, _ in sel.select(timeout=min(remaining, _WATCH_S)):
                    if not self._read(sel, key):
                        return
                over = tree_memory(proc.pid) > self.limits.memory_mb * 2**20
                if over or (self.cgroup is not None and self.cgroup.oom_kills()):  # the kernel killed one: end the run
                    self.limit = "memory"
                    return

    def _read(self, sel: selectors.BaseSelector, key: selectors.SelectorKey) -> bool:
        """Read one chunk; False when the run must stop (output limit)."""
        chunk = os.read(key.fd, 65536)
        if not chunk:
            sel.unregister(key.fileobj)
            return True
        if key.data == "started":
            self.program_started = True
            return True
        if key.data == "status":
            self.status_lines += [json.loads(line) for line in chunk.decode().splitlines() if line.strip()]
            return True
        buffer: bytearray = key.data
        room = self.limits.max_output_bytes - len(buffer)
        buffer += chunk[: max(room, 0)]
        if len(chunk) > room:
            self.truncated, self.limit = True, "output"
            return False
        return True

    def _kill_everything(self, proc: subprocess.Popen) -> None:
        """Kill what runs below the launcher, so the launcher (their reaper) collects them and exits on its own."""
        kill_tree(proc.pid)
        if self.uid is not None:
            kill_uid(self.uid)
        status, usage = _reap(proc.pid)
        proc.returncode = os.waitstatus_to_exitcode(status)
        self.cpu_s = usage.ru_utime + usage.ru_stime
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def _result(self, proc: subprocess.Popen) -> SandboxResult:
        report = {k: v for line in self.status_lines for k, v in line.items()}
        wall_s = round(time.monotonic() - self.started, 3)
        if "unavailable" in report:
            return SandboxResult(status="error", unavailable=True, wall_s=wall_s,
                                 detail=f"sandbox:unavailable: {report['unavailable']}. {HOW_TO_ISOLATE}")
        exit_code = -report["signal"] if "signal" in report else report.get("exit")
        limit = self.limit or ("cpu_time" if self._killed_by_cpu_limit(exit_code) else None)
        status = _status(exit_code, limit, started=self.program_started)
        return SandboxResult(
            status=status,
            stdout=self.out.decode("utf-8", errors="replace"),
            stderr=self.err.decode("utf-8", errors="replace"),
            exit_code=exit_code,
            limit=limit,
            truncated=self.truncated,
            isolation=report.get("isolation", "none") + ("+cgroup" if self.cgroup and "isolation" in report else ""),
            wall_s=wall_s,
            cpu_s=round(self.cpu_s, 3),
            detail="" if self.program_started or limit else _startup_failure(proc, report, self.err),
        )

    def _killed_by_cpu_limit(self, exit_code: int | None) -> bool:
        """Killed by a signal the CPU limit sends, after the run's processes had used that much CPU."""
        if exit_code is None or self.cpu_s < self.limits.cpu_s:
            return False
        signum = -exit_code if exit_code < 0 else exit_code - 128  # bwrap passes a signal on as 128 + n
        return signum in _KILLED_BY_CPU


def _reap(pid: int) -> tuple[int, os.struct_rusage]:  # type: ignore[name-defined]
    """Wait for the launcher (SIGKILL after 5 s); its wait status and the CPU its whole reaped tree used."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found, status, usage = os.wait4(pid, os.WNOHANG)
        if found:
            return status, usage
        time.sleep(0.005)
    kill_group(pid)
    os.kill(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    return status, usage


HOW_TO_ISOLATE = (
    "Isolation needs bubblewrap (apt-get install bubblewrap; scripts/setup.sh installs it as root) or a kernel "
    "that allows user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0, and a "
    "container that does not filter unshare), or running as root; SandboxLimits(namespaces=False) names the weak "
    "mode (rlimits and Python guards only) explicitly"
)
_SIMULATED_REFUSAL = "REASON_SANDBOX_REFUSE_NAMESPACES"
"""Set to 1, every isolation layer behaves as if the kernel refused it (for tests of failing closed)."""


def _refused(limits: SandboxLimits) -> str | None:
    """Why no run can happen with these limits here, decided before anything starts."""
    if not limits.namespaces:
        return _weak_mode_refused(limits)
    if limits.layer == "bwrap" and (why := _bwrap_refusal()) is not None:
        return f"sandbox:unavailable: {why}; nothing ran. {HOW_TO_ISOLATE}"
    return None


def _layer(limits: SandboxLimits) -> str:
    if not limits.namespaces:
        return "rlimits"
    if limits.layer != "namespaces" and _bwrap_refusal() is None:
        return "bwrap"
    return "namespaces"


def _bwrap_refusal() -> str | None:
    if os.environ.get(_SIMULATED_REFUSAL) == "1":
        return f"bwrap refused (simulated: {_SIMULATED_REFUSAL})"
    return _bwrap_probe()


@functools.cache
def _bwrap_probe() -> str | None:
    """Why bwrap cannot isolate here (tried once per process, as a leased uid when root), or None."""
    if os.geteuid() != 0:
        return sandbox_bwrap.unavailable(None)
    with leased_uid() as uid:
        return sandbox_bwrap.unavailable(uid)


def _weak_mode_refused(limits: SandboxLimits) -> str | None:
    """Why the weak mode cannot run here as root: the own uid it must use cannot reach the interpreter."""
    if limits.namespaces or os.geteuid() != 0:
        return None
    blocked = sandbox_bwrap.unreachable(Path(sys.executable).resolve()) or sandbox_bwrap.unreachable(_HERE)
    if blocked is None:
        return None
    return (f"sandbox:unavailable: the weak mode (namespaces=False) runs as root only as an own uid, which cannot "
            f"reach {blocked} (not searchable by other users); nothing ran. {HOW_TO_ISOLATE}")


def _status(exit_code: int | None, limit: Limit | None, started: bool) -> Literal["pass", "fail", "error", "timeout"]:
    if limit in ("wall_time", "cpu_time"):
        return "timeout"
    if limit is not None or not started or exit_code is None:
        return "error"
    return "pass" if exit_code == 0 else "fail"


def _startup_failure(proc: subprocess.Popen, report: dict, stderr: bytes | bytearray) -> str:
    tail = stderr.decode("utf-8", errors="replace").strip().splitlines()[-3:]
    return f"the sandbox did not start the program (launcher exit {proc.returncode}; report {report}): {' | '.join(tail)}"


def _launcher_settings(limits: SandboxLimits, work: Path, uid: int | None, status_fd: int, started_fd: int) -> dict:
    layer, seccomp = _layer(limits), deny_filter()
    hidden, keep, cover = _hidden_dirs(), sandbox_bwrap.python_paths(), sandbox_bwrap.own_package_inside()
    helpers = 2 if layer == "bwrap" else 0  # bwrap's monitor and the namespace's init run as the run's uid
    rlimits = {
        "RLIMIT_CPU": limits.cpu_s,
        "RLIMIT_AS": limits.memory_mb * 2**20,
        "RLIMIT_NPROC": limits.processes + helpers + (0 if uid is not None else own_process_count()),
        "RLIMIT_FSIZE": limits.file_size_mb * 2**20,
        "RLIMIT_NOFILE": limits.open_files,
        "RLIMIT_CORE": 0,
    }
    settings = {
        "layer": layer, "work": str(work), "status_fd": status_fd, "started_fd": started_fd, "uid": uid,
        "keep": keep, "cover": cover, "system_dirs": sandbox_bwrap.SYSTEM_DIRS, "etc_files": sandbox_bwrap.ETC_FILES,
        "tmpfs_mb": limits.scratch_mb, "rlimits": rlimits,
        "boot_source": _boot_source(), "seccomp": seccomp.hex() if seccomp else "",
        "policy": {"guards": limits.python_guards, "hidden": hidden, "keep": keep},
        "env": _scrubbed_env(str(work)), "namespaces": limits.namespaces,
        "refuse_namespaces": os.environ.get(_SIMULATED_REFUSAL) == "1",
    }
    if layer == "bwrap":
        plan = sandbox_bwrap.plan(_scrubbed_env(sandbox_bwrap.WORK), limits.scratch_mb, seccomp is not None,
                                  staged=uid is not None, keep=keep, cover=cover)
        settings["bwrap"] = {**plan, "work": sandbox_bwrap.WORK}
        settings["isolation"] = "+".join(["bwrap", *(["uid"] if uid is not None else []), *(["seccomp"] if seccomp else [])])
    return settings


def _scrubbed_env(work: str) -> dict[str, str]:
    """Nothing of the caller's environment: no tokens, keys, proxies, or paths to its files."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": work, "TMPDIR": "/tmp", "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8", "OMP_NUM_THREADS": "1",
    }


def _hidden_dirs() -> list[str]:
    candidates = {"/root", "/home", os.path.realpath(Path.home())}
    return sorted(p for p in candidates if os.path.isdir(p) and p != "/")
