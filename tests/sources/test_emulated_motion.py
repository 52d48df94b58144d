"""Emulated sensors of one leg play one movement: the shin and foot stay in step.

Regression: each peripheral used to start the simulated movement at its own first sample, so
the foot (connected a moment after the shin) lagged the shin by the connection stagger, and
the analysis saw calf raises as tibialis raises.
"""

from __future__ import annotations

import asyncio

import numpy as np

from companion.analysis import analyze_session
from companion.model import ImuChunk, Session
from companion.sources.ble import BleSource, SensorAssignment
from companion.sources.emulated import EmulatedRadio, SimulatedMotion, default_emulated_sensors
from companion.sources.virtual_time import run_virtual


def test_emulated_calf_raises_are_calf_raises_with_their_tempo() -> None:
    specs = default_emulated_sensors(["movesense"])
    radio = EmulatedRadio(specs, motion=SimulatedMotion("calf-raises"))
    source = BleSource(
        [
            SensorAssignment(address=s.address, placement=s.placement, family=s.family)
            for s in specs
        ],
        backend=radio.backend,
    )

    async def main() -> dict[str, list[ImuChunk]]:
        loop = asyncio.get_running_loop()
        chunks: dict[str, list[ImuChunk]] = {}
        t0 = None
        async for item in source:
            t0 = loop.time() if t0 is None else t0
            if isinstance(item, ImuChunk):
                chunks.setdefault(item.sensor_id, []).append(item)
            if loop.time() - t0 >= 28.0:
                await source.close()
        return chunks

    chunks = run_virtual(main())
    session = Session(
        sensors=source.sensors, chunks={k: ImuChunk.concat(v) for k, v in chunks.items()}
    )
    starts = [session.chunks[s.sensor_id].t_s[0] for s in source.sensors]
    assert abs(starts[0] - starts[1]) < 2.0  # connected one after the other
    result = analyze_session(session, side="left")
    assert len(result.reps) >= 2
    assert {r.exercise for r in result.reps} == {"calf_raise"}
    # the calf-raises scenario: 1 s rise, 1 s hold, 3 s lowering, ~35° range
    assert 2.7 <= float(np.median([r.lower_s for r in result.reps])) <= 3.3
    assert all(25.0 < r.rom_deg < 45.0 for r in result.reps)
