"""PaneSplitter and HoppingWindow: pane closes independent of batching, exact merges."""

import math
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.settings import WindowSettings
from monitor.stats.categorical import CategoricalBins
from monitor.stats.columns import ColumnLayout
from monitor.stats.numeric import NumericBins
from monitor.stats.window import HoppingWindow, PaneSplitter, Segment, WindowSummary

PROPERTY = settings(max_examples=60, derandomize=True, deadline=None, database=None)


def _cut(n: int, data: st.DataObject) -> list[tuple[int, int]]:
    """Random batch boundaries over ``n`` events (empty batches included)."""
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=8), label="cuts"))
    return list(zip([0, *cuts], [*cuts, n], strict=True))


def _tokens(splitter: PaneSplitter, ts: np.ndarray, batches: list[tuple[int, int]]) -> str:
    """The stream as the splitter cuts it: ``E`` per event, ``C`` per pane close."""
    out = []
    for start, stop in batches:
        segments: list[Segment] = splitter.split(ts[start:stop])
        position = 0
        for first, last, closes in segments:
            assert first == position  # segments tile the batch, in order
            assert last >= first
            position = last
            out.append("E" * (last - first) + "C" * closes)
        assert position == stop - start
    return "".join(out)


@PROPERTY
@given(hop=st.integers(1, 7), panes=st.integers(1, 4), n=st.integers(0, 60), data=st.data())
def test_count_panes_close_every_hop_events_whatever_the_batches(
    hop: int, panes: int, n: int, data: st.DataObject
) -> None:
    splitter = PaneSplitter(WindowSettings(size=hop * panes, hop=hop, min_events=1))
    tokens = _tokens(splitter, np.zeros(n), _cut(n, data))
    assert tokens == ("E" * hop + "C") * (n // hop) + "E" * (n % hop)
    assert splitter.filled == n % hop
    assert splitter.late == 0


def _time_model(ts: list[float], hop: float, limit: int) -> tuple[str, int]:
    """Event-time panes one event at a time: a late event joins the open pane."""
    tokens, late, pane = [], 0, None
    for t in ts:
        raw = math.floor(t / hop)
        if pane is None:
            pane = raw
        if raw > pane:
            tokens.append("C" * min(raw - pane, limit))
            pane = raw
        elif raw < pane:
            late += 1
        tokens.append("E")
    return "".join(tokens), late


TIMES = st.lists(
    st.one_of(
        st.integers(-3, 12).map(float),  # late events and small steps
        st.integers(13, 400).map(float),  # gaps of many panes
        st.floats(0.0, 50.0, allow_nan=False),
    ),
    max_size=40,
).map(lambda steps: list(np.cumsum(steps) - np.arange(len(steps)) * 5.0))


@PROPERTY
@given(ts=TIMES, hop=st.sampled_from([1.0, 2.5, 10.0]), panes=st.integers(1, 4), data=st.data())
def test_time_panes_do_not_depend_on_the_batches(
    ts: list[float], hop: float, panes: int, data: st.DataObject
) -> None:
    window = WindowSettings(kind="time", size=hop * panes, hop=hop, min_events=1)
    values = np.array(ts, dtype=np.float64)
    expected, late = _time_model(ts, hop, panes)
    whole = PaneSplitter(window)
    assert _tokens(whole, values, [(0, len(ts))]) == expected
    batched = PaneSplitter(window)
    assert _tokens(batched, values, _cut(len(ts), data)) == expected
    assert whole.late == batched.late == late


def test_time_panes_with_gaps_and_late_events_by_hand() -> None:
    splitter = PaneSplitter(WindowSettings(kind="time", size=30, hop=10, min_events=1))
    ts = np.array([1.0, 5.0, 12.0, 3.0, 45.0, 200.0, 201.0, 150.0, 210.0])
    # panes 0 0 | 1 1(late) | 4 (skips 2, 3) | 20 (a gap longer than a window: 3 closes
    # are enough to empty it) 20 20(late) | 21
    assert _tokens(splitter, ts, [(0, 2), (2, 5), (5, 9)]) == "EECEECCCECCCEEECE"
    assert splitter.late == 2
    assert splitter.pane == 21


def test_time_splitter_of_the_docstring() -> None:
    timed = PaneSplitter(WindowSettings(kind="time", size=20, hop=10, min_events=1))
    assert timed.split(np.array([1.0, 5.0, 12.0, 3.0, 45.0])) == [(0, 2, 1), (2, 4, 2), (4, 5, 0)]
    assert timed.split(np.array([61.0])) == [(0, 0, 2), (0, 1, 0)]
    assert timed.split(np.array([])) == []
    assert timed.late == 1


def test_hopping_window_returns_the_last_panes_once_full() -> None:
    window: HoppingWindow[Counter[str]] = HoppingWindow(panes=3)
    panes = [Counter(n=n) for n in (1, 2, 4, 8)]
    merged = [window.push(p) for p in panes]
    assert merged[:2] == [None, None]
    assert merged[2] == Counter(n=7)
    assert merged[3] == Counter(n=14)
    assert [p["n"] for p in panes] == [1, 2, 4, 8]  # the panes are left alone


FEATURES = ColumnLayout(
    NumericBins(("x",), (np.array([-1.0, 0.0, 1.0]),), np.array([-3.0]), np.array([3.0])),
    CategoricalBins(("c",), (("a", "b"),), ("string",)),
)
PREDICTION = ColumnLayout(
    NumericBins(("prediction",), (np.array([0.5]),), np.zeros(1), np.ones(1)),
    CategoricalBins((), (), ()),
)
EVENT = st.tuples(
    st.fixed_dictionaries(
        {},
        optional={
            "x": st.one_of(st.floats(-5.0, 5.0), st.none(), st.just("oops")),
            "c": st.sampled_from(["a", "b", "z", None]),
        },
    ),
    st.one_of(st.floats(0.0, 1.0), st.none()),
)


def assert_same(actual: WindowSummary, expected: WindowSummary) -> None:
    """Equal states; the moments to a tight tolerance."""
    got, want = actual.to_dict(), expected.to_dict()
    for state in (got, want):
        state["moments"] = [
            state[part]["numeric"].pop(name)
            for part in ("features", "prediction")
            for name in ("mean", "m2")
        ]
    np.testing.assert_allclose(
        np.array(got.pop("moments"), dtype=float),
        np.array(want.pop("moments"), dtype=float),
        rtol=1e-9,
        atol=1e-9,
    )
    assert got == want


@PROPERTY
@given(
    events=st.lists(EVENT, max_size=40),
    hop=st.integers(1, 5),
    panes=st.integers(1, 3),
    data=st.data(),
)
def test_merged_panes_equal_the_summary_of_the_window_events(
    events: list[tuple[dict[str, Any], Any]], hop: int, panes: int, data: st.DataObject
) -> None:
    ts = [float(i) + (0.5 if i % 3 == 0 else 0.0) for i in range(len(events))]
    splitter = PaneSplitter(WindowSettings(size=hop * panes, hop=hop, min_events=1))
    windows: HoppingWindow[WindowSummary] = HoppingWindow(panes)
    pane, closed = WindowSummary(FEATURES, PREDICTION), []
    for start, stop in _cut(len(events), data):
        offsets = splitter.split(np.array(ts[start:stop]))
        for first, last, closes in offsets:
            chunk = events[start + first : start + last]
            pane.update(
                [e[0] for e in chunk], [e[1] for e in chunk], ts[start + first : start + last]
            )
            for _ in range(closes):
                merged = windows.push(pane)
                pane = WindowSummary(FEATURES, PREDICTION)
                if merged is not None:
                    closed.append(merged)

    assert len(closed) == max(len(events) // hop - panes + 1, 0)
    for k, merged in enumerate(closed):
        inside = slice(k * hop, k * hop + hop * panes)
        direct = WindowSummary(FEATURES, PREDICTION)
        chunk = events[inside]
        direct.update([e[0] for e in chunk], [e[1] for e in chunk], ts[inside])
        assert_same(merged, direct)
        assert merged.events == hop * panes
        assert merged.start == min(ts[inside])
        assert merged.end == ts[inside][-1]


def test_window_end_is_the_last_event_processed() -> None:
    summary = WindowSummary(FEATURES, None)
    summary.update([{"x": 0.0}] * 3, [None] * 3, [10.0, 30.0, 20.0])  # the last one is late
    assert (summary.start, summary.end, summary.events) == (10.0, 20.0, 3)
    other = WindowSummary(FEATURES, None)
    summary += other  # an empty pane moves nothing
    assert (summary.start, summary.end, summary.events) == (10.0, 20.0, 3)


def test_window_summary_round_trips() -> None:
    summary = WindowSummary(FEATURES, PREDICTION)
    empty = WindowSummary.from_dict(FEATURES, PREDICTION, summary.to_dict())
    assert empty.to_dict() == summary.to_dict()
    assert (empty.start, empty.end) == (math.inf, -math.inf)
    summary.update([{"x": 0.3, "c": "z"}, {"x": "oops"}], [0.2, None], [5.0, 6.0])
    restored = WindowSummary.from_dict(FEATURES, PREDICTION, summary.to_dict())
    assert restored.to_dict() == summary.to_dict()
    assert (restored.start, restored.end, restored.events) == (5.0, 6.0, 2)


@pytest.mark.parametrize(("size", "hop"), [(4, 2), (6, 3), (5, 5)])
def test_splitter_of_count_windows_cuts_at_hop(size: int, hop: int) -> None:
    splitter = PaneSplitter(WindowSettings(size=size, hop=hop, min_events=1))
    assert splitter.split(np.zeros(hop + 1)) == [(0, hop, 1), (hop, hop + 1, 0)]
    assert splitter.split(np.zeros(hop - 1)) == [(0, hop - 1, 1)]
