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
