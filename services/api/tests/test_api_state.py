"""BatchStore semantics without a broker: history, duplicates, queries, window, cumulative.

Cumulative and window histograms are checked against `minidt.reference` run on the union of
the batches' hits (simulator windows never share an orbit, so per-batch sums must equal it).
"""

from __future__ import annotations

import copy

import pytest

from dtmon_api.state import HISTOGRAM_FIELDS, BatchStore, Outcome
from dtmon_api.views import View, summary_of
from minidt.codecs import Hits
from minidt.contract import validate_message
from minidt.reference import compute_quantities

LATER_MS = 1_795_000_600_000
"""Ten minutes after conftest.BASE_MS: the first emission of a newer processor run."""


def _store(history: int = 10, window_s: float = 3.0) -> BatchStore:
    return BatchStore(history=history, window_seconds=window_s, max_window_batches=1000)


def _apply_all(store: BatchStore, batches) -> list[Outcome]:
    return [store.apply(validate_message(b.message)).outcome for b in batches]


def _histograms(summary) -> dict:
    return {name: [h.model_dump() for h in getattr(summary, name)] for name in HISTOGRAM_FIELDS}


def test_cumulative_equals_reference_on_all_hits(make_batches) -> None:
    batches = make_batches(6)
    store = _store()
    assert _apply_all(store, batches) == [Outcome.APPLIED] * 6
    summary = summary_of(View.cumulative, store, 3.0)
    expected = compute_quantities(Hits.concat([b.hits for b in batches]))
    assert summary.batches == 6
    assert (summary.first_batch_id, summary.last_batch_id) == (0, 5)
    assert summary.hits == expected["hits"] > 0
    assert summary.hits_per_chamber == expected["hits_per_chamber"]
    assert summary.scintillator_hits == expected["scintillator_hits"]
    assert summary.orbits == expected["orbits"]
    assert _histograms(summary) == {name: expected[name] for name in HISTOGRAM_FIELDS}
    assert summary.input_rows == sum(b.message["input"]["rows"] for b in batches)
    assert summary.malformed == sum(b.message["input"]["malformed"] for b in batches)


def test_window_keeps_the_last_seconds_by_emitted_time(make_batches) -> None:
    batches = make_batches(8)  # emitted 1 s apart
    store = _store(window_s=3.0)
    _apply_all(store, batches)
    summary = summary_of(View.window, store, 3.0)
    # (newest - 3 s, newest]: the last three batches.
    assert (summary.batches, summary.first_batch_id, summary.last_batch_id) == (3, 5, 7)
    expected = compute_quantities(Hits.concat([b.hits for b in batches[5:]]))
    assert _histograms(summary) == {name: expected[name] for name in HISTOGRAM_FIELDS}
    latest = summary_of(View.latest, store, 3.0)
    assert latest.batches == 1 and latest.last_batch_id == 7
    assert latest.hits == batches[7].message["hits"]


def test_history_is_bounded_and_newest_last(make_batches) -> None:
    store = _store(history=4)
    _apply_all(store, make_batches(7))
    assert [s.result.batch_id for s in store.recent(100)] == [3, 4, 5, 6]
    assert [s.result.batch_id for s in store.recent(2)] == [5, 6]
    assert store.get(2) is None and store.get(5) is not None
    assert store.cumulative().batches == 7  # sums are not limited by the history


def test_duplicate_is_applied_once(make_batches) -> None:
    batches = make_batches(3)
    store = _store()
    _apply_all(store, batches)
    again = copy.deepcopy(batches[1].message)
    again["emitted_at_ms"] += 5000  # a re-run of the same micro-batch after a restart
    res = store.apply(validate_message(again))
    assert res.outcome is Outcome.DUPLICATE
    assert store.cumulative().batches == 3
    assert store.stats().duplicates == 1


def test_new_query_restarts_views_and_old_query_becomes_stale(make_batches) -> None:
    store = _store()
    _apply_all(store, make_batches(3, query_id="old"))
    new = make_batches(2, query_id="new", seed=99, base_ms=LATER_MS)
    res = store.apply(validate_message(new[0].message))
    assert res.outcome is Outcome.APPLIED and res.new_query
    assert store.current_query_id == "new"
    _apply_all(store, new[1:])
    cumulative = summary_of(View.cumulative, store, 3.0)
    assert (cumulative.query_id, cumulative.batches) == ("new", 2)
    # batch 1 exists in both queries: REST's batch_id refers to the current one.
    assert store.get(1).result.query_id == "new"
    assert store.get(1, "old").result.query_id == "old"
    late = make_batches(4, query_id="old")[3]
    assert store.apply(validate_message(late.message)).outcome is Outcome.STALE_QUERY


def test_histograms_with_other_edges_are_rejected_with_a_clear_reason(make_batches) -> None:
    store = _store()
    first, second = make_batches(2)
    store.apply(validate_message(first.message))
    msg = copy.deepcopy(second.message)
    for h in msg["drift_time_ns"]:
        h["bin_edges"] = [e + 1.0 for e in h["bin_edges"]]
    res = store.apply(validate_message(msg))
    assert res.outcome is Outcome.INCOMPATIBLE
    assert "drift_time_ns[0]" in res.reason and "bin_edges" in res.reason
    assert store.cumulative().batches == 1


def test_resume_after_last_event_id(make_batches) -> None:
    store = _store(history=10)
    _apply_all(store, make_batches(5, query_id="qa"))
    after = lambda eid: [s.result.batch_id for s in store.after(store.resume_seq(eid))]  # noqa: E731
    assert after("qa:2") == [3, 4]
    assert after("2") == [3, 4]  # bare batch id = current query
    assert after("qa:4") == []
    _apply_all(store, make_batches(2, query_id="qb", seed=3, base_ms=LATER_MS))
    # An id of the superseded query resumes at the start of the current query.
    assert after("qa:4") == [0, 1]
    assert [s.event_id for s in store.after(store.resume_seq("qb:0"))] == ["qb:1"]
    assert after("garbage") == []


@pytest.mark.parametrize("field", ["history", "window_seconds", "max_sse_clients", "max_limit"])
def test_settings_reject_nonsense(field: str) -> None:
    from dtmon_api.settings import Settings

    with pytest.raises(ValueError, match=field):
        Settings(**{field: 0})
