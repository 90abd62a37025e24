"""Fixtures shared by the integration tests: the real-browser ones (`chromium`: one Chromium for the session,
`shots`: the screenshots' directory), defined in `_browser.py`."""

from tests.integration._browser import chromium, shots

__all__ = ["chromium", "shots"]
