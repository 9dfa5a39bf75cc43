"""The sandbox's processes: a uid of their own, what they hold, and killing every one of them when a run ends.

A run as root leases a fresh uid no account uses (held by binding an abstract unix socket named
after it, so no two runs on this host hold the same uid at once, whichever process started them),
so RLIMIT_NPROC counts only its own processes and, at the end, everything still running under
that uid can be found in /proc and killed, wherever it moved (a new session, a double fork).
Without root the run keeps our uid; its process group is killed instead and RLIMIT_NPROC has to
allow for the processes our uid already runs. `tree_memory` is the host's own measurement of what
a run holds: proportional anonymous and shared memory summed over every process below the launcher.
Leaves out: namespaces and rlimits themselves (`sandbox_child.py` applies them).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import time
from collections.abc import Iterator

UID_BASE, UID_SPAN = 1_800_000_000, 100_000_000
"""Sandbox uids are drawn from [UID_BASE, UID_BASE + UID_SPAN): far above any account's."""


@contextlib.contextmanager
def leased_uid() -> Iterator[int]:
    """A uid no account uses and no other run on this host holds, for as long as the context lasts."""
    for _ in range(1000):
        uid = UID_BASE + secrets.randbelow(UID_SPAN)
        lease = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            lease.bind(f"\0reason-sandbox-uid-{uid}")
        except OSError:
            lease.close()
            continue
        with lease:
            yield uid
        return
    raise RuntimeError("no free sandbox uid after 1000 tries")


def tree_memory(root: int) -> int:
    """Bytes of anonymous and shared memory held by every process below `root` (not `root` itself)."""
    total, todo = 0, _children_of(root)
    while todo:
        pid = todo.pop()
        total += _resident_bytes(pid)
        todo += _children_of(pid)
    return total


def _children_of(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found += [int(p) for p in fh.read().split()]
    except OSError:
        pass
    return found


def _resident_bytes(pid: int) -> int:
    """Proportional anonymous + shared memory (pages shared after a fork count once in all), else resident."""
    for path, names in ((f"/proc/{pid}/smaps_rollup", ("Pss_Anon:", "Pss_Shmem:")),
                        (f"/proc/{pid}/status", ("RssAnon:", "RssShmem:"))):
        try:
            with open(path) as fh:
                values = [int(line.split()[1]) for line in fh if line.startswith(names)]
        except OSError:
            return 0
        if len(values) == len(names):
            return sum(values) * 1024
    return 0


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


def kill_tree(root: int, rounds: int = 50) -> None:
    """SIGKILL every process below `root` (not `root`), until none is left: `root` reaps them itself."""
    for _ in range(rounds):
        todo, found = _children_of(root), False
        while todo:
            pid = todo.pop()
            todo += _children_of(pid)
            try:
                os.kill(pid, signal.SIGKILL)
                found = True
            except ProcessLookupError:
                pass
        if not found:
            return
        time.sleep(0.005)


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
