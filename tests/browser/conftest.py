"""The ``browser`` marker: tests that drive JupyterLab in a real (headless) Chromium.

Deselect them with ``-m "not browser"``; they skip by themselves where Chromium or Playwright is
missing (``bash tests/browser/setup.sh`` installs both).
"""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives JupyterLab in headless Chromium (skips without chromium or playwright)"
    )
