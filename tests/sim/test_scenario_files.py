"""Scenario TOML files: documented keys load, bad keys give one line listing valid choices."""

from __future__ import annotations

import pytest

from companion.errors import UsageError
from companion.sim import Scenario, simulate

GOOD = """
name = "my-routine"
description = "two quick sets"
calibration_s = 3.0
ankle_pumps = 2
variability = 0.0

[body]
mtp_forward_m = 0.16

[[blocks]]
kind = "calf_raise"
sets = 2
reps = 3
lower_s = 4.0
set_rest_s = 5.0

[[blocks.deviations]]
sets = [1]
reps = [2, 2]
lower_s = 1.0

[[blocks]]
kind = "stretch"
knee = "bent"
hold_s = 12.0
"""


def test_custom_file_runs(tmp_path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(GOOD, encoding="utf-8")
    sc = Scenario.from_toml(path)
    assert sc.name == "my-routine"
    assert sc.body.mtp_forward_m == 0.16
    s = simulate(path, seed=0)
    reps = [a for a in s.annotations if a["kind"] == "truth.rep"]
    assert len(reps) == 6
    # variability 0: exactly the prescription, except the one rushed rep.
    assert [r["lower_s"] for r in reps] == pytest.approx([4.0] * 5 + [1.0], abs=1e-5)
    assert reps[-1]["faults"] == ["rushed_lowering"]
    assert s.extra["scenario"] == "my-routine"
    pumps = next(a for a in s.annotations if a["kind"] == "truth.pumps")
    assert pumps["n_pumps"] == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[blocks]]\nkind = "calf_raise"\ntempo = 3\n', "unknown key 'tempo'; valid keys:"),
        ('[[blocks]]\nkind = "jumping"\n', "unknown kind 'jumping'; valid kinds:"),
        ('[[blocks]]\nkind = "stretch"\nknee = "locked"\n', "valid values: straight, bent"),
        ('[[blocks]]\nkind = "calf_raise"\nsets = "three"\n', "sets must be a whole number"),
        ('[[blocks]]\nkind = "calf_raise"\nsets = true\n', "sets must be a whole number"),
        ('[[blocks]]\nkind = "stretch"\nbouncing = 1\n', "bouncing must be true or false"),
        ('[[blocks]]\nkind = "calf_raise"\nrom_deg = 0\n', "rom_deg must be > 0"),
        ('[[blocks]]\nkind = "calf_raise"\ndeviations = 3\n', "deviations must be a list"),
        ('[[blocks]]\nkind = "calf_raise"\ndeviations = [1]\n', "must be a table"),
        ('[[blocks]]\nkind = "calf_raise"\nlower_s = -1.0\n', "lower_s must be > 0"),
        ("speed = 2\n", "unknown key 'speed'; valid keys:"),
        ("name = 'x'\n", "no [[blocks]] found"),
        ('[[blocks]]\nkind = "calf_raise"\n[[blocks.deviations]]\nreps = 3\n', "reps must be"),
        ("[[blocks]\n", "not valid TOML"),
        ('[body]\nfoot_size = 3\n[[blocks]]\nkind = "still"\n', "unknown key 'foot_size'"),
    ],
)
def test_bad_files_give_one_clear_line(tmp_path, text, message) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("(", r"\(")) as info:
        Scenario.from_toml(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file_and_unknown_name() -> None:
    with pytest.raises(UsageError, match="scenario file not found"):
        simulate("no/such/file.toml")
    with pytest.raises(UsageError, match="built-in scenarios: calf-raises"):
        simulate("calf_raises")
    with pytest.raises(UsageError, match="unknown side"):
        simulate("calf-raises", side="middle")


def test_every_builtin_compiles_and_starts_with_calibration() -> None:
    import numpy as np

    from companion.sim import list_scenarios
    from companion.sim.scenario import compile_scenario

    for name in list_scenarios():
        motion, ann = compile_scenario(
            Scenario.builtin(name), side_sign=1.0, rng=np.random.default_rng(0)
        )
        assert ann[0]["kind"] == "truth.still", name
        assert ann[0]["calibration"] is True
        assert ann[0]["t_end_s"] == pytest.approx(3.0)
        assert motion.duration_s > 10.0


@pytest.mark.parametrize(
    ("name", "kinds"),
    [
        ("calf-raises", ["calf_raise"]),
        ("calf-raises-rushed", ["calf_raise"]),
        ("tibialis-raises", ["tibialis_raise"]),
        ("stretch-both", ["stretch", "stretch"]),
        ("lunge-test", ["lunge_test"]),
        ("heel-rise-test", ["heel_rise_test"]),
        ("routine", ["calf_raise", "tibialis_raise", "stretch", "stretch"]),
        ("walking", None),
    ],
)
def test_sessions_carry_the_prescription_as_a_plan(name, kinds) -> None:
    plan_mod = pytest.importorskip("companion.scoring.plan")
    sc = Scenario.builtin(name)
    plan = sc.plan("right")
    if kinds is None:
        assert plan is None
        return
    assert [e["kind"] for e in plan["exercise"]] == kinds
    parsed = plan_mod.plan_from_dict(plan, where=name)  # the scoring side accepts it
    assert len(parsed.exercises) == len(kinds)
    if name == "calf-raises-rushed":
        # The plan is the prescription (3 s down, 1 s hold), not the rushed performance.
        assert plan["exercise"][0]["tempo"]["lower_s"] == 3.0
        assert plan["exercise"][0]["tempo"]["hold_s"] == 1.0
