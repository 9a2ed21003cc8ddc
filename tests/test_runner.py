"""Notebooks in processes of their own (atmp_analysis.runner): outcomes, time limits, a dead
or missing kernel, stopping a child with its kernel, parameters, the child's result file."""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import psutil
import pytest

from atmp_analysis import runner
from atmp_analysis.runner import NotebookProcess, Outcome, child_main

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _notebook(folder: Path, name: str, *cells: str, parameters: str | None = None) -> Path:
    """A notebook of code ``cells`` (after a cell tagged ``parameters`` when given)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def _spec(source: Path, folder: Path, **changes) -> dict:
    spec = {
        "source": str(source),
        "target": str(folder / "executed" / source.name),
        "parameters": {},
        "cwd": str(folder),
        "cell_timeout": 60,
        "start_timeout": 60,
    }
    (folder / "executed").mkdir(exist_ok=True)
    return {**spec, **changes}


def _gone(proc: psutil.Process) -> bool:
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def start(tmp_path) -> Iterator:
    """Start notebook processes in ``tmp_path/work``; stop whatever is left at the end."""
    started: list[NotebookProcess] = []
    work = tmp_path / "work"
    work.mkdir()

    def start_(spec: dict) -> NotebookProcess:
        process = NotebookProcess(spec, work)
        started.append(process)
        return process

    yield start_
    for process in started:
        process.stop()


def _wait(process: NotebookProcess, limit: float = 45) -> Outcome:
    deadline = time.monotonic() + limit
    while (outcome := process.poll()) is None:
        assert time.monotonic() < deadline, f"no outcome within {limit} s"
        time.sleep(0.1)
    return outcome


def test_a_notebook_that_runs(tmp_path, start):
    source = _notebook(tmp_path, "fine", "x = 1 + 1", "print(x)")
    spec = _spec(source, tmp_path)
    process = start(spec)
    outcome = _wait(process)
    assert outcome == Outcome("ok")
    assert outcome.ok
    assert process.proc.returncode == runner.CHILD_OK
    executed = nbformat.read(spec["target"], as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "2\n"
    assert 0 < process.seconds < 45
    assert process.poll() is outcome  # the outcome is kept


def test_a_cell_that_raises(tmp_path, start):
    source = _notebook(
        tmp_path, "broken", "x = 1", "\ny = x * 2\nraise ValueError('stage 9 is not a stage')"
    )
    process = start(_spec(source, tmp_path))
    outcome = _wait(process)
    assert outcome.kind == "cell-error"
    assert not outcome.ok
    assert "ValueError" in outcome.message and "stage 9 is not a stage" in outcome.message
    assert outcome.cell == 2  # its execution count
    assert outcome.source == "y = x * 2"  # the first line of its code
    assert process.proc.returncode == runner.CHILD_FAILED


def test_a_cell_that_runs_too_long(tmp_path, start):
    source = _notebook(tmp_path, "hung", "x = 1", "import time\ntime.sleep(60)", "y = 2")
    process = start(_spec(source, tmp_path, cell_timeout=2))
    clock = time.monotonic()
    outcome = _wait(process)
    assert time.monotonic() - clock < 40
    assert outcome.kind == "timeout"
    assert "2 s" in outcome.message
    assert (outcome.cell, outcome.source) == (2, "import time")


def test_a_kernel_that_dies(tmp_path, start):
    source = _notebook(tmp_path, "suicide", "x = 1", "import os\nos.kill(os.getpid(), 9)")
    outcome = _wait(start(_spec(source, tmp_path)))
    assert outcome.kind == "dead-kernel"
    assert outcome.message == "the kernel died"
    assert (outcome.cell, outcome.source) == (2, "import os")


def test_a_kernel_that_never_starts(tmp_path, start, monkeypatch):
    marker = f"never-starts-{tmp_path.name}"
    kernels = tmp_path / "jupyter"
    (kernels / "kernels" / "slow").mkdir(parents=True)
    (kernels / "kernels" / "slow" / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [
                    sys.executable,
                    "-c",
                    "import time; time.sleep(120)",
                    marker,
                    "-f",
                    "{connection_file}",
                ],
                "display_name": "Slow",
                "language": "python",
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("JUPYTER_PATH", str(kernels))  # the child inherits it
    source = _notebook(tmp_path, "waits", "x = 1")
    clock = time.monotonic()
    process = start(_spec(source, tmp_path, kernel="slow", start_timeout=3))
    outcome = _wait(process, limit=60)
    assert time.monotonic() - clock < 30
    assert outcome.kind == "no-kernel"
    assert "3 s" in outcome.message
    # and the kernel that did not answer is not left behind
    deadline = time.monotonic() + 10
    while left := [
        p
        for p in psutil.process_iter(["cmdline"])
        if marker in (p.info["cmdline"] or []) and not _gone(p)
    ]:
        assert time.monotonic() < deadline, f"kernel left running: {left}"
        time.sleep(0.2)


def _kernels(process: NotebookProcess, limit: float = 30) -> list[psutil.Process]:
    """The processes under the child once its kernel runs (the notebook was written)."""
    target = Path(process.spec["target"])
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert process.proc.poll() is None, "the child ended early"
        kids = psutil.Process(process.proc.pid).children(recursive=True)
        if kids and target.exists():
            return kids
        time.sleep(0.2)
    pytest.fail(f"no kernel within {limit} s")


def test_stop_ends_the_child_and_its_kernel(tmp_path, start):
    source = _notebook(tmp_path, "sleeper", "import time\ntime.sleep(60)")
    process = start(_spec(source, tmp_path))
    kids = _kernels(process)
    assert any("ipykernel" in " ".join(k.cmdline()) for k in kids)
    child = psutil.Process(process.proc.pid)
    clock = time.monotonic()
    process.stop()
    assert time.monotonic() - clock < 20
    assert process.proc.poll() is not None
    _, alive = psutil.wait_procs(kids, timeout=10)
    assert [p for p in alive if not _gone(p)] == []
    assert _gone(child)
    process.stop()  # a second stop does nothing


def test_stop_keeps_the_exit_status_of_the_child(tmp_path, start):
    """A stopped child did not succeed: its exit status must not read as 0."""
    source = _notebook(tmp_path, "sleeper", "import time\ntime.sleep(60)")
    process = start(_spec(source, tmp_path))
    _kernels(process)
    process.stop()
    assert process.proc.returncode in (128 + signal.SIGTERM, -signal.SIGTERM, -signal.SIGKILL)


def test_parameters_reach_the_notebook(tmp_path, start):
    written = tmp_path / "seen.json"
    source = _notebook(
        tmp_path,
        "parameters",
        "import json\nopen(out, 'w').write(json.dumps([wave, centre]))",
        parameters="out = 'nowhere'\nwave = 0\ncentre = ''",
    )
    spec = _spec(
        source,
        tmp_path,
        parameters={"out": str(written), "wave": 2023, "centre": "Lund Stem Cell Center"},
    )
    assert _wait(start(spec)).ok
    assert json.loads(written.read_text()) == [2023, "Lund Stem Cell Center"]


def test_the_notebook_runs_in_cwd(tmp_path, start):
    (tmp_path / "here").mkdir()
    source = _notebook(tmp_path, "where", "open('marker.txt', 'w').write('x')")
    assert _wait(start(_spec(source, tmp_path, cwd=str(tmp_path / "here")))).ok
    assert (tmp_path / "here" / "marker.txt").read_text() == "x"


# --------------------------------------------------------------------------------------------
# The child's entry point


@pytest.fixture
def sigterm_restored() -> Iterator[None]:
    """child_main installs its SIGTERM handler and ignores SIGINT; give the test process its
    own handlers back."""
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for s, handler in previous.items():
        signal.signal(s, handler)


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (Outcome("ok"), runner.CHILD_OK),
        (Outcome("cell-error", "ValueError: x", cell=3, source="f()"), runner.CHILD_FAILED),
        (Outcome("timeout", "too long", cell=1, source="sleep()"), runner.CHILD_FAILED),
        (Outcome("io", "disk full", errno=28), runner.CHILD_IO),
    ],
)
def test_child_main_writes_the_result(tmp_path, monkeypatch, sigterm_restored, outcome, code):
    spec = {"source": "nb.ipynb", "result": str(tmp_path / "result.json")}
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    seen = []
    monkeypatch.setattr(runner, "execute", lambda s: seen.append(s) or outcome)
    assert child_main([str(tmp_path / "spec.json")]) == code
    assert seen == [spec]
    result = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert Outcome(**result) == outcome
    assert signal.getsignal(signal.SIGTERM) is runner._end_children
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_child_main_reports_a_crash(tmp_path, monkeypatch, sigterm_restored):
    spec = {"source": "nb.ipynb", "result": str(tmp_path / "result.json")}
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")

    def crash(spec):
        raise KeyError("kernel_name")

    monkeypatch.setattr(runner, "execute", crash)
    assert child_main([str(tmp_path / "spec.json")]) == runner.CHILD_FAILED
    result = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert result["kind"] == "crashed"
    assert result["message"] == "KeyError: 'kernel_name'"


def test_child_main_runs_a_real_notebook(tmp_path, sigterm_restored):
    source = _notebook(tmp_path, "real", "x = 40 + 2")
    spec = {**_spec(source, tmp_path), "result": str(tmp_path / "real.result.json")}
    (tmp_path / "real.spec.json").write_text(json.dumps(spec), encoding="utf-8")
    assert child_main([str(tmp_path / "real.spec.json")]) == runner.CHILD_OK
    assert json.loads(Path(spec["result"]).read_text(encoding="utf-8"))["kind"] == "ok"
    assert Path(spec["target"]).is_file()
