"""The sandbox's first isolation layer: bubblewrap (`bwrap`), with a minimal root built for each run.

`plan(...)` turns a run's settings into a bwrap command line that the launcher
(`verifiers/sandbox_child.py`) executes, as the run's own uid when we are root. The program sees:
- new user, PID, network, IPC, UTS and cgroup namespaces; no further user namespaces
  (`--disable-userns`); it dies with its parent; a new session (no terminal to type into);
- a fresh root holding only `/usr` (and the /bin, /lib... links or folders beside it), the Python
  install read-only (wherever it lives, /tmp and /root included), `/etc/ld.so.cache` and
  `/etc/localtime`, a fresh `/proc` and `/dev` (its own devpts), size-capped tmpfs at `/tmp`,
  `/dev/shm` and the work dir `/sandbox`, its program as a read-only `/sandbox/main.py`;
  this package's own folder (and so its data) is covered when it lies inside the Python install;
- the seccomp filter of `sandbox_seccomp.py`, loaded by bwrap after its own set-up.
Where a folder on the way to the Python install is closed to other users (a Python under /root),
the launcher, still root, binds it into a private staging mount first (`stage_at` lists those
arguments); bwrap itself never runs as root.
Leaves out: cgroups (memory and process counts are bounded by rlimits and the host's watch, see
`sandbox.py`), and /etc beyond the two files above (no passwd, no resolver: there is no network).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

WORK = "/sandbox"
"""The program's working directory inside the sandbox."""
PROGRAM_FD, SECCOMP_FD = "{program_fd}", "{seccomp_fd}"
"""Placeholders the launcher replaces with the descriptors it opens."""
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""What of the host's tree a minimal root holds read-only (as links where the host has links), in both layers."""
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime")


@functools.cache
def bwrap_binary() -> str | None:
    return shutil.which("bwrap") or next((p for p in ("/usr/bin/bwrap", "/bin/bwrap") if os.access(p, os.X_OK)), None)


def unavailable(uid: int | None) -> str | None:
    """Why bwrap cannot isolate a run here (as `uid`, when we are root), or None when it can; tried once."""
    binary = bwrap_binary()
    if binary is None:
        return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    argv = [binary, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            *_system_args(), "--proc", "/proc", "--dev", "/dev", "--", "/usr/bin/env", "true"]
    try:
        done = subprocess.run([sys.executable, "-I", "-c", _REAPER, json.dumps({"argv": argv, "uid": uid})],
                              capture_output=True, text=True, timeout=30, env={})
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bwrap could not start: {exc}"
    return None if done.returncode == 0 else f"bwrap refused: {done.stderr.strip()[:300]}"


_REAPER = """
import ctypes, json, os, subprocess, sys
cfg = json.loads(sys.argv[1])
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: bwrap's namespace init, orphaned, comes here
ids = {"user": cfg["uid"], "group": cfg["uid"], "extra_groups": []} if cfg["uid"] is not None else {}
code = subprocess.run(cfg["argv"], env={}, **ids).returncode
while True:
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        break
sys.exit(code)
"""
"""Runs the probe as the launcher runs bwrap: as a subreaper, so no process of it is left to the host's init."""


def plan(env: dict[str, str], scratch_mb: int, with_seccomp: bool, staged: bool, keep: Sequence[str],
         cover: Sequence[str]) -> dict:
    """The bwrap command line for one run and which of its arguments the launcher must stage.

    `keep`: the Python install's folders (bound read-only); `cover`: folders inside them hidden by an empty
    tmpfs; `staged`: the launcher is root and the run's uid may not be able to reach a bound folder."""
    scratch = str(scratch_mb * 2**20)
    argv = [bwrap_binary() or "bwrap", "--unshare-all", "--unshare-user", "--disable-userns",
            "--die-with-parent", "--new-session", "--hostname", "sandbox", *_system_args(),
            "--proc", "/proc", "--dev", "/dev",
            "--size", scratch, "--tmpfs", "/tmp", "--size", scratch, "--tmpfs", "/dev/shm"]
    stage_at = []
    for path in keep:
        argv += ["--ro-bind", path, path]
        if staged and unreachable(Path(path)):
            stage_at.append(len(argv) - 2)
    for hidden in cover:
        argv += ["--size", str(2**16), "--tmpfs", hidden]
    argv += ["--size", scratch, "--tmpfs", WORK, "--ro-bind-data", PROGRAM_FD, f"{WORK}/main.py", "--chdir", WORK]
    if with_seccomp:
        argv += ["--seccomp", SECCOMP_FD]
    argv += ["--clearenv"] + [arg for name, value in env.items() for arg in ("--setenv", name, value)]
    return {"argv": [*argv, "--", sys.executable], "stage_at": stage_at}


def _system_args() -> list[str]:
    """/usr read-only, the usual links beside it (or the folders, where /usr is not merged), two /etc files."""
    args: list[str] = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in ETC_FILES:
        args += ["--ro-bind-try", path, path]
    return args


@functools.cache
def python_paths() -> tuple[str, ...]:
    """The folders the interpreter needs, outermost only: its prefixes as named and as resolved (outside /usr)."""
    named = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths = sorted({os.path.abspath(p) for p in named} | {os.path.realpath(p) for p in named}, key=len)
    kept: list[str] = []
    for path in paths:
        if not _inside(path, ["/usr", *kept]) and os.path.isdir(path):
            kept.append(path)
    return tuple(kept)


@functools.cache
def own_package_inside() -> tuple[str, ...]:
    """This package's folder (data included), where an installed copy lies inside the Python install."""
    spec = importlib.util.find_spec("reason")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return tuple(path for path in map(os.path.realpath, locations) if _inside(path, python_paths()))


def _inside(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def unreachable(path: Path) -> str | None:
    """The first folder on `path` that users other than its owner cannot enter, if any."""
    for folder in [*reversed(path.parents), path if path.is_dir() else path.parent]:
        if not folder.stat().st_mode & 0o001:
            return str(folder)
    return None
