"""What an unattended refresh needs: a lock, a fingerprint of the request, a run record.

- :class:`BuildLock`: one build of an output folder at a time (``flock`` on a file beside
  it; the lock ends with the process, however it ends).
- :func:`fingerprint`: a digest of everything a report is made from (inputs, dictionary and
  codebooks, parameters, the package's code and notebooks, which key), so a build whose
  request has not changed since the last good one can say so and skip.
- :func:`append_run`: one JSON line per run in ``DIR/runs.jsonl``: time, inputs' sha256,
  parameters, outcome, exit code, duration.
- :func:`termination_as_exception`, :func:`signals_deferred`: SIGTERM and SIGHUP end a
  build through the same clean-up as an error, but never in the middle of publishing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import hmac
import json
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from atmp_analysis.provenance import now, sha256

log = logging.getLogger("atmp_analysis")

RUNS_FILE = "runs.jsonl"


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM or SIGHUP) while it was building."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


class Busy(Exception):
    """Another build holds the lock of the output folder (and ``--no-wait`` was given)."""


# --------------------------------------------------------------------------------------------
# Signals

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_deferred: list[int] = []
_deferring = False


def _raise_terminated(signum, _frame) -> None:
    if _deferring:
        _deferred.append(signum)
        return
    raise Terminated(signum)


@contextlib.contextmanager
def termination_as_exception() -> Iterator[None]:
    """Within the block SIGTERM and SIGHUP raise :class:`Terminated` (main thread only)."""
    previous = {s: signal.signal(s, _raise_terminated) for s in _STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _hold_interrupt(signum, _frame) -> None:
    _deferred.append(signum)


@contextlib.contextmanager
def signals_deferred(*, discard: bool = False) -> Iterator[None]:
    """Hold SIGTERM, SIGHUP (under :func:`termination_as_exception`) and SIGINT back until
    the block is done, then raise the first as :class:`Terminated` or ``KeyboardInterrupt``
    (publishing is never cut). ``discard``: drop them instead (clean-up after a failure,
    which is already ending the run). SIGINT is held only in the main thread."""
    global _deferring
    outermost = not _deferring
    hold_int = outermost and threading.current_thread() is threading.main_thread()
    previous_int = signal.signal(signal.SIGINT, _hold_interrupt) if hold_int else None
    _deferring = True
    held: list[int] = []
    try:
        yield
    finally:
        if outermost:  # the outermost block hands the signals on, whatever happened inside
            _deferring = False
            if hold_int:
                signal.signal(signal.SIGINT, previous_int)
            held, _deferred[:] = list(_deferred), []
    if held and not discard:
        if held[0] == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(held[0])


# --------------------------------------------------------------------------------------------
# The lock


def lock_path(folder: Path) -> Path:
    """The lock file of an output folder: a hidden file beside it."""
    folder = Path(folder).resolve()
    return folder.parent / f".{folder.name}.lock"


class BuildLock:
    """An exclusive lock on an output folder, held from :meth:`acquire` until :meth:`release`.

    A second build waits (saying who holds the lock) or, with ``wait=False``, raises
    :class:`Busy`. The lock is the kernel's (``flock``): a killed build never leaves a stale
    lock behind.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder).resolve()
        self.path = lock_path(self.folder)
        self._fd: int | None = None

    def holder(self) -> str:
        """Who holds the lock, as written by the holder (pid, host, since when)."""
        try:
            info = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            info = {}
        if not isinstance(info, dict) or not info.get("pid"):  # it has just taken the lock
            return "another process"
        return f"pid {info['pid']} on {info.get('host', '?')}, since {info.get('since', '?')}"

    def acquire(self, *, wait: bool = True) -> BuildLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                who = self.holder()
                if not wait:
                    raise Busy(
                        f"{self.folder}: another build is running ({who}); not waiting (--no-wait)"
                    ) from None
                log.warning("%s: another build is running (%s); waiting for it", self.folder, who)
                fcntl.flock(fd, fcntl.LOCK_EX)
            info = {"pid": os.getpid(), "host": socket.gethostname(), "since": now()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> BuildLock:
        return self.acquire() if self._fd is None else self

    def __exit__(self, *exc) -> None:
        self.release()


@contextlib.contextmanager
def locked(folders: Iterable[Path], *, wait: bool = True) -> Iterator[None]:
    """Hold the locks of several folders, taken in a fixed order (no deadlock)."""
    locks = [BuildLock(f) for f in sorted({Path(f).resolve() for f in folders})]
    with contextlib.ExitStack() as stack:
        for lock in locks:
            stack.enter_context(lock.acquire(wait=wait))
        yield


# --------------------------------------------------------------------------------------------
# The fingerprint


def code_digest() -> str:
    """A digest of the package's code, data files and report notebooks."""
    from atmp_analysis.build import NOTEBOOK_DIR

    package = Path(__file__).resolve().parent
    files = [
        (p.relative_to(package.parent).as_posix(), p)
        for p in sorted(package.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    ]
    files += [(f"notebooks/{p.name}", p) for p in sorted(NOTEBOOK_DIR.glob("*.ipynb"))]
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode() + b"\0" + sha256(path).encode() + b"\n")
    return digest.hexdigest()


def key_id(key: bytes) -> str:
    """Which pseudonymisation key, without revealing it: a keyed digest of a fixed text."""
    return hmac.new(key, b"atmp-analysis key id", hashlib.sha256).hexdigest()[:16]


def fingerprint(
    inputs: Iterable[Path], definitions: Iterable[Path], parameters: dict, key: bytes
) -> str:
    """The digest of a build's request: two builds with the same one make the same report.

    It covers the inputs (names and contents), ``definitions`` (the data dictionary and
    codebooks given), ``parameters`` (the options that change the report, not the number of
    jobs, time limits or verbosity), the versions of Python, the package and its
    dependencies, the package's code and notebooks, and which key.
    """
    from atmp_analysis.provenance import versions

    request = {
        # names too: the report names the files it was made from
        "inputs": [(Path(p).name, sha256(p)) for p in inputs],
        "definitions": [(Path(p).name, sha256(p)) for p in definitions],
        "parameters": parameters,
        "versions": versions(),  # Python, the package and its dependencies
        "code": code_digest(),
        "key": key_id(key),
    }
    text = json.dumps(request, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def up_to_date(out: Path, processed: Path, print_: str) -> dict | None:
    """The manifest of the report in ``out`` when it was built from ``print_`` and every file
    it lists (and the processed tables) is still as it was written; else None."""
    try:
        manifest = json.loads((Path(out) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("fingerprint") != print_:
        return None
    outputs, tables = manifest.get("outputs"), manifest.get("processed")
    if not isinstance(outputs, list) or not isinstance(tables, list):
        return None
    listed = [(Path(out), f) for f in outputs] + [(Path(processed), f) for f in tables]
    for folder, entry in listed:
        try:
            path = folder / entry["name"]
            if path.stat().st_size != entry["bytes"] or sha256(path) != entry["sha256"]:
                return None
        except (OSError, KeyError, TypeError):  # gone, or a manifest edited by hand
            return None
    return manifest


# --------------------------------------------------------------------------------------------
# The run record


def run_entry(
    *,
    started: str,
    seconds: float,
    outcome: str,
    exit_code: int,
    inputs: Iterable[Path] = (),
    parameters: dict | None = None,
    **extra,
) -> dict:
    """One line of ``runs.jsonl``."""
    described = []
    for path in inputs:
        path = Path(path)
        try:
            described.append({"path": str(path.resolve()), "sha256": sha256(path)})
        except OSError:
            described.append({"path": str(path), "sha256": None})
    return {
        "started": started,
        "finished": now(),
        "seconds": round(seconds, 2),
        "outcome": outcome,
        "exit_code": exit_code,
        "inputs": described,
        "parameters": parameters or {},
        "host": socket.gethostname(),
        "pid": os.getpid(),
        **{k: v for k, v in extra.items() if v is not None},
    }


def append_run(path: Path, entry: dict) -> None:
    """Append one line to a run record (``O_APPEND``: whole lines, never interleaved)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_runs(path: Path) -> list[dict]:
    """The lines of a run record, oldest first."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]
