"""One local Kubernetes cluster for the whole cluster package: started from the project's
scripts (`make cluster-up`'s up.sh, Strimzi's CRDs, `make deploy`'s deploy.sh), used by every
test in it, and stopped at the end. The images were built by `make images`, a prerequisite
of `make test`.

The cluster is one per machine (a fixed network namespace and socket directory), so the
package holds the machine-wide lock `$DTMON_CLUSTER_LOCK` from up to down: two checkouts'
`make test` on one machine take turns instead of tearing down each other's cluster."""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator

import pytest

from . import kube

LOCK = os.environ.get("DTMON_CLUSTER_LOCK", "/run/lock/dtmon-k8s.lock")


@pytest.fixture(scope="package")
def machine_lock() -> Iterator[None]:
    with open(LOCK, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            t0 = time.monotonic()
            print(f"\nwaiting for the machine's cluster lock {LOCK} ...", file=sys.stderr)
            fcntl.flock(lock, fcntl.LOCK_EX)
            print(f"cluster lock taken after {time.monotonic() - t0:.0f} s", file=sys.stderr)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="package")
def cluster(machine_lock: None) -> Iterator[None]:
    """The cluster up with Strimzi's CRDs and the chart deployed and serving batches."""
    try:
        kube.script("up.sh", timeout=900)
        kube.script("strimzi-crds.sh", "install", timeout=600)
        try:
            kube.script("deploy.sh", timeout=1500)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{kube.diagnostics()}") from None
        yield
    finally:
        kube.script("down.sh", timeout=300)
