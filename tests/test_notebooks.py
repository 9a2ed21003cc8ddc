"""The notebooks run on the demo survey with papermill, and leak no personal data."""

from __future__ import annotations

import json
from pathlib import Path

import papermill as pm
import pytest

from atmp_analysis.build import NOTEBOOKS as BUILD_NOTEBOOKS
from atmp_analysis.demo import load_spec

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    assert all(not c.get("outputs") and not c.get("execution_count") for c in cells)
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells)


#: The report notebooks run in tests/test_build.py, under the build; the others run here.
STANDALONE = [n for n in NOTEBOOKS if n.stem not in {b.stem for b in BUILD_NOTEBOOKS}]


def test_the_build_runs_every_report_notebook():
    assert {b.path for b in BUILD_NOTEBOOKS} <= set(NOTEBOOKS)
    assert STANDALONE  # the exploration notebook


@pytest.mark.parametrize("notebook", STANDALONE, ids=lambda p: p.name)
def test_notebook_runs_and_shows_no_personal_data(notebook, tmp_path):
    out = tmp_path / notebook.name
    pm.execute_notebook(
        str(notebook),
        str(out),
        parameters={"key_file": str(tmp_path / "k.key")},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    text = out.read_text(encoding="utf-8")
    assert "STEM-PD" in text  # it did show the projects
    spec = load_spec()
    personal = {p["name"] for p in spec["person"]} | {p["email"] for p in spec["person"]}
    leaked = sorted(v for v in personal if v in text)
    assert not leaked, leaked[:3]
