"""The public recordings in ../shared/data through the importers (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from companion.importers import ImportFormatError, load_export

REPO = Path(__file__).resolve().parents[2]
MAPS = REPO / "docs" / "maps"
DOT_STAMPS = ("124807", "124822", "124831", "124840", "124850", "133150")


@pytest.fixture
def dot_dir(shared_data: Path) -> Path:
    return shared_data / "xsens_dot_shank_foot_devdata"


def _dot(dot_dir: Path, stamp: str):
    files = sorted(dot_dir.glob(f"*_{stamp}.csv"))
    return load_export(files, "dot", map_path=MAPS / "xsens_dot_devdata.toml")


@pytest.mark.parametrize("stamp", DOT_STAMPS)
def test_dot_recordings_are_four_sensor_sessions_at_120_hz(dot_dir: Path, stamp: str) -> None:
    s = _dot(dot_dir, stamp)
    assert [x.sensor_id for x in s.sensors] == [
        "shin_left",
        "foot_left",
        "shin_right",
        "foot_right",
    ]
    for info in s.sensors:
        assert info.family == "dot"
        assert info.sampling_rate_hz == 120.0
        assert info.has_quaternion
        # SampleTimeFine steps of 8333 µs: 120.005 Hz measured.
        assert s.extra["import_measured_rates_hz"][info.sensor_id] == pytest.approx(
            120.0048, abs=1e-3
        )
    starts = [float(c.t_s[0]) for c in s.chunks.values()]
    assert min(starts) == 0.0
    assert max(starts) < 0.05  # synchronised sensors start within a few samples
    assert s.gaps == []
    # Sensors worn +X up along the segment: a standing sensor reads gravity on +X.
    if stamp == "124807":
        for c in s.chunks.values():
            assert np.median(c.acc_m_s2[:, 0]) > 8.0
        assert s.extra["import_warnings"] == []


def test_dot_folder_with_six_recordings_is_refused(dot_dir: Path) -> None:
    with pytest.raises(ImportFormatError, match="6 separate recordings"):
        load_export([dot_dir], "dot", map_path=MAPS / "xsens_dot_devdata.toml")


@pytest.mark.parametrize(
    ("stamp", "cycling", "still"), [("124831", "right", "left"), ("124840", "left", "right")]
)
def test_leg_cycling_moves_the_cycling_side(
    dot_dir: Path, stamp: str, cycling: str, still: str
) -> None:
    """Relative angular rate between foot and shin sensors (both worn +X up, +Z lateral):
    large on the cycling leg, small on the standing one."""
    s = _dot(dot_dir, stamp)

    def rel_rms(side: str) -> float:
        f, h = s.chunks[f"foot_{side}"], s.chunks[f"shin_{side}"]
        g = np.interp(f.t_s, h.t_s, h.gyr_dps[:, 2])
        return float(np.sqrt(np.mean((f.gyr_dps[:, 2] - g) ** 2)))

    assert rel_rms(cycling) > 3.0 * rel_rms(still)


def test_last_walk_gyro_peak_matches_the_dataset_notes(dot_dir: Path) -> None:
    """DATASET_NOTES: sensor 7 (right foot) peaks near 2460 deg/s in the last walk (as a
    vector norm; every single axis stays inside the DOT's ±2000 deg/s, so no clipping warning)."""
    s = _dot(dot_dir, "133150")
    peak = float(np.linalg.norm(s.chunks["foot_right"].gyr_dps, axis=1).max())
    assert 2400.0 < peak < 2520.0
    assert float(np.abs(s.chunks["foot_right"].gyr_dps).max()) < 2000.0
    assert s.extra["import_warnings"] == []


ENC_LOGS = ("LOG2", "LOG7", "LOG8", "LOG10", "LOG13", "LOG25")


@pytest.mark.parametrize("log", ENC_LOGS)
def test_encoder_walking_logs_through_the_committed_map(shared_data: Path, log: str) -> None:
    path = shared_data / "ankle_encoder_shank_foot_mpu6050" / "parsed" / f"{log}.csv.gz"
    s = load_export(
        [path],
        "generic",
        map_path=MAPS / "ankle_encoder_mpu6050.toml",
        placements={"side": "right"},
    )
    assert sorted(s.chunks) == ["foot_right", "shin_right"]
    assert s.sensor("foot_right").name == "MPU1"
    assert s.sensor("foot_right").sampling_rate_hz == 100.0
    ref = s.references["encoder_ankle_deg"]
    assert 170.0 < s.duration_s < 185.0
    assert len(ref.t_s) == len(s.chunks["foot_right"])
    np.testing.assert_array_equal(ref.t_s, s.chunks["foot_right"].t_s)
    assert -40.0 < ref.values.min() < -5.0
    assert 5.0 < ref.values.max() < 30.0
    assert abs(ref.values[0]) < 2.0  # zeroed standing at the start
    # The authors removed gravity: the importer says so instead of silently passing it on.
    assert any("gravity" in w for w in s.extra["import_warnings"])
    # Host-stamped ~100 Hz with jitter: losses are marked, a small fraction of the samples.
    lost = sum(g.n_missing for g in s.gaps if g.sensor_id == "foot_right")
    assert 0 < lost < 0.02 * len(s.chunks["foot_right"])


def test_encoder_log_needs_a_side(shared_data: Path) -> None:
    path = shared_data / "ankle_encoder_shank_foot_mpu6050" / "parsed" / "LOG2.csv.gz"
    with pytest.raises(ImportFormatError, match="--side left or --side right"):
        load_export([path], "generic", map_path=MAPS / "ankle_encoder_mpu6050.toml")


@pytest.mark.parametrize("fmt", ["dot", "metabase", "witmotion", "generic"])
def test_mocap_folder_is_refused_and_corrupt_file_named(shared_data: Path, fmt: str) -> None:
    folder = shared_data / "calf_raise_mocap_loadsol"
    with pytest.raises(ImportFormatError) as info:
        load_export(
            [folder],
            fmt,
            map_path=MAPS / "ankle_encoder_mpu6050.toml" if fmt == "generic" else None,
        )
    text = str(info.value)
    assert "holds no inertial data" in text
    assert "Subject03E.csv" in text
    assert "empty rows" in text
    assert "\n" not in text


def test_single_mocap_file_is_refused(shared_data: Path) -> None:
    path = shared_data / "calf_raise_mocap_loadsol" / "Subject01G.csv"
    with pytest.raises(ImportFormatError, match="holds no inertial data: it has no accelerometer"):
        load_export([path], "dot")


@pytest.mark.parametrize("log", ["LOG2", "LOG25"])  # two of six keep the suite fast
def test_raw_text_log_imports_identically_to_the_parsed_csv(shared_data: Path, log: str) -> None:
    """The authors' free-text log through a line_regex map == the parsed CSV through its map."""
    folder = shared_data / "ankle_encoder_shank_foot_mpu6050"
    raw = load_export(
        [folder / "raw" / f"{log}.TXT"], "generic",
        map_path=MAPS / "ankle_encoder_mpu6050_raw.toml", placements={"side": "left"},
    )  # fmt: skip
    parsed = load_export(
        [folder / "parsed" / f"{log}.csv.gz"], "generic",
        map_path=MAPS / "ankle_encoder_mpu6050.toml", placements={"side": "left"},
    )  # fmt: skip
    assert sorted(raw.chunks) == sorted(parsed.chunks) == ["foot_left", "shin_left"]
    for sid in raw.chunks:
        assert raw.chunks[sid].equals(parsed.chunks[sid])
    np.testing.assert_array_equal(
        raw.references["encoder_ankle_deg"].values, parsed.references["encoder_ankle_deg"].values
    )
    assert [g.to_dict() for g in raw.gaps] == [g.to_dict() for g in parsed.gaps]
    assert any("New Logging Session" in w for w in raw.extra["import_warnings"])
