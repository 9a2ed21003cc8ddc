"""Logging and progress on the console (atmp_analysis.progress): plain timestamped lines in a
log, a live status line in a terminal."""

from __future__ import annotations

import io
import logging
import re

import pytest

from atmp_analysis.progress import console, interactive

log = logging.getLogger("atmp_analysis")

STEPS = ("reading the surveys", "running the notebooks", "publishing")
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
CLEAR = "\r\x1b[K"


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        super().isatty()  # raises ValueError once closed, as a real stream does
        return True


@pytest.fixture
def terminal(monkeypatch) -> Terminal:
    monkeypatch.setenv("TERM", "xterm-256color")
    return Terminal()


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


# --------------------------------------------------------------------------------------------
# Plain mode


def test_plain_lines_have_a_time_and_a_level():
    stream = io.StringIO()
    with console(logging.INFO, STEPS, stream=stream) as progress:
        assert not progress.live
        with progress.step("running the notebooks"):
            progress.event("notebook %s started", "01_data_quality")
        progress.event("notebook %s ran in %.1f s", "01_data_quality", 2.345)
        log.info("built the report")
    lines = _lines(stream)
    assert len(lines) == 4
    for line in lines:
        assert re.fullmatch(STAMP + r" INFO .+", line), line
    assert [line[20:] for line in lines] == [
        "INFO [2/3] running the notebooks",
        "INFO notebook 01_data_quality started",
        "INFO notebook 01_data_quality ran in 2.3 s",
        "INFO built the report",
    ]
    assert CLEAR not in stream.getvalue()


def test_plain_steps_are_numbered_in_order():
    stream = io.StringIO()
    with console(logging.INFO, STEPS, stream=stream) as progress:
        for name in STEPS:
            with progress.step(name):
                pass
    assert [line[20:] for line in _lines(stream)] == [
        "INFO [1/3] reading the surveys",
        "INFO [2/3] running the notebooks",
        "INFO [3/3] publishing",
    ]


def test_debug_lines_only_at_debug_level():
    quiet, verbose = io.StringIO(), io.StringIO()
    for level, stream in ((logging.INFO, quiet), (logging.DEBUG, verbose)):
        with console(level, STEPS, stream=stream) as progress:
            with progress.step("publishing"):
                log.debug("a detail")
    assert "DEBUG" not in quiet.getvalue()
    assert [line[20:] for line in _lines(quiet)] == ["INFO [3/3] publishing"]
    lines = _lines(verbose)
    assert lines[0][20:] == "INFO [3/3] publishing"
    assert lines[1][20:] == "DEBUG a detail"
    assert re.fullmatch(STAMP + r" DEBUG \[3/3\] publishing: done in \d+\.\d s", lines[2])
    assert len(lines) == 3


def test_only_errors_at_error_level():
    stream = io.StringIO()
    with console(logging.ERROR, STEPS, stream=stream) as progress:
        with progress.step("reading the surveys"):
            progress.event("notebook %s started", "x")
            log.debug("a detail")
            log.info("a fact")
            log.warning("a warning")
            log.error("it broke")
    [line] = _lines(stream)
    assert re.fullmatch(STAMP + " ERROR it broke", line)


def test_tasks_write_nothing_in_plain_mode():
    stream = io.StringIO()
    with console(logging.INFO, STEPS, stream=stream) as progress:
        progress.tasks("running the notebooks", {"01_data_quality": 3.0}, 1, 4)
    assert stream.getvalue() == ""


def test_the_handler_is_removed_after_the_block():
    root = logging.getLogger()
    handlers, level = list(root.handlers), log.level
    first, second = io.StringIO(), io.StringIO()
    with console(logging.INFO, stream=first):
        log.info("one")
    log.info("after the first block")
    with console(logging.INFO, stream=second):
        log.info("two")
    log.info("after the second block")
    assert [line[20:] for line in _lines(first)] == ["INFO one"]
    assert [line[20:] for line in _lines(second)] == ["INFO two"]
    assert root.handlers == handlers
    assert log.level == level


