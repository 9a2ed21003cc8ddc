"""The report page: self-contained, no code or noise, every heading linked from the contents."""

from __future__ import annotations

import base64
import copy
import re
from html.parser import HTMLParser

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from atmp_analysis.export import ReportExportError, export_html, outline, write_html

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(32))).decode("ascii")
HTML_TABLE = (
    '<table class="counts"><caption>Projects by stage &amp; class</caption>'
    '<tr><th scope="col">Stage</th><th class="n">Projects</th></tr>'
    "<tr><td>Pre-clinical</td><td class='n'>12</td></tr>"
    '<tr><td>Phase I</td><td class="n suppressed">&lt;5</td></tr></table>'
)


def _notebook() -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            new_code_cell(
                "centre = 'PARAMETER_DEFAULT_CELL'",
                metadata={"tags": ["parameters"]},
                outputs=[new_output("display_data", data={"text/plain": "PARAMETER_OUTPUT"})],
            ),
            new_code_cell(
                "centre = 'INJECTED_BY_PAPERMILL'",
                metadata={"tags": ["injected-parameters"]},
                outputs=[new_output("display_data", data={"text/html": "<p>INJECTED_OUTPUT</p>"})],
            ),
            new_markdown_cell("## Pipeline overview\n\nThe centre's projects by stage."),
            new_code_cell(
                "distinctive_code_xyzzy(projects)",
                execution_count=3,
                outputs=[
                    new_output("stream", name="stderr", text="FutureWarning: STDERR_NOISE\n"),
                    new_output("stream", name="stdout", text="STDOUT_NOISE\n"),
                    new_output(
                        "display_data",
                        data={"text/html": HTML_TABLE, "text/plain": "PLAIN_FALLBACK"},
                    ),
                    new_output(
                        "execute_result",
                        execution_count=3,
                        data={"image/png": PNG, "text/plain": "<Figure size 640x480>"},
                    ),
                    new_output(
                        "display_data",
                        data={"text/html": "<h2>Needs</h2><p>Support needs.</p>"},
                    ),
                    new_output("display_data", data={"text/plain": "<script>alert(1)</script>"}),
                    new_output(
                        "display_data",
                        data={"text/plain": "ANALYST_ONLY_OUTPUT"},
                        metadata={"atmp": {"hide_in_report": True}},
                    ),
                    new_output(
                        "display_data",
                        data={
                            "application/javascript": "alert('JAVASCRIPT_OUTPUT')",
                            "text/plain": "JS_PLAIN",
                        },
                    ),
                    new_output(
                        "error",
                        ename="KeyError",
                        evalue="'stage'",
                        traceback=["TRACEBACK_FIRST_LINE", "KeyError: 'stage'"],
                    ),
                ],
            ),
        ]
    )


@pytest.fixture(scope="module")
def page() -> str:
    return export_html(_notebook(), title="ATMP pipeline 2025", subtitle="Demo centre")


