"""What the browser tests share: Debian's Chromium driven by Playwright, a local web server, and a watch on
what a page logs and fails to load.

Without a browser the tests skip with the way to install one; on CI (.ci/run installs Chromium) a missing
browser is a failure, so a skip can never pass for green there.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = REPO / "build" / "screenshots"
INSTALL = ("the browser tests need Playwright for Python and Chromium: "
           "`python3 -m pip install -r requirements-dev.txt` and `sudo apt-get install chromium` (Debian/Ubuntu)")
# Quiet Chromium: no update checks, no sync, nothing else that would reach for the network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def no_browser(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run should have installed it: {INSTALL}")
    pytest.skip(f"{reason}: {INSTALL}")


@contextlib.contextmanager
def browser():
    """A headless Chromium (Playwright's Browser), or a skip that says how to install one."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        no_browser("Playwright is not installed")
    executable = chromium_path()
    if executable is None:
        no_browser("no Chromium on PATH")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def static_server(folder: Path):
    """Serve ``folder`` on a free port of 127.0.0.1, as any static web host would; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class PageWatch:
    """Collects a page's console errors, uncaught exceptions, failed requests and HTTP errors.

    ``cancelled_ok``: requests the page itself cancelled are no failure. JupyterLab gives a markdown image
    its relative src first and then the server's /files/ address, which cancels the first request.
    """

    def __init__(self, page, cancelled_ok: bool = False):
        self.problems: list[str] = []
        self.cancelled_ok = cancelled_ok
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console error: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"uncaught exception: {e}"))
        page.on("requestfailed", self._failed)
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def _failed(self, request):
        if not (self.cancelled_ok and request.failure == "net::ERR_ABORTED"):
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def take(self) -> list[str]:
        found, self.problems[:] = list(self.problems), []
        return found


BROKEN_IMAGES = """() => [...document.querySelectorAll('img')]
    .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.getAttribute('src'))"""


def load_images(page, selector: str = "img") -> int:
    """Bring every image into view (lazy ones load only then) and wait for it; returns how many there are."""
    images = page.locator(selector)
    for i in range(images.count()):
        images.nth(i).scroll_into_view_if_needed()
    page.wait_for_function("""sel => [...document.querySelectorAll(sel)].every(img => img.complete)""",
                           arg=selector, timeout=15_000)
    return images.count()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


#: The impacts a test fails on; axe's "minor" and "moderate" findings are listed, not failed.
SERIOUS = ("serious", "critical")


def accessibility_problems(page, include: list[str], exclude: list[str] = ()) -> list[str]:
    """axe-core's serious and critical violations inside the ``include`` selectors (less ``exclude``), in words."""
    from axe_playwright_python.sync_playwright import Axe

    context = {"include": [[s] for s in include if page.locator(s).count()], "exclude": [[s] for s in exclude]}
    if not context["include"]:
        return [f"none of {include} is on the page"]
    # No preload: axe would fetch each stylesheet again (and, for an @import relative to a stylesheet, from the
    # page's folder, a 404 that the page itself never asks for); the rules the course needs read computed styles.
    found = Axe().run(page, context=context, options={"resultTypes": ["violations"], "preload": False}).response["violations"]
    return [f"{v['id']} ({v['impact']}): {v['help']}; e.g. {v['nodes'][0]['target']}"
            for v in found if v["impact"] in SERIOUS]