def test_the_handler_is_removed_when_the_block_fails():
    root = logging.getLogger()
    handlers = list(root.handlers)
    stream = io.StringIO()
    with pytest.raises(RuntimeError), console(logging.INFO, STEPS, stream=stream) as progress:
        with progress.step("publishing"):
            raise RuntimeError("stop")
    log.info("after")
    assert root.handlers == handlers
    assert "after" not in stream.getvalue()


# --------------------------------------------------------------------------------------------
# Live mode


def test_live_status_line_is_drawn_in_place(terminal):
    with console(logging.INFO, STEPS, stream=terminal) as progress:
        assert progress.live
        with progress.step("reading the surveys"):
            pass
        assert terminal.getvalue() == CLEAR + "[1/3] reading the surveys ..."
        with progress.step("running the notebooks"):
            progress.event("notebook %s started", "01_data_quality")  # debug when live
        assert terminal.getvalue().endswith(CLEAR + "[2/3] running the notebooks ...")
        assert "\n" not in terminal.getvalue()
    assert terminal.getvalue().endswith(CLEAR)  # the line is cleared at the end


def test_a_message_clears_the_line_prints_and_redraws(terminal):
    with console(logging.INFO, STEPS, stream=terminal) as progress:
        with progress.step("running the notebooks"):
            start = len(terminal.getvalue())
            log.warning("notebook %s is slow", "02_pipeline_overview")
            written = terminal.getvalue()[start:]
    status = "[2/3] running the notebooks ..."
    assert written == (CLEAR + "WARNING: notebook 02_pipeline_overview is slow\n" + CLEAR + status)


def test_tasks_show_done_and_running_names_with_seconds(terminal):
    with console(logging.INFO, STEPS, stream=terminal) as progress:
        with progress.step("running the notebooks"):
            progress.tasks("running the notebooks", {"01_data_quality": 12.4, "03_map": 3.6}, 2, 4)
            drawn = terminal.getvalue().rsplit(CLEAR, 1)[1]
            progress.tasks("running the notebooks", {}, 4, 4)
            finished = terminal.getvalue().rsplit(CLEAR, 1)[1]
    assert drawn == "[2/3] running the notebooks: 2/4 done; 01_data_quality 12 s, 03_map 4 s"
    assert finished == "[2/3] running the notebooks: 4/4 done"


def test_the_status_line_fits_the_width(terminal):
    running = {f"notebook_{n:02d}": float(n) for n in range(20)}
    with console(logging.INFO, STEPS, stream=terminal) as progress:
        progress.tasks("running the notebooks", running, 0, 20)
        drawn = terminal.getvalue().rsplit(CLEAR, 1)[1]
    assert drawn.startswith("[2/3] running the notebooks: 0/20 done; notebook_00 0 s")
    assert len(drawn) < 80  # a stream without a size is taken as 80 columns


def test_a_terminal_at_error_level_is_plain(terminal):
    with console(logging.ERROR, STEPS, stream=terminal) as progress:
        assert not progress.live
        with progress.step("publishing"):
            log.error("it broke")
    assert re.fullmatch(STAMP + " ERROR it broke\n", terminal.getvalue())


# --------------------------------------------------------------------------------------------
# What is interactive


def test_interactive_wants_a_terminal_and_a_real_term(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    assert interactive(Terminal())
    assert not interactive(io.StringIO())
    monkeypatch.setenv("TERM", "dumb")
    assert not interactive(Terminal())
    monkeypatch.delenv("TERM")
    assert not interactive(Terminal())


def test_a_closed_stream_is_not_interactive(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    stream = Terminal()
    stream.close()
    assert not interactive(stream)
    assert not interactive(object())  # no isatty at all
    with console(logging.INFO, STEPS, stream=stream) as progress:
        assert not progress.live
