"""Pacing without Kafka: the token bucket, the detector clock behind --speed, and the
progress/log output of a run (structured per-file lines, progress line with rate)."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

from dtmon_producer.rate import ORBIT_S, DetectorClock, TokenBucket, chunk_size
from services.producer.tests.producer_helpers import SAMPLE, run_producer


def test_token_bucket_paces_chunks_to_the_rate_and_stops_on_request() -> None:
    bucket, stop = TokenBucket(20_000), threading.Event()
    t0 = time.monotonic()
    for _ in range(50):
        assert bucket.acquire(200, stop)  # 10,000 tokens at 20,000/s: 0.5 s
    elapsed = time.monotonic() - t0
    assert 0.45 < elapsed < 0.8, elapsed
    stop.set()
    t0 = time.monotonic()
    assert not TokenBucket(1).acquire(1000, stop)  # would wait 1000 s; returns at once
    assert time.monotonic() - t0 < 0.5


def test_chunks_are_about_10_ms_of_traffic_and_whole_messages() -> None:
    assert chunk_size(1_000) == 10
    assert chunk_size(100) == 1
    assert chunk_size(100_000) == 1_000
    assert chunk_size(0) == 5_000
    assert chunk_size(1_000, records_per_message=100) == 100
    assert chunk_size(100_000, records_per_message=64) % 64 == 0


def test_detector_clock_follows_hit_orbits_through_a_counter_reset() -> None:
    clock = DetectorClock()
    assert clock.feed([b"2,0,1,3387200000,5,1", b"3,0,0,3387339394,4353,0"]) == 0.0
    # Ancillary orbits (ahead by 1e5) and malformed lines do not move it; older hits neither.
    assert clock.feed([b"2,1,7,3387200100,5,1", b"2,0,1,3387200050,1,1", b"bad"]) == (100 * ORBIT_S)
    # A reset (row 328 of the real file): time carries on from the new counter.
    clock.feed([b"2,1,11,616958,454,11"])
    assert clock.feed([b"2,1,11,617958,454,11"]) == (100 + 1000) * ORBIT_S


def test_speed_replays_in_detector_time(tmp_path: Path) -> None:
    # 20,000 simulator records span ~4.5 s of detector time; at --speed 4 they take ~1.1 s.
    data = tmp_path / "sim.txt"
    assert run_producer("--source", "sim", "--seed", "5", "--max-records", "20000",
                        "--output", str(data)).returncode == 0  # fmt: skip
    hit_orbits = [int(line.split(b",")[3]) for line in data.read_bytes().splitlines()[1:]
                  if line.startswith(b"2,")]  # fmt: skip
    span = (max(hit_orbits) - min(hit_orbits)) * ORBIT_S
    proc = run_producer("--source", str(data), "--speed", "4", "--output", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    seconds = float(re.search(r"in ([\d.]+) s,", proc.stderr)[1])  # type: ignore[index]
    assert abs(seconds - span / 4) < 0.25 * span / 4 + 0.2, (seconds, span)


def test_json_logs_have_one_line_per_file_and_progress_shows_rate(tmp_path: Path) -> None:
    for name in ("data_000000.txt", "data_000001.txt"):
        (tmp_path / name).write_bytes(SAMPLE.read_bytes())
    proc = run_producer(
        "--source", str(tmp_path / "data_*.txt"), "--rate", "2000", "--output",
        str(tmp_path / "out.csv"), "--log-format", "json", "--progress", "always",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(x) for x in re.findall(r"\{.*\}", proc.stderr)]
    done = [r for r in records if r.get("event") == "input_done"]
    assert [(Path(r["input"]).name, r["records"]) for r in done] == [
        ("data_000000.txt", 500),
        ("data_000001.txt", 500),
    ]
    summary = next(r for r in records if r.get("event") == "summary")
    assert summary["records"] == 1000 and summary["delivery_errors"] == 0
    assert re.search(r"\[#+\.*\] +[\d,]+ rec +[\d,]+ rec/s", proc.stderr) or re.search(
        r"[\d,]+ rec +[\d,]+ rec/s +data_00000\d\.txt", proc.stderr
    )
