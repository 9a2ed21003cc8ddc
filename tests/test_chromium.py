"""The headless-Chromium page checker, on small pages written for each test."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from chromium import check_page, find_chromium

if find_chromium() is None:
    pytest.skip(
        "headless Chromium not installed (apt-get install chromium)", allow_module_level=True
    )

#: A 1x1 red PNG.
PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8D"
    "wHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def page(tmp_path: Path, body: str, title: str = "t") -> Path:
    """Write a small HTML page and return its path."""
    path = tmp_path / "page.html"
    path.write_text(
        f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>"
        f"<body>{body}</body></html>",
        encoding="utf-8",
    )
    return path


def test_clean_page(tmp_path: Path) -> None:
    result = check_page(page(tmp_path, f'<h1>ok</h1><img src="{PIXEL}" alt="dot">', "Clean"))
    assert result.title == "Clean"
    assert result.console_errors == []
    assert result.requests == []
    assert result.dialogs == []
    assert result.n_images == 1
    assert result.broken_images == []


def test_console_error_and_exception(tmp_path: Path) -> None:
    body = "<script>console.error('x-marks')</script><script>throw new Error('boom')</script>"
    result = check_page(page(tmp_path, body))
    assert any("console.error: x-marks" in e for e in result.console_errors)
    assert any("Error: boom" in e for e in result.console_errors)
    assert result.requests == []


def test_external_requests_and_broken_image(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        '<!doctype html><html><head><link rel=stylesheet href="https://cdn.example/x.css">'
        '</head><body><img src="https://example.org/a.png" alt="remote"></body></html>',
        encoding="utf-8",
    )
    result = check_page(path)
    assert "https://cdn.example/x.css" in result.requests
    assert "https://example.org/a.png" in result.requests
    assert result.n_images == 1
    assert result.broken_images == ["https://example.org/a.png"]


def test_broken_image_without_src_reports_alt(tmp_path: Path) -> None:
    result = check_page(page(tmp_path, '<img alt="no source"><img src="missing.png">'))
    assert result.n_images == 2
    assert result.broken_images == ["no source", "missing.png"]
    assert result.requests == [(tmp_path / "missing.png").as_uri()]


def test_alert_is_reported_and_dismissed(tmp_path: Path) -> None:
    start = time.monotonic()
    result = check_page(page(tmp_path, "<script>alert('hi')</script><p>after</p>"), timeout=20)
    assert result.dialogs == ["hi"]
    assert time.monotonic() - start < 15


def test_screenshot_is_png(tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    check_page(page(tmp_path, "<div style='height:3000px'>tall</div>"), screenshot=shot)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    height = int.from_bytes(data[20:24], "big")  # IHDR: full page, not just the viewport
    assert height >= 3000


def test_online_request_attempt_is_seen(tmp_path: Path) -> None:
    # .invalid never resolves, so the image breaks whatever the network; a slow DNS may
    # take seconds to say so.
    body = '<img src="https://host.invalid/a.png">'
    result = check_page(page(tmp_path, body), offline=False)
    assert result.requests == ["https://host.invalid/a.png"]
    assert result.broken_images == ["https://host.invalid/a.png"]


def test_timeout_kills_browser_and_removes_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    path = page(tmp_path, "<script>while (true) {}</script>")
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        check_page(path, timeout=3)
    assert time.monotonic() - start < 6
    assert not list(tmp_path.glob("atmp-chromium-*"))
    # No live process runs with the profile within a second (SIGKILL takes a moment on
    # the children; zombies have an empty command line).
    for _ in range(20):
        if not _processes_mentioning(str(tmp_path)):
            break
        time.sleep(0.05)
    assert _processes_mentioning(str(tmp_path)) == []


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that contain ``text`` (Linux /proc)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in line:
            found.append(line)
    return found


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        check_page(tmp_path / "nope.html")
