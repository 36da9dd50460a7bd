"""The joined pipeline, end to end: what goes in is what the results API reports.

Input: the shared real sample, then a seeded simulator stream with scintillator hits. Every
batch the API serves must equal the minidt reference on exactly that batch's records (batch
membership from the processor's checkpoint), and the batches together must account for
every HEAD == 2 record sent: none lost, none counted twice.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from devstack.kafka import KafkaBroker
from minidt.codecs import parse_csv
from minidt.reference import QUANTITY_FIELDS, compute_quantities

from .browser import check_cumulative_dashboard
from .pipeline import Pipeline, hits_in
from .prometheus import Prometheus

SIM_SEED = 20261123
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def _sim_lines(tmp_path: Path, pipeline: Pipeline, records: int, seed: int) -> list[str]:
    """What `--source sim --seed S --max-records N` sends, written out by the same producer."""
    out = tmp_path / f"sim-{seed}-{records}.csv"
    pipeline.run_producer(
        "--source", "sim", "--seed", str(seed), "--max-records", str(records), "--output", str(out)
    )
    return [ln for ln in out.read_text().splitlines()[1:] if ln]


def _assert_batches_match_reference(pipeline: Pipeline, batches: list[dict[str, Any]]) -> None:
    """Event building closes each orbit once, whole, in some batch (hits of an orbit cut by a
    batch boundary are carried): every quantity summed over the batches equals the reference
    on everything the batches read."""
    offsets = pipeline.batch_offsets()
    lines = [line for b in batches for line in pipeline.read_lines(offsets[b["batch_id"]])]
    expected = compute_quantities(parse_csv(lines).hits)
    for key in QUANTITY_FIELDS:
        if not isinstance(expected[key], list) or not isinstance(expected[key][0], dict):
            got: Any = np.sum([b[key] for b in batches], axis=0).tolist()
            want: Any = expected[key]
        else:
            got = _summed(batches, key).tolist()
            want = [h["bin_counts"] for h in expected[key]]
        assert got == want, f"{key} summed over batches differs from the minidt reference"


def _summed(batches: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.sum([[h["bin_counts"] for h in b[key]] for b in batches], axis=0)


def test_pipeline_reports_exactly_what_was_sent(
    e2e_broker: KafkaBroker, make_pipeline, sample_file: Path, tmp_path: Path, request
) -> None:
    pipeline = make_pipeline(e2e_broker)
    pipeline.start("processor")
    pipeline.start("api")
    sim = _sim_lines(tmp_path, pipeline, 20_000, SIM_SEED)
    sample = [ln for ln in sample_file.read_text().splitlines()[1:] if ln]

    prometheus = Prometheus(
        tmp_path / "prometheus",
        {
            "producer": f"127.0.0.1:{pipeline.cfg.producer_metrics_port}",
            "processor": f"127.0.0.1:{pipeline.cfg.processor_metrics_port}",
            "api": f"127.0.0.1:{pipeline.cfg.api_port}",
        },
    ).start()
    request.addfinalizer(prometheus.stop)

    pipeline.run_producer("--source", str(sample_file), "--rate", "0")
    # Slow enough that Prometheus scrapes the producer a few times while it streams.
    pipeline.run_producer(
        "--source",
        "sim",
        "--seed",
        str(SIM_SEED),
        "--max-records",
        "20000",
        "--rate",
        "2500",
        metrics=True,
    )

    expected_hits = hits_in(sample) + hits_in(sim)
    batches = pipeline.wait_for_hits(expected_hits)
    ids = [b["batch_id"] for b in batches]
    assert len(ids) == len(set(ids)), "a batch id was served twice"
    assert sum(b["hits"] for b in batches) == expected_hits

    whole = compute_quantities(parse_csv(sample + sim).hits)
    assert (
        np.sum([b["hits_per_chamber"] for b in batches], axis=0).tolist()
        == whole["hits_per_chamber"]
    )
    assert _summed(batches, "occupancy").tolist() == [h["bin_counts"] for h in whole["occupancy"]]
    assert sum(b["scintillator_hits"] for b in batches) == whole["scintillator_hits"] > 0
    _assert_batches_match_reference(pipeline, batches)

    # A real Prometheus scraped all three services and serves their series.
    for job in ("producer", "processor", "api"):
        assert prometheus.value(f'max_over_time(up{{job="{job}"}}[10m])') == 1.0, job
    assert prometheus.value("max_over_time(dtmon_producer_records_total[10m])") > 0
    assert prometheus.wait_for("sum(dtmon_api_hits_consumed_total)", expected_hits) == (
        expected_hits
    )

    cumulative = pipeline.get("/api/v1/summary", view="cumulative")
    assert cumulative["hits"] == expected_hits
    for key in ("occupancy", "orbit_multiplicity", "scint_occupancy", "drift_time_ns"):
        assert [h["bin_counts"] for h in cumulative[key]] == _summed(batches, key).tolist()

    # The dashboard a person looks at shows the same numbers.
    drift = _summed(batches, "drift_time_ns").sum(axis=1).tolist()
    assert sum(drift) > 0, "the simulator stream must fill the drift-time box"
    check_cumulative_dashboard(
        pipeline.api_url + "/",
        whole["hits_per_chamber"],
        drift,
        ARTIFACTS / "dashboard-e2e.png",
    )


def test_kill_9_of_the_processor_loses_and_duplicates_nothing(
    e2e_broker: KafkaBroker, make_pipeline, tmp_path: Path
) -> None:
    pipeline = make_pipeline(e2e_broker)
    pipeline.start("processor")
    pipeline.start("api")
    sim = _sim_lines(tmp_path, pipeline, 40_000, SIM_SEED + 1)
    producer = pipeline.spawn_producer(
        "--source", "sim", "--seed", str(SIM_SEED + 1), "--max-records", "40000", "--rate", "4000"
    )
    time.sleep(5)
    pipeline.kill("processor")
    pipeline.start("processor")
    pipeline.finish_producer(producer)

    batches = pipeline.wait_for_hits(hits_in(sim))
    assert sum(b["hits"] for b in batches) == hits_in(sim)
    _assert_batches_match_reference(pipeline, batches)


def test_broker_restart_mid_stream_loses_and_duplicates_nothing(
    make_pipeline, tmp_path: Path
) -> None:
    broker = KafkaBroker(data_dir=tmp_path / "restart-kafka")
    broker.start()
    try:
        pipeline = make_pipeline(broker)
        pipeline.start("processor")
        pipeline.start("api")
        sim = _sim_lines(tmp_path, pipeline, 40_000, SIM_SEED + 2)
        producer = pipeline.spawn_producer(
            "--source",
            "sim",
            "--seed",
            str(SIM_SEED + 2),
            "--max-records",
            "40000",
            "--rate",
            "4000",
        )
        time.sleep(4)
        broker.restart()
        pipeline.finish_producer(producer)

        batches = pipeline.wait_for_hits(hits_in(sim), timeout=300)
        assert sum(b["hits"] for b in batches) == hits_in(sim)
        _assert_batches_match_reference(pipeline, batches)
    finally:
        pipeline.stop_all()
        broker.stop()
