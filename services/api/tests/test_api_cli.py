"""`dtmon-api` as deployed: flags and DTMON_* variables, start-up without a broker, SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
import pytest

from devstack.kafka import KafkaBroker
from devstack.ports import free_port
from dtmon_api.cli import build_parser, settings_from_args
from dtmon_api.pages import plotly_js_path
from dtmon_api.plotly_css import bundled_style_ids, plotly_css
from dtmon_api.settings import Settings
from dtmon_common.signing import parse_keys


def test_flags_and_environment_reach_the_settings() -> None:
    env = {
        "DTMON_HOST": "0.0.0.0",
        "DTMON_PORT": "9000",
        "DTMON_HISTORY": "123",
        "DTMON_WINDOW_SECONDS": "30",
        "DTMON_BOOTSTRAP_SERVERS": "kafka:9092",
        "DTMON_CORS_ORIGINS": "http://a.example, http://b.example",
        "DTMON_SIGNING_KEYS": f"new:{'1' * 64},old:{'2' * 64}",
        "DTMON_MAX_CLOCK_SKEW_SECONDS": "5",
    }
    args = build_parser(env).parse_args(["--max-sse-clients", "7", "--max-batch-jump", "50"])
    assert (args.host, args.port) == ("0.0.0.0", 9000)
    assert settings_from_args(args) == Settings(
        signing_keys=parse_keys(f"new:{'1' * 64}\nold:{'2' * 64}", "x"),
        max_clock_skew_seconds=5.0,
        max_batch_jump=50,
        bootstrap_servers="kafka:9092",
        history=123,
        window_seconds=30.0,
        max_sse_clients=7,
        cors_origins=("http://a.example", "http://b.example"),
    )
    defaults = build_parser({}).parse_args([])
    assert (defaults.host, defaults.port, defaults.cors_origins) == ("127.0.0.1", 8000, ())
    help_text = " ".join(build_parser({}).format_help().split())
    for var in ("DTMON_HOST", "DTMON_PORT", "DTMON_HISTORY", "DTMON_RESULTS_TOPIC"):
        assert f"[env: {var}]" in help_text


@pytest.mark.parametrize(
    ("env", "argv", "needle"),
    [
        ({"DTMON_HISTORY": "0"}, [], "DTMON_HISTORY='0': must be >= 1"),
        ({}, ["--window-seconds", "-3"], "must be > 0"),
        ({"DTMON_PORT": "http"}, [], "DTMON_PORT='http'"),
    ],
)
def test_bad_configuration_is_one_clear_error(env, argv, needle, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser(env).parse_args(argv)
    assert exc.value.code == 2
    assert needle in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({}, "results are signed: pass --signing-key-file"),
        ({"DTMON_SIGNING_KEYS": "k1:short"}, "shorter than 32 characters"),
        ({"DTMON_SIGNING_KEY_FILE": "/nonexistent/keys"}, "cannot read signing key file"),
    ],
)
def test_the_api_refuses_to_start_without_a_usable_signing_key(env, needle) -> None:
    """An API that verifies nothing would show nothing: it stops at once, saying why."""
    proc = subprocess.run(
        [sys.executable, "-m", "dtmon_api.cli"],
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert needle in proc.stderr


def test_plotly_stylesheet_is_extracted_from_the_installed_plotly() -> None:
    css = plotly_css(plotly_js_path())
    assert ".js-plotly-plot .plotly .modebar{" in css
    assert ".plotly-notifier{" in css
    assert all(len(i) == 64 for i in bundled_style_ids(plotly_js_path()))


def _wait_http(url: str, status: int, timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == status:
                return response
            last = f"{response.status_code} {response.text[:300]}"
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer {status} within {timeout} s (last: {last})")


def test_starts_without_broker_then_connects_and_stops_on_sigterm(tmp_path) -> None:
    """Kubernetes gives no start order: the API must come up before Kafka and wait for it."""
    kafka_port, port = free_port(), free_port()
    env = {
        "DTMON_PORT": str(port),
        "DTMON_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
        "DTMON_RESULTS_TOPIC": "late-results",
        "DTMON_LOG_FORMAT": "json",
        "DTMON_SIGNING_KEYS": "k1:" + "3" * 64,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "dtmon_api.cli"],
        env={**_base_env(), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(base + "/healthz", 200, 30)
        not_ready = _wait_http(base + "/readyz", 503, 5).json()
        assert not_ready["connected"] is False and not_ready["ready"] is False
        with KafkaBroker(port=kafka_port, data_dir=tmp_path / "kafka") as broker:
            broker.create_topic("late-results", 1)
            _wait_http(base + "/readyz", 200, 60)  # backoff is capped, so this is bounded
            with httpx.stream("GET", base + "/api/v1/stream", timeout=10) as stream:
                assert stream.status_code == 200
                proc.send_signal(signal.SIGTERM)  # an open SSE stream must not block shutdown
                assert proc.wait(timeout=20) == 0  # a requested stop is a clean exit
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    log = proc.stdout.read().decode() if proc.stdout else ""
    # Broker down ("cannot start") or up before the topic exists ("topic missing"): retried.
    assert "retrying in" in log
    assert "Application shutdown complete" in log
    assert "Traceback" not in log, log[-3000:]


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("DTMON_")}
