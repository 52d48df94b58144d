"""One stream type for every source of samples: BLE sensors, emulated sensors, replay, simulator.

A source is an async iterator of :data:`SourceItem`: :class:`~companion.model.ImuChunk` (samples
on the session clock), :class:`~companion.model.Gap` (a marked hole in one sensor's stream),
:class:`LinkStateChanged` (connection state of one sensor, with a sentence for the user) and
:class:`SensorStats` (live statistics). Consumers (the window, ``companion record``) treat all
sources alike; only how the items are produced differs.

Sources never import Qt: the window runs them on the one asyncio loop (qasync) it owns.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from companion.model import Gap, ImuChunk, SensorInfo

__all__ = [
    "LinkState",
    "LinkStateChanged",
    "SampleSource",
    "SensorStats",
    "SourceItem",
]


class LinkState(enum.StrEnum):
    """Connection state of one sensor."""

    SCANNING = "scanning"
    CONNECTING = "connecting"
    CONFIGURING = "configuring"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"
    FAILED = "failed"
    """Gave up; ``message`` says why and what to do."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkStateChanged:
    sensor_id: str
    state: LinkState
    t_s: float
    """Session time of the change."""
    message: str = ""
    """One sentence for the user (e.g. why it failed and what to do next)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorStats:
    """Live statistics of one sensor's stream."""

    sensor_id: str
    t_s: float
    effective_rate_hz: float
    loss_pct: float
    last_packet_age_s: float
    latency_s: float | None = None
    """Host arrival time minus reconstructed sample time (None where unknown)."""
    battery_pct: float | None = None


SourceItem = ImuChunk | Gap | LinkStateChanged | SensorStats


@runtime_checkable
class SampleSource(Protocol):
    """What the window and the recorder consume.

    ``sensors`` is known before iteration starts (placement included). Iterating starts
    the source; :meth:`close` stops it and releases devices; iteration ends when the source
    is exhausted (replay, simulation) or closed.
    """

    @property
    def sensors(self) -> list[SensorInfo]: ...

    def __aiter__(self) -> AsyncIterator[SourceItem]: ...

    async def close(self) -> None: ...
