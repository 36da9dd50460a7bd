"""The shared metrics and health server, over real HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter

from devstack.ports import free_port
from dtmon_common.health import HealthServer, MetricsPortError, serve_health


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_alive_at_once_ready_only_when_the_service_says_so() -> None:
    registry = CollectorRegistry()
    Counter("dtmon_test_things", "things", registry=registry).inc(3)
    server = HealthServer(registry, "127.0.0.1", 0, details=lambda: {"state": "connecting"})
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert _get(base + "/healthz")[0] == 200
        status, body = _get(base + "/readyz")
        assert status == 503
        assert json.loads(body)["state"] == "connecting"
        server.set_ready(lambda: (True, "producing"))
        status, body = _get(base + "/readyz")
        assert (status, json.loads(body)["reason"]) == (200, "producing")
        assert "dtmon_test_things_total 3.0" in _get(base + "/metrics")[1]
        assert _get(base + "/nope")[0] == 404

        def broken() -> tuple[bool, str]:
            raise RuntimeError("JVM gone")

        server.set_alive(broken)
        status, body = _get(base + "/healthz")
        assert status == 503 and "JVM gone" in json.loads(body)["reason"]
    finally:
        server.close()


def test_port_zero_is_no_server_and_a_taken_port_is_one_clear_line() -> None:
    registry = CollectorRegistry()
    assert serve_health(registry, "127.0.0.1", 0) is None
    server = serve_health(registry, "127.0.0.1", free_port())
    assert server is not None
    try:
        with pytest.raises(
            MetricsPortError, match=rf"127\.0\.0\.1:{server.port}: .*--metrics-port"
        ):
            serve_health(registry, "127.0.0.1", server.port)
    finally:
        server.close()
