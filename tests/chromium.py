"""Check an HTML page in a real headless Chromium, for tests.

:func:`check_page` loads ``file://<path>`` in a fresh headless Chromium, driven over the
DevTools protocol (CDP), and reports console errors, requests, broken images and dialogs.
:func:`find_chromium` tells whether there is a browser at all, so tests can skip without.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Executables tried on PATH, in order, when $CHROMIUM is not set.
CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
#: Command-line flags; the profile directory is added to them.
FLAGS = (
    "--headless --no-sandbox --disable-gpu --disable-background-networking"
    " --disable-component-update --no-first-run --remote-debugging-port=0"
).split()
#: After the load event: stop once no request is in flight and nothing came for this long.
QUIET = 0.1
#: ... or after this long at most (a request that never ends does not hold the check).
SETTLE_MAX = 2.0

#: Title, image count and broken images (src cut to 80 characters, else alt) of the page.
_INSPECT_JS = """(() => {
  const imgs = Array.from(document.images);
  const broken = imgs.filter((i) => !i.complete || i.naturalWidth === 0)
    .map((i) => (i.getAttribute("src") || "").slice(0, 80) || i.alt || "");
  return {title: document.title, n_images: imgs.length, broken_images: broken};
})()"""


@dataclass
class PageCheck:
    """What :func:`check_page` saw while loading a page.

    ``console_errors``: console.error/assert calls, uncaught exceptions and browser log
    errors; ``requests``: every URL the page asked for but itself and ``data:`` URLs;
    ``broken_images``: src (first 80 characters) or else alt of each image that did not
    load, out of ``n_images``; ``dialogs``: messages of alert/confirm/prompt (dismissed).
    """

    title: str = ""
    n_images: int = 0
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def find_chromium() -> str | None:
    """Return the Chromium executable: ``$CHROMIUM`` if set, else the first on PATH."""
    if env := os.environ.get("CHROMIUM"):
        return shutil.which(env)
    return next((exe for name in CANDIDATES if (exe := shutil.which(name))), None)


class _Cdp:
    """A minimal CDP client on one page session of the browser's websocket."""

    def __init__(self, url: str, deadline: float, on_event: Callable[[dict], None]) -> None:
        import websocket  # websocket-client (dev): imported here so collection never needs it

        self._timeout_error = websocket.WebSocketTimeoutException
        # No Origin header: Chromium refuses websockets from origins not allowed explicitly.
        self.ws = websocket.create_connection(url, timeout=5, suppress_origin=True)
        self.deadline, self.on_event = deadline, on_event
        self.session: str | None = None
        self._next_id = 0

    def send(self, method: str, **params: Any) -> int:
        """Send a command without waiting for its answer; return its id."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self.session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        return self._next_id

    def recv(self, wait: float) -> dict | None:
        """Next message within ``wait`` seconds (events go to ``on_event``); None if none."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("page check timed out")
        self.ws.settimeout(max(min(wait, left), 0.001))
        try:
            msg = json.loads(self.ws.recv())
        except self._timeout_error:
            return None
        if "method" in msg:
            self.on_event(msg)
        return msg

    def call(self, method: str, **params: Any) -> dict:
        """Send a command and return its result, handling events that come meanwhile."""
        cid = self.send(method, **params)
        while True:
            msg = self.recv(self.deadline - time.monotonic())
            if msg is not None and msg.get("id") == cid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error'].get('message')}")
                return msg.get("result", {})


def _remote_text(obj: dict) -> str:
    """Text of a CDP RemoteObject (a console argument)."""
    for key in ("value", "unserializableValue", "description"):
        if key in obj:
            return obj[key] if isinstance(obj[key], str) else json.dumps(obj[key])
    return str(obj.get("type", ""))


def _launch(exe: str, profile: Path, deadline: float) -> tuple[subprocess.Popen, str]:
    """Start Chromium on an empty page; return the process and its browser websocket URL."""
    with open(profile.parent / "stderr.txt", "wb") as err:
        proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,  # its own process group, so all its children die with it
            env={**os.environ, "XDG_CONFIG_HOME": str(profile.parent)},  # crash reports there
        )
    port_file = profile / "DevToolsActivePort"
    while time.monotonic() < deadline and proc.poll() is None:
        lines = port_file.read_text().split() if port_file.exists() else []
        if len(lines) == 2:
            return proc, f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        time.sleep(0.02)
    tail = (profile.parent / "stderr.txt").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"Chromium gave no DevTools port (exit {proc.poll()}):\n{tail}")


