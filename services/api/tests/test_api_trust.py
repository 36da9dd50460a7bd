"""Hostile results-topic messages, against the real broker: none of them changes what is shown.

Each test reproduces a defect of issue 12's probe (a forged copy with another query_id took
the dashboard over for good, also after a restart; a batch_id of 10^12 was counted; an
emitted_at ten years ahead stopped the window trimming) and checks that the message is now
refused, counted by reason and logged with its offset, and that the real batches around it
are all applied, also when the topic is replayed after a restart.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import time

from confluent_kafka import Producer

from dtmon_common.signing import parse_keys

FORGER_KEYS = parse_keys("test-1:" + "6" * 64, "forger")
"""The right key id with the wrong secret: what a guess or a stale copy of a key gives."""
TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000


def _refused(api, reason: str) -> float:
    for line in api.get("/metrics").text.splitlines():
        if line.startswith(f'dtmon_api_refused_messages_total{{reason="{reason}"}}'):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no refusal metric for {reason}")


def _snapshot(api) -> dict:
    status = api.get("/api/v1/status").json()
    return {
        "query": status["current_query_id"],
        "batches": [(b["query_id"], b["batch_id"]) for b in api.get("/api/v1/batches").json()],
        "cumulative": api.get("/api/v1/summary?view=cumulative").json(),
        "window": api.get("/api/v1/summary?view=window").json(),
        "invalid": status["consumer"]["invalid_messages"],
    }


def test_forged_messages_never_take_over_also_after_a_restart(
    api_settings, results_topic, make_batches, publish, serve_api, wait_until, caplog
):
    real = make_batches(6, query_id="q-real")
    # A copy of a real batch under another query id, newer than the run: plausible in every
    # other respect, so only the signature can stop it.
    forged = dict(copy.deepcopy(real[2].message), query_id="q-forged")
    forged["emitted_at_ms"] = real[5].message["emitted_at_ms"] + 60_000
    tampered = dict(real[3].message, hits=real[3].message["hits"] + 1)
    publish(results_topic, [b.message for b in real[:3]])
    publish(results_topic, [forged], keys=None)  # no key at all
    publish(results_topic, [forged], keys=FORGER_KEYS)  # a wrong secret
    publish(
        results_topic, [dict(forged, query_id="q-other")], keys=parse_keys("k9:" + "9" * 64, "x")
    )
    # The real signature of batch 3 on altered bytes.
    genuine = api_settings.signing_keys.sign(json.dumps(real[3].message).encode())
    producer = Producer({"bootstrap.servers": api_settings.bootstrap_servers})
    producer.produce(results_topic, json.dumps(tampered).encode(), headers=genuine)
    assert producer.flush(15) == 0
    publish(results_topic, [b.message for b in real[3:]])

    with (
        caplog.at_level(logging.WARNING, logger="dtmon_api.consumer"),
        serve_api(api_settings) as api,
    ):
        wait_until(lambda: api.get("/api/v1/status").json()["batches_applied"] == 6, what="6")
        first = _snapshot(api)
        assert first["query"] == "q-real"
        assert first["batches"] == [("q-real", b) for b in range(6)]
        assert first["cumulative"]["hits"] == sum(b.message["hits"] for b in real)
        assert first["invalid"] == 4
        assert _refused(api, "unsigned") == 1
        assert _refused(api, "bad_signature") == 2
        assert _refused(api, "unknown_key") == 1
    lines = [r.getMessage() for r in caplog.records if "refused message" in r.getMessage()]
    assert [line.split("@")[1].split(" ")[0] for line in lines] == ["3", "4", "5", "6"]
    assert f"refused message at {results_topic}[0]@3 (unsigned)" in lines[0]

    with serve_api(api_settings) as api:  # the replay applies the same checks
        assert _snapshot(api) == first


def test_signed_but_implausible_messages_are_quarantined(
    api_settings, results_topic, make_batches, publish, serve_api, wait_until
):
    real = make_batches(5, query_id="q-1")
    huge_id = dict(real[1].message, batch_id=10**12)
    future = dict(real[2].message, batch_id=3, emitted_at_ms=int(time.time() * 1000) + TEN_YEARS_MS)
    older = make_batches(1, query_id="q-older", base_ms=real[0].message["emitted_at_ms"] - 60_000)
    nested = b"[" * 100_000 + b"]" * 100_000
    oversized = json.dumps(dict(real[0].message, pad="x" * 300_000)).encode()
    publish(results_topic, [b.message for b in real[:3]])
    publish(results_topic, [huge_id, future, older[0].message, nested, oversized])
    publish(results_topic, [b.message for b in real[3:]])
    settings = dataclasses.replace(api_settings, max_message_bytes=256 * 1024, window_seconds=3.0)
    with serve_api(settings) as api:
        wait_until(lambda: api.get("/api/v1/status").json()["batches_applied"] == 5, what="5")
        status = api.get("/api/v1/status").json()
        assert status["current_query_id"] == "q-1"
        assert status["refused"] == {
            "incompatible": 0,
            "future": 1,
            "batch_jump": 1,
            "older_query": 1,
        }
        cumulative = api.get("/api/v1/summary?view=cumulative").json()
        assert (cumulative["batches"], cumulative["last_batch_id"]) == (5, 4)
        assert cumulative["hits"] == sum(b.message["hits"] for b in real)
        # The window still trims at 3 s: batches 2..4 (emitted 1 s apart) are in it.
        window = api.get("/api/v1/summary?view=window").json()
        assert (window["first_batch_id"], window["last_batch_id"]) == (2, 4)
        for reason in ("future", "batch_jump", "older_query", "contract", "oversized"):
            assert _refused(api, reason) == 1, reason
        assert status["previous_query_id"] is None


def test_a_newer_run_takes_over_and_is_announced(
    api_settings, results_topic, make_batches, publish, serve_api, wait_until
):
    old = make_batches(3, query_id="q-old")
    new = make_batches(2, query_id="q-new", seed=5, base_ms=old[-1].message["emitted_at_ms"] + 5000)
    publish(results_topic, [b.message for b in old + new])
    with serve_api(api_settings) as api:
        wait_until(lambda: api.get("/api/v1/status").json()["batches_applied"] == 5, what="5")
        status = api.get("/api/v1/status").json()
        assert status["current_query_id"] == "q-new"
        assert status["previous_query_id"] == "q-old"
        assert status["run_started_at_ms"] == new[0].message["emitted_at_ms"]
