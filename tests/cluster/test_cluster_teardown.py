"""`make cluster-down` leaves nothing behind: no process of the cluster, no mount under its
state, no network namespace or veth, no iptables rule on the host, no containerd state.
Named to run last in the cluster package: it stops the cluster the package started."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psutil
import pytest

from .kube import STATE, script

pytestmark = pytest.mark.timeout(600)

RUN = Path("/run/dtmon-k8s")


def test_cluster_down_leaves_nothing_behind(cluster: None) -> None:
    script("down.sh", timeout=300)

    leftovers = []
    for proc in psutil.process_iter(["exe", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if str(STATE) in cmd or str(RUN) in cmd or str(STATE) in (proc.info["exe"] or ""):
            leftovers.append(cmd)
    assert not leftovers, leftovers

    mounts = Path("/proc/mounts").read_text()
    assert str(STATE) not in mounts and str(RUN) not in mounts and "/run/netns/cni-" not in mounts

    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "dtmon-k8s" not in netns and "cni-" not in netns, netns
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert "dtmon-k8s0" not in links and "cni0" not in links, links
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    assert "KUBE-" not in rules and "CNI-" not in rules, rules

    assert not RUN.exists()
    assert not (STATE / "var").exists()
    assert not Path("/var/lib/cni").exists()
