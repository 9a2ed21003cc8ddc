"""An unattended refresh under faults: each leaves the last good report byte-identical, says
what failed and exits with its documented code; concurrent builds never corrupt the output.

One good build of the demo is made once; each test copies it and runs a build that fails in
its own way over the copy: a notebook that raises, a cell that hangs, SIGTERM in the middle,
a disk that fills up, an output folder that cannot be written. Then two builds at once.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import psutil
import pytest

from atmp_analysis import build
from atmp_analysis.build import REPORT_FILE, Notebook
from atmp_analysis.cli import EXIT_BUSY, EXIT_NOTEBOOK, EXIT_USAGE, main
from atmp_analysis.demo import load_spec
from atmp_analysis.provenance import sha256
from atmp_analysis.refresh import read_runs

CLI = [sys.executable, "-m", "atmp_analysis.cli"]


def _args(site: Path, *extra: str) -> list[str]:
    return [
        "build",
        "--out",
        str(site / "report"),
        "--processed",
        str(site / "processed"),
        "--key-file",
        str(site.parent / "k.key"),
        *extra,
    ]


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    """A folder with a good build of the demo: ``report/`` and ``processed/``."""
    root = tmp_path_factory.mktemp("good")
    site = root / "site"
    assert main(["-q", *_args(site)]) == 0
    return site


@pytest.fixture
def site(good: Path, tmp_path: Path) -> Path:
    """A copy of the good build (and its key) to run a failing build over."""
    shutil.copyfile(good.parent / "k.key", tmp_path / "k.key")
    site = tmp_path / "site"
    shutil.copytree(good, site)
    return site


def _digests(site: Path) -> dict[str, str]:
    """Every file of the report and the processed tables but the run record, with its sha256."""
    return {
        p.relative_to(site).as_posix(): sha256(p)
        for folder in (site / "report", site / "processed")
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "runs.jsonl"
    }


def _assert_untouched(site: Path, before: dict, runs_before: list[dict]) -> dict:
    """The report and tables are as they were, nothing of the build is left beside them, and
    the run record gained exactly one line; returns that line."""
    assert _digests(site) == before
    assert [p.name for p in site.iterdir() if p.name.startswith(".") and p.is_dir()] == []
    assert [p.name for p in (site / "processed").iterdir() if p.is_dir()] == []
    runs = read_runs(site / "report" / "runs.jsonl")
    assert runs[:-1] == runs_before
    assert len(runs) == len(runs_before) + 1
    return runs[-1]


def _no_kernels_left(since: float) -> None:
    deadline = time.monotonic() + 10
    while True:
        left = [
            p
            for p in psutil.process_iter(["cmdline", "create_time"])
            if p.info["create_time"]
            and p.info["create_time"] >= since
            and any(
                "ipykernel" in part or "atmp_analysis.runner" in part
                for part in (p.info["cmdline"] or [])
            )
        ]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert left == [], [p.info["cmdline"] for p in left]


def _notebook_with(tmp_path: Path, code: str) -> Notebook:
    """The pipeline-overview notebook with a cell of ``code`` added after its setup."""
    source = build.NOTEBOOK_DIR / "02_pipeline_overview.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell(code))
    path = tmp_path / "02_pipeline_overview.ipynb"
    nbformat.write(nb, path)
    return Notebook("02_pipeline_overview", "Pipeline overview", source=path)


def _with_notebook(monkeypatch, notebook: Notebook) -> None:
    notebooks = tuple(notebook if n.stem == notebook.stem else n for n in build.NOTEBOOKS)
    monkeypatch.setattr(build, "NOTEBOOKS", notebooks)


# -- a notebook that fails --------------------------------------------------------------------


def test_a_notebook_that_raises_keeps_the_report_and_the_failed_notebook(
    site, tmp_path, monkeypatch, capsys
):
    code = "raise RuntimeError('injected' + ' fault')"
    _with_notebook(monkeypatch, _notebook_with(tmp_path, code))
    before, runs = _digests(site), read_runs(site / "report" / "runs.jsonl")
    since = time.time()
    assert main(["-q", *_args(site, "--force")]) == EXIT_NOTEBOOK
    err = capsys.readouterr().err
    assert "notebook 02_pipeline_overview failed in cell" in err
    assert "RuntimeError: injected fault" in err
    assert f"({code})" in err  # the failing cell's code
    assert f"the previous report in {site / 'report'} is unchanged" in err
    line = _assert_untouched(site, before, runs)
    assert line["outcome"] == "notebook-failed" and line["exit_code"] == EXIT_NOTEBOOK
    # the record names the error, not its text (which may quote the data)
    assert "RuntimeError" in line["message"] and "injected fault" not in line["message"]
    kept = Path(line["failed_notebook"])
    assert str(kept) in err
    assert kept.parent.parent == site / "report.failed"
    executed = nbformat.read(kept, as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert [e.ename for e in errors] == ["RuntimeError"]
    spec = load_spec()
    text = kept.read_text(encoding="utf-8")
    assert not [p["name"] for p in spec["person"] if p["name"] in text]
    assert not [p["email"] for p in spec["person"] if p["email"] in text]
    _no_kernels_left(since)


def test_a_hung_cell_ends_the_run_with_exit_3(site, tmp_path, monkeypatch, capsys):
    _with_notebook(monkeypatch, _notebook_with(tmp_path, "import time\ntime.sleep(600)"))
    before, runs = _digests(site), read_runs(site / "report" / "runs.jsonl")
    started = time.monotonic()
    assert main(["-q", *_args(site, "--force", "--cell-timeout", "3")]) == EXIT_NOTEBOOK
    assert time.monotonic() - started < 120
    err = capsys.readouterr().err
    assert "ran longer than 3 s (--cell-timeout)" in err
    assert "(import time)" in err
    assert _assert_untouched(site, before, runs)["outcome"] == "notebook-failed"


# -- the process is stopped -------------------------------------------------------------------


def _start(site: Path, *extra: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [*CLI, *_args(site, *extra)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def _wait_for(proc: subprocess.Popen, text: str, timeout: float = 120) -> str:
    """Read the child's stderr until a line holds ``text``; return what was read."""
    seen = []
    deadline = time.monotonic() + timeout
    for line in proc.stderr:
        seen.append(line)
        if text in line or time.monotonic() > deadline:
            break
    return "".join(seen)


