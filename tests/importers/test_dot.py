"""DOT exports written in the app's exact layout: golden values, wraps, gaps, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companion.importers import ImportFormatError, load_export
from tests.importers.vendor_files import DOT_HEADER, dot_rows, write_dot

RULE = "1_*=foot_left,2_*=shin_left"
NAME1 = "1_D422CD003238_20231031_124807.csv"
NAME2 = "2_D422CD00346F_20231031_124807.csv"


def test_golden_single_pair(tmp_path: Path) -> None:
    r1 = dot_rows(50, stf0=1_006_730_557, seed=1)
    r2 = dot_rows(50, stf0=1_006_730_557 + 2 * 8333, counter0=0, seed=2)
    write_dot(tmp_path / NAME1, r1)
    write_dot(tmp_path / NAME2, r2)
    s = load_export([tmp_path], "dot", filename_rule=RULE)
    assert s.source == "import:dot"
    assert [x.sensor_id for x in s.sensors] == ["shin_left", "foot_left"]
    foot = s.chunks["foot_left"]
    shin = s.chunks["shin_left"]
    # The zero first row is dropped; t = 0 at the earliest remaining sample (foot row 1).
    assert len(foot) == 49
    assert foot.t_s[0] == 0.0
    np.testing.assert_allclose(np.diff(foot.t_s), 8333e-6, rtol=0, atol=1e-9)
    np.testing.assert_allclose(shin.t_s[0], 2 * 8333e-6, atol=1e-9)
    np.testing.assert_allclose(foot.acc_m_s2, r1["acc"][1:], rtol=1e-12)
    np.testing.assert_allclose(foot.gyr_dps, r1["gyr"][1:], rtol=1e-12)
    np.testing.assert_allclose(foot.quat_wxyz, r1["quat"][1:], rtol=1e-12)
    np.testing.assert_array_equal(foot.counter, np.arange(1, 50))
    info = s.sensor("foot_left")
    assert info.family == "dot"
    assert info.sampling_rate_hz == 120.0
    assert info.address == "D4:22:CD:00:32:38"
    assert info.name == "1"
    assert info.has_quaternion
    assert info.has_counter
    assert s.gaps == []
    assert s.extra["import_measured_rates_hz"]["foot_left"] == pytest.approx(120.0048, abs=1e-4)


def test_preamble_metadata_is_read(tmp_path: Path) -> None:
    pre = [
        "DeviceTag:,LeftFoot",
        "FirmwareVersion:,2.3.0",
        "AppVersion:,2023.6.0",
        "SyncStatus:,Synced",
        "OutputRate:,60Hz",
        "FilterProfile:,General",
    ]
    rows = dot_rows(40, stf0=5_000, step_us=16667)
    write_dot(tmp_path / "LeftFoot_20231031_124807.csv", rows, preamble=pre)
    s = load_export([tmp_path], "dot", placements={"foot_left": "LeftFoot"})
    info = s.sensor("foot_left")
    assert info.name == "LeftFoot"
    assert info.firmware == "2.3.0"
    assert info.sampling_rate_hz == 60.0


def test_unsynced_sensors_are_flagged(tmp_path: Path) -> None:
    rows = dot_rows(40, stf0=5_000)
    write_dot(tmp_path / NAME1, rows, preamble=["SyncStatus:,Unsynced"])
    s = load_export([tmp_path], "dot", filename_rule=RULE)
    assert any("SyncStatus" in w for w in s.extra["import_warnings"])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start_back=st.integers(min_value=1, max_value=60), n=st.integers(min_value=70, max_value=140)
)
def test_sample_time_fine_wraps(tmp_path: Path, start_back: int, n: int) -> None:
    """Files starting just before the uint32 wrap of SampleTimeFine time evenly through it."""
    stf0 = 2**32 - start_back * 8333
    rows = dot_rows(n, stf0=stf0)
    path = write_dot(tmp_path / NAME1, rows)
    s = load_export([path], "dot", filename_rule=RULE)
    t = s.chunks["foot_left"].t_s
    assert len(t) == n - 1
    np.testing.assert_allclose(t, np.arange(n - 1) * 8333e-6, atol=1e-9)


def test_two_sensors_straddling_the_wrap_are_paired(tmp_path: Path) -> None:
    """One file starts before the shared clock wraps, the other just after."""
    r1 = dot_rows(100, stf0=2**32 - 3 * 8333)
    r2 = dot_rows(100, stf0=(2**32 + 2 * 8333) % 2**32, seed=3)
    write_dot(tmp_path / NAME1, r1)
    write_dot(tmp_path / NAME2, r2)
    s = load_export([tmp_path], "dot", filename_rule=RULE)
    np.testing.assert_allclose(
        s.chunks["shin_left"].t_s[0] - s.chunks["foot_left"].t_s[0], 5 * 8333e-6, atol=1e-9
    )


def test_counter_jump_and_nan_block_become_gaps(tmp_path: Path) -> None:
    rows = dot_rows(120, stf0=10_000)
    write_dot(tmp_path / NAME1, rows, nan_rows=slice(40, 45), drop_rows=[80, 81, 82])
    s = load_export([tmp_path], "dot", filename_rule=RULE)
    gaps = s.gaps
    assert [(g.reason, g.n_missing) for g in gaps] == [("invalid", 5), ("dropped", 3)]
    t0 = 1 * 8333e-6  # row 1 is t = 0
    assert gaps[0].t_start_s == pytest.approx(39 * 8333e-6 - t0)
    assert gaps[0].t_end_s == pytest.approx(45 * 8333e-6 - t0)
    assert gaps[1].t_start_s == pytest.approx(79 * 8333e-6 - t0)
    assert gaps[1].t_end_s == pytest.approx(83 * 8333e-6 - t0)
    assert len(s.chunks["foot_left"]) == 119 - 5 - 3
    assert not np.isnan(s.chunks["foot_left"].acc_m_s2).any()


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("99999999999999999999", "100000000000000000000"),  # beyond int64: the cast warned
        ("999999999940", "999999999940"),  # beyond uint32: stored as the counter
        ("-540", "-540"),
        ("40.5", "40.5"),
    ],
)
def test_damaged_packet_counter_is_ignored_with_a_warning(
    tmp_path: Path, cell: str, shown: str
) -> None:
    """Regression (found by test_fuzz under the explore profile): a PacketCounter cell that
    is no uint32 was cast to int64 as it was (numpy's invalid-cast warning, an error under
    -W error, for 1e20; garbage such as 999999999940 or -540 stored as the session's counter)."""
    path = write_dot(tmp_path / NAME1, dot_rows(80, stf0=10_000))
    lines = path.read_text().splitlines()
    row = 42  # 1-based line of the damaged sample (header on line 1, zero row on line 2)
    parts = lines[row - 1].split(",")
    parts[0] = cell
    lines[row - 1] = ",".join(parts)
    path.write_text("\n".join(lines) + "\n")
    s = load_export([path], "dot", filename_rule=RULE)
    foot = s.chunks["foot_left"]
    assert foot.counter is None
    assert not s.sensor("foot_left").has_counter
    assert len(foot) == 79  # the row itself is fine and kept; its time comes from SampleTimeFine
    assert s.gaps == []
    (warning,) = [w for w in s.extra["import_warnings"] if "PacketCounter" in w]
    assert f"column 'PacketCounter', row {row}: {shown} is not a packet counter" in warning
    assert "\n" not in warning


def test_missing_columns_are_named(tmp_path: Path) -> None:
    header = DOT_HEADER.replace("Gyr_X,Gyr_Y,Gyr_Z,", "")
    path = tmp_path / NAME1
    lines = [header, "0, 100, 1, 0, 0, 0, 9.8, 0, 0, 0.1, 0.2, 0.3, 0, "]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportFormatError, match=r"lacks column\(s\) Gyr_X, Gyr_Y, Gyr_Z"):
        load_export([path], "dot", filename_rule=RULE)


