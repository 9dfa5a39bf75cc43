"""The sandbox's launcher: runs inside the child process and isolates it before any untrusted code runs.

Started by `verifiers.sandbox` as `python -I sandbox_child.py` with its settings and the program as
one JSON document on stdin (never on its command line, which /proc shows). Standard library only,
because it runs before (and outside) the package's imports. It:

1. reads its settings and the program, then points stdin at /dev/null;
2. with the bwrap layer (`sandbox_bwrap.py`): as root, stages the folders the run's uid cannot reach
   in a private mount namespace, then runs bwrap as that uid under the run's rlimits;
3. with its own namespaces (where bwrap is absent): new mount, network, PID, IPC and UTS
   namespaces (as root; else inside a new user namespace); a minimal root built on a tmpfs and
   pivoted into (the host's system folders, the Python install and two /etc files read-only, a fresh
   /dev and /proc, private /tmp, /dev/shm and work dir); as root, a uid of its own that owns nothing
   on the host; the seccomp filter last. Where
   namespaces are refused, nothing runs (fail closed); only the explicitly named weak mode runs
   under resource limits and the Python guards alone;
4. starts the worker (a fresh `python -I -c <sandbox_boot.py's source>`) under resource limits and waits for it.
   With a PID namespace the launcher's child is the namespace's init: when it exits, the kernel
   kills every process left inside, which is how no process outlives a run.

It reports on the status pipe (one JSON object per line, never reachable by the program):
`{"isolation": ...}` before the program starts, `{"exit": n}` or `{"signal": n}` when it ends.
Leaves out: cgroups (the host makes them and moves this launcher in before it starts anything).
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
PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER, PR_SET_SECCOMP = 38, 1, 36, 22
SECCOMP_MODE_FILTER = 2

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


DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
WORK = "/sandbox"
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
MNT_DETACH = 2
OLD_ROOT = "/.old-root"


def _minimal_root(cfg: dict) -> None:
    """Build a fresh root on a tmpfs and pivot into it: /usr and its links, the Python install and two /etc
    files read-only, a fresh /dev (own devpts), size-capped /tmp, /dev/shm and work dir; nothing else."""
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    root, size = cfg["work"], cfg["tmpfs_mb"]
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for path in [p for p in cfg["system_dirs"] if os.path.lexists(p)]:
        if os.path.islink(path):
            os.symlink(os.readlink(path), root + path)
        else:
            _bind_read_only(path, root + path)
    for path in [p for p in cfg["etc_files"] if os.path.exists(p)]:
        _bind_read_only(path, root + path)
    _fresh_dev(root + "/dev", size)
    for path in ("/tmp", WORK):
        _tmpfs(root + path, size, "1777" if path == "/tmp" else "0700")
    for path in cfg["keep"]:
        _bind_read_only(path, root + path)
    for path in cfg["cover"]:
        _tmpfs(root + path, 1, "0755")
    os.makedirs(root + "/proc")
    os.makedirs(root + OLD_ROOT)
    pivot = _libc.syscall(SYS_PIVOT_ROOT[os.uname().machine], root.encode(), (root + OLD_ROOT).encode())
    _check(pivot, "pivot_root")
    os.chdir("/")


def _leave_old_root() -> None:
    """Run by the PID namespace's init: a fresh /proc for its namespace (while the old root still shows the
    host's, which a user namespace needs to be allowed to mount one), then the old root goes."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV)
    _check(_libc.umount2(OLD_ROOT.encode(), MNT_DETACH), "umount the old root")
    os.rmdir(OLD_ROOT)
    _mount("none", "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY)


def _bind_read_only(source: str, target: str) -> None:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(source, target, None, MS_BIND | MS_REC)
    _mount("none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | MS_NOSUID)


def _fresh_dev(dev: str, size_mb: int) -> None:
    _tmpfs(dev, 1, "0755")
    for name in DEVICES:
        open(f"{dev}/{name}", "a").close()
        _mount(f"/dev/{name}", f"{dev}/{name}", None, MS_BIND)
    os.mkdir(f"{dev}/pts")
    _mount("devpts", f"{dev}/pts", "devpts", MS_NOSUID, "newinstance,ptmxmode=0666,mode=0620")
    os.symlink("pts/ptmx", f"{dev}/ptmx")
    _tmpfs(f"{dev}/shm", size_mb, "1777")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")


def _enter_namespaces(as_root: bool) -> None:
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(flags if as_root else flags | CLONE_NEWUSER), "unshare")
    if not as_root:  # same ids inside: we hold capabilities until exec, the worker none after
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as fh:
                fh.write(text)


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
        _minimal_root(cfg)
        cfg["work"] = WORK
    except OSError as exc:
        raise IsolationUnavailable(str(exc)) from exc
    return "namespaces+uid" if as_root else "namespaces"


def _set_oom_score(value: int) -> None:
    try:
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write(str(value))
    except OSError:
        pass  # not root: no cgroup either, nothing to protect against


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
        _set_oom_score(0)
        if uid is not None:
            os.chown(cfg["work"], uid, uid)
            _drop_privileges(uid)
        _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        os.chdir(cfg["work"])
        _set_limits(cfg["rlimits"])
        policy, env = _worker_policy(cfg, isolated=cfg["work"] == WORK)
        os.set_inheritable(cfg["started_fd"], True)
        argv = [sys.executable, "-I", "-c", cfg["boot_source"], _policy_fd(policy)]
        if "seccomp" in cfg["isolation"].split("+"):
            _load_seccomp(bytes.fromhex(cfg["seccomp"]))  # last: it refuses memfd_create, among others
        os.execve(sys.executable, argv, env)
    except BaseException as exc:
        os.write(2, f"sandbox: worker did not start: {exc}\n".encode())
    os._exit(127)


def _worker_policy(cfg: dict, isolated: bool) -> tuple[dict, dict]:
    """The guards' writable roots and the worker's TMPDIR: the private /tmp when isolated, else only the work dir."""
    scratch = ["/tmp", "/dev/shm"] if isolated else []
    env = {**cfg["env"], "TMPDIR": "/tmp" if isolated else cfg["work"], "HOME": cfg["work"]}
    return {**cfg["policy"], "writable": [cfg["work"], *scratch], "started_fd": cfg["started_fd"]}, env


def _policy_fd(policy: dict) -> str:
    """The worker's policy in an in-memory file it reads and closes before the program runs (not on its
    command line, which /proc shows); its number, as the worker's argument."""
    return str(_memfd("policy", json.dumps(policy).encode()))


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def _load_seccomp(program: bytes) -> None:
    """Install the seccomp filter on this process (it needs no_new_privs, set before); kept across exec."""
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_char_p))
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp")


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
        _leave_old_root()
    uid = cfg["uid"] if "uid" in isolation.split("+") else None  # as root: never the program's uid
    status = _wait_for(_start_worker(cfg, uid))
    if weak:
        _kill_leftovers()
    if os.WIFSIGNALED(status):
        _report(cfg, {"signal": os.WTERMSIG(status)})
    else:
        _report(cfg, {"exit": os.waitstatus_to_exitcode(status)})


