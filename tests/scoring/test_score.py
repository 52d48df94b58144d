"""The score document on reps and holds with known durations (no analysis needed)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.errors import SensorError
from companion.model import ImuChunk, Placement, SensorInfo, Session
from companion.scoring import load_builtin_preset, load_plan, plan_from_dict
from companion.scoring.score import (
    NoMotionError,
    score_analysis,
    split_by_side,
    symmetry_index_pct,
)
from tests.scoring.fakes import make_hold, make_sets, result

SEED = load_builtin_preset("seed")


def score(reps=(), holds=(), plan=SEED, side="left", **kw):
    doc = score_analysis({side: result(reps, holds, **kw)}, plan)
    json.dumps(doc, allow_nan=False)  # plain JSON, no NaN
    return doc


def test_good_session_is_compliant():
    doc = score(make_sets(3, 20, lower_s=3.1, hold_s=0.9, rise_s=0.8))
    s = doc["summary"]
    assert s["compliant"] is True
    assert s["flags"] == []
    assert (s["reps_done"], s["reps_prescribed"], s["sets_done"]) == (60, 60, 3)
    assert s["tempo_compliance_pct"] == 100.0
    assert [x["reps_done"] for x in doc["sets"]] == [20, 20, 20]
    assert doc["sets"][0]["phases"]["lower"]["mean_s"] == pytest.approx(3.1)
    assert doc["advice"][0]["code"] == "on_target"


def test_rushed_lowering_is_flagged_and_advised():
    # Set 3 rushes more than the others: the advice names it.
    doc = score(make_sets(3, 20, lower_s=lambda s, i: 1.8 if s < 2 else 1.2, rise_s=0.8))
    s = doc["summary"]
    assert "rushed" in s["flags"]
    assert s["compliant"] is False
    assert s["tempo_compliance_pct"] == 0.0
    rep = doc["reps"][0]
    assert rep["verdicts"] == {"rise": "ok", "hold": "ok", "lower": "short"}
    assert rep["within_tolerance"] is False
    top = doc["advice"][0]
    assert top["code"] == "tempo_lower"
    mean = (40 * 1.8 + 20 * 1.2) / 60
    assert f"Lowering averaged {mean:.1f} s against 3 s ± 0.5" in top["text"]


def test_slow_rise_for_quick_up_is_flagged_long():
    doc = score(make_sets(3, 20, rise_s=2.4))
    assert "too_slow" in doc["summary"]["flags"]
    assert doc["reps"][5]["verdicts"]["rise"] == "long"
    assert any(
        a["code"] == "tempo_rise" and "push up more quickly" in a["text"] for a in doc["advice"]
    )


def test_missing_reps_and_partial_reps():
    reps = make_sets(2, 20, partial=lambda s, i: i % 4 == 0)
    doc = score(reps)
    s = doc["summary"]
    assert (s["reps_done"], s["reps_prescribed"]) == (40, 60)
    assert "reps_missing" in s["flags"]
    assert s["partial_reps"] == 10
    assert "partial_reps" in s["flags"]
    assert any("40 of 60 reps" in a["text"] for a in doc["advice"])


def test_fatigue_detected_from_range_and_lowering_decline():
    reps = make_sets(
        1,
        15,
        rom_deg=lambda s, i: 40.0 - 1.2 * i,
        lower_s=lambda s, i: 3.0 if i < 10 else 2.6,
    )
    plan = plan_from_dict(
        {"exercise": [{"kind": "calf_raise", "sets": 1, "reps": 15, "tempo": {"lower_s": 3.0}}]}
    )
    doc = score(reps, plan=plan)
    f = doc["sets"][0]["fatigue"]
    roms = 40.0 - 1.2 * np.arange(15)
    expected = 100 * (roms[-5:].mean() - roms[:5].mean()) / roms[:5].mean()
    assert f["rom_change_pct"] == pytest.approx(expected, abs=0.05)
    assert f["rom_slope_deg_per_rep"] == pytest.approx(-1.2, abs=1e-6)
    assert f["fatigued"] is True
    assert "fatigue" in doc["summary"]["flags"]


def test_extra_sets_beyond_plan_are_kept_and_marked():
    doc = score(make_sets(4, 20))
    assert [s["extra"] for s in doc["sets"]] == [False, False, False, True]
    assert doc["summary"]["reps_done"] == 80


def test_alfredson_blocks_take_sets_in_order():
    plan = load_builtin_preset("alfredson")
    doc = score(make_sets(6, 15, lower_s=3.0), plan=plan)
    assert [b["sets_done"] for b in doc["blocks"]] == [3, 3]
    assert [s["block"] for s in doc["sets"]] == [0, 0, 0, 1, 1, 1]
    assert doc["summary"]["compliant"] is True


def test_stretch_bouncing_knee_in_short_and_wrong_knee():
    plan = load_builtin_preset("stretch")
    holds = [
        make_hold(t0=0, knee="straight"),
        make_hold(t0=40, knee="straight", n_bounces=6, bouncing=True),
        make_hold(t0=80, knee="straight", time_in_position_s=12.0),
        make_hold(t0=120, knee="bent", knee_in=True, peak_angle_deg=35),
        make_hold(t0=160, knee="straight", peak_angle_deg=35),  # meant to be bent
        make_hold(t0=200, knee="bent", peak_angle_deg=35),
    ]
    doc = score(holds=holds, plan=plan)
    flags = doc["summary"]["flags"]
    assert {"bouncing", "knee_in", "holds_short", "wrong_knee"} <= set(flags)
    h = doc["stretches"]
    assert [x["block"] for x in h] == [0, 0, 0, 1, 1, 1]
    assert h[2]["met"] is False
    assert h[0]["met"] is True
    assert h[4]["knee_ok"] is False
    assert doc["advice"][0]["code"] == "bouncing"
    assert "6 bounces" in doc["advice"][0]["text"]


def test_good_stretch_is_compliant():
    holds = [make_hold(t0=40 * i, knee="straight" if i < 3 else "bent") for i in range(6)]
    doc = score(holds=holds, plan=load_builtin_preset("stretch"))
    assert doc["summary"]["compliant"] is True
    assert doc["summary"]["holds_met"] == 6


def test_symmetry_index_between_legs():
    left = result(make_sets(1, 10, rom_deg=40.0))
    right = result(make_sets(1, 10, rom_deg=30.0))
    plan = plan_from_dict({"exercise": [{"kind": "calf_raise", "sets": 1, "reps": 10}]})
    doc = score_analysis({"left": left, "right": right}, plan)
    si = doc["symmetry"]["rom_mean_deg"]
    assert si["symmetry_index_pct"] == pytest.approx(100 * 10 / 35, abs=0.05)
    assert si["asymmetric"] is True
    assert doc["symmetry"]["reps_done"]["symmetry_index_pct"] == 0.0
    assert {r["side"] for r in doc["reps"]} == {"left", "right"}
    assert score(make_sets(1, 10))["symmetry"] is None


@settings(max_examples=100, deadline=None)
@given(st.floats(0.1, 100.0), st.floats(0.1, 100.0))
def test_symmetry_index_properties(a, b):
    si = symmetry_index_pct(a, b)
    assert si == pytest.approx(-symmetry_index_pct(b, a))
    assert -200.0 < si < 200.0
    assert symmetry_index_pct(a, a) == 0.0


def test_heel_rise_test_height_and_work_estimates(tmp_path):
    p = tmp_path / "hrt.toml"
    p.write_text(
        "[subject]\nfoot_length_cm = 26\nbody_mass_kg = 70\n"
        '[[exercise]]\nkind = "heel_rise_test"\n',
        encoding="utf-8",
    )
    plan = load_plan(p)
    reps = make_sets(1, 22, rise_s=0.9, hold_s=0.1, lower_s=0.9, rest_s=0.1, rom_deg=30.0)
    reps += make_sets(1, 2, t0=reps[-1].t_end_s, set_rest_s=0, rom_deg=10.0, partial=True)
    for i, r in enumerate(reps):
        r.set_index, r.rep_index = 0, i
    doc = score(reps, plan=plan)
    (test,) = doc["tests"]
    assert test["reps"] == 22
    assert test["reps_including_partial"] == 24
    lever = 0.73 * 0.26
    assert test["peak_heel_height_cm"] == pytest.approx(
        100 * lever * math.sin(math.radians(30)), abs=0.05
    )
    heights = [lever * math.sin(math.radians(30))] * 22 + [lever * math.sin(math.radians(10))] * 2
    assert test["total_work_j"] == pytest.approx(70 * 9.80665 * sum(heights), abs=0.5)
    assert test["cadence_bpm"] == pytest.approx(60.0, abs=0.1)
    assert "estimate" in test["estimate_note"]


def test_heel_rise_height_uses_foot_pitch_channel_when_present():
    plan = plan_from_dict(
        {"subject": {"foot_lever_cm": 20.0}, "exercise": [{"kind": "heel_rise_test"}]}
    )
    reps = make_sets(1, 3, rom_deg=30.0)
    t = np.arange(0, reps[-1].t_end_s + 1, 0.01)
    pitch = np.zeros_like(t)
    for r in reps:
        m = (t >= r.t_rise_end_s) & (t <= r.t_hold_end_s)
        pitch[m] = 25.0
    doc = score(reps, plan=plan, channels={"t_s": t, "foot_pitch_deg": pitch})
    assert doc["tests"][0]["peak_heel_height_cm"] == pytest.approx(
        20 * math.sin(math.radians(25)), abs=0.05
    )


def test_lunge_test_against_norm():
    doc = score(
        holds=[make_hold(t0=0, shin_inclination_mean_deg=38.0, knee="bent")],
        plan=load_builtin_preset("lunge-test"),
    )
    (t,) = doc["tests"]
    assert t["shin_angle_deg"] == 38.0
    assert t["z_score"] == pytest.approx((38 - 45) / 5.5, abs=0.01)
    assert t["interpretation"] == "below the normal range"


def test_no_plan_uses_seed_tempo_and_counts_nothing_missing():
    doc = score(make_sets(1, 5, lower_s=1.0), plan=None)
    assert doc["plan"]["origin"] == "default"
    assert doc["summary"]["reps_prescribed"] is None
    assert "rushed" in doc["summary"]["flags"]
    assert "reps_missing" not in doc["summary"]["flags"]


def test_no_motion_is_one_clear_error():
    with pytest.raises(NoMotionError) as info:
        score_analysis(
            {"left": result()}, SEED, session_meta={"file": "x.calf", "duration_s": 61.0}
        )
    assert str(info.value).startswith("x.calf: no calf raises")
    assert "61 s" in str(info.value)


def _sensor(seg, side):
    return SensorInfo(
        sensor_id=f"{seg}_{side}",
        family="simulated",
        placement=Placement(segment=seg, side=side),
        sampling_rate_hz=100.0,
    )


def _chunk(info):
    n = 10
    return ImuChunk(
        sensor_id=info.sensor_id,
        placement=info.placement,
        t_s=np.arange(n) / 100,
        acc_m_s2=np.zeros((n, 3)),
        gyr_dps=np.zeros((n, 3)),
    )


def test_split_by_side_and_missing_sensor():
    infos = [_sensor(s, d) for d in ("left", "right") for s in ("shin", "foot")]
    session = Session(sensors=infos, chunks={i.sensor_id: _chunk(i) for i in infos})
    parts = split_by_side(session)
    assert sorted(parts) == ["left", "right"]
    assert sorted(parts["right"].chunks) == ["foot_right", "shin_right"]
    lonely = Session(sensors=infos[:1], chunks={infos[0].sensor_id: _chunk(infos[0])})
    with pytest.raises(SensorError) as info:
        split_by_side(lonely)
    assert "foot sensor on the left leg" in str(info.value)
    assert "\n" not in str(info.value)
