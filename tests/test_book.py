"""The static book (python -m tools.book) as a reader sees it in Chromium: every page loads with nothing
failing, every image shows, every equation is typeset by the MathJax served from the build, every internal
link lands on a page and anchor that exist, and the search finds the course's words.
Screenshots of every page go to build/screenshots/book-*.png.

README is the front door (at most 150 lines); the manual lives in the book (book/manual/), and every section
README used to hold is one of its headings there."""
from __future__ import annotations

import html
import re
import time
from urllib.parse import urldefrag, urljoin

import nbformat
import pytest

from tests.browser_tools import (BROKEN_IMAGES, PageWatch, accessibility_problems, browser, load_images, screenshot,
                                 static_server)
from tools import book
from tools.release import solution_notebooks

PAGE_FACTS = """() => ({
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    math: document.querySelectorAll('.math').length,
    untypeset: document.querySelectorAll('.math:not(:has(mjx-container))').length,
    typeset: document.querySelectorAll('mjx-container').length,
    text: document.body.innerText,
    prev: document.querySelector('.prev-next-area a.left-prev')?.href ?? null,
    next: document.querySelector('.prev-next-area a.right-next')?.href ?? null,
    code: document.querySelectorAll('.cell_input pre').length,
})"""


@pytest.fixture(scope="module")
def built_book(tmp_path_factory):
    """The book built once for this module from a clean folder, with its build time."""
    folder = tmp_path_factory.mktemp("book")
    started = time.monotonic()
    index = book.build(out=folder / "html", stage_dir=folder / "src")
    return index.parent, time.monotonic() - started


@pytest.fixture(scope="module")
def visited(built_book):
    """Every HTML page of the book loaded in Chromium over HTTP: {path: facts}, with what went wrong."""
    out, _ = built_book
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html") if "_static" not in p.parts)
    facts, problems = {}, {}
    with browser() as chromium, static_server(out) as base:
        page = chromium.new_page(viewport={"width": 1280, "height": 900})
        watch = PageWatch(page)
        # Offline means every file comes from the build: a request elsewhere fails here only without a network.
        page.on("request", lambda r: r.url.startswith((base, "data:", "blob:"))
                or watch.problems.append(f"request outside the book: {r.url}"))
        for name in pages:
            page.goto(base + name, wait_until="load")
            # MathJax typesets after load; its startup promise settles when the page's equations are done.
            page.wait_for_function("() => !window.MathJax || (MathJax.startup && MathJax.startup.promise)")
            page.evaluate("() => window.MathJax ? MathJax.startup.promise : null")
            images = load_images(page)
            facts[name] = {**page.evaluate(PAGE_FACTS), "images": images, "broken": page.evaluate(BROKEN_IMAGES),
                           # the course's own content: the article (the theme's navigation is the theme's)
                           "accessibility": accessibility_problems(page, [".bd-article", "main"])}
            page.evaluate("() => window.scrollTo(0, 0)")
            page.wait_for_timeout(300)    # the theme's scroll spy updates the page's contents after a scroll
            screenshot(page, "book-" + name.replace("/", "-").removesuffix(".html"))
            if page.locator(".bd-article img").count():   # the first figure or plot, as a reader sees it
                page.locator(".bd-article img").first.scroll_into_view_if_needed()
                screenshot(page, "book-" + name.replace("/", "-").removesuffix(".html") + "-figure")
            problems[name] = watch.take()
        page.goto(base + "search.html?q=bottleneck", wait_until="load")
        page.wait_for_selector("#search-results li", timeout=15_000)
        facts["search: bottleneck"] = {"results": page.locator("#search-results li a").all_inner_texts()}
        screenshot(page, "book-search")
        problems["search.html?q=bottleneck"] = watch.take()
    return base, facts, problems


def notebook_pages():
    return [f"notebooks/{p.stem}.html" for p in solution_notebooks()]


