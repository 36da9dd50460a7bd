"""Debian's headless Chromium for the browser tests, launched the same way everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def launch(playwright: Any) -> Any:
    """A Playwright Browser on Debian's chromium (the package `make system-deps` installs)."""
    assert CHROMIUM.exists(), "chromium is not installed: run `make system-deps`"
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