def main() -> None:
    cfg = json.loads(sys.stdin.buffer.read())
    program = cfg.pop("program").encode("utf-8", errors="replace")
    os.set_inheritable(cfg["status_fd"], False)  # the worker (after exec) never sees the status pipe
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _set_oom_score(-1000)  # the reaper of the run must outlive the cgroup's OOM kills; its children reset it
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of the run come to us, so we reap them all
    if cfg["layer"] == "bwrap":
        _run_bwrap(cfg, program)
        return
    try:
        isolation = isolate(cfg)
    except IsolationUnavailable as exc:
        _report(cfg, {"unavailable": str(exc)})
        return
    if cfg["seccomp"] and not isolation.startswith("rlimits"):
        isolation += "+seccomp"  # loaded by the worker's process right before it starts Python
    cfg["isolation"] = isolation
    _write_program(cfg["work"], program)
    _report(cfg, {"isolation": isolation})
    if isolation.startswith("rlimits"):
        _supervise(cfg, isolation)
        return
    init = os.fork()  # first child in the new PID namespace: its init
    if init == 0:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        _supervise(cfg, isolation)
        os._exit(0)
    os.waitpid(init, 0)
    _reap_all()


def _run_bwrap(cfg: dict, program: bytes) -> None:
    """The bwrap layer: stage what the run's uid cannot reach, then run bwrap as that uid and report how it ended."""
    argv, uid = list(cfg["bwrap"]["argv"]), cfg["uid"]
    try:
        if cfg["bwrap"]["stage_at"]:
            _stage(argv, cfg["bwrap"]["stage_at"], cfg["work"])
    except OSError as exc:
        _report(cfg, {"unavailable": f"could not stage the Python install for bwrap: {exc}"})
        return
    fds = {"{program_fd}": _memfd("program", program)}
    if cfg["seccomp"]:
        fds["{seccomp_fd}"] = _memfd("seccomp", bytes.fromhex(cfg["seccomp"]))
    argv = [str(fds.get(arg, arg)) for arg in argv]
    _report(cfg, {"isolation": cfg["isolation"]})
    pid = os.fork()
    if pid == 0:
        try:
            _set_oom_score(0)
            if uid is not None:
                _drop_privileges(uid)
            _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
            _set_limits(cfg["rlimits"])
            os.set_inheritable(cfg["started_fd"], True)
            policy, _ = _worker_policy({**cfg, "work": cfg["bwrap"]["work"]}, isolated=True)
            options = _memfd("bwrap-options", b"\0".join(a.encode() for a in argv[1:-2]) + b"\0")
            command = [argv[0], "--args", str(options), *argv[-2:]]  # "--", the interpreter
            os.execve(argv[0], [*command, "-I", "-c", cfg["boot_source"], _policy_fd(policy)], {})
        except BaseException as exc:
            os.write(2, f"sandbox: bwrap did not start: {exc}\n".encode())
        os._exit(127)
    _, status = os.waitpid(pid, 0)
    _reap_all()  # bwrap's namespace init comes to us (subreaper): reaped, its CPU time reaches the host
    _report(cfg, {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"exit": os.waitstatus_to_exitcode(status)})


def _reap_all() -> None:
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _stage(argv: list[str], stage_at: list[int], work: str) -> None:
    """As root, in a mount namespace of our own: bind each source the run's uid cannot reach under `work`
    (a fresh tmpfs it can enter), and point bwrap at the staged copy."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare")
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", work, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for n, index in enumerate(stage_at):
        staged = os.path.join(work, str(n))
        _bind_read_only(argv[index], staged)
        argv[index] = staged


def _memfd(name: str, data: bytes) -> int:
    """An inheritable in-memory file holding `data`, read from its start (bwrap reads it to the end)."""
    fd = os.memfd_create(name, 0)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _write_program(work: str, program: bytes) -> None:
    path = os.path.join(work, "main.py")
    with open(path, "wb") as fh:
        fh.write(program)
    os.chmod(path, 0o444)


if __name__ == "__main__":
    main()
