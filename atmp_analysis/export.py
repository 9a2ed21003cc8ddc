"""An executed notebook as the report's HTML page: one self-contained file for readers.

The page is read by a centre's leadership, funders and hospital planners, offline and often
printed. It shows what the analysis says, never how: code, prompts, parameters, warnings on
stderr and tracebacks are left out. Nothing is fetched when it is opened: no script, no
``<link>``, no web font; the stylesheet (``data/templates/report/report.css``) is inlined and
images are ``data:`` URIs. nbconvert's own templates are not used, as they load require.js and
MathJax from a CDN and inline the whole JupyterLab stylesheet.

What a notebook shows in the report
-----------------------------------
- Markdown cells, rendered.
- Outputs of code cells (``display_data`` and ``execute_result``), one representation each, in
  this order of preference: ``text/html`` as it is (the package's HTML is escaped where it is
  built), ``image/png`` as an ``<img>``, ``text/markdown`` rendered, ``text/plain`` escaped in a
  ``<pre>``. JavaScript, widgets and any other type are never shown.
- Not shown: code, prompts, raw cells, ``stream`` and ``error`` outputs, cells tagged
  ``parameters``, ``injected-parameters`` (papermill) or ``remove``, and cells or outputs whose
  metadata holds ``{"atmp": {"hide_in_report": true}}``. An image output may name its alt text
  with ``{"atmp": {"alt": "..."}}`` in its metadata.

Every heading of the body gets a unique id (a slug of its text when it has none),
and the ``<h2>`` and ``<h3>`` headings make the table of contents. A page that would still
fetch something (a script or a remote image in a notebook's own HTML or Markdown) is refused
with :class:`ReportExportError` rather than written.

Classes the package's HTML outputs can use are styled in ``report.css``: ``figure`` and
``figcaption``, ``table`` with ``caption``, ``table.counts``, ``td.n`` / ``th.n`` (numbers,
right-aligned, tabular figures), ``p.note`` / ``.note``, ``.suppressed`` (a count withheld
because it is small), ``.muted``.
"""

from __future__ import annotations

import html
import importlib.resources
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
from jinja2 import pass_context
from jinja2.runtime import Context
from nbconvert.exporters import TemplateExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors import Preprocessor
from traitlets import default
from traitlets.config import Config

from atmp_analysis.atomic import atomic_write

#: Cells with one of these tags are left out of the report.
HIDDEN_TAGS = frozenset({"parameters", "injected-parameters", "remove"})
#: Representations an output may be shown as, the preferred first.
REPORT_MIMETYPES = ("text/html", "image/png", "text/markdown", "text/plain")
#: Output types that are shown; ``stream`` and ``error`` are not.
SHOWN_OUTPUTS = frozenset({"display_data", "execute_result"})
#: The directory nbconvert looks in for the ``report`` template.
TEMPLATE_NAME = "report"


def templates_dir() -> Path:
    """Return the directory holding the package's nbconvert templates."""
    return Path(str(importlib.resources.files("atmp_analysis") / "data" / "templates"))


class ReportExportError(ValueError):
    """A notebook whose report page would fetch something or is otherwise unusable."""


# --------------------------------------------------------------------------------------------
# What is shown


def _hidden(metadata: Any) -> bool:
    atmp = metadata.get("atmp") if isinstance(metadata, dict) else None
    return isinstance(atmp, dict) and bool(atmp.get("hide_in_report"))


def _text(value: Any) -> Any:
    # a notebook read as plain JSON may hold multi-line strings as lists of lines
    return "".join(value) if isinstance(value, list) else value


