"""The generic importer: TOML maps, multi-row headers, units, quaternion order, bad maps."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companion.importers import ImportFormatError, load_export
from companion.model import GRAVITY_M_S2

SIMPLE_MAP = """
[format]
delimiter = "{delim}"
header_rows = 1

[time]
column = "t"
unit = "{tunit}"

[[sensor]]
segment = "shin"
side = "left"
acc = ["ax", "ay", "az"]
acc_unit = "{aunit}"
gyr = ["gx", "gy", "gz"]
gyr_unit = "{gunit}"
"""


def _simple(
    tmp_path: Path,
    *,
    delim: str = ",",
    tunit: str = "s",
    aunit: str = "g",
    gunit: str = "rad/s",
    n: int = 200,
    acc_scale: float = 1.0,
) -> tuple[Path, Path]:
    k = np.arange(n)
    t = k * 0.01
    sep = "\t" if delim == "tab" else delim
    rows = ["t" + sep + sep.join(["ax", "ay", "az", "gx", "gy", "gz"])]
    for i in k:
        tv = t[i] * {"s": 1, "ms": 1e3, "us": 1e6}[tunit]
        vals = [0.0, 0.0, acc_scale * 1.0, 0.5 * math.sin(i / 10), 0.0, -0.25]
        rows.append(sep.join([f"{tv:.6f}", *(f"{v:.6f}" for v in vals)]))
    data = tmp_path / "rec.tsv"
    data.write_text("\n".join(rows) + "\n")
    m = tmp_path / "map.toml"
    m.write_text(SIMPLE_MAP.format(delim=delim, tunit=tunit, aunit=aunit, gunit=gunit))
    return data, m


@pytest.mark.parametrize(("delim", "tunit"), [(",", "s"), ("tab", "ms"), (";", "us")])
def test_golden_units_converted(tmp_path: Path, delim: str, tunit: str) -> None:
    data, m = _simple(tmp_path, delim=delim, tunit=tunit)
    s = load_export([data], "generic", map_path=m)
    c = s.chunks["shin_left"]
    assert s.sensor("shin_left").family == "imported"
    np.testing.assert_allclose(c.t_s, np.arange(200) * 0.01, atol=1e-9)
    np.testing.assert_allclose(c.acc_m_s2[:, 2], GRAVITY_M_S2, rtol=1e-12)
    expected = np.round(0.5 * np.sin(np.arange(200) / 10), 6) * 180 / math.pi
    np.testing.assert_allclose(c.gyr_dps[:, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(c.gyr_dps[:, 2], -0.25 * 180 / math.pi, rtol=1e-12)
    assert s.extra["import_warnings"] == []


def test_wrong_declared_unit_warns(tmp_path: Path) -> None:
    data, m = _simple(tmp_path, aunit="m/s2")  # the data are in g
    s = load_export([data], "generic", map_path=m)
    assert any("is the unit g rather than m/s2" in w for w in s.extra["import_warnings"])


def test_missing_unit_is_an_error(tmp_path: Path) -> None:
    data, m = _simple(tmp_path)
    m.write_text(m.read_text().replace('acc_unit = "g"\n', ""))
    with pytest.raises(ImportFormatError, match=r"no acc_unit \(units are never guessed\)"):
        load_export([data], "generic", map_path=m)


def test_unknown_unit_is_an_error(tmp_path: Path) -> None:
    data, m = _simple(tmp_path, gunit="rpm")
    with pytest.raises(ImportFormatError, match="unknown gyroscope unit 'rpm'"):
        load_export([data], "generic", map_path=m)


def test_missing_column_is_named(tmp_path: Path) -> None:
    data, m = _simple(tmp_path)
    m.write_text(m.read_text().replace('"gz"', '"gyro_z"'))
    with pytest.raises(
        ImportFormatError, match=r"rec.tsv: missing column 'gyro_z' \(sensor #1 gyr"
    ):
        load_export([data], "generic", map_path=m)


def test_generic_needs_a_map(tmp_path: Path) -> None:
    data, _ = _simple(tmp_path)
    with pytest.raises(ImportFormatError, match="needs a map"):
        load_export([data], "generic")


def test_bad_toml(tmp_path: Path) -> None:
    data, m = _simple(tmp_path)
    m.write_text("[time\n")
    with pytest.raises(ImportFormatError, match="not valid TOML"):
        load_export([data], "generic", map_path=m)


def test_mixed_rates_in_one_file(tmp_path: Path) -> None:
    data, m = _simple(tmp_path, n=400)
    lines = data.read_text().splitlines()
    out = [lines[0]]
    for i, ln in enumerate(lines[1:]):
        parts = ln.split(",")
        t = i * 0.01 if i < 200 else 2.0 + (i - 200) * 0.02
        out.append(",".join([f"{t:.6f}", *parts[1:]]))
    data.write_text("\n".join(out) + "\n")
    with pytest.raises(ImportFormatError, match="mixed sampling rates"):
        load_export([data], "generic", map_path=m)


def test_time_backwards(tmp_path: Path) -> None:
    data, m = _simple(tmp_path)
    lines = data.read_text().splitlines()
    lines[10], lines[11] = lines[11], lines[10]
    data.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportFormatError, match=r"time goes backwards from row 11 to row 12"):
        load_export([data], "generic", map_path=m)


APDM_MAP = """
description = "APDM Opal-style export: sensor / quantity / axis header rows"
[format]
delimiter = ","
skip_rows = 1
header_rows = 3

