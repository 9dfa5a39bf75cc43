"""The sandbox on ordinary programs: verdicts, output capture, limits, cleanup.

The hostile suite (attacks with host-side assertions) is in tests/test_sandbox_hostile.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from reason.verifiers import sandbox as sandbox_module
from reason.verifiers.sandbox import Sandbox, SandboxLimits, _bwrap_probe, _weak_mode_refused, run_code
from reason.verifiers.sandbox_cgroup import RunCgroup
from reason.verifiers.sandbox_processes import UID_BASE, leased_uid

CGROUPS = RunCgroup.make("reason-test-probe", 2**30, 8)
if CGROUPS:
    CGROUPS.remove()
LAYERS = [pytest.param("bwrap", marks=pytest.mark.skipif(bool(_bwrap_probe()), reason=f"bwrap: {_bwrap_probe()}")),
          "namespaces"]


def test_prints_and_passes():
    result = run_code("print(6 * 7)")
    assert result.status == "pass"
    assert result.stdout == "42\n"
    assert result.exit_code == 0
    assert result.limit is None


def test_exception_is_a_fail_with_the_traceback():
    result = run_code("def f():\n    raise ValueError('boom')\nf()")
    assert result.status == "fail"
    assert result.exit_code == 1
    assert "ValueError: boom" in result.stderr
    assert "sandbox_boot" not in result.stderr.splitlines()[1]  # the traceback starts at the program


def test_syntax_error_is_a_fail():
    result = run_code("print(")
    assert result.status == "fail"
    assert "SyntaxError" in result.stderr


def test_exit_code_is_reported():
    result = run_code("import sys; print('partial'); sys.exit(3)")
    assert (result.status, result.exit_code, result.stdout) == ("fail", 3, "partial\n")


def test_assertion_failure_is_a_fail():
    assert run_code("assert 2 + 2 == 5, 'arithmetic'").status == "fail"


def test_stderr_is_captured_separately():
    result = run_code("import sys; print('out'); print('err', file=sys.stderr)")
    assert (result.stdout, result.stderr) == ("out\n", "err\n")


def test_output_over_the_limit_is_truncated_and_stops_the_run():
    result = Sandbox(SandboxLimits(max_output_bytes=1000)).run("while True: print('y' * 100)")
    assert result.status == "error"
    assert result.limit == "output"
    assert result.truncated
    assert len(result.stdout) == 1000


def test_wall_time_limit_is_a_timeout():
    result = Sandbox(SandboxLimits(wall_s=2, cpu_s=60)).run("import time; time.sleep(30)")
    assert result.status == "timeout"
    assert result.limit == "wall_time"
    assert result.wall_s < 10


def test_cpu_limit_is_a_timeout():
    result = Sandbox(SandboxLimits(wall_s=60, cpu_s=1)).run("while True: pass")
    assert result.status == "timeout"
    assert result.limit == "cpu_time"


@pytest.mark.parametrize("layer", LAYERS)
def test_a_refused_allocation_is_the_programs_failure(layer):
    result = Sandbox(SandboxLimits(memory_mb=256, layer=layer)).run("x = bytearray(512 * 2**20)")
    assert (result.status, result.limit) == ("fail", None)  # the kernel refused it (RLIMIT_AS); the host saw no hit
    assert "MemoryError" in result.stderr


@pytest.mark.parametrize("layer", LAYERS)
def test_memory_held_past_the_limit_by_two_processes_is_killed_by_the_host(layer):
    """Each process stays under RLIMIT_AS (256 MB); together they hold about 320 MB: the host's sum ends the run."""
    code = ("import os, time\nos.fork()\nx = bytearray(150 * 2**20)\n"
            "for i in range(0, len(x), 4096): x[i] = 1\ntime.sleep(20)")
    result = Sandbox(SandboxLimits(memory_mb=256, wall_s=60, python_guards=False, layer=layer)).run(code)
    assert (result.status, result.limit) == ("error", "memory"), result
    assert result.wall_s < 15


