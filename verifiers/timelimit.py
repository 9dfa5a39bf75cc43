"""Run a function in a reusable worker process under a hard time limit.

Works from the main thread, from any other thread, and inside worker processes of
any kind, multiprocessing's daemonic pool workers included (they may not start
multiprocessing children): a worker is a plain subprocess that exchanges pickled
frames over its stdin/stdout pipes, and the deadline is a `poll` on the reply pipe,
never a signal. A worker that overruns is killed, and the next call starts a fresh
one; a worker that answered stays up, so its imports are paid once.

The worker's side of the protocol is verifiers/worker.py.
Starting a worker (a Python process that imports its preload modules) is bounded by
its own `startup_timeout_s`, not by a call's time limit: the limit is for the work.
Leaves out: Windows (`poll` on pipes is POSIX-only) and sandboxing (a worker runs
trusted code: functions of this project, named as "module:function").
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reason.errors import VerifierError
from reason.verifiers.worker import FRAME

logger = logging.getLogger(__name__)

_PROJECT_ROOT = str(Path(__file__).resolve().parents[1])


class WorkerTimeout(VerifierError):
    """The call ran past its time limit (the worker doing it was killed)."""


class WorkerFailed(VerifierError):
    """The worker could not start, died, or the called function raised."""


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    ready: bool = False


class WorkerPool:
    """Worker processes that run "module:function" targets with a deadline per call.

    Args:
        size: most calls running at once (one worker each).
        preload: modules every worker imports before it reports ready.
        startup_timeout_s: longest wait for a new worker to become ready.
        memory_limit_mb: address-space limit of each worker (POSIX rlimit), so a
            runaway computation fails with MemoryError instead of swapping.

    Example:
        >>> pool = WorkerPool()
        >>> pool.call("math:factorial", 5, timeout_s=10)
        120
        >>> pool.close()
    """

    def __init__(
        self,
        size: int = 1,
        preload: tuple[str, ...] = (),
        startup_timeout_s: float = 60.0,
        memory_limit_mb: int = 4096,
    ) -> None:
        self.size, self.preload = size, preload
        self.startup_timeout_s, self.memory_limit_mb = startup_timeout_s, memory_limit_mb
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._closed = False

    def start(self, wait: bool = False) -> None:
        """Start idle workers now, so the first call does not wait for their imports.

        Args:
            wait: also wait (up to startup_timeout_s) until every idle worker is ready.
        """
        with self._lock:
            while len(self._idle) < self.size and not self._closed:
                self._idle.append(self._spawn())
        if wait:
            self._wait_ready()

    def _wait_ready(self) -> None:
        """Hold every slot (so no call shares a pipe with us) and read each worker's ready frame."""
        held: list[_Worker] = []
        try:
            for _ in range(self.size):
                if not self._slots.acquire(timeout=self.startup_timeout_s):
                    raise WorkerTimeout("workers stayed busy while waiting for them to start")
                held.append(self._take())
            for worker in held:
                self._await_ready(worker)
        finally:
            for worker in held:
                if worker.ready:
                    self._give_back(worker)
                else:
                    _kill(worker)
                self._slots.release()

    def call(self, target: str, *args: Any, timeout_s: float) -> Any:
        """Run target(*args) in a worker and return its result.

        Raises:
            WorkerTimeout: no result within timeout_s (waiting for a free worker included).
            WorkerFailed: the worker could not start or died, or target raised.
        """
        deadline = time.monotonic() + timeout_s
        if not self._slots.acquire(timeout=timeout_s):
            raise WorkerTimeout(f"no free worker within {timeout_s:g}s")
        try:
            worker = self._take()
            try:
                status, value = self._exchange(worker, target, args, deadline, timeout_s)
            except BaseException:
                _kill(worker)
                self._replace()
                raise
            self._give_back(worker)
        finally:
            self._slots.release()
        if status != "ok":
            raise WorkerFailed(f"{target} raised {value}")
        return value

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop every idle worker; calls in flight finish or time out on their own."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            _kill(worker)

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise WorkerFailed("pool is closed")
            while self._idle:
                worker = self._idle.pop()
                if worker.process.poll() is None:
                    return worker
            return self._spawn()

    def _replace(self) -> None:
        """Start the successor of a killed worker now: its imports overlap the caller's next steps."""
        with self._lock:
            if not self._closed and len(self._idle) < self.size:
                try:
                    self._idle.append(self._spawn())
                except WorkerFailed:
                    logger.warning("could not start a replacement grader worker", exc_info=True)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            if self._closed:
                _kill(worker)
            else:
                self._idle.append(worker)

    def _spawn(self) -> _Worker:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PROJECT_ROOT, env.get("PYTHONPATH", "")) if p)
        command = [sys.executable, "-m", "reason.verifiers.worker", str(self.memory_limit_mb), *self.preload]
        try:
            process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, env=env, start_new_session=True
            )
        except OSError as exc:
            raise WorkerFailed(f"cannot start a worker: {exc}") from exc
        logger.debug("started grader worker pid %d", process.pid)
        return _Worker(process)

    def _exchange(
        self, worker: _Worker, target: str, args: tuple[Any, ...], deadline: float, timeout_s: float
    ) -> tuple[str, Any]:
        if not worker.ready:
            started = time.monotonic()
            self._await_ready(worker)
            deadline += time.monotonic() - started  # starting up is not part of the call's time
        _write_frame(worker, (target, args))
        try:
            return _read_frame(worker, deadline, f"running {target}")
        except WorkerTimeout:
            raise WorkerTimeout(f"{target} took longer than {timeout_s:g}s") from None


    def _await_ready(self, worker: _Worker) -> None:
        if not worker.ready:
            _read_frame(worker, time.monotonic() + self.startup_timeout_s, "starting")
            worker.ready = True


def _write_frame(worker: _Worker, message: Any) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    data = memoryview(FRAME.pack(len(payload)) + payload)
    stream = worker.process.stdin
    assert stream is not None
    try:
        while data:
            written = stream.write(data)
            data = data[written or 0 :]
    except OSError as exc:  # BrokenPipeError: the worker is gone
        raise WorkerFailed(f"worker exited (code {worker.process.poll()})") from exc


def _read_frame(worker: _Worker, deadline: float, doing: str) -> Any:
    stream = worker.process.stdout
    assert stream is not None
    fd = stream.fileno()
    (length,) = FRAME.unpack(_read_exact(worker, fd, FRAME.size, deadline, doing))
    return pickle.loads(_read_exact(worker, fd, length, deadline, doing))


def _read_exact(worker: _Worker, fd: int, count: int, deadline: float, doing: str) -> bytes:
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    data = bytearray()
    while len(data) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not poller.poll(max(1, int(remaining * 1000))):
            raise WorkerTimeout(f"worker still {doing} at the deadline")
        chunk = os.read(fd, count - len(data))
        if not chunk:
            raise WorkerFailed(f"worker exited while {doing} (code {worker.process.wait()})")
        data += chunk
    return bytes(data)


def _kill(worker: _Worker) -> None:
    process = worker.process
    if process.poll() is None:
        process.kill()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a killed process that will not go away
        logger.warning("grader worker %d did not exit after SIGKILL", process.pid)
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()
