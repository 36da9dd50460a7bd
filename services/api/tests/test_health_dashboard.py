"""The detector-health part of the dashboard in real headless Chromium: the status strip at
the top shows each chamber's colour and reasons, the cell maps mark the flagged cells where
minidt puts them, the fit lines and trend are drawn, and the strict CSP blocks nothing.
Saves artifacts/health.png."""

from __future__ import annotations

import dataclasses
import time

from playwright.sync_api import expect, sync_playwright

from devstack import chromium
from dtmon_producer.sim.faults import Faults
from services.api.tests.health_helpers import PERIOD_MS, messages, simulator
from services.api.tests.test_api_dashboard import ARTIFACTS, RECORD_CSP

N = 45
FAULTS = Faults(dead=((0, 5),), noisy=((1, 70),))


def test_health_status_cell_maps_and_fits_in_chromium(
    api_settings, results_topic, publish, serve_api
) -> None:
    base = int(time.time() * 1000) - N * PERIOD_MS
    publish(results_topic, messages(simulator(9, faults=FAULTS), N, query_id="q-hd", base_ms=base))
    settings = dataclasses.replace(api_settings, window_seconds=60.0, history=100)
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_api(settings) as api, sync_playwright() as pw:
        browser = chromium.launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.add_init_script(RECORD_CSP)
            page.goto(api.url + "/")

            expect(page.locator("#dqm-overall")).to_have_attribute(
                "data-status", "yellow", timeout=30_000
            )
            expect(page.locator("#dqm-ch0")).to_have_attribute("data-status", "yellow")
            expect(page.locator("#dqm-ch0 .dqm-reasons")).to_contain_text("1 dead channel: 5")
            expect(page.locator("#dqm-ch1 .dqm-reasons")).to_contain_text("noisy: ")
            expect(page.locator("#dqm-ch1 .dqm-reasons")).to_contain_text("70")
            expect(page.locator("#dqm-ch0 .value")).to_have_text("check")
            # Chambers top to bottom as stacked in the telescope, after the overall tile.
            assert page.locator("#dqm-status > div").evaluate_all("els => els.map(e => e.id)") == [
                "dqm-overall",
                "dqm-ch3",
                "dqm-ch2",
                "dqm-ch1",
                "dqm-ch0",
            ]
            # At the top of the dashboard: above the pipeline cards and every plot.
            status_y = page.locator("#dqm-status").bounding_box()["y"]
            assert status_y < page.locator(".cards").bounding_box()["y"]

            # Cell map of chamber 0: 64 cells drawn at minidt's positions, the dead one marked.
            cells = page.evaluate(
                """() => {
                  const el = document.getElementById('dqm-cells-0');
                  const dead = el.data.find((t) => t.name === 'dead');
                  return { shapes: el.layout.shapes.length, cx: el.data[0].x, cy: el.data[0].y,
                           dead: [dead.x, dead.y] };
                }"""
            )
            report = api.get("/api/v1/health").json()
            m = report["chambers"][0]["cells"]
            assert cells["shapes"] == 64
            assert cells["cx"] == m["x_mm"] and cells["cy"] == m["z_mm"]
            assert cells["dead"] == [[m["x_mm"][5]], [m["z_mm"][5]]]
            expect(page.locator("#dqm-fit-2")).to_contain_text("cumulative: t0 ")
            expect(page.locator("#dqm-fit-2")).to_contain_text("µm/ns")
            trend_points = page.evaluate(
                "() => document.getElementById('dqm-trend-t0').data[0].x.length"
            )
            assert trend_points >= 1
            time.sleep(0.5)
            page.screenshot(path=str(ARTIFACTS / "health.png"), full_page=True)
            assert page.evaluate("() => window.__csp") == []
            assert errors == []
        finally:
            browser.close()