def test_file_size_limit():
    code = "open('big.bin', 'wb').write(b'0' * (3 * 2**20))"
    result = Sandbox(SandboxLimits(file_size_mb=1)).run(code)
    assert (result.status, result.limit) == ("fail", None) and "File too large" in result.stderr


def test_open_files_limit():
    code = "files = [open('f%d' % i, 'w') for i in range(100)]"
    result = Sandbox(SandboxLimits(open_files=32)).run(code)
    assert (result.status, result.limit) == ("fail", None) and "Too many open files" in result.stderr


@pytest.mark.parametrize("code", [f"import sys; sys.exit({n})" for n in (101, 102, 103, 104, 105, 137, 152)]
                         + ["import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
                            "import os, signal; os.kill(os.getpid(), signal.SIGXCPU)",
                            "import sys; print('sandbox: worker did not start', file=sys.stderr); sys.exit(1)"])
@pytest.mark.parametrize("layer", LAYERS)
def test_exit_codes_and_self_signals_never_fake_a_limit(code, layer):
    result = Sandbox(SandboxLimits(layer=layer, cpu_s=5)).run(code)
    assert (result.status, result.limit) == ("fail", None), result


def test_a_worker_that_never_started_is_an_error_not_a_fail(monkeypatch):
    monkeypatch.setattr(sandbox_module, "_boot_source", lambda: "import sys; sys.exit(1)")
    result = run_code("print(1)")
    assert result.status == "error" and result.limit is None and "did not start" in result.detail


@pytest.mark.parametrize("layer", LAYERS)
def test_an_interpreter_under_tmp_is_visible_inside(layer, tmp_path_factory):
    """A venv made under /tmp (where the sandbox mounts a fresh /tmp) still runs programs."""
    venv = Path(tempfile.mkdtemp(prefix="reason-venv-", dir="/tmp"))
    venv.chmod(0o755)  # as `python -m venv /tmp/x` leaves it
    try:
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
        script = ("from reason.verifiers.sandbox import Sandbox, SandboxLimits\n"
                  f"r = Sandbox(SandboxLimits(layer={layer!r})).run('import sys; print(sys.prefix)')\n"
                  "print(r.status, r.stdout.strip(), r.detail)")
        done = subprocess.run([str(venv / "bin" / "python"), "-c", script], capture_output=True, text=True, timeout=120,
                              cwd="/")
        assert done.stdout.split()[:2] == ["pass", str(venv)], done.stdout + done.stderr
    finally:
        shutil.rmtree(venv)


def test_environment_is_scrubbed(monkeypatch):
    monkeypatch.setenv("REASON_TEST_TOKEN", "tok-123")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    result = run_code("import os; print(sorted(os.environ))")
    assert result.status == "pass"
    assert "REASON_TEST_TOKEN" not in result.stdout and "HTTPS_PROXY" not in result.stdout


def test_working_directory_is_fresh_writable_and_removed():
    result = run_code("import os; open('scratch.txt', 'w').write('x'); print(os.getcwd()); print(sorted(os.listdir('.')))")
    assert result.status == "pass", result.stderr
    cwd, listing = result.stdout.splitlines()
    assert listing == "['main.py', 'scratch.txt']"
    assert not os.path.exists(cwd)


def test_standard_library_and_site_packages_import():
    result = Sandbox(SandboxLimits(wall_s=60, cpu_s=30)).run("import fractions, sympy; print(sympy.sqrt(8), fractions.Fraction(3, 6))")
    assert result.status == "pass", result.stderr
    assert result.stdout == "2*sqrt(2) 1/2\n"


def test_undecodable_program_text_does_not_raise():
    result = run_code("print('\udcff')")
    assert result.status in ("pass", "fail")


@pytest.mark.parametrize("layer", LAYERS)
def test_isolation_is_reported(layer):
    result = Sandbox(SandboxLimits(layer=layer)).run("pass")
    own_uid = "+uid" if os.geteuid() == 0 else ""
    cgroup = "+cgroup" if CGROUPS else ""
    assert result.isolation == f"{layer}{own_uid}+seccomp{cgroup}"


