"""A real headless Chromium for page tests, driven over the DevTools protocol on a pipe (stdlib only).

Chromium comes from the Debian package `chromium` (scripts/setup.sh installs it as root); nothing is
downloaded. It runs with `--remote-debugging-pipe`: commands go in on fd 3 and replies and events come
out on fd 4, each a JSON message ended by a NUL byte. One tab is attached with a flat session; the
page's console messages, uncaught exceptions, log entries (CSP violations among them) and every network
request are recorded while it runs.
Leaves out: more than one tab, screenshots of anything but the viewport or full page, input devices
beyond what a script in the page can do (clicks are `element.click()`).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_binary() -> str | None:
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def _high(fds: tuple[int, int]) -> tuple[int, int]:
    """A pipe's ends moved above fd 9, so the shell's `3<&N 4>&M` never closes what it just made."""
    moved = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds)
    for fd in fds:
        os.close(fd)
    return moved  # type: ignore[return-value]


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with one tab.

    Example:
        >>> with Browser() as browser:                       # doctest: +SKIP
        ...     browser.open(Path("page.html"))
        ...     browser.evaluate("document.title")
    """

    def __init__(self, width: int = 1400, height: int = 900, timeout_s: float = 30.0, one_process_per_page: bool = False) -> None:
        binary = chromium_binary()
        if binary is None:
            raise BrowserError("no chromium on PATH (Debian: apt-get install chromium)")
        self.timeout_s = timeout_s
        self.profile = tempfile.mkdtemp(prefix="reason-chromium-")
        to_browser_r, self._to_browser = _high(os.pipe())
        self._from_browser, from_browser_w = _high(os.pipe())
        args = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-sync",
                "--disable-background-networking", "--disable-component-update", "--mute-audio",
                f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"]
        if one_process_per_page:  # frames of other origins (sandboxed iframes) stay in the page's process and frame tree
            args[1:1] = ["--disable-site-isolation-trials", "--disable-features=IsolateOrigins,site-per-process"]
        shell = f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
        self.process = subprocess.Popen(["bash", "-c", shell, "bash", *args], pass_fds=(to_browser_r, from_browser_w),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable")

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    # -- the protocol --

    def send(self, method: str, params: dict[str, Any] | None = None, session: bool = True) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        reply = self._wait(lambda m: m.get("id") == self._next_id)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def _wait(self, wanted: Any, timeout_s: float | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if wanted(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise BrowserError("chromium closed its pipe")
                self._buffer += chunk

    # -- what tests use --

    def open(self, path: Path) -> None:
        """Load a file and wait for its load event; the events recorded so far are cleared first."""
        self.events.clear()
        self.send("Page.navigate", {"url": Path(path).resolve().as_uri()})
        self._wait(lambda m: m.get("method") == "Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited); a thrown error raises."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"script failed: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result["result"].get("value")

    def evaluate_in_frame(self, expression: str, index: int = 0) -> Any:
        """`evaluate` inside the page's `index`-th child frame (an isolated world: same DOM, its own globals).
        Needs `one_process_per_page=True` for a frame of another origin (a sandboxed iframe)."""
        frames = self.send("Page.getFrameTree")["frameTree"].get("childFrames", [])
        if len(frames) <= index:
            raise BrowserError(f"the page has {len(frames)} child frame(s)")
        context = self.send("Page.createIsolatedWorld", {"frameId": frames[index]["frame"]["id"]})["executionContextId"]
        result = self.send("Runtime.evaluate", {"expression": expression, "contextId": context, "returnByValue": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"script failed: {result['exceptionDetails'].get('exception', {}).get('description')}")
        return result["result"].get("value")

    def settle(self, seconds: float = 0.2) -> None:
        """Let the page run a while (animation frames, timers), collecting events."""
        try:
            self._wait(lambda m: False, timeout_s=seconds)
        except BrowserError:
            pass

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries (CSP violations among them) since the load."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(str(params.get("exceptionDetails", {}).get("exception", {}).get("description")
                                 or params.get("exceptionDetails", {}).get("text")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                found.append(params["entry"].get("text", ""))
        return found

    def requests(self) -> list[str]:
        """Every URL the page asked for since the load (the page's own file included)."""
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def screenshot(self, path: Path, selector: str | None = None) -> Path:
        """A PNG of the viewport, or cropped to the first element matching `selector` (scrolled into view first)."""
        box = None
        if selector is not None:
            box = self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView();"
                                " const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })()")
        data = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])
        if box is not None:
            import io

            from PIL import Image  # matplotlib's dependency, installed with reason[bench]

            image = Image.open(io.BytesIO(data))
            ratio = image.width / self.evaluate("window.innerWidth")
            output = io.BytesIO()
            image.crop(tuple(round(v * ratio) for v in box)).save(output, format="PNG")
            data = output.getvalue()
        Path(path).write_bytes(data)
        return Path(path)
