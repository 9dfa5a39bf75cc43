"""Run untrusted Python (model-written programs) in an isolated, resource-limited child process.

`Sandbox(limits).run(code)` returns a `SandboxResult` — pass (exit 0), fail (the program exited
non-zero on its own), timeout (wall or CPU time), error (another limit was hit, or the sandbox
could not start) — with stdout, stderr and the limit that was hit. It never raises into the
caller and never leaves a process behind.

How the child is contained (the launcher, `verifiers/sandbox_child.py`, does the isolation):
- its own session and process group; a PID namespace whose init takes every leftover process with
  it; as root, a uid of its own (so RLIMIT_NPROC counts only its processes and it owns no file);
- rlimits on CPU time, address space, processes, file size and open files; a wall-time kill here;
- a scrubbed environment, an empty private working directory (a tmpfs of its own, or a fresh temp
  dir removed afterwards), no network (an empty network namespace), home directories hidden;
- audit-hook guards in the worker (see `verifiers/sandbox_boot.py`) as a second wall;
- stdout and stderr captured up to `max_output_bytes`; the run is killed when it prints more.
It fails closed: where the kernel refuses namespaces, nothing runs, and the result is an `error`
with `unavailable` set (the code verifier's rule "sandbox:unavailable"); namespaces need a kernel
that allows (unprivileged) user namespaces, or running as root. Only `namespaces=False`, named
explicitly, runs under rlimits and the guards alone ("rlimits"), and as root then always as an own
uid ("rlimits+uid"), so RLIMIT_NPROC binds and the program owns no file; where that uid could not
even reach the interpreter (a Python under /root), that mode is refused too. A program that never
started (the worker's exec failed) is an `error`, never a `fail`.
Leaves out: languages other than Python, stdin for the program, and GPU access.
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
from reason.verifiers.sandbox_processes import (
    fresh_uid,
    kill_group,
    kill_uid,
    own_process_count,
)

logger = logging.getLogger(__name__)

Limit = Literal["wall_time", "cpu_time", "memory", "processes", "file_size", "open_files", "output", "blocked"]

_HERE = Path(__file__).resolve().parent
_LAUNCHER, _BOOT = _HERE / "sandbox_child.py", _HERE / "sandbox_boot.py"


@functools.cache
def _boot_source() -> str:
    """The worker's bootstrap, passed as source: the private mounts can hide the file's own folder
    (a checkout under /tmp is under the sandbox's fresh /tmp)."""
    return _BOOT.read_text("utf-8")


_EXIT_LIMITS: dict[int, Limit] = {101: "memory", 102: "file_size", 103: "open_files", 104: "processes", 105: "blocked"}
_SIGNAL_LIMITS: dict[int, Limit] = {signal.SIGXCPU: "cpu_time", signal.SIGXFSZ: "file_size"}


class SandboxLimits(Frozen):
    """What one run may use."""

    wall_s: float = Field(default=10.0, gt=0)
    """Wall-clock seconds before the whole run is killed."""
    cpu_s: int = Field(default=5, ge=1)
    """CPU seconds per process (RLIMIT_CPU)."""
    memory_mb: int = Field(default=1024, ge=64)
    """Address space per process (RLIMIT_AS)."""
    processes: int = Field(default=16, ge=1)
    """Processes the program may run at once, itself included (RLIMIT_NPROC)."""
    file_size_mb: int = Field(default=16, ge=1)
    """Largest file it may write (RLIMIT_FSIZE)."""
    open_files: int = Field(default=64, ge=16)
    """Open file descriptors (RLIMIT_NOFILE)."""
    scratch_mb: int = Field(default=64, ge=1)
    """Size of its private working directory and /tmp when they are tmpfs."""
    max_output_bytes: int = Field(default=64_000, ge=1)
    """Bytes kept of stdout and of stderr; printing more than this kills the run."""
    python_guards: bool = True
    """Audit hooks refusing sockets, processes, ctypes and file writes outside the work dir."""
    namespaces: bool = True
    """Isolate with namespaces (and an own uid as root); where they are refused, nothing runs. False names
    the weak mode explicitly: rlimits and the Python guards only (as root, always as an own uid)."""


class SandboxResult(Frozen):
    status: Literal["pass", "fail", "error", "timeout"]
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    """The program's exit code; negative for a signal; None when it never ran."""
    limit: Limit | None = None
    """Which limit ended the run, when one did."""
    truncated: bool = False
    isolation: str = "none"
    """"namespaces+uid", "namespaces" (user namespace), or the named weak mode: "rlimits+uid" (as root)
    or "rlimits"; "none" when nothing ran."""
    unavailable: bool = False
    """No run: the isolation asked for is not available here (`detail` says why and how to get it)."""
    wall_s: float = 0.0
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
        if (refused := _weak_mode_refused(self.limits)) is not None:
            return SandboxResult(status="error", unavailable=True, detail=refused)
        work = Path(tempfile.mkdtemp(prefix="reason-sandbox-"))
        try:
            return _Run(self.limits, code, work, started).execute()
        except Exception as exc:
            logger.exception("sandbox run failed")
            return SandboxResult(status="error", detail=f"sandbox failure: {exc}", wall_s=time.monotonic() - started)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def run_code(code: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """One-call convenience: `Sandbox(limits).run(code)`."""
    return Sandbox(limits).run(code)


class _Run:
    """One execution: spawn the launcher, pump its output, enforce wall time, clean up."""

    def __init__(self, limits: SandboxLimits, code: str, work: Path, started: float) -> None:
        self.limits, self.code, self.work, self.started = limits, code, work, started
        self.uid = fresh_uid() if os.geteuid() == 0 else None
        self.out, self.err = bytearray(), bytearray()
        self.status_lines: list[dict] = []
        self.limit: Limit | None = None
        self.truncated = False

    def execute(self) -> SandboxResult:
        status_r, status_w = os.pipe()
        proc = self._spawn(status_w)
        os.close(status_w)
        try:
            self._feed(proc)
            self._pump(proc, status_r)
        finally:
            self._kill_everything(proc)
            os.close(status_r)
        return self._result(proc)

    def _spawn(self, status_w: int) -> subprocess.Popen:
        settings = _launcher_settings(self.limits, self.work, status_w, self.uid)
        return subprocess.Popen(
            [sys.executable, "-I", str(_LAUNCHER), json.dumps(settings)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=_scrubbed_env(self.work), cwd=self.work, pass_fds=(status_w,), start_new_session=True,
        )

    def _feed(self, proc: subprocess.Popen) -> None:
        """Hand the program over on stdin from a thread, so a launcher that stops reading cannot block us."""
        def write() -> None:
            try:
                proc.stdin.write(self.code.encode("utf-8", errors="replace"))  # type: ignore[union-attr]
                proc.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass

        threading.Thread(target=write, daemon=True).start()

    def _pump(self, proc: subprocess.Popen, status_r: int) -> None:
        deadline = self.started + self.limits.wall_s
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ, self.out)  # type: ignore[arg-type]
            sel.register(proc.stderr, selectors.EVENT_READ, self.err)  # type: ignore[arg-type]
            sel.register(status_r, selectors.EVENT_READ, None)
            while sel.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.limit = self.limit or "wall_time"
                    return
                for key, _ in sel.select(timeout=min(remaining, 0.5)):
                    if not self._read(sel, key):
                        return

    def _read(self, sel: selectors.BaseSelector, key: selectors.SelectorKey) -> bool:
        """Read one chunk; False when the run must stop (output limit)."""
        chunk = os.read(key.fd, 65536)
        if not chunk:
            sel.unregister(key.fileobj)
            return True
        if key.data is None:
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
        kill_group(proc.pid)
        if self.uid is not None:
            kill_uid(self.uid)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def _result(self, proc: subprocess.Popen) -> SandboxResult:
        report = {k: v for line in self.status_lines for k, v in line.items()}
        if "unavailable" in report:
            return SandboxResult(status="error", unavailable=True, wall_s=round(time.monotonic() - self.started, 3),
                                 detail=f"sandbox:unavailable: {report['unavailable']}. {HOW_TO_ISOLATE}")
        exit_code = report.get("exit")
        if "signal" in report:
            exit_code = -report["signal"]
        limit = self.limit or _limit_from_exit(exit_code)
        started = "isolation" in report and b"sandbox: worker did not start" not in self.err
        status = _status(exit_code, limit, started=started)
        detail = report.get("note", "") if status != "error" or limit else _startup_failure(proc, report)
        return SandboxResult(
            status=status,
            stdout=self.out.decode("utf-8", errors="replace"),
            stderr=self.err.decode("utf-8", errors="replace"),
            exit_code=exit_code,
            limit=limit,
            truncated=self.truncated,
            isolation=report.get("isolation", "none"),
            wall_s=round(time.monotonic() - self.started, 3),
            detail=detail,
        )


HOW_TO_ISOLATE = (
    "Namespaces need a kernel that allows unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, "
    "and a container that does not filter unshare), or running as root; SandboxLimits(namespaces=False) names "
    "the weak mode (rlimits and Python guards only) explicitly"
)


def _weak_mode_refused(limits: SandboxLimits) -> str | None:
    """Why the weak mode cannot run here as root: the own uid it must use cannot reach the interpreter."""
    if limits.namespaces or os.geteuid() != 0:
        return None
    blocked = _unreachable(Path(sys.executable).resolve()) or _unreachable(_HERE)
    if blocked is None:
        return None
    return (f"sandbox:unavailable: the weak mode (namespaces=False) runs as root only as an own uid, which cannot "
            f"reach {blocked} (not searchable by other users); nothing ran. {HOW_TO_ISOLATE}")


def _unreachable(path: Path) -> str | None:
    """The first folder on `path` that users other than its owner cannot enter, if any."""
    for folder in [*reversed(path.parents), path if path.is_dir() else path.parent]:
        if not folder.stat().st_mode & 0o001:
            return str(folder)
    return None


def _status(exit_code: int | None, limit: Limit | None, started: bool) -> Literal["pass", "fail", "error", "timeout"]:
    if limit in ("wall_time", "cpu_time"):
        return "timeout"
    if limit is not None or not started or exit_code is None:
        return "error"
    return "pass" if exit_code == 0 else "fail"


def _limit_from_exit(exit_code: int | None) -> Limit | None:
    if exit_code is None:
        return None
    if exit_code < 0:
        return _SIGNAL_LIMITS.get(-exit_code) or ("cpu_time" if -exit_code == signal.SIGKILL else None)
    return _EXIT_LIMITS.get(exit_code)


def _startup_failure(proc: subprocess.Popen, report: dict) -> str:
    return f"the sandbox did not start the program (launcher exit {proc.returncode}; report {report})"


def _launcher_settings(limits: SandboxLimits, work: Path, status_fd: int, uid: int | None) -> dict:
    hidden = _hidden_dirs()
    keep = _kept_paths()
    rlimits = {
        "RLIMIT_CPU": limits.cpu_s,
        "RLIMIT_AS": limits.memory_mb * 2**20,
        "RLIMIT_NPROC": limits.processes + (0 if uid is not None else own_process_count()),
        "RLIMIT_FSIZE": limits.file_size_mb * 2**20,
        "RLIMIT_NOFILE": limits.open_files,
        "RLIMIT_CORE": 0,
    }
    policy = {"guards": limits.python_guards, "hidden": hidden, "keep": keep}
    return {
        "work": str(work), "status_fd": status_fd, "uid": uid, "hidden": hidden, "keep": keep,
        "tmpfs_mb": limits.scratch_mb, "rlimits": rlimits, "boot_source": _boot_source(),
        "policy": policy, "env": _scrubbed_env(work), "namespaces": limits.namespaces,
        "refuse_namespaces": os.environ.get("REASON_SANDBOX_REFUSE_NAMESPACES") == "1",
    }


def _scrubbed_env(work: Path) -> dict[str, str]:
    """Nothing of the caller's environment: no tokens, keys, proxies, or paths to its files."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(work), "TMPDIR": "/tmp", "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8", "OMP_NUM_THREADS": "1",
    }


def _hidden_dirs() -> list[str]:
    candidates = {"/root", "/home", os.path.realpath(Path.home())}
    return sorted(p for p in candidates if os.path.isdir(p) and p != "/")


def _kept_paths() -> list[str]:
    """Directories the worker needs to read even where they live under a hidden dir: Python and its packages."""
    paths = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, _HERE)}
    paths |= {os.path.realpath(p) for p in sys.path if p and os.path.isdir(p)}
    ordered = sorted(paths, key=len)
    kept: list[str] = []
    for path in ordered:
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept
