"""Only the processor can write results, on the real cluster's broker: every service
connects as its own SCRAM user (the pipeline tests show they work so), and from another pod
a client with no credentials, the API's (read-only) or the producer's (hits only) cannot
write to the results topic; the API saw nothing of what they tried."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .kube import NAMESPACE, RELEASE, get_raw, kubectl

pytestmark = pytest.mark.timeout(900)

BOOTSTRAP = f"{RELEASE}-kafka-kafka-bootstrap.{NAMESPACE}.svc:9092"
METRICS = f"/api/v1/namespaces/{NAMESPACE}/services/{RELEASE}-api:8000/proxy/metrics"
# Runs Kafka's verifiable producer (one JSON line per send) in the broker's pod, which holds
# every user's password file but is, to the listener on :9092, just another pod.
PRODUCE = r"""
{ echo 'security.protocol=%(protocol)s'
  echo 'sasl.mechanism=SCRAM-SHA-512'
  if [ -n '%(user)s' ]; then
    printf 'sasl.jaas.config=%(module)s required username="%%s" password="%%s";\n' \
      '%(user)s' "$(cat /etc/dtmon/kafka-users/%(component)s)"
  fi
  echo 'max.block.ms=20000'
  echo 'delivery.timeout.ms=20000'
  echo 'request.timeout.ms=10000'
} >/tmp/acl-test.properties
timeout 120 java -cp '/opt/kafka/libs/*' org.apache.kafka.tools.VerifiableProducer \
  --bootstrap-server %(bootstrap)s --topic %(topic)s --max-messages 1 \
  --command-config /tmp/acl-test.properties 2>/dev/null
"""


def _broker_pod() -> str:
    out = kubectl(
        "-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/component=kafka", "-o", "json"
    ).stdout
    return json.loads(out)["items"][0]["metadata"]["name"]


def _produce(topic: str, component: str | None) -> dict[str, Any]:
    """The verifiable producer's report of its one send: success or the error's class."""
    user = f"{RELEASE}-{component}" if component else ""
    script = PRODUCE % {
        "protocol": "SASL_PLAINTEXT" if component else "PLAINTEXT",
        "user": user,
        "component": component or "none",
        "bootstrap": BOOTSTRAP,
        "topic": topic,
        "module": "org.apache.kafka.common.security.scram.ScramLoginModule",
    }
    proc = kubectl("-n", NAMESPACE, "exec", _broker_pod(), "--", "bash", "-c", script, timeout=180)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    sends = [e for e in events if e["name"].startswith("producer_send_")]
    assert len(sends) == 1, proc.stdout[-3000:]
    return sends[0]


def _refused_total() -> float:
    text = get_raw(METRICS)
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("dtmon_api_refused_messages_total")
    )


def test_the_services_are_kafka_users_with_their_own_secrets(cluster: None) -> None:
    for component in ("producer", "processor", "api"):
        out = kubectl(
            "-n", NAMESPACE, "get", "deploy", f"{RELEASE}-{component}", "-o", "json"
        ).stdout
        env = {
            e["name"]: e.get("value")
            for c in json.loads(out)["spec"]["template"]["spec"]["containers"]
            for e in c.get("env", [])
        }
        assert env["DTMON_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env["DTMON_KAFKA_USERNAME"] == f"{RELEASE}-{component}"


@pytest.mark.parametrize(
    ("component", "refusal"),
    [
        # No SASL handshake: the listener drops the connection, metadata never comes.
        (None, "TimeoutException"),
        ("api", "TopicAuthorizationException"),
        ("producer", "TopicAuthorizationException"),
    ],
)
def test_no_other_client_can_write_results(
    cluster: None, component: str | None, refusal: str
) -> None:
    refused_before = _refused_total()
    send = _produce("dt-results", component)
    assert send["name"] == "producer_send_error", send
    assert send["exception"].endswith(refusal), send
    assert _refused_total() == refused_before, "a message reached the API's consumer"


def test_the_api_user_cannot_write_hits_either(cluster: None) -> None:
    send = _produce("dt-hits", "api")
    assert send["name"] == "producer_send_error", send
    assert send["exception"].endswith("TopicAuthorizationException"), send
