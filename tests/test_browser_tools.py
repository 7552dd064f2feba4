"""Without a browser the browser tests skip saying how to install one, except on CI, where they fail."""
import pytest

from tests import browser_tools


def _enter_browser():
    with browser_tools.browser():
        pass


def test_no_chromium_skips_with_the_install_command_and_fails_on_ci(monkeypatch):
    monkeypatch.setattr(browser_tools, "chromium_path", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        _enter_browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"\.ci/run should have installed it"):
        _enter_browser()


def test_the_accessibility_check_names_what_a_screen_reader_or_a_weak_eye_would_miss():
    page_html = ('<html lang="en"><body><nav><img src="logo.png"></nav><main><img src="x.png">'
                 '<p style="color:#bbb;background:#fff">low contrast text</p></main></body></html>')
    with browser_tools.browser() as chromium:
        page = chromium.new_page()
        page.set_content(page_html)
        found = browser_tools.accessibility_problems(page, ["main"])
    assert sorted(p.split(" ")[0] for p in found) == ["color-contrast", "image-alt"], found   # the nav's is not ours