class _Structure(HTMLParser):
    """Ids, in-page links, tags and attributes of a document."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.nav_links: list[str] = []
        self._in_nav = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_nav = self._in_nav or tag == "nav"
        for name, value in attrs:
            self.attrs.append((tag, name, value or ""))
            if name == "id":
                self.ids.append(value or "")
            if self._in_nav and tag == "a" and name == "href":
                self.nav_links.append(value or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self._in_nav = False


def _structure(document: str) -> _Structure:
    parser = _Structure()
    parser.feed(document)
    parser.close()
    return parser


def _nav(document: str) -> str:
    match = re.search(r'<nav aria-label="Contents">(.*?)</nav>', document, re.DOTALL)
    assert match, "no table of contents"
    return match.group(1)


def test_a_complete_document(page):
    assert page.startswith("<!DOCTYPE html>\n")
    assert '<html lang="en">' in page
    assert '<meta charset="utf-8">' in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<title>ATMP pipeline 2025</title>" in page
    assert "<h1>ATMP pipeline 2025</h1>" in page
    assert '<p class="subtitle">Demo centre</p>' in page
    assert page.rstrip().endswith("</html>")


def test_nothing_is_fetched_or_run(page):
    structure = _structure(page)
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert "@import" not in page
    assert "script" not in structure.tags and "link" not in structure.tags
    for tag, name, value in structure.attrs:
        if name in ("src", "href"):
            assert not re.match(r"\s*(https?:)?//", value), (tag, name, value)
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", page)
    assert not re.search(r"(src|href)\s*=\s*['\"]?\s*https?://", page)


def test_the_stylesheet_is_inline(page):
    style = re.search(r"<style>(.*?)</style>", page, re.DOTALL)
    assert style is not None
    css = style.group(1)
    assert "td.n" in css and "@media print" in css and "figcaption" in css
    assert "font-face" not in css
    assert len(css.encode("utf-8")) < 6000


def test_code_prompts_and_parameters_are_left_out(page):
    assert "distinctive_code_xyzzy" not in page
    assert "PARAMETER_DEFAULT_CELL" not in page
    assert "INJECTED_BY_PAPERMILL" not in page
    assert "PARAMETER_OUTPUT" not in page and "INJECTED_OUTPUT" not in page
    assert "In [" not in page and "Out[" not in page


def test_streams_and_errors_are_left_out(page):
    assert "STDERR_NOISE" not in page
    assert "STDOUT_NOISE" not in page
    assert "TRACEBACK_FIRST_LINE" not in page
    assert "KeyError" not in page


def test_html_output_is_kept_verbatim_in_preference_to_plain_text(page):
    assert HTML_TABLE in page
    assert "PLAIN_FALLBACK" not in page


def test_png_output_becomes_an_embedded_image(page):
    assert f'<img src="data:image/png;base64,{PNG}"' in page
    assert "&lt;Figure size" not in page


def test_plain_text_is_escaped(page):
    assert "<pre>&lt;script&gt;alert(1)&lt;/script&gt;</pre>" in page


def test_javascript_is_never_used(page):
    assert "JAVASCRIPT_OUTPUT" not in page
    assert "JS_PLAIN" in page


def test_hidden_output_is_left_out(page):
    assert "ANALYST_ONLY_OUTPUT" not in page


def test_hidden_cell_is_left_out():
    nb = new_notebook(
        cells=[
            new_markdown_cell("ANALYST_NOTE", metadata={"atmp": {"hide_in_report": True}}),
            new_markdown_cell("REMOVED_CELL", metadata={"tags": ["remove"]}),
            new_markdown_cell("Shown text"),
        ]
    )
    page = export_html(nb, title="T")
    assert "ANALYST_NOTE" not in page and "REMOVED_CELL" not in page
    assert "Shown text" in page


def test_headings_of_markdown_and_html_outputs_are_in_the_contents(page):
    nav = _nav(page)
    structure = _structure(page)
    assert ">Pipeline overview</a>" in nav
    assert ">Needs</a>" in nav
    assert structure.nav_links, "no links in the contents"
    body_ids = set(structure.ids)
    for href in structure.nav_links:
        assert href.startswith("#")
        assert href[1:] in body_ids, href
    assert re.search(r'<h2 id="pipeline-overview">Pipeline overview</h2>', page)
    assert re.search(r'<h2 id="needs">Needs</h2>', page)
    assert "ATMP pipeline 2025" not in nav


def test_duplicate_headings_get_unique_ids():
    nb = new_notebook(
        cells=[
            new_markdown_cell("## Stage\n\n### Notes"),
            new_markdown_cell("## Stage\n\n### Notes"),
            new_code_cell(
                "",
                outputs=[
                    new_output(
                        "display_data",
                        data={"text/html": '<h2 id="stage">Stage</h2><div id="stage-2"></div>'},
                    )
                ],
            ),
        ]
    )
    page = export_html(nb, title="T")
    structure = _structure(page)
    assert len(structure.ids) == len(set(structure.ids)), structure.ids
    nav_links = structure.nav_links
    assert len(nav_links) == 5 and len(set(nav_links)) == 5
    for href in nav_links:
        assert href[1:] in structure.ids
    # the output's own id stays (the package's HTML may link to it); the slugs make way
    assert '<h2 id="stage">Stage</h2><div id="stage-2"></div>' in page
    assert nav_links == ["#stage-3", "#notes", "#stage-4", "#notes-2", "#stage"]


def test_contents_nest_subheadings_under_their_heading():
    result = outline("<h3>Before</h3><h2>A</h2><h3>A.1</h3><h2 class='x'>B &amp; C</h2>")
    assert [(e.text, [c.text for c in e.children]) for e in result.entries] == [
        ("Before", []),
        ("A", ["A.1"]),
        ("B & C", []),
    ]
    assert "<h2 class='x' id=\"b-c\">B &amp; C</h2>" in result.body


def test_title_and_subtitle_are_escaped():
    page = export_html(new_notebook(), title="Pipeline <b>2025</b>", subtitle="A & <i>B</i>")
    assert "<b>" not in page and "<i>" not in page
    assert "<title>Pipeline &lt;b&gt;2025&lt;/b&gt;</title>" in page
    assert "<h1>Pipeline &lt;b&gt;2025&lt;/b&gt;</h1>" in page
    assert "A &amp; &lt;i&gt;B&lt;/i&gt;" in page


def test_no_contents_without_headings():
    page = export_html(new_notebook(cells=[new_markdown_cell("Only text.")]), title="T")
    assert "<nav" not in page


def test_same_notebook_same_page_and_notebook_unchanged(page):
    nb = _notebook()
    before = copy.deepcopy(nb)
    assert export_html(nb, title="ATMP pipeline 2025", subtitle="Demo centre") == page
    assert nb == before


def test_a_notebook_file_with_an_image_beside_it(tmp_path):
    (tmp_path / "logo.png").write_bytes(base64.b64decode(PNG))
    nb = new_notebook(cells=[new_markdown_cell("## Logo\n\n![Centre logo](logo.png)")])
    path = tmp_path / "report.ipynb"
    nbformat.write(nb, path)
    page = export_html(path, title="T")
    assert f'src="data:image/png;base64,{PNG}"' in page
    assert export_html(str(path), title="T") == page


@pytest.mark.parametrize(
    "data",
    [
        {"text/html": "<div>chart</div><script>draw()</script>"},
        {"text/html": '<img src="https://example.org/chart.png" alt="chart">'},
        {"text/html": "<style>@import url('https://fonts.example.org/x.css');</style>"},
        {"text/html": '<link rel="stylesheet" href="https://example.org/x.css">'},
    ],
)
def test_an_output_that_would_fetch_something_is_refused(data):
    nb = new_notebook(cells=[new_code_cell("", outputs=[new_output("display_data", data=data)])])
    with pytest.raises(ReportExportError, match="self-contained"):
        export_html(nb, title="T")


def test_a_remote_image_in_markdown_is_refused():
    nb = new_notebook(cells=[new_markdown_cell("![logo](http://example.org/logo.png)")])
    with pytest.raises(ReportExportError, match=r"example\.org"):
        export_html(nb, title="T")


def test_links_to_other_sites_are_allowed():
    nb = new_notebook(cells=[new_markdown_cell("See [the agency](https://example.org/atmp).")])
    assert '<a href="https://example.org/atmp">the agency</a>' in export_html(nb, title="T")


def test_a_blank_title_is_refused():
    with pytest.raises(ValueError, match="title"):
        export_html(new_notebook(), title="  ")


def test_write_html(tmp_path, page):
    target = tmp_path / "out" / "report.html"
    assert write_html(page, target) == target
    assert target.read_text(encoding="utf-8") == page
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


# -- respondents' text in Markdown and HTML: inert ---------------------------------------------


def _output_page(*outputs) -> str:
    return export_html(new_notebook(cells=[new_code_cell("", outputs=list(outputs))]), title="T")


def _markdown_output(text: str):
    return new_output("display_data", data={"text/markdown": text, "text/plain": "PLAIN"})


def _no_live_markup(page: str) -> _Structure:
    structure = _structure(page)
    assert "script" not in structure.tags
    for tag, name, value in structure.attrs:
        assert not name.startswith("on"), (tag, name, value)
        if name in ("href", "src"):
            assert not re.match(r"\s*(javascript|vbscript|data:text)", value, re.I), (tag, value)
    return structure


def test_html_in_a_markdown_output_is_escaped():
    page = _output_page(
        _markdown_output("Bottleneck: <script>alert(1)</script> <img src=x onerror=alert(2)>")
    )
    _no_live_markup(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "PLAIN" not in page  # still shown as Markdown, not as plain text


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "java%73cript:alert(1)",
        "&#106;avascript:alert(1)",
    ],
)
def test_a_markdown_output_link_that_would_run_something_is_only_text(url):
    page = _output_page(_markdown_output(f"Read [the answer]({url}) here."))
    structure = _no_live_markup(page)
    assert "the answer" in page
    assert "a" not in structure.tags


def test_a_markdown_output_image_with_a_data_or_script_url_is_only_its_alt_text():
    page = _output_page(
        _markdown_output(f"![a chart](data:image/png;base64,{PNG}) ![a trap](javascript:alert(1))")
    )
    structure = _no_live_markup(page)
    assert "img" not in structure.tags
    assert "a chart" in page and "a trap" in page


def test_a_mermaid_block_in_a_markdown_output_is_escaped():
    page = _output_page(_markdown_output("```mermaid\n<img src=x onerror=alert(3)>\n```"))
    _no_live_markup(page)
    assert "&lt;img src=x onerror=alert(3)&gt;" in page


def test_links_in_a_markdown_output_to_other_sites_stay_links():
    page = _output_page(_markdown_output("See [the agency](https://example.org/atmp)."))
    assert '<a href="https://example.org/atmp">the agency</a>' in page


def test_a_markdown_cell_keeps_its_html_but_not_links_that_run_something():
    nb = new_notebook(
        cells=[
            new_markdown_cell(
                '<p class="muted">KEPT_HTML</p>\n\n'
                "[one](javascript:alert(1)) [two](vbscript:x) "
                "[three](data:text/html;base64,PHNjcmlwdD4=) ![four](javascript:alert(4))"
            )
        ]
    )
    page = export_html(nb, title="T")
    structure = _no_live_markup(page)
    assert '<p class="muted">KEPT_HTML</p>' in page
    assert "a" not in structure.tags and "img" not in structure.tags
    for text in ("one", "two", "three", "four"):
        assert text in page


def test_a_markdown_cell_still_shows_its_attachments_and_data_images():
    cell = new_markdown_cell(f"![logo](attachment:logo.png) ![inline](data:image/png;base64,{PNG})")
    cell["attachments"] = {"logo.png": {"image/png": PNG}}
    page = export_html(new_notebook(cells=[cell]), title="T")
    assert page.count(f'src="data:image/png;base64,{PNG}"') == 2


@pytest.mark.parametrize(
    "markup",
    [
        '<b onmouseover="alert(1)">x</b>',
        "<svg><a onclick=alert(1)>x</a></svg>",
        '<a href="javascript:alert(1)">x</a>',
        '<a href=" java&#x09;script:alert(1)">x</a>',
        '<form action="javascript:alert(1)"><button>x</button></form>',
    ],
)
def test_an_html_output_that_would_run_something_is_refused(markup):
    with pytest.raises(ReportExportError):
        _output_page(new_output("display_data", data={"text/html": markup}))
