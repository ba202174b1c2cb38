"""LabelJoin: predictions wait for their labels, bounded in time and in number."""

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.performance.join import LabelJoin, Pending

PROPERTY = settings(max_examples=60, derandomize=True, deadline=None, database=None)


def _pending(ts: float, model: str = "m", prediction: float = 0.5) -> Pending:
    return Pending(model, "1", prediction, ts)


def test_a_label_finds_its_prediction_once() -> None:
    join = LabelJoin(ttl=100.0, max_pending=10)
    join.add(
        zip(["a", "b"], [_pending(0.0, prediction=0.1), _pending(1.0, prediction=0.2)], strict=True)
    )
    found = join.match("b", "m")
    assert found == _pending(1.0, prediction=0.2)
    assert join.match("b", "m") is None  # forgotten once matched
    assert len(join) == 1


def test_label_of_another_model_does_not_match() -> None:
    join = LabelJoin(ttl=100.0, max_pending=10)
    join.add(zip(["a"], [_pending(0.0, model="m")], strict=True))
    assert join.match("a", "other") is None
    assert len(join) == 1


def test_a_wrong_model_label_leaves_the_prediction_waiting() -> None:
    join = LabelJoin(ttl=100.0, max_pending=10)
    join.add(zip(["a"], [_pending(0.0, model="m")], strict=True))
    assert join.match("a", "other") is None
    assert join.match("a", "m") == _pending(0.0, model="m")


def test_ttl_expires_predictions_older_than_now_minus_ttl() -> None:
    join = LabelJoin(ttl=10.0, max_pending=100)
    join.add(zip([str(t) for t in range(6)], [_pending(float(t)) for t in range(6)], strict=True))
    join.expire(now=12.0)  # horizon 2.0: 0 and 1 go, 2 (exactly at the horizon) stays
    assert join.expired == {"m": 2}
    assert len(join) == 4
    assert join.match("1", "m") is None
    assert join.match("2", "m") is not None
    join.expire(now=100.0)
    assert join.expired == {"m": 5}
    assert len(join) == 0


def test_cap_evicts_the_oldest_first() -> None:
    join = LabelJoin(ttl=1e9, max_pending=3)
    join.add(zip(["a", "b"], [_pending(0.0), _pending(1.0)], strict=True))
    join.add(zip(["c", "d", "e"], [_pending(2.0), _pending(3.0), _pending(4.0)], strict=True))
    assert join.evicted == {"m": 2}
    assert len(join) == 3
    assert [join.match(i, "m") is not None for i in "abcde"] == [False, False, True, True, True]


@PROPERTY
@given(
    batches=st.lists(st.integers(0, 20), max_size=10),
    cap=st.integers(1, 30),
)
def test_state_stays_bounded_and_every_prediction_is_counted(batches: list[int], cap: int) -> None:
    join = LabelJoin(ttl=50.0, max_pending=cap)
    added, t = 0, 0.0
    for size in batches:
        ids = [str(added + i) for i in range(size)]
        join.add(zip(ids, [_pending(t + i) for i in range(size)], strict=True))
        added += size
        t += size
        join.expire(now=t)
        assert len(join) <= cap
    assert len(join) + join.evicted.total() + join.expired.total() == added
    # what is left is the newest predictions, in order
    assert all(join.match(str(i), "m") is not None for i in range(added - len(join), added))


def test_dropped_predictions_are_counted_per_model() -> None:
    join = LabelJoin(ttl=10.0, max_pending=3)
    join.add(
        zip(
            "abcd",
            [_pending(0.0, "m"), _pending(1.0, "n"), _pending(20.0, "m"), _pending(21.0, "n")],
            strict=True,
        )
    )
    assert join.evicted == {"m": 1}
    join.expire(now=25.0)
    assert join.expired == {"n": 1}
    assert [join.match(i, m) is not None for i, m in zip("cd", "mn", strict=True)] == [True, True]