def _report_output(output: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    if output.get("output_type") not in SHOWN_OUTPUTS:
        return None
    metadata = output.get("metadata") or nbformat.NotebookNode()
    if _hidden(metadata):
        return None
    data = output.get("data") or {}
    kept = {mime: _text(data[mime]) for mime in REPORT_MIMETYPES if mime in data}
    if not kept:
        return None
    output["data"] = nbformat.from_dict(kept)
    output["metadata"] = metadata
    return output


class ReportFilterPreprocessor(Preprocessor):
    """Keep only what a report reader sees: Markdown cells and the shown outputs of code cells.

    Code is emptied, raw cells and hidden cells are removed, and each output keeps only the
    representations listed in :data:`REPORT_MIMETYPES`.
    """

    def preprocess(
        self, nb: nbformat.NotebookNode, resources: dict[str, Any]
    ) -> tuple[nbformat.NotebookNode, dict[str, Any]]:
        """Return ``nb`` reduced to the report's cells and outputs (``nb`` is a copy)."""
        cells = []
        for cell in nb.cells:
            if cell.get("cell_type") not in ("markdown", "code"):
                continue
            if HIDDEN_TAGS.intersection(cell.get("metadata", {}).get("tags", ())):
                continue
            if _hidden(cell.get("metadata", {})):
                continue
            if cell.cell_type == "code":
                cell.source = ""
                outputs = (_report_output(output) for output in cell.get("outputs", []))
                cell.outputs = [output for output in outputs if output is not None]
            else:
                cell.source = _text(cell.source)
            cells.append(cell)
        nb.cells = cells
        return nb, resources


# --------------------------------------------------------------------------------------------
# Headings and the table of contents


@dataclass
class TocEntry:
    """One line of the table of contents: a heading's id and text, and its subheadings."""

    id: str
    text: str
    children: list[TocEntry] = field(default_factory=list)


@dataclass
class Outline:
    """The body with an id on every heading, and the table of contents built from it."""

    body: str
    entries: list[TocEntry]


_HEADING = re.compile(r"<h([1-6])(\s[^>]*)?>(.*?)</h\1\s*>", re.IGNORECASE | re.DOTALL)
_START_TAG = re.compile(r"<([a-zA-Z][\w:-]*)(\s[^>]*)?>")
_ID_ATTR = re.compile(r"""(\s)id\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^>]*>")


def slugify(text: str) -> str:
    """Return an ASCII id for a heading's text: lower case, words joined by hyphens.

    Examples
    --------
    >>> slugify("Gene therapy: AAV & lentivirus")
    'gene-therapy-aav-lentivirus'
    >>> slugify("Behov för stöd")
    'behov-for-stod'
    >>> slugify("—")
    'section'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug or "section"


def _id_value(match: re.Match[str]) -> str:
    return html.unescape(next(g for g in match.groups()[1:] if g is not None))


def outline(body: str) -> Outline:
    """Give every heading of ``body`` a unique id and list the ``<h2>`` and ``<h3>`` headings.

    A heading keeps its own id unless an element or an earlier heading already has it; a
    heading without one gets a slug of its text, numbered (``-2``, ``-3``) when it is taken.

    Parameters
    ----------
    body
        The rendered cells (HTML).

    Returns
    -------
    Outline
        The body with the ids written in, and the entries of the table of contents: each
        ``<h2>`` with the ``<h3>`` headings after it as children.

    Examples
    --------
    >>> result = outline("<h2>Needs</h2><p>…</p><h3>Needs</h3>")
    >>> result.body
    '<h2 id="needs">Needs</h2><p>…</p><h3 id="needs-2">Needs</h3>'
    >>> [(e.id, [c.id for c in e.children]) for e in result.entries]
    [('needs', ['needs-2'])]
    """
    headings = list(_HEADING.finditer(body))
    # ids of every other element are taken before headings are numbered
    taken: set[str] = set()
    without_headings = _HEADING.sub(lambda m: m.group(3), body)
    for tag in _START_TAG.finditer(without_headings):
        for match in _ID_ATTR.finditer(tag.group(2) or ""):
            taken.add(_id_value(match))

    # a heading's own id (the package's HTML may link to it) is kept when it is the first
    # to claim it; slugs and later claims are numbered around the kept ones
    keeps: list[bool] = []
    for heading in headings:
        existing = _ID_ATTR.search(heading.group(2) or "")
        keep = existing is not None and _id_value(existing) not in taken
        if keep:
            taken.add(_id_value(existing))
        keeps.append(keep)

    entries: list[TocEntry] = []
    pieces: list[str] = []
    end = 0
    for heading, keep in zip(headings, keeps, strict=True):
        level, attrs, inner = heading.group(1), heading.group(2) or "", heading.group(3)
        text = " ".join(html.unescape(_ANY_TAG.sub("", inner)).split())
        existing = _ID_ATTR.search(attrs)
        base = _id_value(existing) if existing else slugify(text)
        anchor, number = base, 1
        while not keep and (anchor in taken or not anchor):
            number += 1
            anchor = f"{base}-{number}"
        taken.add(anchor)
        quoted = html.escape(anchor, quote=True)
        if existing:
            start, stop = existing.span()
            attrs = f'{attrs[:start]}{existing.group(1)}id="{quoted}"{attrs[stop:]}'
        else:
            attrs = f'{attrs} id="{quoted}"'
        pieces.append(body[end : heading.start()])
        pieces.append(f"<h{level}{attrs}>{inner}</h{level}>")
        end = heading.end()
        if level in "23" and text:
            entry = TocEntry(anchor, text)
            if level == "3" and entries:
                entries[-1].children.append(entry)
            else:
                entries.append(entry)
    pieces.append(body[end:])
    return Outline("".join(pieces), entries)


# --------------------------------------------------------------------------------------------
# Nothing fetched


_FETCHING_TAGS = frozenset({"script", "link", "iframe", "frame", "object", "embed", "base"})
_URL_ATTRS = frozenset({"src", "srcset", "poster", "data", "background"})
_CSS_FETCH = re.compile(r"@import|url\(\s*(?!['\"]?\s*(?:data:|#))", re.IGNORECASE)


class _FetchFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _FETCHING_TAGS:
            self.problems.append(f"a <{tag}> element")
        self._in_style = tag == "style"
        for name, value in attrs:
            value = (value or "").strip()
            local = value.lower().startswith("data:")
            if name in _URL_ATTRS and not local:
                self.problems.append(f"<{tag} {name}={value[:80]!r}>")
            elif name.endswith("href") and tag not in ("a", "area") and not value.startswith("#"):
                self.problems.append(f"<{tag} {name}={value[:80]!r}>")
            elif name == "style" and _CSS_FETCH.search(value):
                self.problems.append(f"<{tag} style={value[:80]!r}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and _CSS_FETCH.search(data):
            self.problems.append(f"a stylesheet with {_CSS_FETCH.search(data).group(0)!r}")


def fetched_resources(document: str) -> list[str]:
    """Describe everything in ``document`` that a browser would fetch or run.

    Scripts, ``<link>``, frames and embedded objects, an image or media source that is not a
    ``data:`` URI, and ``@import`` or ``url(...)`` in CSS. Links (``<a href>``) are allowed:
    following one is the reader's choice.

    Examples
    --------
    >>> fetched_resources('<img src="data:image/png;base64,AA" alt=""><a href="https://x">x</a>')
    []
    >>> fetched_resources('<img src="https://example.org/logo.png" alt="">')
    ["<img src='https://example.org/logo.png'>"]
    """
    finder = _FetchFinder()
    finder.feed(document)
    finder.close()
    return finder.problems


# --------------------------------------------------------------------------------------------
# The exporter


class ReportExporter(TemplateExporter):
    """nbconvert exporter for the report page, with the package's ``report`` template.

    It removes what readers do not see (:class:`ReportFilterPreprocessor`), renders Markdown
    with plain headings (:func:`outline` adds the ids), and builds the table of contents.
    Title and subtitle come from ``resources["report"]``; :func:`export_html` sets them.
    """

    output_mimetype = "text/html"

    @default("file_extension")
    def _file_extension_default(self) -> str:
        return ".html"

    @default("template_name")
    def _template_name_default(self) -> str:
        return TEMPLATE_NAME

    @default("extra_template_basedirs")
    def _extra_template_basedirs_default(self) -> list[str]:
        # not the working directory (nbconvert's default): only the package's templates
        return [str(templates_dir())]

    @default("default_preprocessors")
    def _default_preprocessors_default(self) -> list[Any]:
        return []

    @default("preprocessors")
    def _preprocessors_default(self) -> list[Any]:
        return [ReportFilterPreprocessor]

    @default("exclude_input")
    def _exclude_input_default(self) -> bool:
        return True

    @default("exclude_input_prompt")
    def _exclude_input_prompt_default(self) -> bool:
        return True

    @default("exclude_output_prompt")
    def _exclude_output_prompt_default(self) -> bool:
        return True

    @default("exclude_raw")
    def _exclude_raw_default(self) -> bool:
        return True

    @property
    def default_config(self) -> Config:
        """nbconvert's defaults with the report's order of representations."""
        config = super().default_config.copy()
        config.merge(Config({"NbConvertBase": {"display_data_priority": list(REPORT_MIMETYPES)}}))
        return config

    @pass_context
    def markdown2html(self, context: Context, source: str) -> str:
        """Render Markdown to HTML; headings without ids or anchor links.

        Attachments are embedded; so are images beside the notebook when it was read from a
        file. Math stays as TeX source (no MathJax is loaded).
        """
        cell = context.get("cell", {})
        path = context.get("resources", {}).get("metadata", {}).get("path", "")
        renderer = IPythonRenderer(
            escape=False,
            attachments=cell.get("attachments", {}),
            embed_images=bool(path),
            path=path,
            exclude_anchor_links=True,
        )
        return MarkdownWithMath(renderer=renderer).render(source)

    def default_filters(self) -> Iterator[tuple[str, Any]]:
        """nbconvert's filters, the report's Markdown renderer and ``report_outline``."""
        yield from super().default_filters()
        yield ("markdown2html", self.markdown2html)
        yield ("report_outline", outline)


def export_html(
    notebook: nbformat.NotebookNode | str | Path, *, title: str, subtitle: str | None = None
) -> str:
    """Render an executed notebook as the report's self-contained HTML page.

    Parameters
    ----------
    notebook
        The notebook, or the path of a notebook file (a ``str`` is a path). Images that a
        Markdown cell links by a relative path are embedded only when a path is given.
    title
        The page's title and ``<h1>``; plain text, escaped.
    subtitle
        A line under the title (plain text, escaped), e.g. the centre and the survey waves.

    Returns
    -------
    str
        One complete HTML document. The same notebook always gives the same text.

    Raises
    ------
    ReportExportError
        When the page would fetch or run something (a script, a remote image, a stylesheet
        import) that a notebook's own HTML or Markdown brought in.
    ValueError
        When the title is blank.

    Examples
    --------
    >>> from nbformat.v4 import new_markdown_cell, new_notebook
    >>> page = export_html(new_notebook(cells=[new_markdown_cell("## Pipeline")]), title="ATMP")
    >>> '<a href="#pipeline">Pipeline</a>' in page and "<script" not in page
    True
    """
    if not title.strip():
        msg = "a report page needs a title"
        raise ValueError(msg)
    resources: dict[str, Any] = {}
    if isinstance(notebook, (str, Path)):
        path = Path(notebook)
        nb = nbformat.read(path, as_version=4)
        resources["metadata"] = {"name": path.stem, "path": str(path.resolve().parent)}
    else:
        nb = notebook
    resources["report"] = {"title": title, "subtitle": subtitle}
    document, _ = ReportExporter().from_notebook_node(nb, resources=resources)
    problems = fetched_resources(document)
    if problems:
        listed = "; ".join(dict.fromkeys(problems))
        msg = (
            f"the report page would not be self-contained: {listed}. Remove it from the "
            'notebook or mark the output with {"atmp": {"hide_in_report": true}} metadata'
        )
        raise ReportExportError(msg)
    return document


def write_html(text: str, path: Path) -> Path:
    """Write a report page to ``path`` atomically (UTF-8) and return the path.

    Examples
    --------
    >>> page = export_html(nb, title="ATMP pipeline 2025")  # doctest: +SKIP
    >>> write_html(page, Path("report.html"))  # doctest: +SKIP
    PosixPath('report.html')
    """
    path = Path(path)
    with atomic_write(path, newline="") as handle:
        handle.write(text)
    return path
