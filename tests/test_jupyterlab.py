"""A student's session in JupyterLab, started as README starts it, driven in Chromium: open the student notebook
02, Run All and read the check's hint; write the solution into the graded cell through the editor; Run All and
read "All tests passed."; the check cells cannot be edited or deleted; the diagram shows. Then notebook 02 again with
the keyboard only (arrows, Enter, typing, Shift+Enter, Ctrl+S). The course's settings hold (no news question, no
nbgrader menu) and axe-core finds no serious problem in the notebook's Markdown and outputs.

It works on a copy of the course in a temporary folder, so the repository's notebooks are never changed.
Screenshots go to build/screenshots/jupyterlab-*.png.
"""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from resnets_course.checks.messages import RETURNED_NONE
from tests.browser_tools import (BROKEN_IMAGES, SCREENSHOTS, PageWatch, accessibility_problems, browser, load_images,
                                 screenshot)
from tests.notebook_tools import REPO, read, readme_lab_command
from tools.release import fill_graded

NOTEBOOK = "notebooks/student/02_identity_block.ipynb"
# Cells outside the window are not rendered until scrolled to; the index attribute names a cell either way.
CELL = ".jp-Notebook .jp-Cell[data-windowed-list-index='{}']"
IDLE = """() => document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status === 'idle'
    && ![...document.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'))"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """README's JupyterLab command, run in a copy of the course (headless, no token): yields (url, course)."""
    tmp = tmp_path_factory.mktemp("lab")
    course = tmp / "course"
    shutil.copytree(REPO, course, ignore=shutil.ignore_patterns(".git", "build", ".venv", "__pycache__", "*.egg-info",
                                                                  ".ipynb_checkpoints"))
    port = _free_port()
    words = readme_lab_command()
    assert words[:4] == ["python3", "-m", "jupyter", "lab"], words
    command = [sys.executable, *words[1:], "--allow-root", "--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
               "--IdentityProvider.token=", "--ServerApp.password=",
               # A fresh user: no saved layout or settings from whoever ran JupyterLab on this machine before.
               f"--LabApp.user_settings_dir={tmp / 'settings'}", f"--LabApp.workspaces_dir={tmp / 'workspaces'}"]
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           # The kernels import the course's helpers from the copy, as an editable install of it would.
           "PYTHONPATH": os.pathsep.join([str(course), *filter(None, [os.environ.get("PYTHONPATH")])])}
    log = open(tmp / "lab.log", "w")
    server = subprocess.Popen(command, cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "api/status", timeout=2)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp / "lab.log").read_text()[-3000:]
                time.sleep(0.5)
        yield url, course
    finally:
        server.terminate()    # the server shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _cells(course, tag):
    nb = read(course / NOTEBOOK)
    return [i for i, c in enumerate(nb.cells) if tag in c.metadata.get("tags", [])]


def _run_all(page):
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
    page.get_by_text("Run All Cells", exact=True).click()
    page.wait_for_timeout(500)     # the prompts turn to [*] once the kernel has the cells
    page.wait_for_function(IDLE, timeout=180_000)


def _nothing_but_the_course(page):
    """The course's JupyterLab settings (jupyter/, installed by requirements.txt) hold: no question about Jupyter
    news, and no nbgrader menu or panel, although the test tools' nbgrader is installed beside the course."""
    page.wait_for_timeout(3_000)    # JupyterLab asks about news a moment after the notebook shows
    assert page.locator(".jp-Notification-Toast-info, .Toastify__toast", has_text="Jupyter news").count() == 0
    menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
    assert menus and not [m for m in menus if "nbgrader" in m.lower()], menus
    assert page.get_by_text("Create Assignment").count() == 0 and page.get_by_text("Formgrader").count() == 0


def _show(page, index):
    """Scroll the notebook, as a reader does, until cell ``index`` is rendered and in view; returns it."""
    cell = page.locator(CELL.format(index))
    for _ in range(50):
        if cell.count():
            break
        page.locator(".jp-WindowedPanel-outer").first.evaluate("o => o.scrollBy(0, o.clientHeight / 2)")
        page.wait_for_timeout(100)
    cell.scroll_into_view_if_needed()
    return cell


def _output(page, index) -> str:
    cell = _show(page, index)
    return cell.locator(".jp-OutputArea").inner_text()


def _source(page, index) -> str:
    return "\n".join(page.locator(CELL.format(index) + " .cm-line").all_text_contents())


