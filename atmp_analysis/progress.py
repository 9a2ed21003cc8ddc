"""Logging and progress for the command line: a live status line in a terminal, plain
timestamped lines in a log.

In an interactive terminal the current step, the notebooks running and their time are shown
on one line that is rewritten in place; messages are printed above it. Anywhere else (a cron
job's mail, a systemd journal, a file) every step and every notebook is one plain line with
its time, so a log shows how far a run got and how long each part took.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import TextIO

log = logging.getLogger("atmp_analysis")

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(message)s"
LIVE_FORMAT = "%(levelname)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def interactive(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal a person watches (not a pipe, file or dumb terminal)."""
    try:
        return stream.isatty() and os.environ.get("TERM", "") not in ("", "dumb")
    except (AttributeError, ValueError):
        return False


class Progress:
    """Steps of a run, and the tasks (notebooks) of a step, shown live or as log lines."""

    def __init__(self, steps: Sequence[str], *, live: bool, stream: TextIO | None = None):
        self.steps = list(steps)
        self.live = live
        self.stream = stream if stream is not None else sys.stderr
        self.index = 0
        self.status = ""
        self._step_started = time.monotonic()
        self._drawn = False

    # the status line ----------------------------------------------------------------------
    def clear(self) -> None:
        if self.live and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def draw(self) -> None:
        if self.live and self.status:
            width = _width(self.stream)
            self.stream.write("\r\x1b[K" + self.status[: width - 1])
            self.stream.flush()
            self._drawn = True

    def _set(self, status: str) -> None:
        if status != self.status or not self._drawn:
            self.status = status
            self.draw()

    # steps -------------------------------------------------------------------------------
    def _label(self, name: str) -> str:
        number = self.steps.index(name) + 1 if name in self.steps else self.index
        return f"[{number}/{len(self.steps)}] {name}"

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Show ``name`` as the current step; log its time when it ends (plain mode)."""
        if name in self.steps:
            self.index = self.steps.index(name) + 1
        self._step_started = time.monotonic()
        if self.live:
            self._set(self._label(name) + " ...")
        else:
            log.info("%s", self._label(name))
        yield
        seconds = time.monotonic() - self._step_started
        if not self.live:
            log.debug("%s: done in %.1f s", self._label(name), seconds)

    def tasks(self, name: str, running: dict[str, float], done: int, total: int) -> None:
        """Live only: the step's tasks ``running`` (name: seconds so far), ``done`` of ``total``."""
        if not self.live:
            return
        now = ", ".join(f"{task} {seconds:.0f} s" for task, seconds in running.items())
        self._set(f"{self._label(name)}: {done}/{total} done" + (f"; {now}" if now else ""))

    def event(self, message: str, *args) -> None:
        """A task's start or end: a log line in plain mode, the status line only when live."""
        if self.live:
            log.debug(message, *args)
        else:
            log.info(message, *args)

    def close(self) -> None:
        self.clear()
        self.status = ""


def _width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 80


class _LiveHandler(logging.StreamHandler):
    """Prints a message above the status line, then draws the line again."""

    def __init__(self, stream: TextIO, progress: Progress | None = None) -> None:
        super().__init__(stream)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        if self.progress is not None:
            self.progress.clear()
        super().emit(record)
        if self.progress is not None:
            self.progress.draw()


@contextlib.contextmanager
def console(
    level: int, steps: Sequence[str] = (), *, stream: TextIO | None = None
) -> Iterator[Progress]:
    """Log to ``stream`` (default stderr) at ``level`` and show progress through ``steps``.

    The handler is removed when the block ends, so calling the command line twice in one
    process (tests, notebooks) never prints a message twice.
    """
    stream = stream if stream is not None else sys.stderr
    live = interactive(stream) and level <= logging.INFO
    progress = Progress(steps, live=live, stream=stream)
    if live:
        handler: logging.Handler = _LiveHandler(stream, progress)
        handler.setFormatter(logging.Formatter(LIVE_FORMAT))
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter(PLAIN_FORMAT, DATE_FORMAT))
    handler.setLevel(level)
    package = logging.getLogger("atmp_analysis")
    root = logging.getLogger()
    previous = package.level
    package.setLevel(level)
    root.addHandler(handler)
    try:
        yield progress
    finally:
        progress.close()
        root.removeHandler(handler)
        package.setLevel(previous)
