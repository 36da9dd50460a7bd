"""The dtmon.batch.v1 contract: one JSON object per micro-batch on the results topic.

These pydantic models are the single source of truth for the wire format. The processor
builds messages with them, the API validates what it consumes with them, and the JSON
Schema file shipped in the package (``schema/dtmon.batch.v1.json``) is generated from them
(``python -m minidt.contract --write-schema``) so the two can never drift apart.

Beyond field types, the validators encode invariants that follow from the definitions in
detector.md; each one catches a mistake an earlier implementation actually made:

* exactly four chambers in every per-chamber list (inner joins made empty chambers vanish);
* ``len(bin_counts) == len(bin_edges) - 1`` and strictly increasing edges (histograms that
  listed only non-empty bins shifted every bin);
* occupancy totals (counts + underflow + overflow) equal ``hits_per_chamber``;
* drift-time totals equal scint-occupancy totals (every chamber hit in a scintillator orbit
  yields exactly one drift time; several scintillator hits in one orbit used to duplicate
  them);
* chamber and scintillator hits never exceed ``hits``; scintillator orbits never exceed
  ``orbits`` or ``scintillator_hits``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator

SCHEMA_ID = "dtmon.batch.v1"
N_CHAMBERS = 4
SCHEMA_FILE = Path(__file__).resolve().parent / "schema" / f"{SCHEMA_ID}.json"

# Scalars are strict (no "17" -> 17, no True -> 1, no 1.0 -> 1: a producer sending those
# has a bug worth seeing); containers are lax so tuples work as well as lists. numpy scalars
# are not ints: convert with int()/.tolist() before validating a dict.
NonNegInt = Annotated[int, Strict(), Field(ge=0)]
Edge = Annotated[float, Strict()]  # strict floats still accept JSON integers


class ContractError(ValueError):
    """A message does not satisfy dtmon.batch.v1; ``str(err)`` is a one-line reason."""


_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Histogram(BaseModel):
    """Fixed-edge histogram, bins ``[low, high)``; values outside the edges are counted."""

    model_config = _STRICT

    bin_edges: Annotated[list[Edge], Field(min_length=2)]
    bin_counts: list[NonNegInt]
    underflow: NonNegInt
    overflow: NonNegInt

    @model_validator(mode="after")
    def _bins_consistent(self) -> Histogram:
        if len(self.bin_counts) != len(self.bin_edges) - 1:
            raise ValueError(
                f"bin_counts has {len(self.bin_counts)} entries but bin_edges has "
                f"{len(self.bin_edges)} (expected len(bin_edges) - 1)"
            )
        for i in range(1, len(self.bin_edges)):
            if not self.bin_edges[i] > self.bin_edges[i - 1]:
                raise ValueError(
                    f"bin_edges must be strictly increasing: edge {i} ({self.bin_edges[i]}) "
                    f"<= edge {i - 1} ({self.bin_edges[i - 1]})"
                )
        return self

    @property
    def total(self) -> int:
        """Every value filled, including under- and overflow."""
        return sum(self.bin_counts) + self.underflow + self.overflow


PerChamberHistograms = Annotated[
    list[Histogram], Field(min_length=N_CHAMBERS, max_length=N_CHAMBERS)
]


class BatchInput(BaseModel):
    """What the batch consumed: parsed records of any HEAD, malformed records, time span."""

    model_config = _STRICT

    rows: NonNegInt
    malformed: NonNegInt
    first_ts_ms: NonNegInt | None
    last_ts_ms: NonNegInt | None

    @model_validator(mode="after")
    def _span_consistent(self) -> BatchInput:
        if (self.first_ts_ms is None) != (self.last_ts_ms is None):
            raise ValueError("first_ts_ms and last_ts_ms must both be null or both be set")
        first, last = self.first_ts_ms, self.last_ts_ms
        if first is not None and last is not None and first > last:
            raise ValueError(f"first_ts_ms ({first}) is after last_ts_ms ({last})")
        return self


class EventBuilding(BaseModel):
    """How the batch's orbits were built (event building, README "The quantities").

    A batch counts only orbits it *closes*: the hits of orbits still open at its end (the two
    FPGAs' interleaved packets spread one orbit over up to ~270 rows) are carried to the next
    batch, so summing batches counts every orbit once, with all its hits. Defaults keep older
    messages (before event building) valid."""

    model_config = _STRICT

    carried_in_hits: NonNegInt = 0
    """Hits of open orbits received from the previous batch (counted here, not there)."""
    carried_out_hits: NonNegInt = 0
    """Hits of orbits left open at the end of this batch, handed to the next one."""
    timeout_closed_orbits: NonNegInt = 0
    """Orbits closed because their hits waited too long (a quiet FPGA, a stopped stream)."""


class BatchResult(BaseModel):
    """One micro-batch's quantities (detector.md, section "The per-batch quantities")."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        frozen=True,
        populate_by_name=True,
        serialize_by_alias=True,
        title=SCHEMA_ID,
        json_schema_extra={"$id": SCHEMA_ID},
    )

    # "schema" would shadow a BaseModel attribute, hence the alias.
    schema_id: Literal["dtmon.batch.v1"] = Field(alias="schema")
    query_id: Annotated[str, Strict(), Field(min_length=1)]
    batch_id: NonNegInt
    emitted_at_ms: NonNegInt
    input: BatchInput
    hits: NonNegInt
    hits_per_chamber: Annotated[
        list[NonNegInt], Field(min_length=N_CHAMBERS, max_length=N_CHAMBERS)
    ]
    scintillator_hits: NonNegInt
    orbits: NonNegInt
    scintillator_orbits: NonNegInt
    orbit_span: NonNegInt = 0
    """Orbits of detector time (3564 x 25 ns each) covered by the closed orbits: last - first
    + 1, summed over orbit-counter segments when the counter reset. Rates in Hz of detector
    time are counts / (orbit_span * 89.1 us)."""
    events: EventBuilding = Field(default_factory=EventBuilding)
    occupancy: PerChamberHistograms
    orbit_multiplicity: PerChamberHistograms
    scint_occupancy: PerChamberHistograms
    drift_time_ns: PerChamberHistograms

    @model_validator(mode="after")
    def _quantities_consistent(self) -> BatchResult:
        if sum(self.hits_per_chamber) + self.scintillator_hits > self.hits:
            raise ValueError(
                f"sum(hits_per_chamber) + scintillator_hits = "
                f"{sum(self.hits_per_chamber) + self.scintillator_hits} exceeds hits ({self.hits})"
            )
        if self.hits > self.input.rows + self.events.carried_in_hits:
            raise ValueError(
                f"hits ({self.hits}) exceeds input.rows ({self.input.rows}) + "
                f"events.carried_in_hits ({self.events.carried_in_hits})"
            )
        if self.events.timeout_closed_orbits > self.orbits:
            raise ValueError(
                f"events.timeout_closed_orbits ({self.events.timeout_closed_orbits}) exceeds "
                f"orbits ({self.orbits})"
            )
        if self.scintillator_orbits > min(self.orbits, self.scintillator_hits):
            raise ValueError(
                f"scintillator_orbits ({self.scintillator_orbits}) exceeds orbits "
                f"({self.orbits}) or scintillator_hits ({self.scintillator_hits})"
            )
        for c in range(N_CHAMBERS):
            occ = self.occupancy[c].total
            if occ != self.hits_per_chamber[c]:
                raise ValueError(
                    f"occupancy[{c}] holds {occ} entries but hits_per_chamber[{c}] is "
                    f"{self.hits_per_chamber[c]}"
                )
            scint_occ = self.scint_occupancy[c].total
            if scint_occ > occ:
                raise ValueError(
                    f"scint_occupancy[{c}] holds {scint_occ} entries, more than occupancy[{c}] "
                    f"({occ})"
                )
            drift = self.drift_time_ns[c].total
            if drift != scint_occ:
                raise ValueError(
                    f"drift_time_ns[{c}] holds {drift} entries but scint_occupancy[{c}] holds "
                    f"{scint_occ} (one drift time per chamber hit in a scintillator orbit)"
                )
            mult = self.orbit_multiplicity[c].total
            if mult > min(self.orbits, self.hits_per_chamber[c]):
                raise ValueError(
                    f"orbit_multiplicity[{c}] holds {mult} orbits, more than orbits "
                    f"({self.orbits}) or hits_per_chamber[{c}] ({self.hits_per_chamber[c]})"
                )
        return self


