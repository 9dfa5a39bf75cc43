"""The sandbox's seccomp filter: the system calls a sandboxed program may not make, as a BPF program.

`deny_filter()` returns the filter as bytes (an array of `struct sock_filter`), in the form both
isolation layers load: bubblewrap reads it from `--seccomp FD`; the own-namespace launcher installs
it with `prctl(PR_SET_SECCOMP)` right before the worker starts. Refused calls fail with EPERM, so
the program sees an ordinary `PermissionError`:
- every `socket()` (the worker talks over pipes only; `socketpair` stays, it reaches nothing);
- mounting and namespaces: mount/umount, the new mount API, pivot_root, chroot, unshare, setns,
  and `clone` with any CLONE_NEW* flag (`clone3` gets ENOSYS, so the C library falls back to `clone`);
- kernel keys (keyctl, add_key, request_key), bpf, perf_event_open, ptrace, process_vm_*,
  userfaultfd, io_uring, memfd_create (pages no process maps, outside every rlimit), file handles,
  module loading, kexec, swap, reboot, quotas, `ioctl(TIOCSTI)` (typing into a terminal).
A call made in another ABI (x32, or a different architecture) kills the process.
Leaves out: architectures other than x86_64 (there `deny_filter()` is None and the layers run
without it, saying so in the isolation name), and argument checks beyond clone's and ioctl's flags.
"""

from __future__ import annotations

import errno
import functools
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
RET_KILL_PROCESS, RET_ALLOW, RET_ERRNO = 0x80000000, 0x7FFF0000, 0x00050000
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
NR_OFFSET, ARCH_OFFSET, ARGS_OFFSET = 0, 4, 16

CLONE_NEW_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080
"""CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME."""
TIOCSTI = 0x5412

X86_64_DENIED = {
    "socket": 41, "ptrace": 101, "syslog": 103, "personality": 135, "uselib": 134, "vhangup": 153,
    "modify_ldt": 154, "pivot_root": 155, "chroot": 161, "acct": 163, "mount": 165, "umount2": 166,
    "swapon": 167, "swapoff": 168, "reboot": 169, "iopl": 172, "ioperm": 173, "init_module": 175,
    "delete_module": 176, "quotactl": 179, "lookup_dcookie": 212, "kexec_load": 246, "add_key": 248,
    "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298, "fanotify_init": 300,
    "name_to_handle_at": 303, "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310,
    "process_vm_writev": 311, "finit_module": 313, "memfd_create": 319, "kexec_file_load": 320, "bpf": 321,
    "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "pidfd_getfd": 438, "mount_setattr": 442, "memfd_secret": 447,
}
X86_64_CLONE, X86_64_CLONE3, X86_64_IOCTL = 56, 435, 16


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def _refuse(err: int = errno.EPERM) -> bytes:
    return _op(RET_K, RET_ERRNO | err)


def _when_flag(nr: int, arg: int, test: int, value: int) -> bytes:
    """For syscall `nr`: refuse when the low word of argument `arg` matches `value` (JSET or JEQ); else allow."""
    return b"".join([
        _op(JEQ_K, nr, jt=0, jf=4),
        _op(LD_W_ABS, ARGS_OFFSET + 8 * arg),
        _op(test, value, jt=0, jf=1),
        _refuse(),
        _op(RET_K, RET_ALLOW),
    ])


@functools.cache
def deny_filter() -> bytes | None:
    """The filter for this machine's architecture; None where there is none (see the module doc)."""
    if platform.machine() != "x86_64":
        return None
    program = [
        _op(LD_W_ABS, ARCH_OFFSET),
        _op(JEQ_K, AUDIT_ARCH_X86_64, jt=1, jf=0),
        _op(RET_K, RET_KILL_PROCESS),
        _op(LD_W_ABS, NR_OFFSET),
        _op(JGE_K, X32_SYSCALL_BIT, jt=0, jf=1),
        _op(RET_K, RET_KILL_PROCESS),
    ]
    for nr in sorted(X86_64_DENIED.values()):
        program += [_op(JEQ_K, nr, jt=0, jf=1), _refuse()]
    program += [_op(JEQ_K, X86_64_CLONE3, jt=0, jf=1), _refuse(errno.ENOSYS)]
    program += [_when_flag(X86_64_CLONE, 0, JSET_K, CLONE_NEW_FLAGS)]
    program += [_op(LD_W_ABS, NR_OFFSET), _when_flag(X86_64_IOCTL, 1, JEQ_K, TIOCSTI)]
    program.append(_op(RET_K, RET_ALLOW))
    return b"".join(program)
