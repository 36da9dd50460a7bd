"""Seeded fuzz of the hits stream: 100,000 generated malformed lines mixed with valid ones.

Every malformed line must be counted (not dropped, not crashing the stream) and every valid
line must reach the results, batch by batch equal to the minidt reference. The generator's
claim that each line is malformed is itself checked against the minidt parser first, so a
mutation that happens to be valid cannot hide a miscount. Bounded: one seed, ~1 MB of
input, three micro-batches, about a minute on two loaded cores.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from pyspark.sql import SparkSession

from devstack.kafka import KafkaBroker
from minidt.codecs import CSV_HEADER, parse_csv
from services.processor.tests.test_processor_stream import check_against_reference, run_stream

SEED = 20261129
N_MALFORMED = 100_000
VALID_LINE = "2,0,5,3387200947,100,10.5"
BAD_INTEGERS = ("", "x", "-1", "1.5", "+3", "0x1f", "1e3", "nan", "９", "1 2", "9" * 19, "1\t2")
BAD_TDC = ("", "nan", "inf", "-inf", "1e999", "1.2.3", "--1", "1e", ".", "e5", "x", "1,")
GARBAGE = "abcXYZ!#$%&()*+-./:;<=>?@[]^_{|}~ \t\x00\x7f\u00e9\u2603"


def _mutant(rng: random.Random) -> str:
    """One line that is malformed by construction (see the CSV grammar in minidt.codecs)."""
    fields = VALID_LINE.split(",")
    kind = rng.randrange(7)
    if kind == 0:  # wrong field count
        n = rng.choice([1, 2, 3, 4, 5, 7, 8, 30])
        return ",".join(rng.choice(fields) for _ in range(n))
    if kind == 1:  # a bad integer field
        fields[rng.randrange(5)] = rng.choice(BAD_INTEGERS)
        return ",".join(fields)
    if kind == 2:  # a bad TDC_MEAS
        fields[5] = rng.choice(BAD_TDC)
        return ",".join(fields)
    if kind == 3:  # garbage without a comma, never blank
        return "g" + "".join(rng.choice(GARBAGE) for _ in range(rng.randrange(1, 120)))
    if kind == 4:  # whitespace inside the line
        at = rng.randrange(1, len(VALID_LINE) - 1)
        return VALID_LINE[:at] + rng.choice(" \t\r") + VALID_LINE[at:]
    if kind == 5:  # a header look-alike, or another separator
        return rng.choice([CSV_HEADER.lower(), CSV_HEADER + ",X", VALID_LINE.replace(",", ";")])
    return ",".join(fields) + "," * rng.randrange(1, 4)  # trailing empty fields


def _stream(rng: random.Random) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """(Kafka values, malformed lines, valid lines): lines shuffled, 1-20 per value."""
    from dtmon_producer.sim.simulator import Simulator

    bad = [_mutant(rng).encode() for _ in range(N_MALFORMED)]
    sim = Simulator(seed=SEED)
    good: list[bytes] = []
    while len(good) < N_MALFORMED // 2:
        good.extend(sim.next_lines())
    lines = bad + good
    rng.shuffle(lines)
    values, i = [], 0
    while i < len(lines):
        n = rng.randint(1, 20)
        values.append(b"\n".join(lines[i : i + n]))
        i += n
    return values, bad, good


def test_100k_malformed_lines_are_counted_and_every_valid_line_arrives(
    spark: SparkSession,
    kafka_broker: KafkaBroker,
    make_topic: Callable[..., str],
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    values, bad, good = _stream(rng)
    assert parse_csv(b"\n".join(bad)).malformed == N_MALFORMED, "generator made a valid line"
    expected = parse_csv(b"\n".join(good))
    assert expected.malformed == 0

    from services.processor.tests.processor_helpers import produce

    topic = make_topic(partitions=2)
    produce(kafka_broker.bootstrap_servers, topic, values, [i % 2 for i in range(len(values))])
    per_batch = len(values) // 3 + 1
    qid, messages, batches, metrics = run_stream(
        spark, kafka_broker, topic, tmp_path / "cp", per_batch, "distributed"
    )
    # The valid lines come in random orbit order, unlike a DAQ's: every hit must arrive once,
    # while orbit-level quantities may see an orbit closed twice (see event building).
    check_against_reference(
        kafka_broker, topic, qid, messages, batches, tmp_path / "cp", whole_orbits=False
    )
    assert sum(m["input"]["malformed"] for m in messages) == N_MALFORMED
    assert metrics.malformed._value.get() == N_MALFORMED
    assert sum(m["input"]["rows"] for m in messages) == expected.rows
    # Event building: the hits of orbits still open after the last batch are carried, not lost.
    last = max(messages, key=lambda m: m["batch_id"])
    counted = sum(m["hits"] for m in messages) + last["events"]["carried_out_hits"]
    assert counted == int((expected.hits.head == 2).sum())