def _describe(err: ValidationError) -> str:
    """Flatten pydantic's error list into one readable line: ``where: what; ...``."""
    parts = []
    for e in err.errors(include_url=False):
        loc = ".".join(str(p) for p in e["loc"]) or "<message>"
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def validate_message(data: bytes | str | Mapping[str, Any]) -> BatchResult:
    """Parse and check one results-topic message; raise ContractError saying what is wrong."""
    try:
        if isinstance(data, bytes | bytearray | memoryview | str):
            return BatchResult.model_validate_json(data)
        if isinstance(data, Mapping):
            return BatchResult.model_validate(dict(data))
    except ValidationError as err:
        raise ContractError(f"invalid {SCHEMA_ID} message: {_describe(err)}") from None
    raise ContractError(
        f"invalid {SCHEMA_ID} message: expected bytes, str or a mapping, got {type(data).__name__}"
    )


def merge_histograms(
    a: Histogram | Mapping[str, Any], b: Histogram | Mapping[str, Any]
) -> Histogram | dict[str, Any]:
    """Sum two histograms bin by bin (e.g. to accumulate batches in the API).

    Returns a Histogram when both inputs are Histograms, else the wire dict, so callers keep
    working in whichever form they hold. Different edges cannot be summed meaningfully, so
    they raise ContractError rather than being rebinned silently.
    """
    both_models = isinstance(a, Histogram) and isinstance(b, Histogram)
    try:
        ha = a if isinstance(a, Histogram) else Histogram.model_validate(dict(a))
        hb = b if isinstance(b, Histogram) else Histogram.model_validate(dict(b))
    except ValidationError as err:
        raise ContractError(f"cannot merge histograms: {_describe(err)}") from None
    if ha.bin_edges != hb.bin_edges:
        raise ContractError(
            f"cannot merge histograms with different bin_edges "
            f"({len(ha.bin_edges)} edges {ha.bin_edges[0]}..{ha.bin_edges[-1]} vs "
            f"{len(hb.bin_edges)} edges {hb.bin_edges[0]}..{hb.bin_edges[-1]})"
        )
    merged = Histogram(
        bin_edges=list(ha.bin_edges),
        bin_counts=[x + y for x, y in zip(ha.bin_counts, hb.bin_counts, strict=True)],
        underflow=ha.underflow + hb.underflow,
        overflow=ha.overflow + hb.overflow,
    )
    return merged if both_models else merged.model_dump(mode="json")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a v1 message, generated from the models."""
    return BatchResult.model_json_schema()


def schema_text() -> str:
    """The exact text committed at ``SCHEMA_FILE`` (stable key order, trailing newline)."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def load_schema_file() -> dict[str, Any]:
    """The JSON Schema shipped inside the package (for non-Python consumers and tests)."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m minidt.contract",
        description=f"Write or check the {SCHEMA_ID} JSON Schema file generated from the models.",
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write-schema", action="store_true", help=f"rewrite {SCHEMA_FILE.name}")
    group.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    if args.write_schema:
        SCHEMA_FILE.parent.mkdir(parents=True, exist_ok=True)
        SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
        print(f"wrote {SCHEMA_FILE}")
        return 0
    if not SCHEMA_FILE.exists() or load_schema_file() != json_schema():
        print(
            f"error: {SCHEMA_FILE} is stale; run python -m minidt.contract --write-schema",
            file=sys.stderr,
        )
        return 1
    print(f"{SCHEMA_FILE} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
