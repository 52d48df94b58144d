"""The shared machinery: gap marking (property tests), counters, placement rules, time checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.importers import FORMATS, ImportFormatError, load_export
from companion.importers._common import (
    SensorSeries,
    check_time,
    find_gaps,
    parse_filename_rule,
    parse_placement,
    plausibility_warnings,
    snap_rate,
    unwrap_counter,
)
from companion.model import GRAVITY_M_S2, Placement


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=20, max_value=300),
    holes=st.lists(st.tuples(st.integers(1, 280), st.integers(1, 9)), max_size=4),
    nan_block=st.one_of(st.none(), st.tuples(st.integers(2, 280), st.integers(1, 15))),
)
def test_find_gaps_recovers_known_losses(n, holes, nan_block) -> None:
    """Samples removed from an evenly spaced, counted stream come back as 'dropped' gaps with
    the right counts; a NaN block strictly inside comes back as one 'invalid' gap."""
    period = 0.01
    keep = np.ones(n, dtype=bool)
    for start, length in holes:
        keep[start : min(start + length, n - 1)] = False
    idx = np.flatnonzero(keep)
    t = idx * period
    counter = idx.astype(np.int64)
    valid = np.ones(idx.size, dtype=bool)
    expect_invalid = None
    if nan_block is not None:
        a, length = nan_block
        if a < idx.size - 1:
            b = min(a + length, idx.size - 1)
            valid[a:b] = False
            expect_invalid = (a, b)
    for use_counter in (True, False):
        gaps = find_gaps("s", t, valid, counter if use_counter else None, period)
        dropped = [g for g in gaps if g.reason == "dropped"]
        invalid = [g for g in gaps if g.reason == "invalid"]
        # Expected: every step between adjacent valid rows that skips samples.
        exp = []
        for i in range(idx.size - 1):
            if valid[i] and valid[i + 1] and idx[i + 1] - idx[i] > 1:
                exp.append((round(t[i], 9), int(idx[i + 1] - idx[i] - 1)))
        got = [(round(g.t_start_s, 9), g.n_missing) for g in dropped]
        assert got == exp
        if expect_invalid is None:
            assert invalid == []
        else:
            a, b = expect_invalid
            assert [(g.t_start_s, g.t_end_s, g.n_missing) for g in invalid] == [
                (t[a - 1], t[b], b - a)
            ]


@settings(max_examples=50, deadline=None)
@given(
    start=st.integers(0, 2**16 - 1),
    steps=st.lists(st.integers(1, 5), min_size=1, max_size=400),
)
def test_unwrap_counter_uint16(start, steps) -> None:
    true = start + np.concatenate([[0], np.cumsum(steps)])
    wrapped = true % 2**16
    np.testing.assert_array_equal(unwrap_counter(wrapped, 2**16), true)


def test_snap_rate() -> None:
    assert snap_rate(120.0048) == 120.0
    assert snap_rate(99.5) == 100.0
    assert snap_rate(97.0) == 97.0
    assert snap_rate(51.2) == 51.2


@pytest.mark.parametrize(
    ("text", "label"),
    [("shin_left", "shin_left"), ("Foot-Right", "foot_right"), ("left shank", "shin_left"),
     ("R foot", "foot_right")],
)  # fmt: skip
def test_parse_placement(text: str, label: str) -> None:
    assert parse_placement(text, context="t").label == label


@pytest.mark.parametrize("text", ["shin", "left", "thigh_left", "shin left foot"])
def test_parse_placement_refuses(text: str) -> None:
    with pytest.raises(ImportFormatError, match="is not a placement"):
        parse_placement(text, context="t")


def _series(name: str) -> SensorSeries:
    z = np.zeros((2, 3))
    return SensorSeries(
        key=name, files=(Path(f"/x/{name}.csv"),), family="dot", t_dev_s=np.arange(2.0),
        acc_m_s2=z, gyr_dps=z,
    )  # fmt: skip


def test_filename_rules() -> None:
    rule = parse_filename_rule("1_*=foot_left, 2_*=shin_left")
    assert rule.lookup(_series("1_D422CD003238_20231031_124807")) == Placement(
        segment="foot", side="left"
    )
    assert rule.lookup(_series("3_X")) is None
    rx = parse_filename_rule(r"(?P<side>left|right)_(?P<segment>shank|foot)")
    assert rx.lookup(_series("s01_right_shank")).label == "shin_right"
    with pytest.raises(ImportFormatError, match="named groups"):
        parse_filename_rule(r"(?P<leg>left)")
    with pytest.raises(ImportFormatError, match="has no '='"):
        parse_filename_rule("1_*:foot_left")
    ambiguous = parse_filename_rule("1_*=foot_left,*D422*=shin_left")
    with pytest.raises(ImportFormatError, match="matches several placements"):
        ambiguous.lookup(_series("1_D422CD003238"))


def test_check_time_messages() -> None:
    p = Path("f.csv")
    with pytest.raises(ImportFormatError, match="rows 4 and 5 carry the same time"):
        check_time(p, np.array([0.0, 0.1, 0.2, 0.2, 0.3]), first_row=2)
    with pytest.raises(ImportFormatError, match="holds 1 usable sample"):
        check_time(p, np.array([0.0, np.nan]), first_row=2)


def test_plausibility() -> None:
    n = 500
    still = np.tile([0.0, 0.0, GRAVITY_M_S2], (n, 1))
    gyr = np.zeros((n, 3))
    kw = {"acc_unit": "m/s2", "gyr_unit": "deg/s", "period_s": 0.01}
    assert plausibility_warnings("x", still, gyr, **kw) == []
    assert "g rather than" in plausibility_warnings("x", still / GRAVITY_M_S2, gyr, **kw)[0]
    assert "gravity" in plausibility_warnings("x", still * 0.001, gyr, **kw)[0]
    fast = gyr.copy()
    fast[::50, 0] = 3000.0
    assert "exceeds ±2000" in plausibility_warnings("x", still, fast, **kw)[0]
    huge = np.full((n, 3), 90000.0)
    assert "deg/s rather than" in plausibility_warnings("x", still, huge, **kw)[0]


def test_formats_and_unknown_format(tmp_path: Path) -> None:
    assert FORMATS == ("dot", "metabase", "witmotion", "generic")
    with pytest.raises(ImportFormatError, match="unknown import format 'csv'"):
        load_export([tmp_path], "csv")


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="no such file or folder"):
        load_export([tmp_path / "nope.csv"], "dot")


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="holds no export files"):
        load_export([tmp_path], "dot")


def test_non_inertial_file_among_imu_files_is_named(tmp_path: Path) -> None:
    (tmp_path / "imu.csv").write_text("t,ax,ay,az,gx,gy,gz\n0,0,0,1,0,0,0\n")
    (tmp_path / "forces.csv").write_text("Time[secs],Heel Force[N]\n0.01,5\n,\n,\n")
    with pytest.raises(
        ImportFormatError, match=r"forces.csv holds no inertial data .*2 empty rows"
    ):
        load_export([tmp_path], "generic")
