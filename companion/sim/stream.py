"""A simulated session produced incrementally, for live sources and emulated sensors.

``simulate()`` builds a whole session at once; :class:`SimulatedStream` hands out the same
samples a piece at a time, as a live window or an emulated BLE peripheral needs them::

    stream = SimulatedStream("calf-raises", seed=1, sensor_faults=SensorFaults.realistic(1))
    stream.sensors                 # [SensorInfo shin_left, SensorInfo foot_left]
    chunks = stream.read(0.1)      # the next 0.1 s: {"shin_left": ImuChunk, "foot_left": ...}
    stream.truth(chunks["shin_left"].t_s)   # truth references at those times
    stream.annotations_until(stream.t_s)    # truth annotations completed so far
    stream.gaps                    # dropped-sample gaps closed so far

For the same arguments, the concatenated chunks equal ``simulate(..., duration_s=T)``
sample for sample: the same stamps, counters, drops and noise, the signals to within
floating-point rounding (< 1e-9; ``simulate`` also always keeps its very last sample). With
``loop=True`` (the default) the scenario repeats for ever; otherwise the stream ends
(:attr:`finished`) where ``simulate`` without ``duration_s`` would.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from companion.errors import UsageError
from companion.model import Gap, ImuChunk, SensorInfo
from companion.sim.faults import SensorFaults
from companion.sim.kinematics import Motion, truth_angles
from companion.sim.scenario import Scenario, compile_scenario
from companion.sim.simulator import (
    _check_rate,
    _fill_truth,
    _round_times,
    _side_sign,
    sensor_setup,
)

__all__ = ["SimulatedStream"]


class SimulatedStream:
    """Incremental simulation of ``scenario``; see the module docstring."""

    def __init__(
        self,
        scenario: str | Path | Scenario,
        *,
        seed: int = 0,
        sampling_rate_hz: float = 100.0,
        side: str = "left",
        sensor_faults: SensorFaults | None = None,
        loop: bool = True,
        quaternions: bool = False,
    ) -> None:
        self.scenario = Scenario.resolve(scenario)
        _check_rate(sampling_rate_hz)
        self._side_sign = _side_sign(side)
        self.side = side
        self.seed = int(seed)
        self.sampling_rate_hz = float(sampling_rate_hz)
        self.faults = sensor_faults if sensor_faults is not None else SensorFaults.none()
        self.loop = loop
        self.sensors: list[SensorInfo]
        self.sensors, self._synths = sensor_setup(
            side, self.faults, self.sampling_rate_hz, self.seed, quaternions=quaternions
        )
        self._repeats = 0
        self._motion: Motion
        self._annotations: list[dict[str, Any]] = []
        self._compile(1)
        self._once_samples = math.floor(self._motion.duration_s * sampling_rate_hz + 1e-9) + 1
        self._clock_s = 0.0
        self._gaps: list[Gap] = []
        # Per sensor: index of the last delivered sample and how many were missing after it.
        self._last_kept = [-1 for _ in self.sensors]
        self._missing = [0 for _ in self.sensors]

    def _compile(self, repeats: int) -> None:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x4D4F]))
        self._motion, annotations = compile_scenario(
            self.scenario, side_sign=self._side_sign, rng=rng, repeats=repeats
        )
        self._repeats = repeats
        _fill_truth(self._motion, annotations)
        _round_times(annotations)
        self._annotations = annotations

    @property
    def t_s(self) -> float:
        """Session time up to which samples have been handed out."""
        return self._clock_s

    @property
    def finished(self) -> bool:
        """True once a non-looping stream has delivered its last sample."""
        return not self.loop and self._synths[0].next_index >= self._once_samples

    @property
    def gaps(self) -> list[Gap]:
        """Dropped-sample gaps whose end has been delivered."""
        return list(self._gaps)

    def read(self, duration_s: float) -> dict[str, ImuChunk]:
        """Advance the clock by ``duration_s``; the samples stamped before the new clock."""
        if not (math.isfinite(duration_s) and duration_s >= 0.0):
            raise UsageError(f"cannot read {duration_s!r} s from the simulator; give seconds >= 0.")
        self._clock_s += duration_s
        target = math.ceil(self._clock_s * self.sampling_rate_hz - 1e-9)
        if not self.loop:
            target = min(target, self._once_samples)
        return self._generate(max(0, target - self._synths[0].next_index))

    def read_samples(self, n: int) -> dict[str, ImuChunk]:
        """The next ``n`` sample slots of each sensor (dropped ones are left out); the clock
        moves to the stamp of the sample after them."""
        out = self._generate(n)
        self._clock_s = max(self._clock_s, self._synths[0].next_index / self.sampling_rate_hz)
        return out

    def _generate(self, n: int) -> dict[str, ImuChunk]:
        first = self._synths[0].next_index
        if not self.loop:
            n = max(0, min(n, self._once_samples - first))
        end_s = (first + n) / self.sampling_rate_hz
        while self.loop and end_s + 1.0 > self._motion.duration_s:
            self._compile(max(2, 2 * self._repeats))
        out: dict[str, ImuChunk] = {}
        for i, (info, synth) in enumerate(zip(self.sensors, self._synths, strict=True)):
            block = synth.generate(self._motion, n)
            keep = block.keep
            out[info.sensor_id] = ImuChunk(
                sensor_id=info.sensor_id,
                placement=info.placement,
                t_s=block.t_s[keep],
                acc_m_s2=block.acc_m_s2[keep],
                gyr_dps=block.gyr_dps[keep],
                counter=block.counter[keep],
                quat_wxyz=None if block.quat_wxyz is None else block.quat_wxyz[keep],
            )
            for k, kept in zip(block.counter.tolist(), keep.tolist(), strict=True):
                if not kept:
                    self._missing[i] += 1
                    continue
                if self._missing[i] and self._last_kept[i] >= 0:
                    self._gaps.append(
                        Gap(
                            sensor_id=info.sensor_id,
                            t_start_s=self._last_kept[i] / self.sampling_rate_hz,
                            t_end_s=k / self.sampling_rate_hz,
                            n_missing=self._missing[i],
                            reason="dropped",
                        )
                    )
                self._missing[i] = 0
                self._last_kept[i] = k
        return out

    def truth(self, t_s: np.ndarray) -> dict[str, np.ndarray]:
        """The truth references (``truth_ankle_sagittal_deg``, ...) at session times ``t_s``."""
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        while self.loop and t.size and float(t.max()) > self._motion.duration_s:
            self._compile(max(2, 2 * self._repeats))
        return truth_angles(self._motion.pose(t), self._side_sign)

    def annotations_until(self, t_s: float) -> list[dict[str, Any]]:
        """Truth annotations (as in ``session.annotations``) completed by session time ``t_s``."""
        while self.loop and t_s > self._motion.duration_s:
            self._compile(max(2, 2 * self._repeats))
        return [dict(a) for a in self._annotations if a["t_end_s"] <= t_s + 1e-9]
