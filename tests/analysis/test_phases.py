"""fit_transition against known smooth steps (exact shapes, noise, free levels)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import betainc

from companion.analysis import fit_transition


def _step(t: np.ndarray, t0: float, d: float, a: float, b: float, lf: float, lt: float):
    return lf + (lt - lf) * betainc(a, b, np.clip((t - t0) / d, 0.0, 1.0))


# Fixed examples even in the random "dev" profile: random draws miss the tolerance now and
# then (explore profile, seed 1: t0=3.4375, d=0.4375, ab=(2, 2), lt=15, seed=967 fits the
# end 0.114 s late against 0.071; ~0.2 % of uniform draws), an open fit_transition item
# (docs/testing.md), not something a developer's unrelated run should trip over.
@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    t0=st.floats(1.0, 4.0),
    d=st.floats(0.4, 4.0),
    ab=st.sampled_from([(3.0, 3.0), (2.0, 2.0), (4.5, 4.5), (2.0, 1.5), (3.0, 1.25), (1.5, 3.0)]),
    # both signs, |lt| >= 15, without a filter (it threw away a third of the draws)
    lt=st.one_of(st.floats(-40.0, -15.0), st.floats(15.0, 40.0)),
    seed=st.integers(0, 2**32 - 1),
)
def test_recovers_onset_and_end_of_a_noisy_step(t0, d, ab, lt, seed) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, t0 + d + 1.5, 0.01)
    y = _step(t, t0, d, *ab, 0.0, lt) + rng.normal(0.0, 0.2, t.size)
    b, e, lvl = fit_transition(t, y, level_from=0.0, level_to=lt)
    # 0.2 deg noise on a >= 15 deg step: boundaries within 0.04 s + 7 % of the duration
    # (neighbouring
    # shapes of the dictionary trade onset against duration a little: the scipy
    # least-squares version this replaced reached 5.5 % at worst on such steps).
    tol = 0.04 + 0.07 * d
    assert b == pytest.approx(t0, abs=tol)
    assert e == pytest.approx(t0 + d, abs=tol)
    assert lvl == lt


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    d=st.floats(0.8, 3.5),
    lt_true=st.floats(-40.0, -20.0),
    guess_err=st.floats(-3.0, 3.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_free_end_level_is_fitted(d, lt_true, guess_err, seed) -> None:
    rng = np.random.default_rng(seed)
    t0 = 1.0
    t = np.arange(0.0, t0 + d + 1.0, 0.01)
    y = _step(t, t0, d, 3.0, 3.0, 5.0, lt_true) + rng.normal(0.0, 0.1, t.size)
    b, e, lvl = fit_transition(t, y, level_from=5.0, level_to=lt_true + guess_err, free="to")
    assert lvl == pytest.approx(lt_true, abs=0.3)
    tol = 0.04 + 0.07 * d  # as above
    assert b == pytest.approx(t0, abs=tol)
    assert e == pytest.approx(t0 + d, abs=tol)


def test_both_levels_free_and_nan_samples_ignored() -> None:
    t = np.arange(0.0, 6.0, 0.01)
    y = _step(t, 2.0, 2.0, 3.0, 3.0, 20.0, 4.0)
    y[100:110] = np.nan
    b, e, lvl = fit_transition(t, y, level_from=18.0, level_to=6.0, free="both")
    assert (b, e, lvl) == pytest.approx((2.0, 4.0, 4.0), abs=0.02)


def test_degenerate_inputs() -> None:
    t = np.arange(0.0, 1.0, 0.01)
    b, e, lvl = fit_transition(t, np.zeros_like(t), level_from=1.0, level_to=1.0)
    assert b == e == pytest.approx(0.5)
    assert lvl == 1.0
    assert all(map(math.isnan, fit_transition(t, t, level_from=math.nan, level_to=1.0)))
    with pytest.raises(ValueError, match="free"):
        fit_transition(t, t, level_from=0.0, level_to=1.0, free="middle")
