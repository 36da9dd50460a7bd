"""The miniDT detector: model, hit codecs, batch-result contract, numpy reference.

Modules, each with one job: ``detector`` (facts and geometry), ``codecs`` (CSV text and
64-bit words <-> columnar ``Hits``), ``binning`` (shared histogram edges), ``contract``
(dtmon.batch.v1 pydantic models and JSON Schema), ``reference`` (numpy quantities).
"""

from minidt.codecs import CSV_HEADER, Hits, ParseError, ParseResult, parse_csv
from minidt.contract import SCHEMA_ID, BatchResult, ContractError, validate_message

__all__ = [
    "CSV_HEADER",
    "SCHEMA_ID",
    "BatchResult",
    "ContractError",
    "Hits",
    "ParseError",
    "ParseResult",
    "parse_csv",
    "validate_message",
]