def test_auto_takes_bwrap_where_it_works():
    expected = "namespaces" if _bwrap_probe() else "bwrap"
    assert run_code("pass").isolation.split("+")[0] == expected


@pytest.mark.parametrize("code", ["import sys; sys.exit(0)", "raise SystemExit(0)", "import os; os._exit(0)"])
def test_explicit_successful_exits_pass(code):
    assert run_code(code).status == "pass"


def test_without_namespaces_only_the_work_dir_is_writable(tmp_path):
    outside = tmp_path / "outside.txt"
    code = f"open('inside.txt', 'w').write('ok')\nopen({str(outside)!r}, 'w').write('no')"
    limits = SandboxLimits(namespaces=False)
    if _weak_mode_refused(limits):
        pytest.skip("the weak mode is refused here (tests/test_sandbox_fail_closed.py)")
    result = Sandbox(limits).run(code)
    assert result.isolation in ("rlimits", "rlimits+uid")
    assert (result.status, result.limit) == ("fail", None) and "SandboxBlocked" in result.stderr
    assert "inside" not in result.stderr and not outside.exists()


@pytest.mark.skipif(not CGROUPS, reason="no writable cgroup here (root and a memory + pids hierarchy are needed)")
@pytest.mark.parametrize("layer", LAYERS)
def test_shared_memory_pages_count_against_the_cgroup(layer):
    """Pages in /dev/shm belong to no process (RLIMIT_AS and the host's sampling miss them); the kernel's cap does not."""
    code = "f = open('/dev/shm/x', 'wb')\nfor _ in range(100):\n    f.write(b'x' * 2**20)\nprint('written')"
    result = Sandbox(SandboxLimits(layer=layer, memory_mb=64, scratch_mb=200, file_size_mb=100)).run(code)
    assert (result.status, result.limit, result.stdout) == ("error", "memory", "")
    assert "cgroup" in result.isolation.split("+")


@pytest.mark.skipif(not CGROUPS, reason="no writable cgroup here")
def test_cgroups_are_removed_after_each_run():
    before = {p.name for p in Path("/sys/fs/cgroup").rglob("reason-sandbox-*")}
    run_code("print(1)")
    assert {p.name for p in Path("/sys/fs/cgroup").rglob("reason-sandbox-*")} == before


def test_a_v2_tree_gets_memory_swap_and_pids_caps(tmp_path, monkeypatch):
    """cgroup v2 on a folder laid out as the kernel does (this host has memory and pids on v1, so the
    kernel's own v2 files cannot be written here): the names and values written."""
    if os.geteuid() != 0:
        pytest.skip("cgroups are made only as root")
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("memory pids\n")
    monkeypatch.setattr("reason.verifiers.sandbox_cgroup._own_path", lambda root, hierarchy: "")
    group = RunCgroup.make("run-1", 256 * 2**20, 20, root=tmp_path)
    assert group is not None and group.dirs == [tmp_path / "run-1"]
    assert {f.name: f.read_text() for f in (tmp_path / "run-1").iterdir()} == {
        "memory.max": str(256 * 2**20), "memory.swap.max": "0", "pids.max": "20"}
    (tmp_path / "run-1" / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n")
    assert group.oom_kills() == 2


def test_a_leased_uid_is_never_handed_out_twice_at_once(monkeypatch):
    """Two runs (from any process on this host) never share a uid: the lease is an abstract socket name."""
    draws = iter([7, 7, 8])
    monkeypatch.setattr("reason.verifiers.sandbox_processes.secrets.randbelow", lambda span: next(draws))
    with leased_uid() as first, leased_uid() as second:
        assert (first - UID_BASE, second - UID_BASE) == (7, 8)
        other = subprocess.run([sys.executable, "-c", "import socket; s = socket.socket(socket.AF_UNIX);"
                                f" s.bind('\\0reason-sandbox-uid-{first}')"], capture_output=True, text=True)
        assert "Address already in use" in other.stderr  # another process cannot take it either