def test_the_book_builds_quickly_into_a_contents_page_and_one_page_per_notebook(built_book):
    out, seconds = built_book
    assert (out / "index.html").exists()
    assert sorted(p.name for p in (out / "notebooks").glob("*.html")) == sorted(p.rsplit("/", 1)[1] for p in notebook_pages())
    assert seconds < 120, f"the book took {seconds:.0f} s to build"
    assert (out / "_static" / "mathjax" / "tex-chtml.js").exists(), "MathJax is not served from the build"


def test_every_page_loads_with_nothing_failing(visited):
    _, _, problems = visited
    assert {name: found for name, found in problems.items() if found} == {}


def test_every_image_shows(visited):
    _, facts, _ = visited
    assert {name: f["broken"] for name, f in facts.items() if f.get("broken")} == {}
    for name in notebook_pages():
        nb = nbformat.read(book.REPO / "notebooks" / name.split("/")[1].replace(".html", ".ipynb"), as_version=4)
        figures = sum(1 for c in nb.cells if c.cell_type == "markdown" for _ in c.source.split("](../images/")[1:])
        plots = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs
                    if {"image/png", "image/jpeg"} & set(o.get("data", {})))
        assert facts[name]["images"] >= figures + plots, f"{name}: {facts[name]['images']} images, " \
                                                          f"expected the {figures} diagrams and {plots} plots"


def test_equations_are_typeset_by_mathjax(visited):
    _, facts, _ = visited
    with_math = [name for name in notebook_pages() if facts[name]["math"]]
    assert "notebooks/01_residual_equations.html" in with_math
    for name in with_math:
        assert facts[name]["typeset"] >= facts[name]["math"] and facts[name]["untypeset"] == 0, name
    for name, f in facts.items():
        assert "$$" not in f.get("text", ""), f"{name} shows raw $$"


def test_notebook_pages_show_code_and_link_to_the_previous_and_next_one(visited):
    base, facts, _ = visited
    pages = notebook_pages()
    for i, name in enumerate(pages):
        assert facts[name]["code"] > 0, f"{name} shows no code"
        expected_prev = base + (pages[i - 1] if i else "index.html")
        assert facts[name]["prev"] == expected_prev, name
        if i + 1 < len(pages):
            assert facts[name]["next"] == base + pages[i + 1], name
    assert facts["index.html"]["next"] == base + pages[0]


def test_every_internal_link_resolves(visited):
    base, facts, _ = visited
    pages = {base + name: f for name, f in facts.items() if "ids" in f}
    broken = []
    for name, f in pages.items():
        for link in f["links"]:
            if not link.startswith(base):
                continue
            target, anchor = urldefrag(link)
            target = urljoin(target, "index.html") if target.endswith("/") else target
            if target.split("?")[0] not in pages:
                broken.append(f"{name}: {link} (no such page)")
            elif anchor and anchor not in pages[target.split("?")[0]]["ids"]:
                broken.append(f"{name}: {link} (no such anchor)")
    assert broken == []
    contents = facts["index.html"]["links"]
    assert all(base + p in contents for p in notebook_pages()), "the contents page misses a notebook"


def test_the_search_finds_the_course(visited):
    _, facts, _ = visited
    found = facts["search: bottleneck"]["results"]
    assert any("identity block" in title.lower() for title in found), found


