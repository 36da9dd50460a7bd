"""The numpy reference against (a) the numbers known for the real sample, (b) a second,
deliberately naive implementation below (plain Python loops over rows, written from the
definitions in detector.md without looking at the numpy code), and (c) hand-made batches
for the cases earlier implementations got wrong."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidt.codecs import Hits, parse_csv
from minidt.contract import validate_message
from minidt.reference import QUANTITY_FIELDS, compute_quantities, reference_message

T0 = {0: 95.0 - 1.1, 1: 95.0 + 6.4, 2: 95.0 + 0.5, 3: 95.0 - 2.6}


def naive_histogram(values: list[float], edges: list[float]) -> dict:
    counts = [0] * (len(edges) - 1)
    under = over = 0
    for v in values:
        if v < edges[0]:
            under += 1
            continue
        for i in range(len(counts)):
            if edges[i] <= v < edges[i + 1]:
                counts[i] += 1
                break
        else:
            over += 1
    return {"bin_edges": edges, "bin_counts": counts, "underflow": under, "overflow": over}


def naive_quantities(rows: list[tuple]) -> dict:
    """Row-by-row Python version of the six quantities."""
    occ_edges = [
        [float(x) for x in range(0, 65)],
        [float(x) for x in range(64, 129)],
        [float(x) for x in range(0, 65)],
        [float(x) for x in range(64, 129)],
    ]
    mult_edges = [float(x) for x in range(1, 66)]
    drift_edges = [-200.0 + 5.0 * i for i in range(201)]

    hits = [r for r in rows if r[0] == 2]
    orbits = set()
    per_chamber = {c: [] for c in range(4)}  # (orbit, channel, bx, tdc)
    earliest_scint = {}  # orbit -> (time in orbit, bx, tdc)
    scint_hits = 0
    for _head, fpga, channel, orbit, bx, tdc in hits:
        orbits.add(orbit)
        if fpga == 1 and channel == 128:
            scint_hits += 1
            key = bx * 30 + tdc
            if orbit not in earliest_scint or key < earliest_scint[orbit][0]:
                earliest_scint[orbit] = (key, bx, tdc)
            continue
        if fpga in (0, 1) and 0 <= channel <= 127:
            chamber = fpga * 2 + (1 if channel >= 64 else 0)
            per_chamber[chamber].append((orbit, channel, bx, tdc))

    result = {
        "hits": len(hits),
        "hits_per_chamber": [len(per_chamber[c]) for c in range(4)],
        "scintillator_hits": scint_hits,
        "orbits": len(orbits),
        "scintillator_orbits": len(earliest_scint),
        "occupancy": [],
        "orbit_multiplicity": [],
        "scint_occupancy": [],
        "drift_time_ns": [],
    }
    for c in range(4):
        channels_by_orbit = defaultdict(set)
        tagged_channels, drifts = [], []
        for orbit, channel, bx, tdc in per_chamber[c]:
            channels_by_orbit[orbit].add(channel)
            if orbit in earliest_scint:
                _, sbx, stdc = earliest_scint[orbit]
                tagged_channels.append(channel)
                drifts.append(25 * (bx - sbx) + (tdc - stdc) * 25 / 30 + T0[c])
        channels = [ch for _, ch, _, _ in per_chamber[c]]
        multiplicities = [len(s) for s in channels_by_orbit.values()]
        result["occupancy"].append(naive_histogram(channels, occ_edges[c]))
        result["orbit_multiplicity"].append(naive_histogram(multiplicities, mult_edges))
        result["scint_occupancy"].append(naive_histogram(tagged_channels, occ_edges[c]))
        result["drift_time_ns"].append(naive_histogram(drifts, drift_edges))
    return result


def quantities(rows: list[tuple]) -> dict:
    return compute_quantities(Hits.from_rows(rows))


# ------------------------------------------------------------------------------ real sample


def test_sample_known_numbers(sample_bytes: bytes) -> None:
    parsed = parse_csv(sample_bytes)
    assert parsed.rows == 500
    q = compute_quantities(parsed.hits)
    assert set(q) == set(QUANTITY_FIELDS)
    assert q["hits"] == 248
    assert q["hits_per_chamber"] == [35, 89, 43, 80]
    assert q["orbits"] == 153
    assert q["scintillator_hits"] == 0
    assert q["scintillator_orbits"] == 0
    for c in range(4):
        assert sum(q["occupancy"][c]["bin_counts"]) == q["hits_per_chamber"][c]
        assert sum(q["scint_occupancy"][c]["bin_counts"]) == 0
        assert sum(q["drift_time_ns"][c]["bin_counts"]) == 0


def test_sample_matches_naive_implementation(sample_bytes: bytes) -> None:
    parsed = parse_csv(sample_bytes)
    assert compute_quantities(parsed.hits) == naive_quantities(parsed.hits.rows())


def test_sample_with_synthetic_scintillator_matches_naive(sample_bytes: bytes) -> None:
    """The sample has no scintillator hit; add some to orbits that have chamber hits."""
    rows = parse_csv(sample_bytes).hits.rows()
    orbits = sorted({r[3] for r in rows if r[0] == 2})[::7]
    extra = [(2, 1, 128, o, 1000 + i % 50, float(i % 30)) for i, o in enumerate(orbits)]
    extra += [(2, 1, 128, o, 900, 3.0) for o in orbits[::3]]  # second, earlier scintillator
    rows = rows + extra
    q = quantities(rows)
    assert q == naive_quantities(rows)
    assert q["scintillator_orbits"] == len(orbits)
    assert q["scintillator_hits"] == len(extra)


hit_rows = st.lists(
    st.tuples(
        st.sampled_from([2, 2, 2, 0, 1, 4]),
        st.sampled_from([0, 1, 1, 2]),
        st.one_of(st.integers(0, 127), st.just(128), st.just(138)),
        st.sampled_from([0, 1, 7, 2**32 + 1, 3_387_200_947]),
        st.integers(0, 3563),
        st.integers(0, 30).map(float),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(hit_rows)
def test_random_batches_match_naive_implementation(rows: list[tuple]) -> None:
    assert quantities(rows) == naive_quantities(rows)


# ------------------------------------------------------------------------------ hand-made


def test_two_scintillators_in_one_orbit_earliest_wins_no_duplication() -> None:
    rows = [
        (2, 1, 128, 50, 110, 10.0),  # later scintillator
        (2, 1, 128, 50, 100, 20.0),  # earliest: bx 100, tdc 20
        (2, 0, 5, 50, 104, 8.0),  # chamber 0 hit
        (2, 1, 70, 50, 103, 2.0),  # chamber 3 hit
    ]
    q = quantities(rows)
    assert q["scintillator_hits"] == 2
    assert q["scintillator_orbits"] == 1
    assert q["orbits"] == 1
    drift0 = q["drift_time_ns"][0]
    assert sum(drift0["bin_counts"]) == 1  # one drift time per hit, not one per scintillator
    expected0 = 25 * 4 + (8 - 20) * 25 / 30 + 93.9  # 183.9
    bin0 = drift0["bin_counts"].index(1)
    assert drift0["bin_edges"][bin0] <= expected0 < drift0["bin_edges"][bin0 + 1]
    expected3 = 25 * 3 + (2 - 20) * 25 / 30 + 92.4  # 152.4
    drift3 = q["drift_time_ns"][3]
    bin3 = drift3["bin_counts"].index(1)
    assert drift3["bin_edges"][bin3] <= expected3 < drift3["bin_edges"][bin3 + 1]
    assert q["scint_occupancy"][0]["bin_counts"][5] == 1
    assert q["scint_occupancy"][3]["bin_counts"][70 - 64] == 1


def test_earliest_scintillator_is_by_time_not_row_order_or_tdc_alone() -> None:
    rows = [
        (2, 1, 128, 9, 200, 1.0),
        (2, 1, 128, 9, 199, 29.0),  # earlier: 199 * 30 + 29 < 200 * 30 + 1
        (2, 0, 0, 9, 199, 29.0),
    ]
    q = quantities(rows)
    drift = q["drift_time_ns"][0]
    # Same time as the earliest scintillator: drift = T0[0] = 93.9 -> bin [90, 95)
    assert drift["bin_counts"][drift["bin_edges"].index(90.0)] == 1


@pytest.mark.parametrize(("fpga", "channel"), [(0, 128), (0, 138), (1, 138)])
def test_channels_above_127_are_neither_chamber_nor_scintillator(fpga: int, channel: int) -> None:
    q = quantities([(2, fpga, channel, 1, 10, 5.0), (2, 0, 3, 1, 12, 5.0)])
    assert q["hits"] == 2
    assert q["hits_per_chamber"] == [1, 0, 0, 0]
    assert q["scintillator_hits"] == 0 and q["scintillator_orbits"] == 0


@pytest.mark.parametrize("fpga", range(2, 8))
def test_fpga_2_to_7_is_neither(fpga: int) -> None:
    q = quantities([(2, fpga, 128, 1, 10, 5.0), (2, fpga, 5, 1, 10, 5.0)])
    assert q["hits"] == 2
    assert q["hits_per_chamber"] == [0, 0, 0, 0]
    assert q["scintillator_hits"] == 0


def test_chamber_without_hits_is_present_with_zeros() -> None:
    q = quantities([(2, 0, 3, 1, 10, 5.0), (1, 1, 70, 1, 10, 5.0)])  # HEAD 1: not a hit
    assert q["hits_per_chamber"] == [1, 0, 0, 0]
    for name in ("occupancy", "orbit_multiplicity", "scint_occupancy", "drift_time_ns"):
        assert len(q[name]) == 4
        for c in (1, 2, 3):
            h = q[name][c]
            assert len(h["bin_counts"]) == len(h["bin_edges"]) - 1
            assert sum(h["bin_counts"]) == h["underflow"] == h["overflow"] == 0


def test_empty_batch() -> None:
    q = compute_quantities(Hits.empty())
    assert q["hits"] == q["orbits"] == 0
    assert q["hits_per_chamber"] == [0, 0, 0, 0]
    assert q == naive_quantities([])


def test_orbit_counter_beyond_32_bits_stays_distinct() -> None:
    big = 2**32 + 5
    rows = [(2, 0, 1, 5, 10, 5.0), (2, 0, 1, big, 10, 5.0), (2, 0, 2, big, 11, 5.0)]
    q = quantities(rows)
    assert q["orbits"] == 2
    mult = q["orbit_multiplicity"][0]
    assert mult["bin_counts"][0] == 1  # orbit 5: one channel
    assert mult["bin_counts"][1] == 1  # orbit 2**32 + 5: two distinct channels


def test_orbit_multiplicity_counts_distinct_channels() -> None:
    rows = [(2, 0, 7, 3, bx, 1.0) for bx in range(5)]  # one channel firing five times
    rows += [(2, 0, 8, 3, 1, 1.0)]
    q = quantities(rows)
    assert q["orbit_multiplicity"][0]["bin_counts"][:3] == [0, 1, 0]  # 2 distinct channels
    assert q["occupancy"][0]["bin_counts"][7] == 5


# ------------------------------------------------------------------------------ message


def test_reference_message_is_valid_contract(sample_bytes: bytes) -> None:
    parsed = parse_csv(sample_bytes)
    message = reference_message(
        parsed.hits,
        query_id="q-1",
        batch_id=3,
        input_rows=parsed.rows,
        malformed=parsed.malformed,
        first_ts_ms=1795461276000,
        last_ts_ms=1795461276942,
        emitted_at_ms=1795461277000,
    )
    assert message["schema"] == "dtmon.batch.v1"
    assert message["input"] == {
        "rows": 500,
        "malformed": 0,
        "first_ts_ms": 1795461276000,
        "last_ts_ms": 1795461276942,
    }
    result = validate_message(message)
    assert result.hits == 248 and result.hits_per_chamber == [35, 89, 43, 80]
