"""Every started rep ends in exactly one RepCompleted or RepDiscarded (the live window
clears a candidate the moment the analysis drops it)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from companion.analysis import analyze_session
from companion.analysis.events import RepCompleted, RepDiscarded, RepStarted

sim = pytest.importorskip("companion.sim", reason="the simulator is not available")

_REASONS = {
    "too_small",
    "too_long",
    "shin_moved",
    "foot_still",
    "bottom_moved",
    "ankle_pump",
    "twitch",
    "gap",
    "no_data",
    "no_fit",
    "ended",
}


def _pairs(events) -> list[tuple[RepStarted, RepCompleted | RepDiscarded]]:
    out, open_ = [], None
    for e in events:
        if isinstance(e, RepStarted):
            assert open_ is None, f"rep started at {e.t_s:.2f} s while one is open"
            open_ = e
        elif isinstance(e, RepCompleted | RepDiscarded):
            assert open_ is not None, f"{type(e).__name__} at {e.t_s:.2f} s without a start"
            out.append((open_, e))
            open_ = None
    assert open_ is None, f"rep started at {open_.t_s:.2f} s never ended"
    return out


@pytest.mark.parametrize(
    "scenario", ["calf-raises", "tibialis-raises", "walking", "squats", "lunge-test"]
)
def test_every_started_rep_is_completed_or_discarded(scenario: str) -> None:
    ses = sim.simulate(scenario, seed=3, sensor_faults=sim.SensorFaults.realistic(3))
    res = analyze_session(ses)
    pairs = _pairs(res.events)
    done = [end.rep for _, end in pairs if isinstance(end, RepCompleted)]
    assert done == list(res.reps)
    for start, end in pairs:
        assert end.t_s >= start.t_s
        if isinstance(end, RepDiscarded):
            assert end.reason in _REASONS
            assert end.exercise == start.exercise


def test_walking_starts_are_discarded_with_reasons() -> None:
    """The negative control moves the ankle a lot: what starts as a rep is dropped, and
    each drop says why."""
    ses = sim.simulate("walking", seed=1, sensor_faults=sim.SensorFaults.realistic(1))
    res = analyze_session(ses)
    assert res.reps == []
    dropped = [e for e in res.events if isinstance(e, RepDiscarded)]
    assert dropped
    assert {e.reason for e in dropped} <= _REASONS


def _cut(ses, t_end_s: float):
    chunks = {}
    for sid, c in ses.chunks.items():
        n = int(np.searchsorted(c.t_s, t_end_s))
        chunks[sid] = c.slice(0, n)
    return dataclasses.replace(ses, chunks=chunks)


def test_a_recording_cut_mid_rep_discards_it_and_one_cut_on_arrival_counts_it() -> None:
    ses = sim.simulate("calf-raises", seed=2, sensor_faults=sim.SensorFaults.realistic(2))
    truth = [a for a in ses.annotations if a["kind"] == "truth.rep"]
    third = truth[2]
    # Cut in the middle of the third rep's lowering: two reps, the third dropped as ended.
    mid = analyze_session(_cut(ses, 0.5 * (third["t_hold_end_s"] + third["t_lower_end_s"])))
    assert len(mid.reps) == 2
    last = [e for e in mid.events if isinstance(e, RepDiscarded)][-1]
    assert last.reason == "ended"
    # Cut 0.15 s after the third rep reached the bottom: it is whole and counted.
    end = analyze_session(_cut(ses, third["t_lower_end_s"] + 0.15))
    assert len(end.reps) == 3
    assert end.reps[2].lower_s == pytest.approx(third["lower_s"], abs=0.25)
    _pairs(end.events)
