"""Imported DOT recordings through the analysis core: N-pose ~0°, cycling leg moves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from companion.importers import load_export

analysis = pytest.importorskip("companion.analysis", reason="the analysis core is not built")
if not hasattr(analysis, "analyze_session"):  # pragma: no cover - API not there yet
    pytest.skip("companion.analysis.analyze_session is not available", allow_module_level=True)

MAP = Path(__file__).resolve().parents[2] / "docs" / "maps" / "xsens_dot_devdata.toml"


def _session(shared_data: Path, stamp: str):
    folder = shared_data / "xsens_dot_shank_foot_devdata"
    return load_export(sorted(folder.glob(f"*_{stamp}.csv")), "dot", map_path=MAP)


def _sagittal(result) -> np.ndarray:
    ch = result.channels
    return ch.ankle_sagittal_deg[ch.valid]


@pytest.mark.parametrize("side", ["left", "right"])
def test_npose_calibrates_to_neutral(shared_data: Path, side: str) -> None:
    r = analysis.analyze_session(_session(shared_data, "124807"), side=side)
    assert r.calibration is not None
    assert not r.calibration.flagged_fallback
    a = _sagittal(r)
    assert a.size > 400  # ~5 s at 100 Hz after calibration
    assert abs(float(np.median(a))) < 2.0
    assert float(np.percentile(np.abs(a), 95)) < 3.0


@pytest.mark.parametrize(
    ("stamp", "cycling", "standing"), [("124831", "right", "left"), ("124840", "left", "right")]
)
def test_leg_cycling_shows_ankle_motion_on_the_cycling_side(
    shared_data: Path, stamp: str, cycling: str, standing: str
) -> None:
    """The sensors stayed strapped on, so the N-pose calibration applies to the cycling trials."""
    npose = _session(shared_data, "124807")
    s = _session(shared_data, stamp)
    spread = {}
    for side in (cycling, standing):
        cal = analysis.analyze_session(npose, side=side).calibration
        a = _sagittal(analysis.analyze_session(s, side=side, calibration=cal))
        assert a.size > 400
        p5, p95 = np.percentile(a, [5, 95])
        spread[side] = float(p95 - p5)
    assert spread[cycling] > 10.0
    assert spread[cycling] > 2.5 * spread[standing]
