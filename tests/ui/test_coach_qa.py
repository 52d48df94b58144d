"""QA regression: the stretch target band before and between holds (live mode drew the calf
raises' plantarflexion band, −45…−20°, during the calibration of a stretch session)."""

from __future__ import annotations

import pytest

from companion.analysis.events import Hold, HoldEnded, HoldStarted
from companion.analysis.settings import DEFAULT_SETTINGS
from companion.sim import simulate
from companion.ui.coach import load_targets
from tests.ui.test_coach import _chunk, _coach


def _targets(scenario: str):
    return load_targets(None, simulate(scenario, duration_s=5.0).plan)[0]


@pytest.mark.parametrize(
    ("scenario", "band"),
    [
        ("stretch-bent", (30.0, 40.0)),  # bent knee: from where the analysis calls it bent
        ("stretch-straight", (16.0, 26.0)),  # straight knee: up to where it calls it straight
    ],
)
def test_stretch_plan_band_is_dorsiflexion_before_the_first_hold(scenario, band) -> None:
    c = _coach([], plan=_targets(scenario).plan)
    c.push(_chunk(2.0))  # calibration: no hold yet
    lo, hi = c.target_band()
    assert (lo, hi) == band
    assert lo > DEFAULT_SETTINGS.hold_min_dorsi_deg  # dorsiflexion is positive


def test_between_holds_the_band_stays_at_the_last_hold() -> None:
    hold = Hold(
        t_start_s=5.0,
        t_end_s=36.0,
        time_in_position_s=29.5,
        peak_angle_deg=34.0,
        mean_angle_deg=32.0,
        n_bounces=0,
        bouncing=False,
        knee_in=False,
        knee_tracking_mean_deg=2.0,
        knee_tracking_min_deg=1.0,
        knee_in_fraction=0.0,
        knee="bent",
        knee_source="inferred",
        shin_inclination_mean_deg=30.0,
    )
    c = _coach([HoldStarted(t_s=5.0, angle_deg=33.0), HoldEnded(t_s=36.5, hold=hold)])
    c.push(_chunk(40.0))
    assert not c.hold_active()
    assert c.target_band() == (28.0, 38.0)


def test_calf_raise_plan_keeps_the_plantarflexion_band() -> None:
    c = _coach([], plan=_targets("calf-raises").plan)
    c.push(_chunk(2.0))
    assert c.target_band() == (-45.0, -20.0)