def test_sigterm_in_the_middle_leaves_the_report_and_no_process(site):
    before, runs = _digests(site), read_runs(site / "report" / "runs.jsonl")
    since = time.time()
    proc = _start(site, "--force")
    _wait_for(proc, "notebook 10_report started")
    time.sleep(1.0)  # the notebooks are running now
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "stopped by SIGTERM" in err
    assert "Traceback" not in err
    line = _assert_untouched(site, before, runs)
    assert line["outcome"] == "terminated" and line["exit_code"] == 143
    _no_kernels_left(since)


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_leaves_the_report_and_exits_2(site):
    """No file may grow past 200 kB: the processed tables fit, the report does not."""
    before, runs = _digests(site), read_runs(site / "report" / "runs.jsonl")
    proc = _start(site, "--force", preexec_fn=_limit_file_size(200_000))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == EXIT_USAGE, err
    assert "File too large" in err
    assert "Traceback" not in err
    line = _assert_untouched(site, before, runs)
    assert line["outcome"] == "io-error" and line["exit_code"] == EXIT_USAGE


def _read_only(folder: Path) -> Callable[[bool], None] | None:
    """A switch that makes ``folder`` unwritable (and writable again), or None when this
    process cannot do it: mode 0555 stops anyone but root; for root the immutable flag."""
    if os.geteuid() != 0:
        return lambda on: folder.chmod(0o555 if on else 0o755)
    chattr = shutil.which("chattr")
    if chattr is None:
        return None

    def switch(on: bool) -> None:
        subprocess.run([chattr, "+i" if on else "-i", str(folder)], check=True)

    try:
        switch(True)
        switch(False)
    except subprocess.CalledProcessError:  # a file system without the flag
        return None
    return switch