[time]
column = "Time"
unit = "iso"

[[sensor]]
segment = "shin"
acc = ["Shank/Accelerometer/X", "Shank/Accelerometer/Y", "Shank/Accelerometer/Z"]
acc_unit = "m/s2"
gyr = ["Shank/Gyroscope/X", "Shank/Gyroscope/Y", "Shank/Gyroscope/Z"]
gyr_unit = "rad/s"
quat = ["Shank/Orientation/X", "Shank/Orientation/Y", "Shank/Orientation/Z", "Shank/Orientation/W"]
quat_order = "xyzw"
counter = "Shank/Counter"

[[sensor]]
segment = "foot"
acc = ["Foot/Accelerometer/X", "Foot/Accelerometer/Y", "Foot/Accelerometer/Z"]
acc_unit = "m/s2"
gyr = ["Foot/Gyroscope/X", "Foot/Gyroscope/Y", "Foot/Gyroscope/Z"]
gyr_unit = "rad/s"
"""


def _apdm(
    tmp_path: Path, n: int = 130, drop: tuple[int, ...] = ()
) -> tuple[Path, Path, np.ndarray]:
    rng = np.random.default_rng(5)
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    title = "Case ID: S01,,,,,,,,,,,,,,,"
    h1 = "Time,Shank,,,,,,,,,,,Foot,,,,,"
    h2 = ",Accelerometer,,,Gyroscope,,,Orientation,,,,Counter,Accelerometer,,,Gyroscope,,"
    h3 = ",X,Y,Z,X,Y,Z,X,Y,Z,W,,X,Y,Z,X,Y,Z"
    lines = [title, h1, h2, h3]
    for i in range(n):
        if i in drop:
            continue
        stamp = f"2024-05-01T12:00:{i / 128:09.6f}Z"
        shank = [0.1, 9.8, 0.2, 0.01 * i, 0.0, -0.01, *q[i][[1, 2, 3, 0]]]
        foot = [9.8, 0.0, 0.0, 0.0, 0.02, 0.0]
        vals = [stamp, *(f"{v:.8f}" for v in shank), str(1000 + i), *(f"{v:.8f}" for v in foot)]
        lines.append(",".join(vals))
    data = tmp_path / "opal.csv"
    data.write_text("\n".join(lines) + "\n")
    m = tmp_path / "apdm.toml"
    m.write_text(APDM_MAP)
    return data, m, q


def test_multirow_header_iso_time_quaternion_order_and_side_flag(tmp_path: Path) -> None:
    data, m, q = _apdm(tmp_path)
    with pytest.raises(ImportFormatError, match="pass --side left or --side right"):
        load_export([data], "generic", map_path=m)
    s = load_export([data], "generic", map_path=m, placements={"side": "right"})
    assert sorted(s.chunks) == ["foot_right", "shin_right"]
    assert s.start_time_utc == "2024-05-01T12:00:00.000Z"
    shin = s.chunks["shin_right"]
    np.testing.assert_allclose(shin.t_s, np.arange(130) / 128, atol=2e-6)
    np.testing.assert_allclose(shin.quat_wxyz, np.round(q, 8), atol=1e-12)
    np.testing.assert_allclose(
        shin.gyr_dps[:, 0], np.round(0.01 * np.arange(130), 8) * 180 / math.pi
    )
    np.testing.assert_array_equal(shin.counter, 1000 + np.arange(130))
    assert s.sensor("shin_right").sampling_rate_hz == pytest.approx(128.0, abs=0.01)


def test_counter_jump_is_a_dropped_gap(tmp_path: Path) -> None:
    data, m, _ = _apdm(tmp_path, drop=(50, 51))
    s = load_export([data], "generic", map_path=m, placements={"side": "left"})
    shin_gaps = [g for g in s.gaps if g.sensor_id == "shin_left"]
    foot_gaps = [g for g in s.gaps if g.sensor_id == "foot_left"]
    assert [(g.reason, g.n_missing) for g in shin_gaps] == [("dropped", 2)]
    assert [(g.reason, g.n_missing) for g in foot_gaps] == [("dropped", 2)]  # from time
    assert shin_gaps[0].t_start_s == pytest.approx(49 / 128, abs=2e-6)


@pytest.mark.parametrize(
    ("cell", "shown"), [("1e20", "100000000000000000000"), ("1050.5", "1050.5")]
)
def test_counter_that_is_no_whole_number_is_ignored_with_a_warning(
    tmp_path: Path, cell: str, shown: str
) -> None:
    """Regression: counter cells were cast to int64 as they were (1e20: numpy's invalid-cast
    warning, an error under -W error; 1050.5 silently truncated)."""
    data, m, _ = _apdm(tmp_path)
    lines = data.read_text().splitlines()
    parts = lines[4 + 50].split(",")
    assert parts[11] == "1050"
    parts[11] = cell
    lines[4 + 50] = ",".join(parts)
    data.write_text("\n".join(lines) + "\n")
    s = load_export([data], "generic", map_path=m, placements={"side": "left"})
    assert s.chunks["shin_left"].counter is None
    assert len(s.chunks["shin_left"]) == 130
    (warning,) = [w for w in s.extra["import_warnings"] if "Shank/Counter" in w]
    assert f"row 55: {shown} is not a counter value" in warning


def test_nan_block_is_kept_as_marked_gap(tmp_path: Path) -> None:
    data, m = _simple(tmp_path)
    lines = data.read_text().splitlines()
    for i in range(60, 70):
        parts = lines[i + 1].split(",")
        lines[i + 1] = ",".join([parts[0], "nan", "", "nan", *parts[4:]])
    data.write_text("\n".join(lines) + "\n")
    s = load_export([data], "generic", map_path=m)
    assert [(g.reason, g.n_missing) for g in s.gaps] == [("invalid", 10)]
    assert s.gaps[0].t_start_s == pytest.approx(0.59)
    assert s.gaps[0].t_end_s == pytest.approx(0.70)


def test_template_sensor_placed_per_file(tmp_path: Path) -> None:
    """One file per sensor with the same columns; placement from the filename rule."""
    for name in ("left_shin", "left_foot"):
        sub = tmp_path / name
        sub.mkdir()
        data, m = _simple(sub)
        data.rename(tmp_path / f"{name}.csv")
    m.write_text(m.read_text().replace('segment = "shin"\nside = "left"\n', ""))
    files = [tmp_path / "left_shin.csv", tmp_path / "left_foot.csv"]
    with pytest.raises(ImportFormatError, match="no placement given"):
        load_export(files, "generic", map_path=m)
    s = load_export(
        files, "generic", map_path=m, filename_rule=r"(?P<side>left|right)_(?P<segment>shin|foot)"
    )
    assert sorted(s.chunks) == ["foot_left", "shin_left"]


def test_plain_column_names_are_not_mistaken_for_non_inertial(tmp_path: Path) -> None:
    """A map decides what is inertial: columns called x, y, z are fine."""
    data = tmp_path / "plain.csv"
    rows = ["time,x,y,z,u,v,w"] + [f"{i * 0.01:.2f},0,0,1,0.1,0.2,0.3" for i in range(50)]
    data.write_text("\n".join(rows) + "\n")
    m = tmp_path / "m.toml"
    m.write_text(
        '[time]\ncolumn = "time"\nunit = "s"\n[[sensor]]\nsegment = "foot"\nside = "left"\n'
        'acc = ["x", "y", "z"]\nacc_unit = "g"\ngyr = ["u", "v", "w"]\ngyr_unit = "deg/s"\n'
    )
    s = load_export([data], "generic", map_path=m)
    assert len(s.chunks["foot_left"]) == 50


LOG_REGEX = (
    r"^#(?P<n>\d+) t=(?P<t>\d+)ms acc=\((?P<ax>[^,]+),(?P<ay>[^,]+),(?P<az>[^)]+)\) "
    r"gyr=\((?P<gx>[^,]+),(?P<gy>[^,]+),(?P<gz>[^)]+)\)$"
)
LOG_MAP = (
    "[format]\nline_regex = '"
    + LOG_REGEX
    + """'
