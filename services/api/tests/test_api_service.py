"""The service against the real session broker: REST, SSE, restart, bad input, limits."""

from __future__ import annotations

import dataclasses
import json
import threading

import httpx

from dtmon_api.state import HISTOGRAM_FIELDS
from minidt.codecs import Hits
from minidt.reference import compute_quantities

LATER_MS = 1_795_000_600_000
"""Ten minutes after conftest.BASE_MS: the first emission of a newer processor run."""


def _sse_events(response: httpx.Response, want: int, comments: list[str] | None = None):
    """Parse `want` data events from a streaming response (id + decoded data)."""
    events, current = [], {}
    for line in response.iter_lines():
        if line.startswith(":"):
            if comments is not None:
                comments.append(line[1:].strip())
        elif line.startswith("id:"):
            current["id"] = line[3:].strip()
        elif line.startswith("data:"):
            current["data"] = json.loads(line[5:].strip())
        elif line == "" and current:
            if "data" in current:
                events.append(current)
            current = {}
            if len(events) >= want:
                return events
    raise AssertionError(f"stream ended after {len(events)} of {want} events")


def test_published_batches_come_back_through_rest(
    api_settings, results_topic, make_batches, publish, serve_api, wait_until
):
    batches = make_batches(5, query_id="rest-q")
    publish(results_topic, [b.message for b in batches])
    with serve_api(api_settings) as api:
        listed = api.get("/api/v1/batches").json()
        assert [b["batch_id"] for b in listed] == [0, 1, 2, 3, 4]  # newest last
        assert listed == [b.message for b in batches]
        assert [b["batch_id"] for b in api.get("/api/v1/batches?limit=2").json()] == [3, 4]
        assert api.get("/api/v1/batches/3").json() == batches[3].message

        cumulative = api.get("/api/v1/summary", params={"view": "cumulative"}).json()
        expected = compute_quantities(Hits.concat([b.hits for b in batches]))
        assert cumulative["batches"] == 5 and cumulative["query_id"] == "rest-q"
        for name in ("hits", "hits_per_chamber", "orbits", *HISTOGRAM_FIELDS):
            assert cumulative[name] == expected[name], name
        assert api.get("/api/v1/summary").json()["last_batch_id"] == 4  # default: latest

        series = api.get("/api/v1/timeseries?limit=3").json()
        assert [p["batch_id"] for p in series] == [2, 3, 4]
        assert series[1]["interval_ms"] == 1000
        assert (
            series[1]["latency_ms"]
            == batches[3].message["emitted_at_ms"] - (batches[3].message["input"]["last_ts_ms"])
        )

        metrics = api.get("/metrics").text
        assert "dtmon_api_batches_consumed_total 5.0" in metrics
        hits0 = sum(b.message["hits_per_chamber"][0] for b in batches)
        assert f'dtmon_api_chamber_hits_consumed_total{{chamber="0"}} {float(hits0)}' in metrics
        assert "dtmon_api_batch_latency_seconds_count 5.0" in metrics
        assert 'route="/api/v1/batches/{batch_id}"' in metrics  # template, not raw URL
        assert "dtmon_api_last_batch_age_seconds" in metrics
        assert api.get("/healthz").json() == {"status": "ok"}


def test_bad_parameters_get_422_and_unknown_batch_404(
    api_settings, results_topic, make_batches, publish, serve_api
):
    publish(results_topic, [b.message for b in make_batches(1)])
    with serve_api(api_settings) as api:
        for path, needle in [
            ("/api/v1/batches?limit=0", "query parameter 'limit'"),
            ("/api/v1/batches?limit=41", "less than or equal to 40"),
            ("/api/v1/batches?limit=abc", "valid integer"),
            ("/api/v1/summary?view=weekly", "query parameter 'view'"),
            ("/api/v1/batches/-1", "path parameter 'batch_id'"),
            ("/api/v1/timeseries?limit=1000", "query parameter 'limit'"),
        ]:
            response = api.get(path)
            assert response.status_code == 422, path
            assert needle in response.json()["message"], (path, response.json())
        missing = api.get("/api/v1/batches/77")
        assert missing.status_code == 404
        assert "batch 77" in missing.json()["detail"]


def test_invalid_duplicate_and_new_query_messages(
    api_settings, results_topic, make_batches, publish, serve_api, wait_until
):
    first = make_batches(3, query_id="q-old")
    bad_contract = dict(first[1].message, hits_per_chamber=[1, 2, 3])  # three chambers
    publish(
        results_topic,
        [first[0].message, b"not json at all", bad_contract, first[1].message, first[1].message],
    )
    with serve_api(api_settings) as api:
        status = api.get("/api/v1/status").json()
        assert status["consumer"]["invalid_messages"] == 2
        assert status["duplicates"] == 1
        assert [b["batch_id"] for b in api.get("/api/v1/batches").json()] == [0, 1]
        metrics = api.get("/metrics").text
        assert 'dtmon_api_invalid_messages_total{reason="contract"} 2.0' in metrics
        assert 'dtmon_api_messages_consumed_total{outcome="duplicate"} 1.0' in metrics

        fresh = make_batches(2, query_id="q-new", seed=11, base_ms=LATER_MS)
        publish(results_topic, [b.message for b in fresh] + [first[2].message])
        wait_until(
            lambda: api.get("/api/v1/status").json()["stale"] == 1, what="stale old-query batch"
        )
        cumulative = api.get("/api/v1/summary?view=cumulative").json()
        assert (cumulative["query_id"], cumulative["batches"]) == ("q-new", 2)
        assert api.get("/api/v1/batches/1").json()["query_id"] == "q-new"
        old = api.get("/api/v1/batches/1", params={"query_id": "q-old"}).json()
        assert old == first[1].message
        assert "dtmon_api_query_changes_total 2.0" in api.get("/metrics").text