def test_html_answers_stay_collapsed_and_relative_images_show(tmp_path):
    """A <details> answer in a notebook renders as a collapsed block, and ../images/ links are copied in."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "# A question\n\n![diagram](../images/identity_block.png)\n\n<details>\n<summary>Answer</summary>\n\n"
        "The **identity** $a = g(z + a)$.\n\n</details>\n")])
    path = tmp_path / "notebooks" / "99_answer.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    index = book.build(out=tmp_path / "html", notebooks=[path], stage_dir=tmp_path / "src")
    html = (index.parent / "notebooks" / "99_answer.html").read_text()
    assert "<details>" in html and "<summary>Answer</summary>" in html and "<strong>identity</strong>" in html
    assert '../_images/identity_block.png' in html and (index.parent / "_images" / "identity_block.png").exists()


README_LINES = 150
# README's sections before the manual moved into the book (2026-12): each is a heading of the book now.
MOVED_FROM_README = ["The book: the course as a static web site", "On Binder or a JupyterHub", "How a student works",
                     "Notebook 04 builds on your blocks", "The data", "For instructors", "Re-execute the course",
                     "Edit the course", "Grade submissions", "What grading guards against, and what it does not",
                     "Grading's own inputs", "Many submissions at once", "nbgrader", "A new term, a new release",
                     "Publish to students", "Benchmarks", "FAQ", "Layout", "One system package: Graphviz"]


def readme_manual_links() -> list[tuple[str, str]]:
    """(chapter file, anchor or "") of every link README makes into book/manual/."""
    text = (book.REPO / "README.md").read_text()
    return [(m.group(1), m.group(2) or "") for m in re.finditer(r"\]\(book/manual/([\w-]+\.md)(?:#([\w-]+))?\)", text)]


def test_readme_is_a_front_door_that_links_every_chapter_of_the_manual():
    lines = (book.REPO / "README.md").read_text().splitlines()
    assert len(lines) <= README_LINES, f"README has {len(lines)} lines; the manual (book/manual/) takes the rest"
    # the book is served, not opened as a file: from file:// the browser keeps its search from the page texts
    assert "python3 -m tools.book && python3 -m http.server -d build/book" in "\n".join(lines)
    chapters = {p.name for p in (book.REPO / "book" / "manual").glob("*.md")}
    assert chapters and chapters == {name for name, _ in readme_manual_links()}, "README links each chapter once"


def test_each_manual_section_readme_links_to_is_in_the_built_book(built_book):
    out, _ = built_book
    for name, anchor in readme_manual_links():
        page = out / "manual" / name.replace(".md", ".html")
        assert page.exists(), f"README links to {name}, which the book lacks"
        if anchor:
            assert f'id="{anchor}"' in page.read_text(), f"README links to {name}#{anchor}: no such section"


def test_every_section_that_left_readme_is_a_heading_of_the_book(built_book):
    out, _ = built_book
    headings = set()
    for page in (out / "manual").glob("*.html"):
        for heading in re.findall(r"<h[1-3][^>]*>((?:(?!</h).)*?)<a class=\"headerlink\"", page.read_text(), re.S):
            headings.add(html.unescape(re.sub(r"<[^>]+>", "", heading)).replace("\u2019", "'").strip())
    assert [s for s in MOVED_FROM_README if s not in headings] == [], sorted(headings)


def test_every_figure_of_the_book_says_what_it_shows(built_book):
    """A screen reader reads an image's alt text: a sentence about the figure, never its file name or path
    (notebook plots take theirs from the cell's metadata, mystnb.image.alt; Markdown images from the brackets)."""
    out, _ = built_book
    images = 0
    for page in sorted(out.rglob("*.html")):
        if "_static" in page.parts:
            continue
        for tag in re.findall(r"<img\b[^>]*>", page.read_text()):
            if "logo" in tag:
                continue
            images += 1
            alt = html.unescape((re.search(r'\balt="([^"]*)"', tag) or [None, ""])[1])
            where = f"{page.relative_to(out)}: {tag[:120]}"
            assert len(alt.split()) >= 8, f"{where}: alt text {alt!r} does not say what the figure shows"
            assert not re.search(r"\.(png|jpe?g|svg)\b|/", alt), f"{where}: alt text {alt!r} is a file name"
    assert images >= 14, images   # 3 diagrams, 10 plots and the data's samples, at least


def test_the_books_content_has_no_serious_accessibility_problem(visited):
    """axe-core on every page's article: no serious or critical violation (contrast, alt text, names, structure)."""
    _, facts, _ = visited
    assert {name: f["accessibility"] for name, f in facts.items() if f.get("accessibility")} == {}
