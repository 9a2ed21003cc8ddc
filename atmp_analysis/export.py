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
  built), ``image/png`` as an ``<img>``, ``text/markdown`` rendered with any HTML in it
  escaped (an output's Markdown may carry the data's text), ``text/plain`` escaped in a
  ``<pre>``. JavaScript, widgets and any other type are never shown.
- In Markdown, cells and outputs alike, a link or image whose URL would run or load
  something (``javascript:``, ``vbscript:``, ``file:``, a ``data:`` URL other than an image
  in a cell) is shown as its text only; an output's Markdown shows no ``data:`` image either.
- Not shown: code, prompts, raw cells, ``stream`` and ``error`` outputs, cells tagged
  ``parameters``, ``injected-parameters`` (papermill) or ``remove``, and cells or outputs whose
  metadata holds ``{"atmp": {"hide_in_report": true}}``. An image output may name its alt text
  with ``{"atmp": {"alt": "..."}}`` in its metadata.

Every heading of the body gets a unique id (a slug of its text when it has none),
and the ``<h2>`` and ``<h3>`` headings make the table of contents. A page that would still
fetch or run something (a script, an event handler attribute such as ``onerror``, a
``javascript:`` link, or a remote image in a notebook's own HTML or Markdown) is refused with
:class:`ReportExportError` rather than written.

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
from urllib.parse import unquote

import nbformat
from jinja2 import pass_context
from jinja2.runtime import Context
from nbconvert.exporters import TemplateExporter
from nbconvert.filters.markdown_mistune import HTMLRenderer, IPythonRenderer, MarkdownWithMath
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
#: URL schemes that run code when a link is followed or a form sent.
_SCRIPT_SCHEMES = ("javascript:", "vbscript:")
#: Attributes holding a URL that is followed or sent (``href`` of any kind, forms).
_LINK_ATTRS = frozenset({"action", "formaction"})
#: What browsers ignore in a URL's scheme: ASCII whitespace and control characters.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")


def _runs_script(url: str) -> bool:
    """Whether following ``url`` runs code (``javascript:``, ``vbscript:``, however spelt).

    >>> _runs_script(" Java\tScript:alert(1)"), _runs_script("https://example.org")
    (True, False)
    """
    return _URL_NOISE.sub("", html.unescape(url)).lower().startswith(_SCRIPT_SCHEMES)


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
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> (an event handler)")
            elif (name.endswith("href") or name in _LINK_ATTRS) and _runs_script(value):
                self.problems.append(f"<{tag} {name}={value[:80]!r}>")
            elif name in _URL_ATTRS and not local:
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
    ``data:`` URI, ``@import`` or ``url(...)`` in CSS, event handler attributes (``onerror``,
    ``onload`` ...) and links or forms to ``javascript:`` or ``vbscript:`` URLs. Other links
    (``<a href>``) are allowed: following one is the reader's choice.

    Examples
    --------
    >>> fetched_resources('<img src="data:image/png;base64,AA" alt=""><a href="https://x">x</a>')
    []
    >>> fetched_resources('<img src="https://example.org/logo.png" alt="">')
    ["<img src='https://example.org/logo.png'>"]
    >>> fetched_resources('<b onmouseover="alert(1)">x</b>')
    ['<b onmouseover=...> (an event handler)']
    """
    finder = _FetchFinder()
    finder.feed(document)
    finder.close()
    return finder.problems


# --------------------------------------------------------------------------------------------
# Markdown


#: URL schemes a Markdown link or image may use; a URL without a scheme is relative.
SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel", "ftp", "ftps"})
#: ``data:`` images a notebook's own Markdown cell may show (never an output's Markdown).
DATA_IMAGES = ("data:image/png;", "data:image/jpeg;", "data:image/gif;", "data:image/webp;")
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")


def url_allowed(url: str, *, data_images: bool = False) -> bool:
    """Whether a Markdown link or image may use ``url``: a safe scheme, or none (relative).

    The scheme is read as a browser reads it: entities and percent-escapes decoded,
    whitespace and control characters ignored, in any case.

    Examples
    --------
    >>> [url_allowed(u) for u in ("https://x.org", "#top", "figures/a.png", "mailto:a@b.se")]
    [True, True, True, True]
    >>> [url_allowed(u) for u in ("javascript:alert(1)", " JaVa\tscript:x", "vbscript:x")]
    [False, False, False]
    >>> png = "data:image/png;base64,AA"
    >>> url_allowed(png), url_allowed(png, data_images=True)
    (False, True)
    >>> url_allowed("data:text/html;base64,AA", data_images=True)
    False
    """
    normal = _URL_NOISE.sub("", html.unescape(unquote(url))).lower()
    scheme = _SCHEME.match(normal)
    if scheme is None:
        return True
    if normal.startswith(DATA_IMAGES):
        return data_images
    return scheme.group(1) in SAFE_SCHEMES


class SafeMarkdownRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer, with links and images that cannot run anything.

    A link or image whose URL :func:`url_allowed` refuses (``javascript:``, ``vbscript:``,
    ``file:``, ``data:`` ...) is rendered as its text only.

    Parameters
    ----------
    trusted
        ``True`` for a notebook's own Markdown cell: its HTML is kept; its attachments, the
        images beside the notebook and ``data:`` images (PNG, JPEG, GIF, WebP) are shown.
        ``False`` for the Markdown of a code cell's output, which may carry the data's
        text: its HTML is escaped, nothing is embedded and no ``data:`` URL is used.
    **options
        Passed on to :class:`nbconvert.filters.markdown_mistune.IPythonRenderer`.

    Examples
    --------
    >>> def render(text, trusted):
    ...     return MarkdownWithMath(renderer=SafeMarkdownRenderer(trusted=trusted)).render(text)
    >>> render("[x](javascript:alert(1)) <b>y</b>", trusted=False)
    '<p>x &lt;b&gt;y&lt;/b&gt;</p>\\n'
    >>> render("[x](https://example.org) <b>y</b>", trusted=True)
    '<p><a href="https://example.org">x</a> <b>y</b></p>\\n'
    """

    def __init__(self, *, trusted: bool, **options: Any) -> None:
        if not trusted:
            options.update(embed_images=False, attachments={})
        # URLs are checked here (url_allowed) before mistune sees them
        super().__init__(escape=not trusted, allow_harmful_protocols=True, **options)
        self.trusted = trusted

    def link(self, text: str, url: str, title: str | None = None) -> str:
        """A link, or only its text when its URL is not allowed."""
        if not url_allowed(url):
            return text
        return super().link(text, url, title)

    def image(self, text: str, url: str, title: str | None = None) -> str:
        """An image, or only its alt text when its URL is not allowed.

        In a trusted cell, an attachment or a file beside the notebook is embedded first.
        """
        source = self._embed_image_or_attachment(url) if self.trusted else url
        if source == url and not url_allowed(url, data_images=self.trusted):
            return text
        return HTMLRenderer.image(self, text, source, title)

    def block_mermaidjs(self, code: str) -> str:
        """A Mermaid diagram's source, escaped (nbconvert's renderer writes it raw)."""
        source = html.escape(code.strip())
        return f'<div class="jp-Mermaid"><pre class="mermaid">\n{source}\n</pre></div>'


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

        A Markdown cell keeps its HTML; attachments are embedded, and so are images beside
        the notebook when it was read from a file. Markdown that a code cell output (the
        ``text/markdown`` representation) is rendered with its HTML escaped and nothing
        embedded. In both, links and images with a URL that would run something are shown as
        text (:class:`SafeMarkdownRenderer`). Math stays as TeX source (no MathJax is loaded).
        """
        cell = context.get("cell", {})
        path = context.get("resources", {}).get("metadata", {}).get("path", "")
        trusted = cell.get("cell_type") == "markdown"
        renderer = SafeMarkdownRenderer(
            trusted=trusted,
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
