"""Plan TOML format: presets, one-line errors naming file and key, target arithmetic."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.errors import UsageError
from companion.scoring import (
    PhaseTarget,
    builtin_preset_names,
    load_builtin_preset,
    load_plan,
    plan_from_dict,
    resolve_plan,
)


def test_presets_carry_their_sources_and_prescriptions():
    names = builtin_preset_names()
    assert {"seed", "alfredson", "hsr", "heel-rise-test", "lunge-test", "stretch"} <= set(names)
    for name in names:
        plan = load_builtin_preset(name)
        assert plan.source, name
        assert plan.origin == f"preset:{name}"
    seed = load_builtin_preset("seed").exercises[0]
    assert (seed.kind, seed.sets, seed.reps) == ("calf_raise", 3, 20)
    assert seed.tempo.lower.target_s == 3.0
    assert seed.tempo.hold.target_s == 1.0
    assert seed.tempo.rise.max_s == 1.5
    assert seed.tempo.rise.min_s == 0.0
    alf = load_builtin_preset("alfredson").exercises
    assert [(b.sets, b.reps, b.knee) for b in alf] == [(3, 15, "straight"), (3, 15, "bent")]
    hsr = load_builtin_preset("hsr").exercises[0]
    assert hsr.tempo.rise.target_s == 3.0
    assert hsr.tempo.lower.target_s == 3.0
    hrt = load_builtin_preset("heel-rise-test").exercises[0]
    assert hrt.metronome_bpm == 60
    assert hrt.tempo.lower.max_s == 1.5
    stretch = load_builtin_preset("stretch").exercises
    assert [(b.knee, b.holds, b.hold_s) for b in stretch] == [
        ("straight", 3, 30.0),
        ("bent", 3, 30.0),
    ]


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "plan.toml"
    p.write_text(text, encoding="utf-8")
    return p


BASE = """
name = "t"
[[exercise]]
kind = "calf_raise"
sets = 3
reps = 10
[exercise.tempo]
lower_s = 3.0
"""


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (BASE + "lowr_s = 2\n", "lowr_s", "did you mean 'lower_s'"),
        (BASE.replace("lower_s = 3.0", "lower_s = -1"), "lower_s", "impossible target"),
        (BASE + "rise_min_s = 2\nrise_max_s = 1\n", "rise", "impossible target"),
        (BASE + "hold_s = 12\nrise_s = 9\n", "tempo", "longer than the 20 s"),
        (BASE.replace("sets = 3", "sets = 0"), "sets", "impossible target"),
        (BASE.replace("sets = 3", "sets = 2.5"), "sets", "whole number"),
        (BASE.replace("calf_raise", "squat"), "kind", "unknown value 'squat'"),
        (BASE.replace("reps = 10", "holds = 3"), "holds", "does not apply"),
        ('[[exercise]]\nkind = "stretch"\nholds = 3\nhold_s = 1\n', "hold_s", "at least 3 s"),
        ("colour = 1\n" + BASE, "colour", "unknown key"),
        ("version = 7\n" + BASE, "version", "not supported"),
        ('name = "x"\n', "exercise", "prescribes nothing"),
        (BASE + "[subject]\nfoot_length_cm = 2.6\n", "foot_length_cm", "in cm"),
    ],
)
def test_bad_plans_give_one_line_naming_file_and_key(tmp_path, text, key, words):
    path = _write(tmp_path, text)
    with pytest.raises(UsageError) as info:
        load_plan(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert str(path) in msg
    assert key in msg
    assert words in msg


def test_not_toml_and_missing_file(tmp_path):
    with pytest.raises(UsageError, match="not valid TOML"):
        load_plan(_write(tmp_path, "[[exercise]\n"))
    with pytest.raises(UsageError, match=r"plan file not found.*seed"):
        load_plan(tmp_path / "nope.toml")


def test_preset_by_name_and_session_plan_precedence(tmp_path):
    assert load_plan("hsr").origin == "preset:hsr"
    session_plan = tomllib.loads(BASE)
    from_session = resolve_plan(session_plan, None)
    assert from_session.origin == "session"
    assert from_session.exercises[0].reps == 10
    override = load_plan("seed")
    assert resolve_plan(session_plan, override) is override
    assert resolve_plan(None, None) is None
    with pytest.raises(UsageError, match="session file plan: exercise"):
        resolve_plan({"exercise": [{"kind": "calf_raise", "sets": 1}]}, None)


def test_round_trip_of_raw_plan():
    plan = load_builtin_preset("seed")
    again = plan_from_dict(plan.raw, where="x")
    assert again.exercises == plan.exercises


@settings(max_examples=200, deadline=None)
@given(
    target=st.floats(0.1, 10.0),
    tol=st.floats(0.0, 2.0),
    d=st.floats(0.0, 15.0),
)
def test_target_with_tolerance_verdict(target, tol, d):
    plan = plan_from_dict(
        {
            "exercise": [
                {
                    "kind": "calf_raise",
                    "sets": 1,
                    "reps": 1,
                    "tempo": {"lower_s": target, "tolerance_s": tol},
                }
            ]
        }
    )
    pt = plan.exercises[0].tempo.lower
    expected = "short" if d < max(0.0, target - tol) else "long" if d > target + tol else "ok"
    assert pt.verdict(d) == expected
    assert pt.verdict(math.nan) == "unknown"


def test_phase_target_text():
    assert PhaseTarget(min_s=2.5, max_s=3.5, target_s=3.0).describe() == "3 s ± 0.5"
    assert PhaseTarget(max_s=1.5).describe() == "≤ 1.5 s"
    assert PhaseTarget(min_s=1.0).describe() == "≥ 1 s"
