"""One local Kubernetes cluster for the whole cluster package: started from the project's
scripts (`make cluster-up`'s up.sh, Strimzi's CRDs, `make deploy`'s deploy.sh), used by every
test in it, and stopped at the end. The images were built by `make images`, a prerequisite
of `make test`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import kube


@pytest.fixture(scope="package")
def cluster() -> Iterator[None]:
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