def check_page(
    path: Path, *, screenshot: Path | None = None, timeout: float = 30, offline: bool = True
) -> PageCheck:
    """Load ``path`` in a fresh headless Chromium and report what went wrong.

    With ``offline`` (the default) every http(s) and ws(s) request is blocked by the
    browser: it is still listed in ``requests`` and its image is broken, but the result and
    the time taken do not depend on the network (a failing DNS look-up can take seconds).

    Waits for the load event, then until no request is in flight and the page has been
    quiet for :data:`QUIET` seconds (at most :data:`SETTLE_MAX`). Writes a full-page PNG
    to ``screenshot`` when given. Raises ``TimeoutError`` after ``timeout`` seconds and
    ``RuntimeError`` when there is no browser or it does not start; the browser and its
    temporary profile are removed in every case.
    """
    exe = find_chromium()
    if exe is None:
        raise RuntimeError("no Chromium found (set $CHROMIUM or install chromium)")
    url = Path(path).resolve().as_uri()
    if not Path(path).is_file():
        raise FileNotFoundError(path)
    deadline = time.monotonic() + timeout
    result, state = PageCheck(), {"navigated": False, "loaded": False, "pending": set()}
    tmp = Path(tempfile.mkdtemp(prefix="atmp-chromium-"))
    proc: subprocess.Popen | None = None
    cdp: _Cdp | None = None

    def on_event(msg: dict) -> None:
        method, p = msg["method"], msg.get("params", {})
        if method == "Page.frameNavigated" and "parentId" not in p["frame"]:
            state["navigated"] = p["frame"]["url"] != "about:blank"  # the target's first page
        elif method == "Page.loadEventFired":
            state["loaded"] = state["navigated"]
        elif method == "Page.javascriptDialogOpening":
            result.dialogs.append(p.get("message", ""))
            assert cdp is not None
            cdp.send("Page.handleJavaScriptDialog", accept=False)
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            text = " ".join(_remote_text(a) for a in p.get("args", []))
            result.console_errors.append(f"console.{p['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            result.console_errors.append(d.get("exception", {}).get("description") or d["text"])
        elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
            e = p["entry"]
            result.console_errors.append(f"{e.get('source')}: {e['text']} {e.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            state["pending"].add(p["requestId"])
            req = p["request"]["url"]
            if req.split("#")[0] != url and not req.startswith("data:"):
                if req not in result.requests:
                    result.requests.append(req)
        elif method in ("Network.loadingFinished", "Network.loadingFailed"):
            state["pending"].discard(p["requestId"])

    try:
        proc, ws_url = _launch(exe, tmp / "profile", deadline)
        cdp = _Cdp(ws_url, deadline, on_event)
        target = cdp.call("Target.createTarget", url="about:blank")["targetId"]
        cdp.session = cdp.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            cdp.call(f"{domain}.enable")
        if offline:
            cdp.call("Network.setBlockedURLs", urls=["http://*", "https://*", "ws://*", "wss://*"])
        nav = cdp.call("Page.navigate", url=url)
        if nav.get("errorText"):
            raise RuntimeError(f"navigation to {url} failed: {nav['errorText']}")
        while not state["loaded"]:
            cdp.recv(deadline - time.monotonic())
        settle_end = min(time.monotonic() + SETTLE_MAX, deadline - 0.5)
        while time.monotonic() < settle_end:
            if cdp.recv(QUIET) is None and not state["pending"]:
                break
        inspect = cdp.call("Runtime.evaluate", expression=_INSPECT_JS, returnByValue=True)
        for name, value in inspect["result"]["value"].items():
            setattr(result, name, value)
        if screenshot is not None:
            size = cdp.call("Page.getLayoutMetrics")["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
            shot = cdp.call(
                "Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip
            )
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        return result
    finally:
        if cdp is not None:
            cdp.ws.close()
        if proc is not None:
            os.killpg(proc.pid, signal.SIGKILL)  # its group exists until proc.wait() reaps it
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