def test_an_unwritable_output_folder_leaves_the_report_and_exits_2(site, capsys):
    switch = _read_only(site)
    if switch is None:
        pytest.skip("cannot make a folder unwritable here (root without chattr +i)")
    before = _digests(site)
    switch(True)
    try:
        assert main(["-q", *_args(site, "--force")]) == EXIT_USAGE
    finally:
        switch(False)
    err = capsys.readouterr().err
    assert "Permission denied" in err or "Operation not permitted" in err
    assert f"the previous report in {site / 'report'} is unchanged" in err
    assert "Traceback" not in err
    assert _digests(site) == before
    line = read_runs(site / "report" / "runs.jsonl")[-1]
    assert line["outcome"] == "io-error" and line["exit_code"] == EXIT_USAGE


# -- two builds at once -----------------------------------------------------------------------


def _manifest_holds(report: Path) -> None:
    manifest = json.loads((report / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["outputs"]:
        assert sha256(report / entry["name"]) == entry["sha256"], entry["name"]
    listed = {e["name"] for e in manifest["outputs"]} | {"manifest.json", "runs.jsonl"}
    assert {p.relative_to(report).as_posix() for p in report.rglob("*") if p.is_file()} == listed


def test_two_builds_of_one_output_run_one_after_the_other(site):
    runs = read_runs(site / "report" / "runs.jsonl")
    first = _start(site, "--force")
    _wait_for(first, "[1/5]")
    second = _start(site, "--force")
    waited = _wait_for(second, "waiting for it", timeout=60)
    assert "another build is running" in waited
    for proc in (first, second):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    _manifest_holds(site / "report")
    lines = read_runs(site / "report" / "runs.jsonl")
    assert lines[: len(runs)] == runs
    assert [line["outcome"] for line in lines[len(runs) :]] == ["built", "built"]
    # nothing but the two folders and their (empty, released) lock files
    assert sorted(p.name for p in site.iterdir()) == [
        ".processed.lock",
        ".report.lock",
        "processed",
        "report",
    ]


def test_no_wait_refuses_while_another_build_runs(site):
    first = _start(site, "--force")
    _wait_for(first, "[1/5]")
    second = subprocess.run(
        [*CLI, *_args(site, "--no-wait")], capture_output=True, text=True, timeout=60
    )
    assert second.returncode == EXIT_BUSY
    assert "another build is running" in second.stderr
    assert "not waiting (--no-wait)" in second.stderr
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    _manifest_holds(site / "report")
    outcomes = [line["outcome"] for line in read_runs(site / "report" / "runs.jsonl")]
    assert outcomes[-1] == "built"
    assert "busy" in outcomes


# -- nothing changed --------------------------------------------------------------------------


def test_an_unchanged_build_is_skipped_and_a_damaged_one_rebuilt(site, capsys):
    report = site / "report"
    before = _digests(site)
    # working folders of a build that was killed outright are cleared by the next one
    (site / ".report.build-killed" / "notebooks").mkdir(parents=True)
    (site / "processed" / ".build-killed").mkdir()
    mtime = (report / REPORT_FILE).stat().st_mtime_ns
    assert main(_args(site)) == 0
    assert "is up to date" in capsys.readouterr().err
    assert _digests(site) == before
    assert (report / REPORT_FILE).stat().st_mtime_ns == mtime
    assert read_runs(report / "runs.jsonl")[-1]["outcome"] == "up-to-date"
    assert not (site / ".report.build-killed").exists()
    assert not (site / "processed" / ".build-killed").exists()
    # a table damaged by hand: the report no longer matches its manifest, so it is rebuilt
    damaged = report / "tables" / "classes.csv"
    damaged.write_text(damaged.read_text(encoding="utf-8") + "x\n", encoding="utf-8")
    assert main(["-q", *_args(site)]) == 0
    assert sha256(damaged) == before["report/tables/classes.csv"]
    _manifest_holds(report)
    assert read_runs(report / "runs.jsonl")[-1]["outcome"] == "built"


# -- folders the build must not replace -------------------------------------------------------


@pytest.mark.parametrize("case", ["folder of other files", "a file", "processed inside out"])
def test_an_output_that_is_not_a_report_folder_is_refused(tmp_path, capsys, case):
    out, processed = tmp_path / "documents", tmp_path / "processed"
    if case == "folder of other files":
        out.mkdir()
        (out / "thesis.docx").write_bytes(b"mine")
    elif case == "a file":
        out.write_bytes(b"mine")
    else:
        processed = out / "processed"
    args = ["build", "--out", str(out), "--processed", str(processed)]
    assert main(["-q", *args, "--key-file", str(tmp_path / "k.key")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert str(out) in err and "Traceback" not in err
    if case == "folder of other files":
        assert "not a report folder" in err
        assert sorted(p.name for p in out.iterdir()) == ["thesis.docx"]
    elif case == "a file":
        assert out.read_bytes() == b"mine"
    else:
        assert "neither inside the other" in err
        assert not out.exists()


# -- publishing -------------------------------------------------------------------------------


def _publishable(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """An old report with a run record, a finished build beside it, staged and old tables."""
    out, staging = tmp_path / "report", tmp_path / ".report.build-x"
    processed, staged = tmp_path / "processed", tmp_path / "processed" / ".build-x"
    for folder in (out, staging, staged):
        folder.mkdir(parents=True)
    (out / "manifest.json").write_text("old", encoding="utf-8")
    (out / "runs.jsonl").write_text('{"outcome": "built"}\n', encoding="utf-8")
    (staging / "manifest.json").write_text("new", encoding="utf-8")
    (processed / "projects.csv").write_text("old", encoding="utf-8")
    (staged / "projects.csv").write_text("new", encoding="utf-8")
    return out, staging, processed, staged


def test_publishing_keeps_a_line_another_run_added_meanwhile(tmp_path, monkeypatch):
    out, staging, processed, staged = _publishable(tmp_path)
    swap = build.exchange

    def late_line_then_swap(a: Path, b: Path) -> None:
        with (b / "runs.jsonl").open("a", encoding="utf-8") as handle:
            handle.write('{"outcome": "busy"}\n')  # a run refused while this one publishes
        swap(a, b)

    monkeypatch.setattr(build, "exchange", late_line_then_swap)
    build._publish(staging, out, staged, processed, {"outcome": "built", "n": 2})
    assert [r["outcome"] for r in read_runs(out / "runs.jsonl")] == ["built", "built", "busy"]
    assert (out / "manifest.json").read_text(encoding="utf-8") == "new"
    assert (processed / "projects.csv").read_text(encoding="utf-8") == "new"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_publishing_waits_until_it_is_done(tmp_path, monkeypatch, caplog, signum):
    from atmp_analysis.refresh import termination_as_exception

    out, staging, processed, staged = _publishable(tmp_path)
    swap = build.exchange

    def signal_then_swap(a: Path, b: Path) -> None:
        os.kill(os.getpid(), signum)
        swap(a, b)

    monkeypatch.setattr(build, "exchange", signal_then_swap)
    with termination_as_exception():
        build._publish(staging, out, staged, processed, {"outcome": "built"})
    assert (out / "manifest.json").read_text(encoding="utf-8") == "new"
    assert (processed / "projects.csv").read_text(encoding="utf-8") == "new"
    assert "came while the report was being published; it is published" in caplog.text
