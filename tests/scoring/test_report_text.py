"""The text report as a physiotherapist reads it: words, plurals, aligned columns, pauses."""

from __future__ import annotations

import pytest

from companion.scoring import load_builtin_preset, plan_from_dict
from companion.scoring.plot import full_height_band, headline
from companion.scoring.report import flag_text, plural, render_csv, render_table
from companion.scoring.score import score_analysis
from tests.scoring.fakes import make_hold, make_sets, result

STRAIGHT = plan_from_dict(
    {"exercise": [{"kind": "stretch", "knee": "straight", "holds": 3, "hold_s": 30}]}
)


@pytest.mark.parametrize(
    ("n", "noun", "text"),
    [
        (1, "set", "1 set"),
        (3, "set", "3 sets"),
        (0, "rep", "0 reps"),
        (1, "stretch hold", "1 stretch hold"),
        (2, "stretch", "2 stretches"),
        (35, "bounce", "35 bounces"),
    ],
)
def test_plural(n, noun, text):
    assert plural(n, noun) == text


def test_flags_in_words():
    assert flag_text("partial_reps") == "partial reps"
    assert flag_text("knee_in") == "knee caving in"
    assert flag_text("something_new") == "something new"


def _stretch_doc():
    holds = [
        make_hold(t0=0, knee="straight", bouncing=True, n_bounces=35),
        make_hold(t0=40, knee="bent", time_in_position_s=12.0),
        make_hold(t0=100.5, knee="straight", knee_in=True, peak_angle_deg=7.25),
    ]
    return score_analysis({"left": result([], holds)}, STRAIGHT, session_meta={"sides": ["left"]})


def test_stretch_table_columns_line_up():
    text = render_table(_stretch_doc())
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.lstrip().startswith("side"))
    assert (
        lines[head - 1]
        == "stretch (straight knee) — left leg: holds 3/3 (30 s each), 2 long enough"
    )
    table = lines[head : head + 4]
    header = table[0]
    for line in table:
        assert line == line.rstrip()
    # Left-aligned text columns start where their heading starts ...
    for line, knee in zip(table[1:], ["straight", "bent", "straight"]):
        assert line.index(knee, header.index("#")) == header.index("knee")
        assert line[header.index("notes") - 2 : header.index("notes")] == "  "
    # ... right-aligned numbers end where their heading ends.
    end = header.index("bounces") + len("bounces")
    assert [line[end - 2 : end] for line in table[1:]] == ["35", " 0", " 0"]
    notes = [line[header.index("notes") :] for line in table[1:]]
    assert notes == ["BOUNCING", "short, wrong knee", "KNEE IN"]


def test_advice_and_header_use_plurals():
    doc = _stretch_doc()
    text = render_table(doc)
    assert "(s)" not in text
    assert "In 1 stretch hold the knee caved inwards" in text
    assert "1 stretch hold had 35 bounces" in text
    one = score_analysis(
        {"left": result([], [make_hold(t0=0, bouncing=True, n_bounces=1)])},
        STRAIGHT,
    )
    assert one["advice"][0]["text"].startswith("The stretch hold had 1 bounce;")


def test_pause_between_reps_is_the_rest_at_the_bottom():
    rests = [0.5, 1.25, 2.0, 0.75]
    reps = make_sets(2, 4, rest_s=lambda s, i: rests[i])
    doc = score_analysis({"left": result(reps)}, load_builtin_preset("seed"))
    pauses = [r["pause_s"] for r in doc["reps"]]
    # the last rep of each set has no next rep to pause for
    assert pauses == [0.5, 1.25, 2.0, None, 0.5, 1.25, 2.0, None]
    text = render_table(doc)
    assert "pause_s" in text
    assert "reps 8/60 in 2 sets" in text
    rows = render_csv(doc).splitlines()
    assert "pause_s" in rows[0].split(",")


def test_rep_table_columns_line_up():
    reps = make_sets(
        1, 12, lower_s=lambda s, i: 1.0 if i > 8 else 3.0, partial=lambda s, i: i == 11
    )
    doc = score_analysis({"left": result(reps)}, load_builtin_preset("seed"))
    lines = render_table(doc).splitlines()
    head = next(i for i, line in enumerate(lines) if line.lstrip().startswith("rep "))
    header = lines[head]
    rows = lines[head + 1 : head + 13]
    verdict_at = header.index("verdict")
    for line in rows:
        assert line[verdict_at - 2 : verdict_at] == "  "
        assert line[verdict_at] != " "
    assert rows[-1][verdict_at:] == "lower short, partial"
    assert rows[9][header.index("lower_s") : verdict_at].split() == [
        "1.00↓",
        "1.00",
        "35.0",
        "-35.0",
    ]


def test_warnings_come_before_the_sets():
    reps = make_sets(1, 6)
    doc = score_analysis({"left": result(reps, fallback=True)}, load_builtin_preset("seed"))
    lines = render_table(doc).splitlines()
    warn = next(i for i, line in enumerate(lines) if line.startswith("warning: left leg"))
    assert warn < next(i for i, line in enumerate(lines) if line.startswith("calf raise —"))


