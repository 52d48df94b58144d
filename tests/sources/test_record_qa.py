"""QA regressions of the BLE source and `companion record`: samples streamed before the rate
is configured, the recording's duration, gaps at start-up, --out checks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from companion.sources import emulated
from tests.sources.emulated_session import run_session

SLOW_WRITE_S = 0.8


@pytest.fixture
def slow_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every GATT write takes 0.8 s more (a busy host, a slow stack): the sensor streams at
    its default rate for seconds before the host's rate command takes effect."""
    original = emulated.EmulatedClientBackend.write_gatt_char

    async def slow(self, characteristic, data, response):
        await asyncio.sleep(SLOW_WRITE_S)
        return await original(self, characteristic, data, response)

    monkeypatch.setattr(emulated.EmulatedClientBackend, "write_gatt_char", slow)


@pytest.mark.parametrize("family", ["witmotion", "thingy52"])  # no device time
def test_no_device_time_samples_before_the_rate_command_are_not_counted(
    family: str, slow_configuration: None
) -> None:
    """The default-rate stream before configuration was counted at the configured rate,
    stretching the time axis back to negative session times (shin_left at −4.9 s)."""
    rate_hz = 50.0
    run = run_session(family, duration_s=20.0, rate_hz=rate_hz)
    for sid in ("shin_left", "foot_left"):
        c = run.samples(sid)
        link = next(lk for lk in run.source._links if lk.label == sid)
        (configured_host_s,) = link.configured_at_host_s.values()
        configured_s = configured_host_s - run.t0_host_s
        assert configured_s > SLOW_WRITE_S  # the slow writes did delay the configuration
        # Nothing is placed before the rate took effect (it was at −4.9 s in the report).
        assert c.t_s[0] >= configured_s - 2.0 / rate_hz, (sid, c.t_s[0], configured_s)
        assert link.early_samples_dropped > 0  # the sensor did stream in the meantime
        assert np.all(np.diff(c.t_s) > 0)
        assert run.gaps.get(sid, []) == []


@pytest.fixture
def virtual_record(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`companion record` on virtual time (seconds of recording in a fraction of one), with the
    per-user config in a temporary folder."""
    import companion.commands.record as record_cmd
    from companion.sources.virtual_time import run_virtual

    monkeypatch.setattr(record_cmd.asyncio, "run", run_virtual)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def _record(argv: list[str], out: Path):
    from companion.cli import main
    from companion.storage import load_session

    assert main(["record", *argv, "--quiet", "--out", str(out)]) == 0
    return load_session(out)


@pytest.mark.parametrize(
    ("family", "rate_hz", "duration_s"),
    [("dot", 60.0, 5.0), ("witmotion", 10.0, 3.0), ("movesense", 52.0, 4.0)],
)
def test_record_duration_is_session_time_from_the_first_sample(
    family: str, rate_hz: float, duration_s: float, tmp_path: Path, virtual_record: None
) -> None:
    """`record --duration 5` wrote 5.8 s (348 samples at 60 Hz): the clock started at the
    first item (after connecting), not at the first sample."""
    argv = ["--emulate", family, "--rate", f"{rate_hz:g}", "--duration", f"{duration_s:g}"]
    session = _record(argv, tmp_path / "r.calf")
    period_s = 1.0 / rate_hz
    t_first = min(float(c.t_s[0]) for c in session.chunks.values())
    t_last = max(float(c.t_s[-1]) for c in session.chunks.values())
    assert t_first >= 0.0
    assert t_last - t_first == pytest.approx(duration_s, abs=2 * period_s)
    for chunk in session.chunks.values():
        assert len(chunk) <= duration_s * rate_hz + 2
        assert chunk.t_s[-1] < t_first + duration_s
    first_sensor = min(session.chunks.values(), key=lambda c: c.t_s[0])
    assert len(first_sensor) >= duration_s * rate_hz - 2


@pytest.mark.parametrize("family", ["dot", "movesense", "witmotion", "calf", "metamotion"])
def test_no_gaps_without_faults(family: str, tmp_path: Path, virtual_record: None) -> None:
    """A gap must only be reported for a real loss: none in a clean emulated recording."""
    session = _record(["--emulate", family, "--duration", "6"], tmp_path / "r.calf")
    assert [g.to_dict() for g in session.gaps] == []


def test_record_out_is_a_folder_or_in_a_missing_folder(tmp_path: Path, capsys) -> None:
    from companion.cli import main

    assert main(["record", "--emulate", "dot", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "is a folder" in err[0]
    assert "already exists" not in err[0]
    missing = tmp_path / "nope" / "r.calf"
    assert main(["record", "--emulate", "dot", "--out", str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "does not exist" in err[0]
    assert "Create it first" in err[0]
    assert not missing.parent.exists()
