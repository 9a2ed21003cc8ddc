"""What a report notebook works with: the data of one wave, its audience, numbered exhibits.

A notebook makes one :class:`Report` from its parameters and then, per section, calls
:meth:`Report.show`. Each exhibit (a figure with its table, see :mod:`atmp_analysis.sections`)
is computed from the processed tables, passed through disclosure control for a public
audience, drawn by :mod:`atmp_analysis.figures` and displayed as escaped HTML with its
number, caption and alt text. The PNG and SVG of every figure travel in the output's
mime bundle, from where the build saves them (:mod:`atmp_analysis.build`).

    >>> rep = Report(load_report_data(), centre="Demo centre")       # doctest: +SKIP
    >>> rep.show("classes")                                         # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy
import pandas as pd

from atmp_analysis.disclosure import Suppressed, rule_text, suppress
from atmp_analysis.summary import PROJECTS, of_wave

AUDIENCES = ("internal", "public")
#: Figure width in inches; PNGs are drawn at this size and shown at 100 px per inch.
FIGURE_WIDTH = 7.5
PNG_DPI = 150


@dataclass(frozen=True)
class ReportData:
    """The processed tables a report is made from (as written to ``data/processed``)."""

    responses: pd.DataFrame
    projects: pd.DataFrame
    quality: pd.DataFrame
    unrecognised: pd.DataFrame
    missing: pd.DataFrame
    sources: tuple[str, ...] = ()

    @classmethod
    def from_tables(cls, tables: dict[str, pd.DataFrame], sources: Sequence[str] = ()):
        """From the dictionary :func:`atmp_analysis.tables.read_tables` returns."""
        return cls(
            responses=tables["responses"],
            projects=tables["projects"],
            quality=tables["data_quality"],
            unrecognised=tables["unrecognised_values"],
            missing=tables["missing_answers"],
            sources=tuple(sources),
        )


def load_report_data(
    tables: str | Path | None = None,
    surveys: Sequence[str | Path] = (),
    *,
    key_file: str | Path | None = None,
    dictionary: str | Path | None = None,
) -> ReportData:
    """The report's data: the processed tables in ``tables``, else the surveys processed now.

    Parameters
    ----------
    tables
        A folder written by :func:`atmp_analysis.tables.write_tables` (the build passes
        one, so notebooks do not repeat the data steps).
    surveys
        Survey exports to read when no ``tables`` folder is given; empty: the demo survey.
    key_file
        The pseudonymisation key for reading surveys; default: the user's key.
    dictionary
        A centre's own REDCap data dictionary.
    """
    from atmp_analysis.tables import read_tables

    if tables:
        return ReportData.from_tables(read_tables(Path(tables)))
    import tempfile

    from atmp_analysis.config import default_key_path, demo_exports
    from atmp_analysis.pipeline import data_quality, read_surveys, to_projects
    from atmp_analysis.pseudonym import load_key
    from atmp_analysis.tables import write_tables

    paths = [Path(s) for s in surveys] or demo_exports(fmt="redcap")
    key = load_key(Path(key_file) if key_file else default_key_path())
    responses = read_surveys(paths, key, dictionary=dictionary)
    projects = to_projects(responses, dictionary=dictionary)
    with tempfile.TemporaryDirectory(prefix="atmp-tables-") as folder:
        write_tables(responses, projects, data_quality(responses), Path(folder))
        return ReportData.from_tables(read_tables(Path(folder)), [p.name for p in paths])


def open_report(
    *,
    surveys: Sequence[str | Path] = (),
    tables: str | Path | None = None,
    wave: int | None = None,
    centre: str | None = None,
    audience: str = "internal",
    min_cell: int = 3,
    provenance: str | Path | None = None,
    key_file: str | Path | None = None,
    parameters_file: str | Path | None = None,
) -> Report:
    """A notebook's :class:`Report` from its papermill parameters (one call, one place).

    With no ``tables`` the surveys (default: the demo) are processed in the notebook; with
    no ``provenance`` file the record is made from the surveys read. ``parameters_file``: a
    JSON file of these parameters whose values win over the others; the build passes its
    parameters this way, as data, so that no text of the survey's is ever made into code.
    """
    import json

    from atmp_analysis.provenance import record

    if parameters_file:
        given = json.loads(Path(parameters_file).read_text(encoding="utf-8"))
        known = {"surveys", "tables", "wave", "centre", "audience", "min_cell", "provenance"}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValueError(f"{parameters_file}: unknown parameters {unknown}")
        surveys = given.get("surveys", surveys)
        tables = given.get("tables", tables)
        wave = given.get("wave", wave)
        centre = given.get("centre", centre)
        audience = given.get("audience", audience)
        min_cell = given.get("min_cell", min_cell)
        provenance = given.get("provenance", provenance)

    data = load_report_data(tables, surveys, key_file=key_file)
    if centre is None:
        centre = "ATMP centre"
        if not surveys and not tables:
            from atmp_analysis.demo import load_spec

            centre = load_spec()["centre"]["name"] + " (synthetic demo)"
    parameters = {"wave": wave, "centre": centre, "audience": audience, "min_cell": min_cell}
    if provenance:
        prov = json.loads(Path(provenance).read_text(encoding="utf-8"))
    else:
        from atmp_analysis.config import demo_exports

        prov = record([Path(s) for s in surveys] or demo_exports(fmt="redcap"), parameters)
    return Report(
        data,
        wave=wave,
        centre=centre,
        audience=audience,
        min_cell=min_cell,
        provenance=prov,
    )


def esc(value: object) -> str:
    """Text from the data, escaped for HTML (respondents' text never becomes markup)."""
    return html.escape("" if value is None or value is pd.NA else str(value), quote=True)


@dataclass
class Block:
    """One display output: a mime bundle and its metadata (what the notebook shows)."""

    bundle: dict[str, str]
    metadata: dict = field(default_factory=dict)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.bundle, self.metadata

    @property
    def html(self) -> str:
        """The HTML a reader sees."""
        return self.bundle["text/html"]


class Report:
    """One wave of the survey, for one audience, with figures and tables numbered in order.

    Parameters
    ----------
    data
        The processed tables (:func:`load_report_data`).
    wave
        The survey year to report; default: the latest wave in the data.
    centre
        The centre's name, for titles.
    audience
        ``"internal"`` shows every count (never personal data); ``"public"`` hides counts
        below ``min_cell`` with secondary suppression, and leaves out free text and
        per-project listings.
    min_cell
        The smallest count a public report shows.
    provenance
        The build's record of inputs, parameters and versions (:mod:`atmp_analysis.provenance`).
    """

    def __init__(
        self,
        data: ReportData,
        *,
        wave: int | None = None,
        centre: str = "ATMP centre",
        audience: str = "internal",
        min_cell: int = 3,
        provenance: dict | None = None,
    ) -> None:
        if audience not in AUDIENCES:
            raise ValueError(f"audience must be one of {AUDIENCES}, not {audience!r}")
        if min_cell < 2:
            raise ValueError(f"min_cell must be at least 2, not {min_cell}")
        waves = sorted(int(w) for w in data.projects["wave"].unique())
        if not waves:
            raise ValueError("the data hold no projects")
        if wave is None:
            wave = waves[-1]
        if int(wave) not in waves:
            raise ValueError(f"wave {wave} is not in the data (waves: {waves})")
        self.data = data
        self.wave = int(wave)
        self.waves = waves
        self.centre = centre
        self.audience = audience
        self.min_cell = min_cell if audience == "public" else None
        self.provenance = provenance
        self.projects = of_wave(data.projects, self.wave)
        self.responses = of_wave(data.responses, self.wave)
        self._numbers: dict[tuple[str, str], int] = {}
        self._memo: dict[str, object] = {}

    @property
    def public(self) -> bool:
        """Whether this report is for outside readers (disclosure control applies)."""
        return self.audience == "public"

    def memo(self, name: str, compute):
        """``compute()`` once per report: what several sections share (the forecast)."""
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]

    # -- numbering -----------------------------------------------------------------------
    def number(self, kind: str, name: str) -> int:
        """The figure or table number of an exhibit: the same name keeps its number."""
        key = (kind, name)
        if key not in self._numbers:
            self._numbers[key] = 1 + sum(k == kind for k, _ in self._numbers)
        return self._numbers[key]

    # -- disclosure ----------------------------------------------------------------------
    def protect(self, counts: pd.DataFrame, *, margins: bool = True) -> Suppressed:
        """The counts as this audience may see them (the rule of :func:`rule_text`)."""
        return suppress(counts, self.min_cell, margins=margins)

    @property
    def disclosure_rule(self) -> str:
        """The disclosure rule in one sentence, for the report."""
        return rule_text(self.min_cell)

    def count(self, table: Suppressed, row: str, column: str = PROJECTS) -> str:
        """One count of a protected table as text ("13", "<3"); "0" when the row is absent."""
        if row in table.labels.index:
            return str(table.labels.loc[row, column])
        return f"<{self.min_cell}" if self.min_cell else "0"

    # -- output blocks -------------------------------------------------------------------
    def table_block(
        self,
        table: Suppressed | pd.DataFrame,
        caption: str,
        name: str,
        *,
        extra: pd.DataFrame | None = None,
    ) -> Block:
        """An HTML table with its number and caption; counts right-aligned, all escaped."""
        labels = table.labels if isinstance(table, Suppressed) else table.astype("string")
        hidden = table.hidden if isinstance(table, Suppressed) else None
        if extra is not None:
            labels = pd.concat([extra.reindex(labels.index).astype("string"), labels], axis=1)
        n = self.number("table", name)
        return Block(
            {"text/html": html_table(labels, caption, hidden=hidden, number=f"Table {n}.")},
            {"atmp": {"table": name, "number": n}},
        )

    def figure_block(
        self,
        draw,
        caption: str,
        name: str,
        alt: str,
        *,
        height: float = 3.5,
    ) -> Block:
        """Draw a figure with ``draw(ax)`` and return it as numbered HTML plus PNG and SVG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        n = self.number("figure", name)
        with matplotlib.rc_context(FIGURE_STYLE):
            fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, height), layout="constrained")
            try:
                draw(ax)
                png, svg = io.BytesIO(), io.StringIO()
                fig.savefig(png, format="png", dpi=PNG_DPI, metadata={"Software": None})
                fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
            finally:
                plt.close(fig)
        data = base64.b64encode(png.getvalue()).decode("ascii")
        width = round(FIGURE_WIDTH * 100)
        figure = (
            f'<figure id="figure-{esc(name)}"><img src="data:image/png;base64,{data}" '
            f'alt="{esc(alt)}" width="{width}" style="max-width:100%;height:auto">'
            f"<figcaption><strong>Figure {n}.</strong> {esc(caption)}</figcaption></figure>"
        )
        return Block(
            {"text/html": figure, "image/png": data, "image/svg+xml": svg.getvalue()},
            {"atmp": {"figure": name, "number": n, "caption": caption, "alt": alt}},
        )

    def prose(self, *paragraphs: str, heading: str | None = None, note: bool = False) -> Block:
        """Paragraphs of computed text; each already escaped by its author (``esc``)."""
        cls = ' class="note"' if note else ""
        head = f"<h2>{esc(heading)}</h2>" if heading else ""
        return Block({"text/html": head + "".join(f"<p{cls}>{p}</p>" for p in paragraphs)})

    def show(self, name: str) -> None:
        """Display one section of :mod:`atmp_analysis.sections` in the notebook."""
        from IPython.display import display

        from atmp_analysis.sections import section

        for block in section(self, name):
            display(block)


#: Matplotlib settings for every figure of the report (readable at 100 % zoom).
FIGURE_STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9,
    "svg.fonttype": "none",
    "svg.hashsalt": "atmp-analysis",
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def html_table(
    labels: pd.DataFrame, caption: str, *, hidden: pd.DataFrame | None = None, number: str = ""
) -> str:
    """A readable HTML table of text cells: header row, row headers, numbers right-aligned.

    Every cell, header and the caption are escaped; hidden (suppressed) cells get the class
    ``suppressed``; the "Total" row the class ``total``.

    >>> t = pd.DataFrame({"Projects": ["13", "<3"]}, index=pd.Index(["GTMP", "<b>"], name="Class"))
    >>> "&lt;b&gt;" in html_table(t, "Caption")
    True
    """
    text = labels.astype("string").fillna("")
    numeric = text.apply(lambda c: c.str.fullmatch(r"[<>≥]?\d[\d.,%]*|x|n/a")).to_numpy(bool)
    if hidden is None:
        masked = numpy.zeros(text.shape, dtype=bool)
    else:
        masked = hidden.reindex(index=text.index, columns=text.columns, fill_value=False)
        masked = masked.to_numpy(bool)
    classes = numpy.where(numeric, "n", "")
    classes = numpy.char.strip(numpy.char.add(classes, numpy.where(masked, " suppressed", "")))
    values = text.map(esc).to_numpy(str)
    cells = numpy.where(
        classes == "",
        numpy.char.add(numpy.char.add("<td>", values), "</td>"),
        numpy.char.add(
            numpy.char.add(numpy.char.add('<td class="', classes), '">'),
            numpy.char.add(values, "</td>"),
        ),
    )
    rows = [
        f'<tr{" class=total" if key == "Total" else ""}><th scope="row">{esc(key)}</th>'
        + "".join(row)
        + "</tr>"
        for key, row in zip(text.index, cells, strict=True)
    ]
    head = "".join(f'<th scope="col">{esc(c)}</th>' for c in text.columns)
    corner = f'<th scope="col">{esc(text.index.name or "")}</th>'
    label = f"<strong>{esc(number)}</strong> " if number else ""
    return (
        f'<table class="counts"><caption>{label}{esc(caption)}</caption>'
        f"<thead><tr>{corner}{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
