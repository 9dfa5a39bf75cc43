"""The sandbox's launcher: runs inside the child process and isolates it before any untrusted code runs.

Started by `verifiers.sandbox` as `python -I sandbox_child.py <settings-json>` with the program on
stdin. Standard library only, because it runs before (and outside) the package's imports. It:

1. reads the program, then points stdin at /dev/null;
2. isolates what the platform allows, strongest first: new mount, network, PID, IPC and UTS
   namespaces (as root; else inside a new user namespace); an empty private /tmp, /var/tmp,
   /dev/shm; the user's home, /root and /home replaced by empty directories (the Python install
   re-mounted read-only where it lives under them); everything else read-only; a fresh /proc;
   as root, a uid of its own that owns nothing on the host. Where namespaces are refused it
   falls back to resource limits and the Python guards alone, and says so;
3. starts the worker (a fresh `python -I -c <sandbox_boot.py's source>`) under resource limits and waits for it.
   With a PID namespace the launcher's child is the namespace's init: when it exits, the kernel
   kills every process left inside, which is how no process outlives a run.

It reports on the status pipe (one JSON object per line, never reachable by the program):
`{"isolation": ...}` before the program starts, `{"exit": n}` or `{"signal": n}` when it ends.
Leaves out: seccomp filters and cgroups (memory is bounded by RLIMIT_AS, processes by RLIMIT_NPROC).
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 38, 1, 36
SYS_MOUNT_SETATTR, AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = 442, -100, 0x8000, 0x1

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(s: str | None) -> bytes | None:
        return None if s is None else s.encode()

    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _tmpfs(target: str, size_mb: int, mode: str) -> None:
    os.makedirs(target, exist_ok=True)
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,mode={mode}")


class _MountAttr(ctypes.Structure):
    _fields_ = [("set", ctypes.c_uint64), ("clr", ctypes.c_uint64), ("prop", ctypes.c_uint64), ("ns", ctypes.c_uint64)]


def _read_only_everything() -> None:
    """Every mount in our namespace read-only (mount_setattr, recursive); the root mount alone if unsupported."""
    attr = _MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
    result = _libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, b"/", AT_RECURSIVE, ctypes.byref(attr), ctypes.sizeof(attr))
    if result != 0:
        _mount("none", "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY)


def _enter_namespaces(as_root: bool) -> None:
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(flags if as_root else flags | CLONE_NEWUSER), "unshare")
    if not as_root:  # same ids inside: we hold capabilities until exec, the worker none after
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as fh:
                fh.write(text)


def _hide_and_keep(hidden: list[str], keep: list[str], work: str, tmpfs_mb: int) -> None:
    """Empty tmpfs over hidden dirs and scratch dirs, kept paths re-bound read-only, the work dir fresh."""
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    keep_fds = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in keep}
    _read_only_everything()
    for path in hidden:
        _tmpfs(path, 1, "0755")
    for path in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(path):
            _tmpfs(path, tmpfs_mb, "1777")
    for path, fd in keep_fds.items():
        if any(path == h or path.startswith(h.rstrip("/") + "/") for h in hidden):
            os.makedirs(path, exist_ok=True)
            _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            try:
                _mount("none", path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)
            except OSError:
                pass  # the bind already came from a read-only tree
        os.close(fd)
    _tmpfs(work, tmpfs_mb, "0700")


class IsolationUnavailable(OSError):
    """The namespaces the run asked for were refused: the run does not happen (fail closed)."""


def isolate(cfg: dict) -> str:
    """Apply the isolation asked for; return its name.

    With namespaces asked for (the default), a platform that refuses them (no user namespaces,
    mounts denied by a security module) gets no run at all: `IsolationUnavailable`. Only the
    explicitly named weak mode (`namespaces=False`) runs under rlimits and the guards alone, and
    then as an own uid when the launcher is root (see `_supervise`).
    """
    as_root = os.geteuid() == 0
    if not cfg["namespaces"]:
        return "rlimits+uid" if as_root else "rlimits"
    try:
        if cfg.get("refuse_namespaces"):
            raise OSError("namespaces refused (simulated: REASON_SANDBOX_REFUSE_NAMESPACES)")
        _enter_namespaces(as_root)
        _hide_and_keep(cfg["hidden"], cfg["keep"], cfg["work"], cfg["tmpfs_mb"])
    except OSError as exc:
        raise IsolationUnavailable(str(exc)) from exc
    return "namespaces+uid" if as_root else "namespaces"


def _drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def _set_limits(limits: dict) -> None:
    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (value, value + 1 if name == "RLIMIT_CPU" else value))


def _report(cfg: dict, message: dict) -> None:
    os.write(cfg["status_fd"], (json.dumps(message) + "\n").encode())


def _start_worker(cfg: dict, uid: int | None) -> int:
    pid = os.fork()
    if pid:
        return pid
    try:
        if uid is not None:
            os.chown(cfg["work"], uid, uid)
            _drop_privileges(uid)
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        os.chdir(cfg["work"])
        _set_limits(cfg["rlimits"])
        policy, env = _worker_policy(cfg, isolated=uid is not None or os.path.ismount(cfg["work"]))
        os.execve(sys.executable, [sys.executable, "-I", "-c", cfg["boot_source"], json.dumps(policy)], env)
    except BaseException as exc:
        os.write(2, f"sandbox: worker did not start: {exc}\n".encode())
    os._exit(127)


def _worker_policy(cfg: dict, isolated: bool) -> tuple[dict, dict]:
    """The guards' writable roots and the worker's TMPDIR: the private /tmp when isolated, else only the work dir."""
    scratch = ["/tmp", "/dev/shm"] if isolated else []
    env = {**cfg["env"], "TMPDIR": "/tmp" if isolated else cfg["work"]}
    return {**cfg["policy"], "writable": [cfg["work"], *scratch]}, env


def _wait_for(worker: int) -> int:
    """Reap every child (orphans come to us as init or subreaper) until the worker exits; its wait status."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        if pid == worker:
            return status


