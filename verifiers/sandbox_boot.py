"""The sandbox's worker: says it started, installs the Python guards, and runs `main.py`.

Run by the launcher as `python -I -c <this source> <fd of the policy as JSON>` inside
the isolated child, as the sandbox's own user. Standard library only.

The guards are audit hooks that refuse, inside Python: sockets, starting processes (os.system,
subprocess, exec, fork, spawn), ctypes, signals to other processes, writes outside the writable
roots and reads under hidden directories. They are defence in depth, not a boundary (PEP 578: a
program gets past them, e.g. through ctypes or by re-importing a module); the boundary is the
operating system's (bwrap or own namespaces, uid, seccomp, rlimits).
Before the program runs, the worker writes one byte on the host's "started" pipe and closes it and
every other inherited descriptor: a run without that byte never started (an `error`, not a `fail`).
The program's exit code is only ever pass (0) or fail: which limit a run hit is decided on the host.
Leaves out: guarding C extensions' own system calls.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class SandboxBlocked(PermissionError):
    """An operation the sandbox refuses (network, processes, files outside the work dir)."""


def _under(path: str, roots: tuple[str, ...]) -> bool:
    real = os.path.realpath(path)
    return any(real == root or real.startswith(root.rstrip("/") + "/") for root in roots)


def make_guard(writable: tuple[str, ...], hidden: tuple[str, ...], keep: tuple[str, ...]):
    """The audit hook: event name -> a check that raises SandboxBlocked.

    `hidden` directories may not be read, except the `keep` paths inside them (the Python install).
    """
    me = os.getpid()

    def refuse(event: str, args: tuple) -> None:
        raise SandboxBlocked(f"sandbox: {event} is not allowed")

    def check_open(event: str, args: tuple) -> None:
        path, mode, flags = args
        if not isinstance(path, str):
            return  # an already-open descriptor
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & _WRITE_FLAGS)
        if writing and not _under(path, writable + ("/dev/null",)):
            raise SandboxBlocked(f"sandbox: writing {path} is not allowed")
        if (_under(path, hidden) and not _under(path, keep + writable)) or _other_process(path):
            raise SandboxBlocked(f"sandbox: reading {path} is not allowed")

    def check_path_change(event: str, args: tuple) -> None:
        for path in args:
            if isinstance(path, str | bytes) and not _under(os.fsdecode(path), writable):
                raise SandboxBlocked(f"sandbox: {event} on {os.fsdecode(path)} is not allowed")

    def check_kill(event: str, args: tuple) -> None:
        if args and args[0] not in (me, 0):
            raise SandboxBlocked(f"sandbox: {event} of another process is not allowed")

    def _other_process(path: str) -> bool:
        parts = os.path.realpath(path).split("/")
        return len(parts) > 2 and parts[1] == "proc" and parts[2].isdigit() and int(parts[2]) != me

    def check_ctypes(event: str, args: tuple) -> None:
        if event == "ctypes.dlopen" and args and args[0] is None:
            return  # `import ctypes` opens the running program; calling into it is what is refused
        refuse(event, args)

    rules = {
        "socket.": refuse, "os.system": refuse, "os.exec": refuse, "os.posix_spawn": refuse,
        "os.spawn": refuse, "os.fork": refuse, "os.forkpty": refuse, "subprocess.Popen": refuse,
        "pty.spawn": refuse, "ctypes.": check_ctypes, "os.kill": check_kill, "os.killpg": refuse,
        "open": check_open, "os.remove": check_path_change, "os.rmdir": check_path_change,
        "os.rename": check_path_change, "os.mkdir": check_path_change, "os.chmod": check_path_change,
        "os.chown": check_path_change, "os.truncate": check_path_change, "os.link": check_path_change,
        "os.symlink": check_path_change, "shutil.rmtree": check_path_change, "os.utime": check_path_change,
    }

    def hook(event: str, args: tuple) -> None:
        for prefix, rule in rules.items():
            if event.startswith(prefix):
                rule(event, args)
                return

    return hook


def _close_unaudited_spawn() -> None:
    """`_posixsubprocess.fork_exec` starts processes without an audit event: replace it with a refusal."""
    import _posixsubprocess

    def fork_exec(*args: object, **kwargs: object) -> int:
        raise SandboxBlocked("sandbox: starting processes is not allowed")

    _posixsubprocess.fork_exec = fork_exec  # type: ignore[attr-defined]


def main() -> None:
    with os.fdopen(int(sys.argv[1]), "rb") as fh:
        policy = json.loads(fh.read())
    os.write(policy["started_fd"], b".")
    os.closerange(3, 2**16)  # the started pipe and anything else inherited
    work = os.getcwd()
    path = os.path.join(work, "main.py")
    with open(path, encoding="utf-8", errors="replace") as fh:
        source = fh.read()
    if policy["guards"]:
        writable = tuple(policy["writable"])
        sys.addaudithook(make_guard(writable, tuple(policy["hidden"]), tuple(policy["keep"])))
        _close_unaudited_spawn()
    sys.argv = [path]
    namespace = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
    try:
        exec(compile(source, path, "exec"), namespace)
    except SystemExit:
        raise
    except BaseException as exc:
        tb = exc.__traceback__.tb_next if exc.__traceback__ else None  # start at the program, not here
        traceback.print_exception(exc.with_traceback(tb))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)


if __name__ == "__main__":
    main()
