"""The dashboard of a running pipeline in Debian's headless Chromium (Playwright drives it)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from devstack import chromium

HISTOGRAM_SUM = (
    "(id) => { const el = document.getElementById(id);"
    " return el && el.data ? el.data[0].y.reduce((a, b) => a + b, 0) : null; }"
)


def check_cumulative_dashboard(
    url: str, hits_per_chamber: list[int], drift_totals: list[int], screenshot: Path
) -> None:
    """The cumulative view shows every chamber's hits and drift-time entries, as sent."""
    with sync_playwright() as pw:
        browser = chromium.launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url)
            expect(page.locator("#conn")).to_have_text("live", timeout=30_000)
            page.click("[data-view=cumulative]")
            for chamber, hits in enumerate(hits_per_chamber):
                expect(page.locator(f"#ch{chamber}-hits")).to_have_text(
                    f"{hits:,} hits", timeout=20_000
                )
            for chamber, total in enumerate(drift_totals):
                page.wait_for_function(
                    f"() => ({HISTOGRAM_SUM})('h-drift_time_ns-{chamber}') === {total}",
                    timeout=20_000,
                )
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
