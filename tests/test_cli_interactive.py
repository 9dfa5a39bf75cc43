"""The interactive solver in a real terminal (a pty): line editing and history, commands, a bad command
or a Ctrl-C at the prompt that keeps the session, a question from a file, the history kept across sessions."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REASON = str(Path(sys.executable).parent / "reason")
FAKE = ["--backend", "fake", "--backend-opt", 'script=["So 3 + 4 = 7.\\nThe answer is 7."]', "--backend-opt", "cycle=true"]
UP = "\x1b[A"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    def __init__(self, tmp_path: Path, backend: list[str] = FAKE, path: str = "") -> None:
        self.master, slave = os.openpty()
        env = {**os.environ, "TERM": "xterm", "XDG_CACHE_HOME": str(tmp_path), "COLUMNS": "120"}
        if path:
            env["PYTHONPATH"] = path
        self.proc = subprocess.Popen([REASON, "solve", *backend], stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True)
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while text not in ANSI.sub("", self.seen):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"never saw {text!r}; the terminal shows:\n{self.seen[-2000:]}")
            if select.select([self.master], [], [], remaining)[0]:
                try:
                    self.seen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:
                    break
        return self.seen

    def send(self, keys: str) -> None:
        self.seen = ""
        os.write(self.master, keys.encode())

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=30)
        finally:
            os.close(self.master)


@pytest.fixture
def terminal(tmp_path):
    term = Terminal(tmp_path)
    yield term
    if term.proc.poll() is None:
        term.proc.kill()


def test_questions_commands_history_and_interrupts_in_a_real_terminal(terminal, tmp_path):
    terminal.expect("anything else is a question")
    terminal.expect("? ")
    terminal.send("What is 3 + 4?\r")
    terminal.expect("answer: 7")
    terminal.send("/nope\r")
    terminal.expect("unknown command '/nope'")
    terminal.send(UP + UP + "\r")  # two lines back: the question again, through readline's history
    terminal.expect("answer: 7")
    terminal.expect("? ")
    terminal.seen = ""
    os.killpg(terminal.proc.pid, signal.SIGINT)  # Ctrl-C at the prompt: a fresh prompt, the session stays
    terminal.expect("? ")
    question = tmp_path / "long.txt"
    question.write_text("What is 3 + 4? " + "Think it through. " * 400)
    terminal.send(f"/file {question}\r")
    terminal.expect("answer: 7")
    terminal.expect("? ")
    terminal.send("/lines\r")
    terminal.expect("...")
    terminal.send("What is 3\r+ 4?\r.\r")
    terminal.expect("answer: 7")
    terminal.send("/quit\r")
    assert terminal.close() == 0
    assert "What is 3 + 4?" in (tmp_path / "reason" / "history").read_text()


SLOW_PLUGIN = """
import time
from reason.testing import FakeGenerator

def factory(**options):
    calls = []

    def answer(prompt, params):
        calls.append(prompt)
        if len(calls) == 1:
            time.sleep(60)  # the first question hangs until Ctrl-C
        return "So 3 + 4 = 7.\\nThe answer is 7."

    return FakeGenerator(answer)
"""


def test_ctrl_c_during_a_question_cancels_it_and_keeps_the_session(tmp_path):
    """A slow backend from a plugin (an entry point of a distribution on PYTHONPATH, as a user would install one)."""
    plugin = tmp_path / "plugin"
    (plugin / "slow_backend-0.1.dist-info").mkdir(parents=True)
    (plugin / "slow_backend-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: slow-backend\nVersion: 0.1\n")
    (plugin / "slow_backend-0.1.dist-info" / "entry_points.txt").write_text("[reason.generators]\nslow = slow_backend:factory\n")
    (plugin / "slow_backend.py").write_text(SLOW_PLUGIN)
    terminal = Terminal(tmp_path, ["--backend", "slow"], path=str(plugin))
    try:
        terminal.expect("anything else is a question")
        terminal.expect("? ")
        terminal.send("What is 3 + 4?\r")
        terminal.expect("solving")
        time.sleep(0.5)
        os.killpg(terminal.proc.pid, signal.SIGINT)
        terminal.expect("cancelled")
        terminal.expect("? ")
        terminal.send("What is 3 + 4?\r")
        terminal.expect("answer: 7")
        terminal.expect("? ")
        terminal.send("/quit\r")
        assert terminal.close() == 0
    finally:
        if terminal.proc.poll() is None:
            terminal.proc.kill()
