"""The worker process's side of timelimit.py: answer call frames on stdin until it closes.

Run as `python -m verifiers.worker MEMORY_MB [MODULE ...]`: it limits its address space,
imports the preload modules, sends a ready frame, then for each (target, args) frame
replies ("ok", result) or ("error", message). Anything the called code prints goes
to stderr, so it cannot corrupt the reply pipe. Kept free of heavy imports (no
pydantic, no `reason` package) so that a replacement worker starts fast.
Leaves out: deadlines (the parent enforces them by killing this process).
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import struct
import sys
import time
from typing import Any, BinaryIO

FRAME = struct.Struct(">Q")
"""Every frame is this 8-byte big-endian length, then that many bytes of pickle."""


def serve(memory_limit_mb: int, preload: list[str]) -> None:
    """Answer (target, args) frames on stdin with (status, value) frames until stdin closes."""
    _die_with_parent()  # first: it forks, and a fork is only safe before any thread starts
    replies = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything the called code prints goes to stderr, not into the reply pipe
    requests = os.fdopen(0, "rb", buffering=0)
    _limit_memory(memory_limit_mb)
    for module in preload:
        importlib.import_module(module)
    _send(replies, ("ready", None))
    while (request := _receive(requests)) is not None:
        target, args = request
        try:
            reply: tuple[str, Any] = ("ok", _resolve(target)(*args))
            _send(replies, reply)
        except Exception as exc:
            _send(replies, ("error", f"{type(exc).__name__}: {exc}"))


def _resolve(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _send(stream: BinaryIO, message: Any) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    data = memoryview(FRAME.pack(len(payload)) + payload)
    while data:
        data = data[stream.write(data) or 0 :]


def _receive(stream: BinaryIO) -> Any:
    header = _read_all(stream, FRAME.size)
    if header is None:
        return None
    (length,) = FRAME.unpack(header)
    payload = _read_all(stream, length)
    return None if payload is None else pickle.loads(payload)


def _read_all(stream: BinaryIO, count: int) -> bytes | None:
    data = bytearray()
    while len(data) < count:
        chunk = stream.read(count - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _limit_memory(megabytes: int) -> None:
    try:
        import resource

        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # not POSIX, or a lower hard limit already
        pass


def _die_with_parent() -> None:
    """A worker whose parent died (and so will never read its reply) is killed instead of computing on.

    The watch runs in a forked process, not a thread: a computation in C (a huge power, a SymPy
    simplification) holds the GIL, and a thread could not run until it returns. The watchdog reads
    the worker's parent from /proc; once the worker has been re-parented (its parent is gone) it
    SIGKILLs the worker, and it exits by itself when the worker ends.
    """
    parent, worker = os.getppid(), os.getpid()
    if os.fork() != 0:
        return
    try:
        os.closerange(0, 4096)  # hold none of the worker's pipes open
        while (state := _state(worker)) is not None and state[0] != "Z":
            if state[1] != parent:
                os.kill(worker, signal.SIGKILL)
                break
            time.sleep(0.2)
    finally:
        os._exit(0)


def _state(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a process, from /proc; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return fields[0].decode(), int(fields[1])


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2:])
