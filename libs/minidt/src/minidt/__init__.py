"""The miniDT detector: model, hit codecs, batch-result contract, numpy reference.

Modules, each with one job: ``detector`` (facts and geometry), ``codecs`` (CSV text and
64-bit words <-> columnar ``Hits``), ``binning`` (shared histogram edges), ``contract``
(dtmon.batch.v1 pydantic models and JSON Schema), ``reference`` (numpy quantities).

The most used names are re-exported lazily, so ``python -m minidt.contract`` does not find
its own module pre-imported by the package.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CSV_HEADER": "minidt.codecs",
    "Hits": "minidt.codecs",
    "ParseError": "minidt.codecs",
    "ParseResult": "minidt.codecs",
    "parse_csv": "minidt.codecs",
    "SCHEMA_ID": "minidt.contract",
    "BatchResult": "minidt.contract",
    "ContractError": "minidt.contract",
    "validate_message": "minidt.contract",
    "compute_quantities": "minidt.reference",
    "reference_message": "minidt.reference",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'minidt' has no attribute {name!r}")