def _kill_leftovers() -> None:
    """Without a PID namespace: kill whatever the worker left behind (they were reparented to us)."""
    while True:
        children = _children(os.getpid())
        if not children:
            return
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break


def _children(ppid: int) -> list[int]:
    found = []
    for task in os.listdir(f"/proc/{ppid}/task"):
        try:
            with open(f"/proc/{ppid}/task/{task}/children") as fh:
                found += [int(p) for p in fh.read().split()]
        except OSError:
            pass
    return found


def _supervise(cfg: dict, isolation: str) -> None:
    """Run the worker and report how it ended. As a PID namespace's init, exiting kills the rest."""
    weak = isolation.startswith("rlimits")
    if not weak:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV)
    uid = cfg["uid"] if isolation.endswith("+uid") else None  # as root: never the program's uid
    status = _wait_for(_start_worker(cfg, uid))
    if weak:
        _kill_leftovers()
    if os.WIFSIGNALED(status):
        _report(cfg, {"signal": os.WTERMSIG(status)})
    else:
        _report(cfg, {"exit": os.waitstatus_to_exitcode(status)})


def main() -> None:
    cfg = json.loads(sys.argv[1])
    os.set_inheritable(cfg["status_fd"], False)  # the worker (after exec) never sees the status pipe
    program = sys.stdin.buffer.read()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    try:
        isolation = isolate(cfg)
    except IsolationUnavailable as exc:
        _report(cfg, {"unavailable": str(exc)})
        return
    _write_program(cfg["work"], program)
    _report(cfg, {"isolation": isolation})
    if isolation.startswith("rlimits"):
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        _supervise(cfg, isolation)
        return
    init = os.fork()  # first child in the new PID namespace: its init
    if init == 0:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        _supervise(cfg, isolation)
        os._exit(0)
    os.waitpid(init, 0)


def _write_program(work: str, program: bytes) -> None:
    path = os.path.join(work, "main.py")
    with open(path, "wb") as fh:
        fh.write(program)
    os.chmod(path, 0o444)


if __name__ == "__main__":
    main()
