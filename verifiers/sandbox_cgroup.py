"""A control group per sandbox run, where this host lets us make one: the kernel caps the memory and the
number of processes of everything the run starts, and counts what it had to kill.

`RunCgroup.make(name, memory_bytes, processes)` creates the group (cgroup v2: `memory.max`,
`memory.swap.max=0`, `pids.max`; cgroup v1: `memory.limit_in_bytes` and, where swap is accounted,
`memory.memsw.limit_in_bytes`, in the memory hierarchy, and `pids.max` in the pids one), or returns
None where none can be made (not root, no writable hierarchy, a v2 tree without the controllers
delegated). The launcher is moved in before it starts anything; every process below it stays in.
Unlike RLIMIT_AS, the cap covers the sum over processes and the tmpfs, shm and memfd pages they
write. `oom_kills()` is the kernel's own count of processes it killed at the cap, read by the host.
Leaves out: CPU and I/O weights, and v2 hosts whose own cgroup holds processes (the "no internal
processes" rule would need our process moved first).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")


@dataclass
class RunCgroup:
    dirs: list[Path]
    """The group's folders: one for v2, one per hierarchy (memory, pids) for v1."""
    events: Path
    """Where the kernel counts OOM kills: v2 memory.events, v1 memory.oom_control."""

    @classmethod
    def make(cls, name: str, memory_bytes: int, processes: int, root: Path = ROOT) -> RunCgroup | None:
        if os.geteuid() != 0:
            return None
        try:
            if (root / "cgroup.controllers").exists():
                return cls._make_v2(root, name, memory_bytes, processes)
            return cls._make_v1(root, name, memory_bytes, processes)
        except OSError as exc:
            logger.debug("no cgroup for sandbox runs here: %s", exc)
            return None

    @classmethod
    def _make_v2(cls, root: Path, name: str, memory_bytes: int, processes: int) -> RunCgroup | None:
        own = root / _own_path(root, "")
        if not {"memory", "pids"} <= set((own / "cgroup.subtree_control").read_text().split()):
            return None
        group = own / name
        group.mkdir()
        made = cls([group], group / "memory.events")
        made._write(group / "memory.max", memory_bytes)
        made._write(group / "memory.swap.max", 0, optional=True)
        made._write(group / "pids.max", processes)
        return made

    @classmethod
    def _make_v1(cls, root: Path, name: str, memory_bytes: int, processes: int) -> RunCgroup | None:
        memory, pids = root / "memory" / _own_path(root, "memory"), root / "pids" / _own_path(root, "pids")
        if not (memory.is_dir() and pids.is_dir()):
            return None
        made = cls([], memory / name / "memory.oom_control")
        for folder in (memory / name, pids / name):
            folder.mkdir()
            made.dirs.append(folder)
        made._write(memory / name / "memory.limit_in_bytes", memory_bytes)
        made._write(memory / name / "memory.memsw.limit_in_bytes", memory_bytes, optional=True)
        made._write(pids / name / "pids.max", processes)
        return made

    def _write(self, path: Path, value: int, optional: bool = False) -> None:
        try:
            path.write_text(str(value))
        except OSError:
            if not optional:
                self.remove()
                raise

    def add(self, pid: int) -> None:
        """Move `pid` (the launcher, before it starts anything) into every folder of the group."""
        for folder in self.dirs:
            (folder / "cgroup.procs").write_text(str(pid))

    def oom_kills(self) -> int:
        try:
            for line in self.events.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def remove(self) -> None:
        """Remove the folders once their processes are gone (retried briefly: the kernel frees them late)."""
        for folder in self.dirs:
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


def _own_path(root: Path, hierarchy: str) -> str:
    """This process's own cgroup in `hierarchy` ("" for v2), relative to where that hierarchy is mounted."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if (hierarchy == "" and controllers == "") or hierarchy in controllers.split(","):
            relative = path.lstrip("/")
            return relative if (root / hierarchy / relative).is_dir() else ""
    return ""