[time]
column = "t"
unit = "ms"
[[sensor]]
segment = "shin"
side = "right"
acc = ["ax", "ay", "az"]
acc_unit = "mg"
gyr = ["gx", "gy", "gz"]
gyr_unit = "mdps"
counter = "n"
"""
)


def test_free_text_log_with_line_regex(tmp_path: Path) -> None:
    lines = ["boot ok, logging"]
    for i in range(80):
        if i == 30:
            lines.append("-- radio hiccup --")
        if i in (40, 41):
            continue  # two samples lost: counter and time jump
        lines.append(f"#{i} t={1000 + 20 * i}ms acc=(0,{-1000 + i},12) gyr=({i * 100},0,-500)")
    data = tmp_path / "log.txt"
    data.write_text("\n".join(lines) + "\n")
    m = tmp_path / "log.toml"
    m.write_text(LOG_MAP)
    s = load_export([data], "generic", map_path=m)
    c = s.chunks["shin_right"]
    assert len(c) == 78
    np.testing.assert_allclose(c.t_s[:3], [0.0, 0.02, 0.04])
    np.testing.assert_allclose(c.acc_m_s2[0], [0.0, -GRAVITY_M_S2, 0.012 * GRAVITY_M_S2])
    np.testing.assert_allclose(c.gyr_dps[5], [0.5, 0.0, -0.5])
    assert [(g.reason, g.n_missing) for g in s.gaps] == [("dropped", 2)]
    assert any("2 non-empty line(s) did not match" in w for w in s.extra["import_warnings"])


def test_line_regex_matching_nothing(tmp_path: Path) -> None:
    data = tmp_path / "log.txt"
    data.write_text("acc=1 gyr=2\nacc=3 gyr=4\n")
    m = tmp_path / "log.toml"
    m.write_text(LOG_MAP)
    with pytest.raises(
        ImportFormatError, match=r"no line matches the line_regex .*line 1: 'acc=1 gyr=2'"
    ):
        load_export([data], "generic", map_path=m)


ACC_F = {"g": GRAVITY_M_S2, "mg": GRAVITY_M_S2 / 1000, "m/s2": 1.0}
GYR_F = {"deg/s": 1.0, "rad/s": 180 / math.pi, "mdps": 1e-3}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    delim=st.sampled_from([",", ";", "tab", "whitespace"]),
    decimal=st.sampled_from([".", ","]),
    acc_unit=st.sampled_from(sorted(ACC_F)),
    gyr_unit=st.sampled_from(sorted(GYR_F)),
    order=st.sampled_from(["wxyz", "xyzw"]),
    n=st.integers(min_value=3, max_value=60),
    seed=st.integers(0, 2**16),
)
def test_generic_round_trip_property(tmp_path, delim, decimal, acc_unit, gyr_unit, order, n, seed):
    """Whatever the layout and declared units, values come back converted exactly."""
    if decimal == "," and delim == ",":
        decimal = "."
    rng = np.random.default_rng(seed)
    acc = rng.normal(0, 5, (n, 3))
    gyr = rng.normal(0, 50, (n, 3))
    q = rng.normal(size=(n, 4))
    t = np.cumsum(rng.uniform(0.009, 0.011, n))
    sep = {"tab": "\t", "whitespace": "   "}.get(delim, delim)

    def fmt(v: float) -> str:
        text = f"{v:.9g}"
        return text.replace(".", ",") if decimal == "," else text

    qcols = ["q0", "q1", "q2", "q3"]
    lines = [sep.join(["time", "a1", "a2", "a3", "g1", "g2", "g3", *qcols])]
    for i in range(n):
        qi = q[i] if order == "wxyz" else q[i][[1, 2, 3, 0]]
        lines.append(sep.join(fmt(v) for v in [t[i], *acc[i], *gyr[i], *qi]))
    data = tmp_path / "d.txt"
    data.write_text("\n".join(lines) + "\n")
    m = tmp_path / "d.toml"
    m.write_text(
        f'[format]\ndelimiter = "{delim}"\ndecimal = "{decimal}"\n'
        '[time]\ncolumn = "time"\nunit = "s"\n'
        '[[sensor]]\nsegment = "foot"\nside = "right"\n'
        f'acc = ["a1", "a2", "a3"]\nacc_unit = "{acc_unit}"\n'
        f'gyr = ["g1", "g2", "g3"]\ngyr_unit = "{gyr_unit}"\n'
        f'quat = {qcols!r}\nquat_order = "{order}"\n'.replace("'", '"')
    )
    s = load_export([data], "generic", map_path=m)
    c = s.chunks["foot_right"]
    r = lambda a: np.array([[float(f"{v:.9g}") for v in row] for row in a])  # noqa: E731
    np.testing.assert_allclose(c.t_s, r(t[:, None])[:, 0] - float(f"{t[0]:.9g}"), atol=1e-12)
    np.testing.assert_allclose(c.acc_m_s2, r(acc) * ACC_F[acc_unit], rtol=1e-12)
    np.testing.assert_allclose(c.gyr_dps, r(gyr) * GYR_F[gyr_unit], rtol=1e-12)
    np.testing.assert_allclose(c.quat_wxyz, r(q), rtol=1e-12)
