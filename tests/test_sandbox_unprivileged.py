"""The hostile suite again, as an unprivileged user: where the sandbox cannot lean on root (no own uid
per run, user namespaces made without privilege, RLIMIT_NPROC counting the caller's processes).

The tests run as root, so this one starts `pytest tests/test_sandbox_hostile.py` as a uid no account
uses (below the sandbox's own range), without changing the host: in a mount namespace of its own,
the folders that uid could not enter on the way to the Python install and this checkout (a Python
under /root) are replaced by empty ones holding just those binds. Everything else it meets as any
other user would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from reason.verifiers.sandbox_bwrap import python_paths, unreachable
from reason.verifiers.sandbox_processes import UID_BASE

UNPRIVILEGED = UID_BASE - 4242
REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="already unprivileged: the hostile suite itself runs so")

AS_USER = r"""
import ctypes, json, os, sys
cfg = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
def check(result, what):
    if result != 0:
        raise OSError(ctypes.get_errno(), what)
check(libc.unshare(0x00020000), "unshare")
check(libc.mount(b"none", b"/", None, (1 << 14) | (1 << 18), None), "private")
for folder, paths in cfg["expose"].items():
    fds = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in paths}
    check(libc.mount(b"tmpfs", folder.encode(), b"tmpfs", 0, b"mode=0755,size=1m"), "tmpfs " + folder)
    for path, fd in fds.items():
        os.makedirs(path, exist_ok=True)
        check(libc.mount(f"/proc/self/fd/{fd}".encode(), path.encode(), None, 4096 | (1 << 14), None), "bind " + path)
os.setgroups([])
os.setgid(cfg["uid"])
os.setuid(cfg["uid"])
assert os.geteuid() != 0
os.chdir(cfg["repo"])
os.execve(sys.executable, [sys.executable, "-m", "pytest", *cfg["args"]], cfg["env"])
"""


def _exposed() -> dict[str, list[str]]:
    """Folder another uid cannot enter -> the paths below it that uid needs."""
    needed: dict[str, list[str]] = {}
    for path in [*python_paths(), str(REPO)]:
        if (blocked := unreachable(Path(path))) is not None:
            needed.setdefault(blocked, []).append(path)
    return needed


@pytest.fixture
def open_tmp():
    """A scratch folder that uid can reach (pytest's own tmp_path is closed to other users)."""
    folder = Path(tempfile.mkdtemp(prefix="reason-unprivileged-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_hostile_suite_holds_for_an_unprivileged_caller(open_tmp):
    home = open_tmp / "home"
    home.mkdir()
    home.chmod(0o777)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "USER": "reason-unprivileged",
           "LOGNAME": "reason-unprivileged", "PYTHONDONTWRITEBYTECODE": "1", "OMP_WAIT_POLICY": "PASSIVE",
           "TMPDIR": str(open_tmp)}
    cfg = {"uid": UNPRIVILEGED, "repo": str(REPO), "expose": _exposed(), "env": env,
           "args": ["tests/test_sandbox_hostile.py", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                    "--basetemp", str(open_tmp / "pytest"), "-o", "addopts="]}
    done = subprocess.run([sys.executable, "-c", AS_USER, json.dumps(cfg)], capture_output=True, text=True, timeout=900)
    summary = done.stdout.strip().splitlines()[-1:] or [done.stderr[-2000:]]
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in summary[0] and "failed" not in summary[0], summary
