"""The dashboard in real headless Chromium (Debian's package, driven by Playwright).

Loads the page, waits for all 20 plots to hold data, publishes a batch and sees it appear
without a reload, switches to the cumulative view, checks that the strict CSP blocked
nothing, and saves artifacts/dashboard.png (plus the offline API docs page).
"""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from devstack import chromium

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"
N_PLOTS = 4 + 16  # time series + 4 chambers x 4 quantities (health plots, .dqm, apart)
RECORD_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.sourceFile}:${e.lineNumber} ${e.sample}`);
});
"""
ALL_PLOTS_HAVE_DATA = """
([n, positive]) => {
  const plots = [...document.querySelectorAll(".js-plotly-plot:not(.dqm)")];
  const drawn = (t) =>
    Array.isArray(t.y) && t.y.length > 1 && (!positive || t.y.some((v) => v > 0));
  return plots.length === n && plots.every((el) => el.data && el.data.some(drawn));
}
"""
EMPTY_PLOTS = """
() => [...document.querySelectorAll(".js-plotly-plot:not(.dqm)")]
  .filter((el) => !el.data.some((t) => Array.isArray(t.y) && t.y.some((v) => v > 0)))
  .map((el) => el.id)
"""


def _text(page: Page, selector: str) -> str:
    return page.locator(selector).inner_text().strip()


def test_dashboard_live_update_views_and_csp(
    api_settings, results_topic, make_batches, publish, serve_api
):
    n = 40
    now_ms = int(time.time() * 1000)
    batches = make_batches(n + 1, query_id="q-dash", base_ms=now_ms - n * 1000)
    publish(results_topic, [b.message for b in batches[:n]])
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_api(api_settings) as api, sync_playwright() as pw:
        browser = chromium.launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.add_init_script(RECORD_CSP)
            page.goto(api.url + "/")
            # A single batch may hold no scintillator orbit for a chamber: in the latest
            # view every plot must be drawn; in the cumulative one every plot must be non-empty.
            page.wait_for_function(ALL_PLOTS_HAVE_DATA, arg=[N_PLOTS, False], timeout=30_000)
            expect(page.locator("#conn")).to_have_text("live")
            assert _text(page, "#batch-id") == f"#{n - 1}"
            assert _text(page, "#query-id") == "q-dash"
            assert page.locator(".rowhead .name").all_inner_texts() == [
                "Chamber 3",
                "Chamber 2",
                "Chamber 1",
                "Chamber 0",
            ]
            page.evaluate("() => { window.__same_document = true; }")

            publish(results_topic, [batches[n].message])
            expect(page.locator("#batch-id")).to_have_text(f"#{n}", timeout=20_000)
            assert page.evaluate("() => window.__same_document") is True  # no reload happened
            latest_hits = batches[n].message["hits_per_chamber"][2]
            expect(page.locator("#ch2-hits")).to_have_text(f"{latest_hits:,} hits")
            # Rates in Hz of detector time: the batch's hits over its orbit span.
            latest = batches[n].message
            hz = latest["hits"] / (latest["orbit_span"] * 3564 * 25e-9)
            assert abs(float(_text(page, "#hit-rate").replace(",", "")) - hz) < 0.1
            assert _text(page, "#trigger-rate") != "–"
            # Latency: the oldest record's age when the browser got the batch (>= 3 s here).
            assert "oldest" in _text(page, "#latency-note")
            assert float(_text(page, "#latency").removesuffix(" s")) >= 3.0
            assert _text(page, "#events") == "0 / 0"

            page.click("[data-view=cumulative]")
            expect(page.locator("#view-batches")).to_have_text(str(n + 1))
            assert _text(page, "#histo-view-label") == "cumulative"
            page.wait_for_function(ALL_PLOTS_HAVE_DATA, arg=[N_PLOTS, True], timeout=20_000)
            assert page.evaluate(EMPTY_PLOTS) == []
            total0 = sum(b.message["hits_per_chamber"][0] for b in batches)
            expect(page.locator("#ch0-hits")).to_have_text(f"{total0:,} hits")
            drift = page.evaluate(
                "() => document.getElementById('h-drift_time_ns-3')"
                ".data[0].y.reduce((a, b) => a + b)"
            )
            assert drift == sum(sum(b.message["drift_time_ns"][3]["bin_counts"]) for b in batches)

            page.click("#pause")
            expect(page.locator("#conn")).to_have_text("paused")
            page.click("#pause")
            expect(page.locator("#conn")).to_have_text("live")
            time.sleep(0.5)  # let the last Plotly.react settle before the picture
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

            assert page.evaluate("() => window.__csp") == []
            assert errors == []

            docs = browser.new_page(viewport={"width": 1280, "height": 900})
            docs.add_init_script(RECORD_CSP)
            docs.goto(api.url + "/docs")
            expect(docs.locator(".info .title")).to_contain_text(
                "dtmon results API", timeout=20_000
            )
            expect(
                docs.locator(".opblock-summary-path[data-path='/api/v1/stream']")
            ).to_be_visible()
            docs.screenshot(path=str(ARTIFACTS / "api-docs.png"))
            assert docs.evaluate("() => window.__csp") == []
        finally:
            browser.close()


def test_dashboard_announces_a_new_run_and_ignores_a_forged_one(
    api_settings, results_topic, make_batches, publish, serve_api
):
    """A forged (unsigned) batch under another query id changes nothing on screen; a signed,
    newer run replaces the old one with a visible "new run started", never silently."""
    now_ms = int(time.time() * 1000)
    old = make_batches(3, query_id="q-old", base_ms=now_ms - 20_000)
    new = make_batches(2, query_id="q-new", seed=3, base_ms=now_ms - 5_000)
    publish(results_topic, [b.message for b in old])
    with serve_api(api_settings) as api, sync_playwright() as pw:
        browser = chromium.launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(api.url + "/")
            expect(page.locator("#query-id")).to_have_text("q-old", timeout=30_000)
            expect(page.locator("#run-note")).to_be_hidden()
            forged = dict(new[0].message, query_id="q-forged")
            publish(results_topic, [forged], keys=None)
            publish(results_topic, [old[0].message])  # a replay: a duplicate, nothing new
            time.sleep(2.0)
            expect(page.locator("#query-id")).to_have_text("q-old")
            expect(page.locator("#run-note")).to_be_hidden()

            publish(results_topic, [b.message for b in new])
            expect(page.locator("#query-id")).to_have_text("q-new", timeout=20_000)
            expect(page.locator("#run-note")).to_contain_text("new run started", timeout=20_000)
            expect(page.locator("#run-note")).to_contain_text("q-old")
        finally:
            browser.close()