def test_picture_headline():
    reps = make_sets(3, 20, lower_s=1.0, partial=lambda s, i: s == 2 and i > 10)
    doc = score_analysis(
        {"left": result(reps)},
        load_builtin_preset("seed"),
        session_meta={
            "file": "x/a.calf",
            "sides": ["left"],
            "start_time_utc": "2026-03-04T05:06:07Z",
        },
    )
    title, verdict = headline(doc, "left")
    assert title.startswith("a.calf — 2026-03-04 05:06 UTC — left leg — ")
    assert verdict.startswith("60 of 60 reps · tempo on target in 0 % of reps")
    assert verdict.endswith("NOT COMPLIANT: rushed, partial reps")


def test_full_height_band_comes_from_the_first_reps():
    # a calf-raise set whose last reps are half height: the band stays at the full height
    peaks = [-35.0] * 10 + [-18.0] * 10
    lo, hi = full_height_band(peaks)
    assert (lo, hi) == pytest.approx((-40.0, -24.5))
    assert all(p > hi for p in peaks[10:])
    lo, hi = full_height_band([15.0, 16.0, 14.0])  # tibialis raise: dorsiflexion
    assert (lo, hi) == pytest.approx((10.5, 20.0))
    assert full_height_band([]) is None


def test_advice_names_every_worst_set():
    # set 1 on tempo, sets 2 and 3 equally rushed: both are named
    reps = make_sets(3, 10, lower_s=lambda s, i: 3.0 if s == 0 else 1.0)
    doc = score_analysis({"left": result(reps)}, load_builtin_preset("seed"))
    assert doc["advice"][0]["text"] == (
        "Lowering averaged 1.7 s against 3 s ± 0.5 in the calf raise; slow down and count "
        "the seconds on the way down, especially in sets 2 and 3."
    )
    # every set equally rushed: no set is singled out
    reps = make_sets(3, 10, lower_s=1.0)
    doc = score_analysis({"left": result(reps)}, load_builtin_preset("seed"))
    assert doc["advice"][0]["text"].endswith("count the seconds on the way down.")


def test_a_single_short_hold_reads_naturally():
    one = plan_from_dict({"exercise": [{"kind": "stretch", "holds": 1, "hold_s": 30}]})
    doc = score_analysis({"left": result([], [make_hold(t0=0, time_in_position_s=12.0)])}, one)
    assert doc["advice"][0]["text"] == (
        "The stretch fell short: 12 s in position against 30 s; hold each stretch for the "
        "full time."
    )
    two = plan_from_dict({"exercise": [{"kind": "stretch", "holds": 2, "hold_s": 30}]})
    holds = [make_hold(t0=0, time_in_position_s=12.0), make_hold(t0=50)]
    doc = score_analysis({"left": result([], holds)}, two)
    assert doc["advice"][0]["text"].startswith(
        "The stretch: 1 of 2 holds fell short, 21 s in position on average against 30 s;"
    )


def test_picture_headline_names_the_tests_and_keeps_long_titles_short():
    from types import SimpleNamespace

    lunge = plan_from_dict({"name": "L" * 300, "exercise": [{"kind": "lunge_test"}]})
    hold = make_hold(t0=0, shin_inclination_mean_deg=38.0)
    res = result([], [hold])
    res.channels = SimpleNamespace(t_s=None)
    doc = score_analysis({"right": res}, lunge, session_meta={"file": "l.calf", "sides": ["right"]})
    title, verdict = headline(doc, "right")
    assert len(title) <= 135
    assert title.endswith(" …")
    assert verdict.startswith("lunge test: shin angle 38° (norm 45 ± 5.5°: below the normal range)")


def test_symmetry_in_words():
    both = {
        "left": result(make_sets(1, 8, rom_deg=35.0)),
        "right": result(make_sets(1, 6, rom_deg=28.0)),
    }
    doc = score_analysis(both, load_builtin_preset("seed"))
    lines = render_table(doc).splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("left/right symmetry"))
    assert lines[i + 1].split() == ["measure", "left", "right", "SI", "%"]
    assert lines[i + 2].split() == ["reps", "done", "8", "6", "+29", "ASYMMETRIC"]
    assert lines[i + 3].split()[-4:] == ["35.0", "28.0", "+22", "ASYMMETRIC"]
    advice = [a["text"] for a in doc["advice"] if a["code"] == "asymmetry"]
    assert advice == [
        "The right leg reached less (mean range of motion, °: left 35.0, right 28.0); start "
        "and finish on the tighter side."
    ]


def test_picture_headline_of_one_leg_of_two():
    both = {
        "left": result(make_sets(3, 20)),
        "right": result(make_sets(2, 20, lower_s=1.0)),
    }
    doc = score_analysis(
        both,
        load_builtin_preset("seed"),
        session_meta={"file": "b.calf", "sides": ["left", "right"]},
    )
    _, left = headline(doc, "left")
    _, right = headline(doc, "right")
    assert left.startswith("60 of 60 reps · tempo on target in 100 % of reps  ·  both legs: NOT")
    assert right.startswith("40 of 60 reps · tempo on target in 0 % of reps  ·  both legs: NOT")
