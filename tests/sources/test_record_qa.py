"""QA regressions of the BLE source and `companion record`: samples streamed before the rate
is configured, the recording's duration, gaps at start-up, --out checks."""

from __future__ import annotations

import asyncio

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


@pytest.mark.parametrize("family", ["witmotion", "metamotion"])
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