def test_restart_rebuilds_the_same_state(
    api_settings, results_topic, make_batches, publish, serve_api
):
    publish(results_topic, [b.message for b in make_batches(6, query_id="q-r")])
    views = ("latest", "window", "cumulative")

    def snapshot(api) -> dict:
        out = {v: api.get(f"/api/v1/summary?view={v}").json() for v in views}
        out["batches"] = api.get("/api/v1/batches?limit=40").json()
        out["series"] = api.get("/api/v1/timeseries?limit=40").json()
        return out

    with serve_api(api_settings) as api:
        before = snapshot(api)
    with serve_api(api_settings) as api:
        after = snapshot(api)
    assert before == after
    assert before["cumulative"]["batches"] == 6
    assert before["window"]["batches"] == 5  # 5 s window, batches 1 s apart


def test_stream_delivers_new_batches_and_resumes_after_last_event_id(
    api_settings, results_topic, make_batches, publish, serve_api
):
    batches = make_batches(5, query_id="q-s")
    publish(results_topic, [b.message for b in batches[:2]])
    with serve_api(api_settings) as api, api.client() as client:
        comments: list[str] = []
        with client.stream("GET", "/api/v1/stream") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            timer = threading.Timer(0.3, publish, (results_topic, [batches[2].message]))
            timer.start()
            (event,) = _sse_events(response, 1, comments)
            timer.join()
        assert event["id"] == "q-s:2"
        assert event["data"] == batches[2].message
        assert "dtmon stream open" in comments

        publish(results_topic, [b.message for b in batches[3:]])
        headers = {"Last-Event-ID": "q-s:2"}
        with client.stream("GET", "/api/v1/stream", headers=headers) as response:
            missed = _sse_events(response, 2)
        assert [e["id"] for e in missed] == ["q-s:3", "q-s:4"]
        assert [e["data"]["batch_id"] for e in missed] == [3, 4]

        # Idle streams get keep-alive comments (0.5 s in these settings).
        comments = []
        with client.stream("GET", "/api/v1/stream") as response:
            for line in response.iter_lines():
                if line.startswith(": keep-alive"):
                    break


def test_stream_client_limit_returns_503(api_settings, results_topic, serve_api, wait_until):
    settings = dataclasses.replace(api_settings, max_sse_clients=2)
    with serve_api(settings, wait_ready=False) as api, api.client() as client:
        with (
            client.stream("GET", "/api/v1/stream") as s1,
            client.stream("GET", "/api/v1/stream") as s2,
        ):
            assert (s1.status_code, s2.status_code) == (200, 200)
            refused = client.get("/api/v1/stream")
            assert refused.status_code == 503
            assert "too many stream clients" in refused.json()["detail"]
            assert refused.headers["retry-after"] == "5"
            assert "dtmon_api_sse_clients 2.0" in client.get("/metrics").text
        wait_until(
            lambda: "dtmon_api_sse_clients 0.0" in client.get("/metrics").text,
            what="SSE gauge back to 0 after disconnect",
        )


def test_security_headers_and_no_cors_by_default(api_settings, serve_api):
    with serve_api(api_settings, wait_ready=False) as api:
        page = api.get("/", headers={"Origin": "http://evil.example"})
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "access-control-allow-origin" not in page.headers
        assert (
            api.get("/vendor/plotly.min.js").headers["content-type"].startswith("text/javascript")
        )
        assert ".js-plotly-plot .plotly" in api.get("/vendor/plotly.css").text
        docs = api.get("/docs").text
        assert "vendor/swagger/swagger-ui-bundle.js" in docs and "<script>" not in docs
        assert api.get("/vendor/swagger/swagger-ui-bundle.js").status_code == 200
        assert api.get("/no/such/page").status_code == 404
        metrics = api.get("/metrics").text
        assert 'route="/vendor/swagger/{path}",status="200"' in metrics
        assert 'route="<unmatched>",status="404"' in metrics
        assert "/api/v1/stream" in api.get("/openapi.json").json()["paths"]
    cors = dataclasses.replace(api_settings, cors_origins=("http://grafana.local",))
    with serve_api(cors, wait_ready=False) as api:
        response = api.get("/healthz", headers={"Origin": "http://grafana.local"})
        assert response.headers["access-control-allow-origin"] == "http://grafana.local"