def test_fusion_only_export_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / NAME1
    path.write_text(
        "DeviceTag:,1\nPacketCounter,SampleTimeFine,Euler_X,Euler_Y,Euler_Z,FreeAcc_X,"
        "FreeAcc_Y,FreeAcc_Z,Status,\n0,100,1,2,3,0.1,0.2,0.3,0,\n1,16767,1,2,3,0.1,0.2,0.3,0,\n"
    )
    with pytest.raises(ImportFormatError, match="orientation/free acceleration only"):
        load_export([path], "dot", filename_rule=RULE)


def test_not_a_dot_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("time,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n0,1,2,3,4,5,6\n")
    with pytest.raises(ImportFormatError, match="not a Movella DOT export"):
        load_export([path], "dot", filename_rule="x*=foot_left")


def test_duplicated_time_is_refused_with_rows(tmp_path: Path) -> None:
    rows = dot_rows(30, stf0=10_000)
    rows["stf"][10] = rows["stf"][9]
    path = write_dot(tmp_path / NAME1, rows)
    with pytest.raises(ImportFormatError, match=r"rows 11 and 12 carry the same time"):
        load_export([path], "dot", filename_rule=RULE)


def test_placement_is_never_guessed(tmp_path: Path) -> None:
    path = write_dot(tmp_path / NAME1, dot_rows(30, stf0=10_000))
    with pytest.raises(ImportFormatError, match="no placement given"):
        load_export([path], "dot")


def test_two_files_at_one_placement(tmp_path: Path) -> None:
    write_dot(tmp_path / NAME1, dot_rows(30, stf0=10_000))
    write_dot(tmp_path / NAME2, dot_rows(30, stf0=10_000))
    with pytest.raises(ImportFormatError, match="both placed at foot_left"):
        load_export([tmp_path], "dot", filename_rule="*=foot_left")


def test_separate_recordings_are_refused(tmp_path: Path) -> None:
    write_dot(tmp_path / NAME1, dot_rows(30, stf0=10_000))
    write_dot(tmp_path / NAME2, dot_rows(30, stf0=90_000_000))
    with pytest.raises(ImportFormatError, match="2 separate recordings"):
        load_export([tmp_path], "dot", filename_rule=RULE)


def test_app_name_without_address_gives_the_tag(tmp_path: Path) -> None:
    write_dot(tmp_path / "LeftShank_20231031_124807.csv", dot_rows(30, stf0=10_000))
    s = load_export([tmp_path], "dot", placements={"LeftShank": "shin_left"})
    assert s.sensor("shin_left").name == "LeftShank"
    assert s.sensor("shin_left").address == ""


def test_counter_that_does_not_count_samples_is_not_used_for_gaps(tmp_path: Path) -> None:
    rows = dot_rows(60, stf0=10_000)
    rows["counter"] = rows["counter"] * 2  # counts packets of two samples, say
    write_dot(tmp_path / NAME1, rows)
    s = load_export([tmp_path], "dot", filename_rule=RULE)
    assert s.gaps == []
