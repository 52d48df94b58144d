"""WitMotion saved data: the current record file (two devices interleaved) and old MiniIMU text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from companion.importers import ImportFormatError, load_export
from companion.model import GRAVITY_M_S2
from tests.importers.vendor_files import write_witmotion_legacy, write_witmotion_record

DEV_A = "WT901BLE67(d6:a8:b9:ee:a0:b7)"
DEV_B = "WT901BLE68(e1:22:33:44:55:66)"


def _device(n: int, t0_ms: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return {
        "t_ms": t0_ms + 10.0 * np.arange(n),
        "acc_g": np.column_stack([rng.normal(0, 0.01, n), rng.normal(0, 0.01, n), np.ones(n)]),
        "gyr_dps": rng.normal(0, 20, (n, 3)),
        "quat_wxyz": q,
    }


@pytest.mark.parametrize(("delimiter", "ms_sep"), [(",", "."), ("\t", ":")])
def test_golden_record_two_devices(tmp_path: Path, delimiter: str, ms_sep: str) -> None:
    a, b = _device(200, 0.0, 1), _device(200, 4.0, 2)
    path = write_witmotion_record(
        tmp_path / "_WT901BLE67_0.csv", {DEV_A: a, DEV_B: b}, delimiter=delimiter, ms_sep=ms_sep
    )
    s = load_export(
        [path], "witmotion", placements={"shin_right": "WT901BLE67", DEV_B: "foot_right"}
    )
    shin, foot = s.chunks["shin_right"], s.chunks["foot_right"]
    np.testing.assert_allclose(shin.t_s, np.arange(200) * 0.010, atol=1e-6)
    np.testing.assert_allclose(foot.t_s, 0.004 + np.arange(200) * 0.010, atol=1e-6)
    np.testing.assert_allclose(shin.acc_m_s2, np.round(a["acc_g"], 4) * GRAVITY_M_S2, rtol=1e-12)
    np.testing.assert_allclose(foot.gyr_dps, np.round(b["gyr_dps"], 4), rtol=1e-12)
    np.testing.assert_allclose(shin.quat_wxyz, np.round(a["quat_wxyz"], 5), rtol=1e-12)
    info = s.sensor("shin_right")
    assert info.family == "witmotion"
    assert info.address == "D6:A8:B9:EE:A0:B7"
    assert info.sampling_rate_hz == 100.0
    assert s.extra["import_warnings"] == []


def test_legacy_miniimu_text_gb18030_decimal_comma_across_midnight(tmp_path: Path) -> None:
    n = 150
    t = np.arange(n) * 0.02
    acc = np.tile([0.0, 0.0, 1.0], (n, 1))
    gyr = np.column_stack([np.linspace(-50, 50, n), np.zeros(n), np.ones(n)])
    path = write_witmotion_legacy(tmp_path / "data.txt", t, acc, gyr)
    s = load_export([path], "witmotion", filename_rule="data*=shin_left")
    c = s.chunks["shin_left"]
    np.testing.assert_allclose(c.t_s, t, atol=1e-9)  # 23:59:59.5 -> 00:00:02.5 without a jump
    np.testing.assert_allclose(c.gyr_dps[:, 0], np.round(gyr[:, 0], 4), rtol=1e-12)
    np.testing.assert_allclose(c.acc_m_s2[:, 2], GRAVITY_M_S2)
    assert any("PC's clock" in w for w in s.extra["import_warnings"])


def test_missing_gyro_columns_named(tmp_path: Path) -> None:
    p = tmp_path / "w.csv"
    p.write_text(
        "Time,Device name,Chip Time(),Acceleration X(g),Acceleration Y(g),Acceleration Z(g)\n"
        "16:44:16.689,WT1,2024-3-19 16:44:16.689,0,0,1\n"
    )
    with pytest.raises(ImportFormatError, match="lacks angular velocity x, angular velocity y"):
        load_export([p], "witmotion", placements={"shin_left": "WT1"})


def test_duplicated_chip_time(tmp_path: Path) -> None:
    a = _device(50, 0.0, 1)
    a["t_ms"][20] = a["t_ms"][19]
    path = write_witmotion_record(tmp_path / "w.csv", {DEV_A: a})
    with pytest.raises(ImportFormatError, match="carry the same time"):
        load_export([path], "witmotion", placements={"shin_left": "WT901BLE67"})
