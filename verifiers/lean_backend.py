"""Running Lean 4 on a file: the user's own `lean`, or the installed WebAssembly Lean kept loaded.

One seam, `LeanBackend.check(source, timeout_s) -> LeanRun`, two implementations:
- `NativeLean`: the user's toolchain (`lean` on PATH or a configured path), a process per check,
  in its own process group, killed when it overruns;
- `WasmLeanChecker`: the WebAssembly Lean from `reason lean install` (lean_install.py), as one
  long-lived Node process (lean_checker.mjs) that loads Lean and Init once and then elaborates
  one file per request against that environment (tens to hundreds of milliseconds), exchanged
  through files in a /tmp folder (Lean sees only /tmp and /home). A check that overruns its time
  kills the process, as does a failure inside Lean or memory running short; the next check
  starts a fresh one (a restart costs the load time again, about 35 s on an idle machine).
`lean_backend(...)` hands out one backend per kind per process, closed at exit.
Leaves out: a LeanDojo backend (it needs GitHub, lake and a remote cache; see the README note).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from reason.errors import VerifierError
from reason.verifiers.lean_install import LeanInstall, installed

logger = logging.getLogger(__name__)

_CHECKER_SCRIPT = Path(__file__).resolve().parent / "lean_checker.mjs"
_HEADER = re.compile(r"^(?:[^\n:]*):(\d+):(\d+): (error|warning|info|information)(?:\([\w.]+\))?: ?(.*)$")
_MEMORY_LIMIT_MB = 1536
"""Restart the WebAssembly checker once its memory passes this (WebAssembly Lean has 2 GB)."""
NOT_INSTALLED = "Lean is not installed: run `reason lean install` (or put your own `lean` on PATH)"


class LeanUnavailableError(VerifierError):
    """No Lean to run: neither the user's own nor the installed WebAssembly one."""


@dataclass(frozen=True)
class LeanMessage:
    severity: Literal["error", "warning", "info"]
    line: int
    column: int
    text: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.severity}: {self.text}"


@dataclass(frozen=True)
class LeanRun:
    """What one check of one file gave."""

    status: Literal["done", "timeout", "crashed"]
    exit_code: int | None = None
    messages: tuple[LeanMessage, ...] = ()
    output: str = ""
    ms: float = 0.0
    axioms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """What each `#print axioms NAME` in the file listed for NAME."""
    declared_here: frozenset[str] | None = None
    """Listed names the checked file itself declared. None: the backend sees imported proofs in full,
    so everything listed is a true axiom; a set: the backend imports Init as a module, whose theorems
    list as axioms too, and only these names are the file's own."""


class LeanBackend(Protocol):
    name: str

    def check(self, source: str, timeout_s: float) -> LeanRun: ...

    def close(self) -> None: ...


_PRINTED_AXIOMS = re.compile(r"^'(?P<name>.+?)' (?:depends on axioms: \[(?P<axioms>[^\]]*)\]|does not depend on any axioms)", re.S)


def printed_axioms(messages: Sequence[LeanMessage]) -> dict[str, tuple[str, ...]]:
    """What each `#print axioms NAME` said, by NAME.

    Example: "'t' depends on axioms: [propext, Quot.sound]" -> {"t": ("propext", "Quot.sound")}
    """
    found = {}
    for message in messages:
        said = _PRINTED_AXIOMS.match(message.text)
        if said:
            listed = said.group("axioms") or ""
            found[said.group("name")] = tuple(a.strip() for a in listed.split(",") if a.strip())
    return found


def parse_messages(output: str) -> tuple[LeanMessage, ...]:
    """Lean's `file:line:col: severity: text` messages; a message runs until the next header.

    Example: "f.lean:1:5: error: unknown identifier 'x'" -> (LeanMessage("error", 1, 5, "unknown identifier 'x'"),)
    """
    found: list[tuple[str, int, int, list[str]]] = []
    for line in output.splitlines():
        header = _HEADER.match(line)
        if header:
            severity = "info" if header.group(3) == "information" else header.group(3)
            found.append((severity, int(header.group(1)), int(header.group(2)), [header.group(4)]))
        elif found:
            found[-1][3].append(line)
    return tuple(LeanMessage(s, ln, col, "\n".join(text).strip()) for s, ln, col, text in found)  # type: ignore[arg-type]