def test_a_student_runs_fails_fixes_and_passes_notebook_02(lab):
    url, course = lab
    [graded] = _cells(course, "graded")
    checks = _cells(course, "check")
    solution = read(REPO / "notebooks" / "02_identity_block.ipynb")
    correct = fill_graded(read(course / NOTEBOOK).cells[graded].source,
                          next(c.source for c in solution.cells if "graded" in c.metadata.get("tags", [])))
    with browser() as chromium:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        watch = PageWatch(page, cancelled_ok=True)
        page.goto(url + "lab/tree/" + NOTEBOOK)
        page.wait_for_selector(CELL.format(0), timeout=60_000)
        page.wait_for_function(IDLE, timeout=120_000)
        _nothing_but_the_course(page)

        figures = [i for i, c in enumerate(read(course / NOTEBOOK).cells) if "](../../images/" in c.source]
        for index in figures:    # markdown renders after the cell is laid out, more slowly on a busy machine
            _show(page, index).locator(".jp-RenderedMarkdown img").first.wait_for(timeout=30_000)
        assert figures and load_images(page, ".jp-RenderedMarkdown img") == len(figures)
        assert page.evaluate(BROKEN_IMAGES) == []
        screenshot(page, "jupyterlab-0-diagram")
        # The course's content (its Markdown cells, and the outputs once run below) has no serious accessibility
        # problem. The code editors' syntax colours are JupyterLab's theme, not the course's: left out here, and
        # what axe finds in JupyterLab's own interface is written beside the screenshots and named in the
        # instructors' manual, not failed.
        assert accessibility_problems(page, [".jp-Notebook .jp-MarkdownOutput"]) == []
        interface = accessibility_problems(page, ["body"])
        (SCREENSHOTS / "jupyterlab-axe-interface.txt").write_text("\n".join(interface) + "\n")
        manual = (REPO / "book" / "manual" / "instructors.md").read_text().split("## Accessibility checks")[1]
        named = set(re.findall(r"\(`([a-z-]+)`\)", manual.split("\n## ")[0]))
        assert {finding.split(" ")[0] for finding in interface} == named, "the instructors' manual lists other findings"

        _run_all(page)
        hint = _output(page, checks[0])
        assert RETURNED_NONE.split(".")[0] in hint and "CheckFailed" in hint, hint
        screenshot(page, "jupyterlab-1-hint")

        # The student's keyboard: select the graded cell's text, put the solution in its place.
        _show(page, graded)
        page.locator(CELL.format(graded) + " .cm-content").click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(correct)
        assert _source(page, graded) == correct
        page.keyboard.press("Escape")

        _run_all(page)
        for index in checks:
            assert "Error" not in _output(page, index), _output(page, index)
        assert "All tests passed." in _output(page, checks[-1])
        screenshot(page, "jupyterlab-2-passed")
        assert accessibility_problems(page, [".jp-Notebook .jp-OutputArea-output"]) == []   # what the checks print

        # Locked: typing into a check cell changes nothing, and `d d` deletes an ordinary cell but not a check.
        cells = page.locator(".jp-Notebook .jp-Cell").count()
        for locked in checks:
            cell = _show(page, locked)
            before = _source(page, locked)
            cell.locator(".cm-content").click()
            page.keyboard.type("X = 0")
            page.keyboard.press("Enter")
            assert _source(page, locked) == before, f"check cell {locked} took the keys"
            page.keyboard.press("Escape")
            page.locator(CELL.format(locked) + " .jp-InputPrompt").click()
            page.keyboard.press("d")
            page.keyboard.press("d")
            page.wait_for_timeout(300)
            assert page.locator(".jp-Notebook .jp-Cell").count() == cells and _source(page, locked) == before
        _show(page, graded)
        page.locator(CELL.format(graded) + " .jp-InputPrompt").click()
        page.keyboard.press("d")
        page.keyboard.press("d")
        page.wait_for_function(f"() => document.querySelectorAll('.jp-Notebook .jp-Cell').length === {cells - 1}",
                               timeout=5_000)   # the same keys do delete an unlocked cell

        assert watch.take() == []
    assert read(REPO / NOTEBOOK).cells[graded].source != correct, "the repository's student notebook was changed"


def _shut_down_kernels(url: str) -> None:
    """End every kernel session of the server, as JupyterLab's "Shut Down All" does (with its XSRF cookie)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(url + "lab")   # sets the _xsrf cookie
    xsrf = next(cookie.value for cookie in jar if cookie.name == "_xsrf")
    for session in json.load(opener.open(url + "api/sessions")):
        opener.open(urllib.request.Request(url + f"api/sessions/{session['id']}", method="DELETE",
                                           headers={"X-XSRFToken": xsrf}))


def test_a_student_does_an_exercise_with_the_keyboard_only(lab):
    """Notebook 02 without the mouse: to the graded cell with the arrow keys, Enter to edit, type the solution,
    Escape, back to the top, Shift+Enter through every cell down to the check, read its verdict, Ctrl+S."""
    url, course = lab
    shutil.copy(REPO / NOTEBOOK, course / NOTEBOOK)   # the release as it ships, whatever the mouse test left there
    _shut_down_kernels(url)   # and a fresh kernel
    nb = read(course / NOTEBOOK)
    [graded] = [i for i, c in enumerate(nb.cells) if "graded" in c.metadata.get("tags", [])]
    last_check = max(i for i, c in enumerate(nb.cells) if "check" in c.metadata.get("tags", []))
    solution = read(REPO / "notebooks" / Path(NOTEBOOK).name)
    correct = fill_graded(nb.cells[graded].source,
                          next(c.source for c in solution.cells if "graded" in c.metadata.get("tags", [])))
    with browser() as chromium:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        watch = PageWatch(page, cancelled_ok=True)
        page.goto(url + "lab/tree/" + NOTEBOOK + "?reset")   # a fresh layout: nothing the mouse test opened
        page.wait_for_selector(CELL.format(0), timeout=60_000)
        page.wait_for_function(IDLE, timeout=120_000)
        keys = page.keyboard
        keys.press("Escape")                      # command mode, on the first cell
        for _ in range(graded):
            keys.press("ArrowDown")
        keys.press("Enter")                       # edit the graded cell
        keys.press("Control+a")
        keys.insert_text(correct)
        keys.press("Escape")
        assert _source(page, graded) == correct
        for _ in range(graded):
            keys.press("ArrowUp")
        for _ in range(last_check + 1):          # run each cell in turn, as far as the last check
            keys.press("Shift+Enter")
            page.wait_for_timeout(100)
        page.wait_for_function(IDLE, timeout=180_000)
        assert "All tests passed." in _output(page, last_check), _output(page, last_check)
        screenshot(page, "jupyterlab-3-keyboard")
        keys.press("Control+s")
        page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=10_000)
        assert watch.take() == []
    assert read(course / NOTEBOOK).cells[graded].source == correct, "Ctrl+S did not save the solution"
