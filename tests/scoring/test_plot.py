"""The PNG report renders for every kind of document (picture content is checked by eye:
docs/screenshots/score-*.png)."""

from __future__ import annotations

import numpy as np
import pytest

from companion.scoring import load_builtin_preset
from companion.scoring.plot import MAX_TRACE_POINTS, _decimate, render_png
from companion.scoring.score import score_analysis
from tests.scoring.fakes import make_hold, make_sets, result

PNG = b"\x89PNG\r\n\x1a\n"


def _png_ok(path):
    data = path.read_bytes()
    assert data[:8] == PNG
    assert len(data) > 10_000


def test_reps_with_trace(tmp_path):
    reps = make_sets(3, 8, lower_s=lambda s, i: 3.0 - s, hold_s=lambda s, i: 1.0 - 0.4 * s)
    t = np.arange(0, reps[-1].t_end_s + 5, 0.01)
    channels = {"t_s": t, "ankle_sagittal_deg": -20 * (1 - np.cos(t))}
    doc = score_analysis({"left": result(reps, channels=channels)}, load_builtin_preset("seed"))
    out = render_png(doc, tmp_path / "reps.png", channels=channels)
    _png_ok(out)


def test_stretch_only_no_channels_and_default_plan(tmp_path):
    holds = [make_hold(t0=0, bouncing=True, n_bounces=5), make_hold(t0=40, knee_in=True)]
    doc = score_analysis({"right": result([], holds)}, None)
    _png_ok(render_png(doc, tmp_path / "stretch.png", side="right"))


def test_long_session_many_reps(tmp_path):
    reps = make_sets(8, 60, lower_s=2.0)
    doc = score_analysis({"left": result(reps)}, load_builtin_preset("seed"))
    _png_ok(render_png(doc, tmp_path / "long.png"))


@pytest.mark.parametrize("n", [10, MAX_TRACE_POINTS + 1, 10 * MAX_TRACE_POINTS])
def test_decimation_keeps_extremes(n):
    rng = np.random.default_rng(n)
    t = np.arange(n, dtype=float)
    y = rng.normal(size=n)
    tt, yy = _decimate(t, y)
    assert len(tt) <= max(n, MAX_TRACE_POINTS)
    assert np.nanmax(yy) == y.max()
    assert np.nanmin(yy) == y.min()
    assert np.all(np.diff(tt) >= 0)