class NativeLean:
    """`lean <file>` per check."""

    name = "native"

    def __init__(self, executable: str) -> None:
        self.executable = executable

    def check(self, source: str, timeout_s: float) -> LeanRun:
        folder = Path(tempfile.mkdtemp(prefix="reason-lean-"))
        try:
            (folder / "Check.lean").write_text(source, encoding="utf-8")
            return self._run(folder, timeout_s)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _run(self, folder: Path, timeout_s: float) -> LeanRun:
        started = time.monotonic()
        proc = subprocess.Popen(
            [self.executable, "Check.lean"], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            output, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return LeanRun("timeout", ms=(time.monotonic() - started) * 1000)
        ms = (time.monotonic() - started) * 1000
        messages = parse_messages(output)
        return LeanRun("done", proc.returncode, messages, output, ms, printed_axioms(messages))

    def close(self) -> None:
        pass


class WasmLeanChecker:
    """The persistent WebAssembly checker; restarted when it dies or a check overruns.

    Thread-safe: checks are serialised (the checker runs one file at a time).
    """

    name = "wasm"

    def __init__(self, install: LeanInstall, startup_timeout_s: float = 900.0) -> None:
        self.install = install
        self.startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen | None = None
        self._dir: Path | None = None
        self._lock = threading.Lock()
        self._counter = 0
        self.startups: list[dict] = []
        """Per start: the checker's own load and warm-up times (ms) and the wall time seen here."""

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running else None  # type: ignore[union-attr]

    def start(self) -> None:
        with self._lock:
            self._ensure_started()

    def check(self, source: str, timeout_s: float) -> LeanRun:
        with self._lock:
            self._ensure_started()
            assert self._dir is not None
            self._counter += 1
            request = self._dir / f"req-{self._counter:06d}.lean"
            _write_atomically(request, source)
            answer = self._wait_for(Path(f"{request}.json"), timeout_s)
            if answer is None or answer["exit"] == -1:
                status: Literal["timeout", "crashed"] = "timeout" if answer is None and self.running else "crashed"
                self._stop()  # a stuck or failed checker is replaced at the next check
                return LeanRun(status, output=answer["output"] if answer else "", ms=timeout_s * 1000)
            if answer.get("memory_mb", 0) > _MEMORY_LIMIT_MB:
                self._stop()  # each check keeps a little; start afresh before Lean's 2 GB runs out
            axioms = {name: tuple(listed) for name, listed in answer.get("axioms", {}).items()}
            declared = frozenset(answer.get("declared_here", ()))
            return LeanRun("done", answer["exit"], parse_messages(answer["output"]), answer["output"], answer["ms"],
                           axioms, declared)

    def _ensure_started(self) -> None:
        if self.running:
            return
        self._stop()
        started = time.monotonic()
        self._dir = Path(tempfile.mkdtemp(prefix="reason-lean-", dir="/tmp"))
        with open(self._dir / "checker.log", "wb") as log:
            self._proc = subprocess.Popen(
                [str(self.install.node), str(_CHECKER_SCRIPT), str(self.install.glue), str(self.install.home), str(self._dir)],
                cwd=self._dir, env=_node_env(self.install), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True,
            )  # fmt: skip
        ready = self._wait_for(self._dir / "ready", self.startup_timeout_s)
        if ready is None or ready.get("probe_exit") != 0:
            detail = f"its warm-up check gave {ready}" if ready else _tail(self._dir / "checker.log")
            self._stop()
            raise LeanUnavailableError(f"the Lean checker did not start within {self.startup_timeout_s:.0f} s: {detail}")
        ready["wall_ms"] = round((time.monotonic() - started) * 1000)
        self.startups.append(ready)
        logger.info("Lean checker ready in %.1f s (Lean loaded in %.1f s)", ready["wall_ms"] / 1000, ready["load_ms"] / 1000)

    def _wait_for(self, path: Path, timeout_s: float) -> dict | None:
        deadline = time.monotonic() + timeout_s
        delay = 0.002
        while time.monotonic() < deadline:
            if path.exists():
                return json.loads(path.read_text())
            if not self.running:
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        return None

    def _stop(self) -> None:
        if self._proc is not None:
            _kill_group(self._proc)
            self._proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def close(self) -> None:
        with self._lock:
            self._stop()


def _node_env(install: LeanInstall) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(install.home), "LEAN_PATH": str(install.library),
        "NODE_COMPILE_CACHE": str(install.home / "compile-cache"),
    }  # fmt: skip


def _write_atomically(path: Path, text: str) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(text, encoding="utf-8")
    part.rename(path)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        kept = [ln for ln in path.read_text(errors="replace").splitlines() if not ln.startswith("[DEBUG")]
    except OSError:
        return "(no log)"
    return " | ".join(kept[-lines:]) or "(empty log)"


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


_backends: dict[tuple[str, str], LeanBackend] = {}
_backends_lock = threading.Lock()


def lean_backend(kind: Literal["auto", "native", "wasm"] = "auto", lean_path: str | None = None,
                 startup_timeout_s: float = 900.0) -> LeanBackend:  # fmt: skip
    """The backend asked for ("auto": the user's own `lean` when there is one); one per kind per process.

    Raises:
        LeanUnavailableError: the asked-for Lean is not there.
    """
    native = lean_path or shutil.which("lean")
    if kind == "native" or (kind == "auto" and native):
        if not native:
            raise LeanUnavailableError("no `lean` executable on PATH and no lean_path configured")
        return _shared(("native", native), lambda: NativeLean(native))
    install = installed()
    if install is None:
        raise LeanUnavailableError(NOT_INSTALLED)
    return _shared(("wasm", str(install.home)), lambda: WasmLeanChecker(install, startup_timeout_s))


def _shared(key: tuple[str, str], factory) -> LeanBackend:
    with _backends_lock:
        if key not in _backends:
            _backends[key] = factory()
        return _backends[key]


@atexit.register
def close_backends() -> None:
    with _backends_lock:
        for backend in _backends.values():
            backend.close()
        _backends.clear()
