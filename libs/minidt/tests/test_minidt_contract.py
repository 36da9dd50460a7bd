"""Contract tests: the committed JSON Schema is the models' schema, good messages pass, and
every listed kind of bad message is rejected with a readable one-line reason."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from importlib import resources
from typing import Any

import numpy as np
import pytest

from minidt.codecs import Hits, parse_csv
from minidt.contract import (
    SCHEMA_FILE,
    SCHEMA_ID,
    BatchResult,
    ContractError,
    Histogram,
    load_schema_file,
    merge_histograms,
    validate_message,
)
from minidt.reference import reference_message


@pytest.fixture(scope="module")
def good(sample_bytes: bytes) -> dict[str, Any]:
    parsed = parse_csv(sample_bytes)
    # A scintillator in an orbit with chamber hits, so drift/scint totals are non-zero.
    rows = [*parsed.hits.rows(), (2, 1, 128, 3387200947, 2900, 3.0)]
    return reference_message(
        Hits.from_rows(rows),
        query_id="query-1",
        batch_id=17,
        input_rows=len(rows),
        malformed=0,
        first_ts_ms=1795461276000,
        last_ts_ms=1795461276942,
        emitted_at_ms=1795461277001,
    )


def test_committed_schema_file_is_the_models_schema() -> None:
    assert load_schema_file() == BatchResult.model_json_schema()
    shipped = resources.files("minidt").joinpath("schema", f"{SCHEMA_ID}.json")
    assert json.loads(shipped.read_text(encoding="utf-8")) == BatchResult.model_json_schema()
    assert SCHEMA_FILE.name == "dtmon.batch.v1.json"


def test_schema_check_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "minidt.contract", "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "up to date" in proc.stdout
    assert "Warning" not in proc.stderr


def test_well_formed_message_validates_in_every_form(good: dict[str, Any]) -> None:
    assert sum(sum(h["bin_counts"]) for h in good["drift_time_ns"]) > 0
    text = json.dumps(good)
    for form in (good, text, text.encode()):
        result = validate_message(form)
        assert result.schema_id == SCHEMA_ID
        assert result.batch_id == 17
        assert result.model_dump(mode="json") == good
    assert list(good)[:5] == ["schema", "query_id", "batch_id", "emitted_at_ms", "input"]


def test_empty_batch_message_validates() -> None:
    message = reference_message(
        Hits.empty(),
        query_id="q",
        batch_id=0,
        input_rows=0,
        malformed=3,
        first_ts_ms=None,
        last_ts_ms=None,
        emitted_at_ms=1,
    )
    assert validate_message(message).input.first_ts_ms is None


def _broken(good: dict[str, Any], path: tuple, value: Any = ..., delete: bool = False) -> dict:
    msg = copy.deepcopy(good)
    target = msg
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return msg


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda m: m["occupancy"].pop(), "occupancy"),
        (lambda m: m["drift_time_ns"].pop(0), "drift_time_ns"),
        (lambda m: m["hits_per_chamber"].pop(), "hits_per_chamber"),
        (lambda m: m["hits_per_chamber"].append(0), "hits_per_chamber"),
        (lambda m: m["occupancy"][1]["bin_counts"].pop(), "bin_counts"),
        (lambda m: m["drift_time_ns"][2]["bin_edges"].pop(), "bin_edges"),
        (lambda m: m["orbit_multiplicity"][0]["bin_edges"].__setitem__(1, 0.5), "increasing"),
        (lambda m: m["orbit_multiplicity"][0]["bin_edges"].__setitem__(1, 1.0), "increasing"),
        (lambda m: m["occupancy"][0]["bin_counts"].__setitem__(0, -1), "bin_counts"),
        (lambda m: m["occupancy"][0].__setitem__("underflow", -1), "underflow"),
        (lambda m: m.__setitem__("schema", "dtmon.batch.v2"), "schema"),
        (lambda m: m.pop("schema"), "schema"),
        (lambda m: m.__setitem__("extra_field", 1), "extra_field"),
        (lambda m: m["input"].__setitem__("bogus", 1), "bogus"),
        (lambda m: m["occupancy"][0].__setitem__("label", "x"), "label"),
        (lambda m: m.__setitem__("batch_id", "17"), "batch_id"),
        (lambda m: m.__setitem__("hits", True), "hits"),
        (lambda m: m.__setitem__("hits_per_chamber", [1.5, 0, 0, 0]), "hits_per_chamber"),
        (lambda m: m.__setitem__("query_id", ""), "query_id"),
        (lambda m: m["input"].__setitem__("last_ts_ms", None), "both"),
        (lambda m: m["input"].__setitem__("first_ts_ms", 2**60), "after"),
        (lambda m: m.__setitem__("hits", 0), "exceeds hits"),
        (lambda m: m["occupancy"][1]["bin_counts"].__setitem__(0, 10**6), "occupancy[1]"),
        # a duplicated drift time (several scintillators joined to one hit)
        (lambda m: m["drift_time_ns"][0].__setitem__("overflow", 1), "drift_time_ns[0]"),
        (lambda m: m.__setitem__("scintillator_orbits", m["scintillator_hits"] + 1), "scint"),
    ],
)
def test_bad_messages_are_rejected_with_a_reason(good: dict[str, Any], mutate, where: str) -> None:
    msg = copy.deepcopy(good)
    mutate(msg)
    with pytest.raises(ContractError) as info:
        validate_message(msg)
    reason = str(info.value)
    assert "\n" not in reason
    assert reason.startswith(f"invalid {SCHEMA_ID} message: ")
    assert where in reason
    # The same message as JSON text is rejected too.
    with pytest.raises(ContractError):
        validate_message(json.dumps(msg))


def test_missing_chamber_and_mismatched_bins_named_explicitly(good: dict[str, Any]) -> None:
    msg = _broken(good, ("scint_occupancy",), good["scint_occupancy"][:3])
    with pytest.raises(ContractError, match=r"scint_occupancy: List should have at least 4"):
        validate_message(msg)
    msg = _broken(good, ("occupancy", 2, "bin_counts"), [0] * 10)
    with pytest.raises(ContractError, match=r"occupancy\.2: .*bin_counts has 10 entries"):
        validate_message(msg)


def test_tuples_accepted_numpy_scalars_rejected(good: dict[str, Any]) -> None:
    msg = copy.deepcopy(good)
    msg["hits_per_chamber"] = tuple(msg["hits_per_chamber"])
    assert validate_message(msg).hits_per_chamber == good["hits_per_chamber"]
    msg["hits"] = np.int64(msg["hits"])
    with pytest.raises(ContractError, match="hits"):
        validate_message(msg)


def test_non_json_and_wrong_types_are_contract_errors() -> None:
    assert issubclass(ContractError, ValueError)
    for bad in (b"not json", "{", "[]", b"\xff", 42):
        with pytest.raises(ContractError):
            validate_message(bad)  # type: ignore[arg-type]


def test_merge_histograms() -> None:
    a = {"bin_edges": [0, 1, 2], "bin_counts": [1, 2], "underflow": 1, "overflow": 0}
    b = {"bin_edges": [0.0, 1.0, 2.0], "bin_counts": [3, 4], "underflow": 0, "overflow": 5}
    assert merge_histograms(a, b) == {
        "bin_edges": [0.0, 1.0, 2.0],
        "bin_counts": [4, 6],
        "underflow": 1,
        "overflow": 5,
    }
    merged = merge_histograms(Histogram.model_validate(a), Histogram.model_validate(b))
    assert isinstance(merged, Histogram) and merged.total == 16
    c = {"bin_edges": [0, 1, 3], "bin_counts": [0, 0], "underflow": 0, "overflow": 0}
    with pytest.raises(ContractError, match="different bin_edges"):
        merge_histograms(a, c)
    with pytest.raises(ContractError, match="bin_counts"):
        merge_histograms(a, {"bin_edges": [0, 1], "bin_counts": [], "underflow": 0, "overflow": 0})
