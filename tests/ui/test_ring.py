"""RingBuffer: the view is always the newest rows in order, whatever the chunk sizes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.ui.ring import RingBuffer


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 50),
    sizes=st.lists(st.integers(0, 120), min_size=1, max_size=30),
)
def test_view_is_the_newest_rows_in_time_order(capacity: int, sizes: list[int]) -> None:
    ring = RingBuffer(capacity, 2)
    written = []
    t0 = 0
    for n in sizes:
        t = np.arange(t0, t0 + n, dtype=np.float64)
        t0 += n
        vals = np.stack([t * 2.0, -t], axis=1)
        ring.extend(t, vals)
        written.append(t)
        everything = np.concatenate(written)
        expect = everything[-capacity:]
        got = ring.filled()
        np.testing.assert_array_equal(got[:, 0], expect)
        np.testing.assert_array_equal(got[:, 1], expect * 2.0)
        np.testing.assert_array_equal(got[:, 2], -expect)
        assert len(ring) == min(len(everything), capacity)
        if len(everything):
            assert ring.latest_t_s() == everything[-1]


def test_view_is_a_view_not_a_copy() -> None:
    ring = RingBuffer(4, 1)
    ring.extend(np.arange(7.0), np.zeros((7, 1)))
    v = ring.view()
    assert v.base is not None
    assert v.shape == (4, 2)


def test_unfilled_rows_are_nan_so_they_draw_nothing() -> None:
    ring = RingBuffer(5, 1)
    ring.extend(np.array([1.0, 2.0]), np.array([[3.0], [4.0]]))
    v = ring.view()
    assert np.isnan(v[2:]).all()
    ring.clear()
    assert len(ring) == 0
    assert np.isnan(ring.latest_t_s())


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="capacity"):
        RingBuffer(0, 1)
