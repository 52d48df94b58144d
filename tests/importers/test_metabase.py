"""MetaBase exports (one file per board and signal) written in the app's layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from companion.importers import ImportFormatError, load_export
from companion.model import GRAVITY_M_S2
from tests.importers.vendor_files import write_metabase

MAC_SHIN = "D98B0E4A4D7D"
MAC_FOOT = "C85D72EF7FA2"
EPOCH0_MS = 1_558_457_705_383  # 2019-05-21T16:55:05.383Z


def _board(folder: Path, name: str, mac: str, *, offset_ms: int, n: int = 300, gyr_lag_ms: int = 3):
    k = np.arange(n)
    t_acc = EPOCH0_MS + offset_ms + 10 * k
    acc_g = np.column_stack([0.01 * np.sin(k / 7), -1.0 + 0.0 * k, 0.02 * np.ones(n)])
    t_gyr = t_acc + gyr_lag_ms
    # A gyro signal linear in time: interpolation onto the accelerometer stamps is exact.
    gyr = np.column_stack(
        [0.1 * (t_gyr - EPOCH0_MS), 5.0 * np.ones(n), -0.05 * (t_gyr - EPOCH0_MS)]
    )
    fa = write_metabase(
        folder, name=name, mac=mac, signal="Accelerometer", epoch_ms=t_acc, xyz=acc_g
    )
    fg = write_metabase(folder, name=name, mac=mac, signal="Gyroscope", epoch_ms=t_gyr, xyz=gyr)
    return fa, fg, t_acc, acc_g


def test_golden_two_boards(tmp_path: Path) -> None:
    _, _, _, acc_shin = _board(tmp_path, "LeftShank", MAC_SHIN, offset_ms=0)
    _board(tmp_path, "LeftFoot", MAC_FOOT, offset_ms=25)
    s = load_export(
        [tmp_path],
        "metabase",
        placements={"shin_left": MAC_SHIN, "foot_left": "LeftFoot*"},
    )
    assert s.source == "import:metabase"
    assert s.start_time_utc == "2019-05-21T16:55:05.383Z"
    shin, foot = s.chunks["shin_left"], s.chunks["foot_left"]
    assert shin.t_s[0] == 0.0
    assert foot.t_s[0] == pytest.approx(0.025, abs=1e-9)
    np.testing.assert_allclose(shin.acc_m_s2, np.round(acc_shin, 4) * GRAVITY_M_S2, rtol=1e-12)
    # Gyro interpolated onto the accelerometer stamps: exact for a linear signal, except the
    # first stamp, 3 ms before the first gyro sample, which holds that sample's value.
    t_ms = EPOCH0_MS + shin.t_s * 1000.0
    np.testing.assert_allclose(shin.gyr_dps[1:, 0], 0.1 * (t_ms[1:] - EPOCH0_MS), atol=2e-3)
    assert shin.gyr_dps[0, 0] == pytest.approx(0.1 * 3, abs=1e-3)
    np.testing.assert_allclose(shin.gyr_dps[:, 1], 5.0, atol=1e-9)
    info = s.sensor("shin_left")
    assert info.family == "metabase"
    assert info.address == "D9:8B:0E:4A:4D:7D"
    assert info.name == "LeftShank"
    assert info.sampling_rate_hz == 100.0
    assert len(shin) == 300
    assert s.extra["import_warnings"] == []


def test_missing_gyroscope_file(tmp_path: Path) -> None:
    fa, fg, _, _ = _board(tmp_path, "LeftShank", MAC_SHIN, offset_ms=0)
    fg.unlink()
    with pytest.raises(ImportFormatError, match=r"device D98B0E4A4D7D has no Gyroscope file"):
        load_export([fa], "metabase", placements={"shin_left": MAC_SHIN})


def test_mixed_rates_are_refused(tmp_path: Path) -> None:
    k = np.arange(200)
    fa = write_metabase(
        tmp_path, name="A", mac=MAC_SHIN, signal="Accelerometer", epoch_ms=EPOCH0_MS + 10 * k,
        xyz=np.tile([0.0, 0.0, 1.0], (200, 1)),
    )  # fmt: skip
    fg = write_metabase(
        tmp_path, name="A", mac=MAC_SHIN, signal="Gyroscope", epoch_ms=EPOCH0_MS + 40 * k,
        xyz=np.zeros((200, 3)), rate_hz=25.0,
    )  # fmt: skip
    with pytest.raises(ImportFormatError, match="mixed rates"):
        load_export([fa, fg], "metabase", placements={"shin_left": MAC_SHIN})


def test_gyro_gap_becomes_marked_gap(tmp_path: Path) -> None:
    _, fg, _, _ = _board(tmp_path, "LeftShank", MAC_SHIN, offset_ms=0)
    lines = fg.read_text().splitlines()
    fg.write_text("\n".join(lines[:101] + lines[111:]) + "\n")  # lose 10 gyro samples
    s = load_export([tmp_path], "metabase", placements={"shin_left": MAC_SHIN})
    assert len(s.gaps) == 1
    g = s.gaps[0]
    assert g.reason == "invalid"
    # Gyro stamps lag by 3 ms: the hole spans gyro 0.993..1.103 s, so the 11 accelerometer
    # stamps 1.000..1.100 s have no gyro sample on both sides.
    assert g.n_missing == 11
    assert g.t_start_s == pytest.approx(0.99, abs=1e-9)
    assert g.t_end_s == pytest.approx(1.11, abs=1e-9)


def test_declared_unit_that_looks_wrong_warns(tmp_path: Path) -> None:
    k = np.arange(200)
    # Header says g, values are m/s² (someone converted before exporting): 9.81 "g".
    fa = write_metabase(
        tmp_path, name="A", mac=MAC_SHIN, signal="Accelerometer", epoch_ms=EPOCH0_MS + 10 * k,
        xyz=np.tile([0.0, 0.0, 9.81], (200, 1)),
    )  # fmt: skip
    fg = write_metabase(
        tmp_path, name="A", mac=MAC_SHIN, signal="Gyroscope", epoch_ms=EPOCH0_MS + 10 * k,
        xyz=np.zeros((200, 3)),
    )  # fmt: skip
    s = load_export([fa, fg], "metabase", placements={"shin_left": MAC_SHIN})
    assert any("m/s² rather than g" in w for w in s.extra["import_warnings"])


def test_not_metabase(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("time,acc_x,acc_y,acc_z\n0,1,2,3\n")
    with pytest.raises(ImportFormatError, match="not a MetaBase export"):
        load_export([p], "metabase")


def test_other_signals_are_skipped_not_mistaken(tmp_path: Path) -> None:
    """Linear Acceleration is in g too, but it is not the accelerometer: skipped, reported."""
    _board(tmp_path, "LeftShank", MAC_SHIN, offset_ms=0)
    k = np.arange(300)
    write_metabase(
        tmp_path, name="LeftShank", mac=MAC_SHIN, signal="Linear Acceleration",
        epoch_ms=EPOCH0_MS + 10 * k, xyz=np.zeros((300, 3)),
    )  # fmt: skip
    write_metabase(
        tmp_path, name="LeftShank", mac=MAC_SHIN, signal="Magnetometer",
        epoch_ms=EPOCH0_MS + 40 * k, xyz=np.zeros((300, 3)),
        header="epoc (ms),timestamp (-0700),elapsed (s),x-axis (T),y-axis (T),z-axis (T)",
    )  # fmt: skip
    s = load_export([tmp_path], "metabase", placements={"shin_left": MAC_SHIN})
    assert np.median(np.linalg.norm(s.chunks["shin_left"].acc_m_s2, axis=1)) > 9.0
    note = next(w for w in s.extra["import_warnings"] if w.startswith("skipped 2 MetaBase"))
    assert "(Linear Acceleration)" in note
    assert "(Magnetometer)" in note
