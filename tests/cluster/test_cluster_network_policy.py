"""The chart's NetworkPolicies are enforced on the real cluster (kube-router's firewall
controller, started by up.sh): the pipeline runs under them (every other cluster test), a pod
outside the allowed flows reaches neither Kafka nor the API, and the same connection from an
allowed client (the API pod to Kafka) goes through, so the refusal is the policy's doing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from .kube import NAMESPACE, RELEASE, kubectl, on_node

pytestmark = pytest.mark.timeout(600)

INTRUDER = "intruder"
CONNECT = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()\n"
    "except OSError as exc:\n"
    "    print(f'refused: {exc!r}')\n"
    "    sys.exit(1)\n"
    "print('connected')\n"
)


def _get(kind: str, name: str) -> dict[str, Any]:
    return json.loads(kubectl("-n", NAMESPACE, "get", kind, name, "-o", "json").stdout)


def _pod_ip(selector: str) -> str:
    out = kubectl("-n", NAMESPACE, "get", "pods", "-l", selector, "-o", "json").stdout
    pods = [p for p in json.loads(out)["items"] if p["status"].get("podIP")]
    assert pods, selector
    return pods[0]["status"]["podIP"]


def _connects(pod: str, host: str, port: int) -> bool:
    proc = kubectl(
        "-n",
        NAMESPACE,
        "exec",
        pod,
        "--",
        "python3",
        "-c",
        CONNECT,
        host,
        str(port),
        check=False,
        timeout=60,
    )
    assert "connected" in proc.stdout or "refused" in proc.stdout, proc.stdout + proc.stderr
    return proc.returncode == 0


@pytest.fixture(scope="module")
def intruder(cluster: None) -> Iterator[str]:
    """A pod of no dtmon component (Pod Security "restricted" admits it), from the API's
    image for its Python."""
    image = _get("deploy", f"{RELEASE}-api")["spec"]["template"]["spec"]["containers"][0]["image"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": INTRUDER, "labels": {"app.kubernetes.io/name": INTRUDER}},
        "spec": {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "probe",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["sleep", "3600"],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
    kubectl("-n", NAMESPACE, "apply", "-f", "-", stdin=json.dumps(pod))
    kubectl(
        "-n",
        NAMESPACE,
        "wait",
        "--for=condition=Ready",
        f"pod/{INTRUDER}",
        "--timeout=180s",
        timeout=200,
    )
    yield INTRUDER
    kubectl("-n", NAMESPACE, "delete", "pod", INTRUDER, "--grace-period=0", "--force", check=False)


def test_kube_router_enforces_the_policies(cluster: None) -> None:
    rules = on_node("iptables-save").stdout
    assert "KUBE-NWPLCY-" in rules, "no NetworkPolicy chain: is kube-router running?"


def test_an_outside_pod_reaches_neither_kafka_nor_the_api(intruder: str) -> None:
    broker = _pod_ip("app.kubernetes.io/component=kafka")
    api = _pod_ip("app.kubernetes.io/component=api")
    assert not _connects(intruder, broker, 9092)
    assert not _connects(intruder, f"{RELEASE}-kafka-kafka-bootstrap", 9092)
    assert not _connects(intruder, api, 8000)


def test_an_allowed_client_reaches_kafka(intruder: str) -> None:
    out = kubectl(
        "-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/component=api", "-o", "json"
    ).stdout
    api_pod = json.loads(out)["items"][0]["metadata"]["name"]
    assert _connects(api_pod, _pod_ip("app.kubernetes.io/component=kafka"), 9092)
