"""Each report notebook runs under papermill in a process of its own.

A process per notebook lets the build stop it cleanly: when the build is interrupted,
terminated or a notebook fails, the other notebooks' processes and their kernels are ended,
and no kernel is left behind. The child (``python -m atmp_analysis.runner SPEC``) reads what
to run from a JSON file and writes what happened to another, so nothing the survey holds is
ever passed on a command line.

Time limits: papermill ends a cell that runs longer than ``cell_timeout`` seconds and a
kernel that does not start within ``start_timeout``; a kernel that dies ends its notebook.
As a last guard the parent ends a child whose executed notebook has not been saved for
longer than both limits together and a minute (papermill saves it after every cell). The
child ends its kernel when it is stopped, ignores Ctrl-C and SIGHUP (the build handles them
and stops it) and is stopped by the system if the build itself dies.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("atmp_analysis")

#: Default time limits, in seconds: one cell, and a kernel's start.
CELL_TIMEOUT = 600
START_TIMEOUT = 60
#: Seconds a child gets to end its kernel after SIGTERM before it is killed.
GRACE = 5.0
#: Exit codes of the child.
CHILD_OK, CHILD_FAILED, CHILD_IO = 0, 3, 2


@dataclass(frozen=True)
class Outcome:
    """What became of one notebook: ``ok``, or why not and where.

    ``kind``: ``ok``, ``cell-error`` (a cell raised), ``timeout`` (a cell ran too long),
    ``dead-kernel``, ``no-kernel`` (the kernel did not start), ``io`` (the executed notebook
    could not be written), ``stalled`` (the child stopped responding) or ``crashed``.
    """

    kind: str
    message: str = ""
    cell: int | None = None  # the failing cell's execution count, or its position
    source: str = ""  # the first line of the failing cell's code
    errno: int | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


# --------------------------------------------------------------------------------------------
# The child


def _first_line(source: str) -> str:
    """The first line of code of a cell (not blank, not a comment), cut to 80 characters."""
    lines = [line for line in str(source).splitlines() if line.strip()]
    code = [line for line in lines if not line.lstrip().startswith("#")]
    lines = code or lines
    text = lines[0].strip() if lines else ""
    return text if len(text) <= 80 else text[:77] + "..."


def _failed_cell(path: Path) -> tuple[int | None, str]:
    """The number and first line of the cell that was running when the notebook stopped:
    the last one papermill started (the cells after it are still "pending")."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # the notebook itself may be what could not be written
        return None, ""
    started = [
        (index, cell)
        for index, cell in enumerate(nb.cells)
        if cell.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
    if not started:
        return None, ""
    index, cell = started[-1]
    return cell.get("execution_count") or index + 1, _first_line(cell.source)


def execute(spec: dict) -> Outcome:
    """Run the notebook ``spec`` describes (in this process) and say what happened."""
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    logging.getLogger("papermill").setLevel(logging.WARNING)
    target = Path(spec["target"])
    try:
        pm.execute_notebook(
            spec["source"],
            str(target),
            parameters=spec["parameters"],
            kernel_name=spec.get("kernel", "python3"),
            progress_bar=False,
            log_output=False,
            cwd=spec["cwd"],
            execution_timeout=spec["cell_timeout"],
            start_timeout=spec["start_timeout"],
        )
    except PapermillExecutionError as exc:
        return Outcome(
            "cell-error",
            f"{exc.ename}: {exc.evalue}",
            cell=exc.exec_count or exc.cell_index + 1,
            source=_first_line(exc.source),
        )
    except CellTimeoutError:
        cell, source = _failed_cell(target)
        return Outcome(
            "timeout",
            f"the cell ran longer than {spec['cell_timeout']} s (--cell-timeout)",
            cell=cell,
            source=source,
        )
    except DeadKernelError:
        cell, source = _failed_cell(target)
        return Outcome("dead-kernel", "the kernel died", cell=cell, source=source)
    except OSError as exc:
        return Outcome("io", f"{exc.filename or target}: {exc.strerror or exc}", errno=exc.errno)
    except RuntimeError as exc:
        if "didn't respond" in str(exc) or "Kernel died before replying" in str(exc):
            return Outcome(
                "no-kernel",
                f"the kernel did not start within {spec['start_timeout']} s (--kernel-timeout)",
            )
        raise
    return Outcome("ok")


def _end_children(*_) -> None:
    """SIGTERM in the child: end the kernel (its own session) first, then the child."""
    end_descendants()
    os._exit(128 + signal.SIGTERM)


def _die_with_parent() -> None:
    """Linux: SIGTERM this process (which then ends its kernel) when the build dies."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the build's own clean-up must do
        return
    if os.getppid() == 1:  # the build died before the request took effect
        _end_children()


def child_main(argv: list[str]) -> int:
    """``python -m atmp_analysis.runner SPEC.json``: run, write ``SPEC["result"]``, exit."""
    signal.signal(signal.SIGTERM, _end_children)
    # Ctrl-C in a terminal reaches the whole process group: the build handles it and ends
    # this process with SIGTERM, kernel included, so the child itself ignores it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _die_with_parent()
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        outcome = execute(spec)
    except Exception as exc:  # reported to the parent, which names the notebook
        outcome = Outcome("crashed", f"{type(exc).__name__}: {exc}")
    Path(spec["result"]).write_text(json.dumps(outcome.__dict__), encoding="utf-8")
    if outcome.ok:
        return CHILD_OK
    return CHILD_IO if outcome.kind == "io" else CHILD_FAILED


# --------------------------------------------------------------------------------------------
# The parent


def end_descendants(timeout: float = GRACE) -> None:
    """End every process this one started (children, their kernels), politely then firmly."""
    import psutil

    try:
        procs = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for proc in procs:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    _kill_left(procs, timeout)


def _kill_left(procs: list, timeout: float) -> None:
    """Wait up to ``timeout`` s for ``procs`` (psutil processes) to end; kill the others."""
    import psutil

    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass


class NotebookProcess:
    """A notebook running in a child process (started when the object is made), watched by
    :meth:`poll` and ended early by :meth:`stop`."""

    def __init__(self, spec: dict, folder: Path) -> None:
        self.spec = spec
        self.folder = folder
        self.name = Path(spec["source"]).stem
        self.started = time.monotonic()
        self.finished: float | None = None
        self.outcome: Outcome | None = None
        spec_file = folder / f"{self.name}.spec.json"
        spec["result"] = str(folder / f"{self.name}.result.json")
        spec_file.write_text(json.dumps(spec), encoding="utf-8")
        self._log = (folder / f"{self.name}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "atmp_analysis.runner", str(spec_file)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._last_save = time.monotonic()
        self._mtime = 0.0

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def poll(self) -> Outcome | None:
        """The outcome once the child has ended, else None; ends a child that stalled."""
        if self.outcome is not None:
            return self.outcome
        code = self.proc.poll()
        if code is None:
            self._watch()
            return self.outcome
        self._done(self._read_outcome(code))
        return self.outcome

    def _watch(self) -> None:
        target = Path(self.spec["target"])
        try:
            mtime = target.stat().st_mtime
        except OSError:
            mtime = 0.0
        now = time.monotonic()
        if mtime != self._mtime:
            self._mtime, self._last_save = mtime, now
        limit = self.spec["cell_timeout"] + self.spec["start_timeout"] + 60
        if now - self._last_save > limit:
            self.stop()
            self._done(Outcome("stalled", f"the notebook stopped responding for {limit:.0f} s"))

    def _read_outcome(self, code: int) -> Outcome:
        try:
            data = json.loads(Path(self.spec["result"]).read_text(encoding="utf-8"))
            return Outcome(**data)
        except (OSError, ValueError, TypeError):
            tail = (self.folder / f"{self.name}.log").read_text("utf-8", "replace")
            lines = [line for line in tail.splitlines() if line.strip()]
            reason = lines[-1] if lines else f"exit status {code}"
            return Outcome("crashed", f"the notebook process ended ({reason})")

    def _done(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.finished = time.monotonic()
        self._log.close()

    def stop(self) -> None:
        """End the child and its kernel: SIGTERM (the child ends its kernel), then SIGKILL
        for whatever of the two is left after the grace period."""
        import psutil

        if self.proc.poll() is None:
            try:
                kernels = psutil.Process(self.proc.pid).children(recursive=True)
            except psutil.Error:
                kernels = []
            self.proc.terminate()
            try:
                self.proc.wait(GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            _kill_left(kernels, GRACE)
        if not self._log.closed:
            self._log.close()


if __name__ == "__main__":  # pragma: no cover - the child's entry point
    sys.exit(child_main(sys.argv[1:]))
