"""The sandbox's processes: a uid of their own, and killing every one of them when a run ends.

A run as root gets a fresh uid no account uses, so RLIMIT_NPROC counts only its own
processes and, at the end, everything still running under that uid can be found in
/proc and killed, wherever it moved (a new session, a double fork). Without root the
run keeps our uid; its process group is killed instead and RLIMIT_NPROC has to allow
for the processes our uid already runs.
Leaves out: namespaces and rlimits themselves (`sandbox_child.py` applies them).
"""

from __future__ import annotations

import os
import signal
import threading
import time

UID_BASE, UID_SPAN = 1_800_000_000, 100_000_000
"""Sandbox uids are drawn from [UID_BASE, UID_BASE + UID_SPAN): far above any account's."""


def fresh_uid() -> int:
    """A uid no account uses, unique among concurrent runs of this process."""
    global _uid_counter
    with _uid_lock:
        _uid_counter += 1
        return UID_BASE + (os.getpid() * 1000 + _uid_counter) % UID_SPAN


_uid_lock = threading.Lock()
_uid_counter = 0


def own_process_count() -> int:
    """How many processes our uid runs now: RLIMIT_NPROC counts them all when the child keeps our uid."""
    uid, count = str(os.getuid()), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                count += _proc_uid(entry) == uid
            except OSError:
                pass
    return count


def _proc_uid(pid: str) -> str:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("Uid:"):
                return line.split()[1]
    return ""


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_uid(uid: int, rounds: int = 20) -> None:
    """Kill every process running as the sandbox's own uid, until none is left."""
    target = str(uid)
    for _ in range(rounds):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if _proc_uid(entry) == target:
                    found = True
                    os.kill(int(entry), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
        if not found:
            return
        time.sleep(0.01)
