"""The miniDT detector: model, hit codecs, batch-result contract, numpy reference.

Modules, each with one job: ``detector`` (facts and geometry), ``codecs`` (CSV text and
64-bit words <-> columnar ``Hits``), ``binning`` (shared histogram edges), ``contract``
(dtmon.batch.v1 pydantic models and JSON Schema), ``reference`` (numpy quantities).
Import them by module (``from minidt.codecs import Hits``); the package re-exports nothing.
"""
