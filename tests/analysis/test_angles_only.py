"""``SessionAnalyzer(angles_only=True)``: the same per-sample angles as the full analysis, no
rep or hold detection (the live window draws it while the full analysis measures a rep)."""

from __future__ import annotations

import numpy as np

from companion.analysis import SessionAnalyzer
from companion.analysis.events import CalibrationDone
from companion.sim import SensorFaults, simulate


def _feed(an: SessionAnalyzer, session, step: int) -> list:
    events: list = []
    chunks = list(session.chunks.values())
    n = max(len(c) for c in chunks)
    for i in range(0, n, step):
        for c in chunks:
            if i < len(c):
                events += an.feed(c.slice(i, min(i + step, len(c))))
    return events + an.finish()


def test_angles_only_gives_the_full_angles_and_no_reps() -> None:
    session = simulate(
        "calf-raises", seed=5, duration_s=40.0, sensor_faults=SensorFaults.realistic(5)
    )
    full = SessionAnalyzer(side="left")
    light = SessionAnalyzer(side="left", angles_only=True)
    full_events = _feed(full, session, 7)
    light_events = _feed(light, session, 7)
    assert any(type(e).__name__ == "RepCompleted" for e in full_events)  # reps were there
    assert [type(e) for e in light_events] == [CalibrationDone]
    assert light_events[0] in full_events
    a, b = light.frames(), full.frames()
    for name in (
        "t_s",
        "ankle_sagittal_deg",
        "ankle_frontal_deg",
        "shin_inclination_deg",
        "knee_tracking_deg",
        "valid",
    ):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert not any(a.rep)  # no rep labels without detection
