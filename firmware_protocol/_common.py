"""Types shared by every family: events, decoder statistics, the decoder/encoder bases and
:class:`Family`, the description of one sensor family that the BLE layer works from.

Contract: no I/O, no clock, no asyncio. Feed bytes, get events; give samples, get bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from firmware_protocol.errors import UnsupportedSettingError

__all__ = [
    "GRAVITY_M_S2",
    "BytesDropped",
    "DecoderStats",
    "DeviceEncoder",
    "Event",
    "Family",
    "Reply",
    "Samples",
    "SequenceGap",
    "StreamDecoder",
    "sig_uuid",
]

GRAVITY_M_S2 = 9.80665  # standard gravity, m/s² (same value as companion.model; no import)

_SIG_BASE = "-0000-1000-8000-00805f9b34fb"


def sig_uuid(short: int) -> str:
    """Full 128-bit string of a 16-bit Bluetooth SIG UUID (``0x2A19`` → ``00002a19-…9b34fb``)."""
    return f"{short:08x}{_SIG_BASE}"


BATTERY_SERVICE_UUID = sig_uuid(0x180F)
BATTERY_LEVEL_CHAR_UUID = sig_uuid(0x2A19)
DEVICE_INFORMATION_SERVICE_UUID = sig_uuid(0x180A)


# --------------------------------------------------------------------------------------------
# Events a streaming decoder emits
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Samples:
    """Samples decoded from one device packet, in physical units and the sensor's own frame.

    Rows are samples in device order. Nothing is interpolated or invented: a field the
    family does not send is ``None``.
    """

    acc_m_s2: np.ndarray
    """(n, 3) specific force, m/s²."""
    gyr_dps: np.ndarray
    """(n, 3) angular velocity, deg/s."""
    quat_wxyz: np.ndarray | None = None
    """(n, 4) device orientation quaternion, scalar first, or None."""
    counter: np.ndarray | None = None
    """(n,) int64 device packet/sample counter, unwrapped, or None."""
    t_dev_s: np.ndarray | None = None
    """(n,) device time of each sample, s (unwrapped, device epoch), or None."""

    def __len__(self) -> int:
        return int(self.acc_m_s2.shape[0])

    def equals(self, other: object) -> bool:
        """Exact equality of every array (NaN-aware)."""
        if not isinstance(other, Samples):
            return False

        def same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
            if a is None or b is None:
                return a is None and b is None
            return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))

        return (
            same(self.acc_m_s2, other.acc_m_s2)
            and same(self.gyr_dps, other.gyr_dps)
            and same(self.quat_wxyz, other.quat_wxyz)
            and same(self.counter, other.counter)
            and same(self.t_dev_s, other.t_dev_s)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BytesDropped:
    """Bytes the decoder could not use and threw away."""

    n_bytes: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SequenceGap:
    """The device counter (or device time, converted to a count) jumped.

    ``expected`` and ``got`` are unwrapped counter values; ``n_missing`` is the best
    estimate of samples lost (0 when only the counter says something is wrong).
    """

    expected: int
    got: int
    n_missing: int
    reason: str = "lost"
    """``lost`` (packets missing), or ``clock_reset`` (the device time jumped backwards, e.g.
    after a sensor restart: the decoder continues the time line one period after the last
    sample and ``n_missing`` is 0 because the size of the break is unknown)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """A non-sample packet from the device (command result, register read, battery...).

    ``packet`` is the family's typed raw packet dataclass.
    """

    packet: object


Event = Samples | BytesDropped | SequenceGap | Reply


@dataclass(slots=True)
class DecoderStats:
    """Running counts of one streaming decoder (for diagnostics and the UI)."""

    packets: int = 0
    samples: int = 0
    bytes_dropped: int = 0
    gaps: int = 0
    samples_missing: int = 0
    replies: int = 0


class StreamDecoder:
    """Per-connection decoder: ``feed(notification) -> list[Event]``; never raises on bad bytes."""

    family: ClassVar[str] = ""

    def __init__(self) -> None:
        self.stats = DecoderStats()

    def feed(self, data: bytes, char_uuid: str | None = None) -> list[Event]:
        raise NotImplementedError

    def flush(self) -> list[Event]:
        """Events held back waiting for more data (end of a connection); none for most."""
        return []

    # helpers for subclasses ------------------------------------------------------------
    def _dropped(self, out: list[Event], n_bytes: int, reason: str) -> None:
        if n_bytes <= 0:
            return
        self.stats.bytes_dropped += n_bytes
        out.append(BytesDropped(n_bytes=n_bytes, reason=reason))

    def _gap(
        self, out: list[Event], expected: int, got: int, n_missing: int, reason: str = "lost"
    ) -> None:
        self.stats.gaps += 1
        self.stats.samples_missing += max(0, n_missing)
        out.append(SequenceGap(expected=expected, got=got, n_missing=n_missing, reason=reason))

    def _samples(self, out: list[Event], s: Samples) -> None:
        self.stats.packets += 1
        self.stats.samples += len(s)
        out.append(s)

    def _reply(self, out: list[Event], packet: object) -> None:
        self.stats.packets += 1
        self.stats.replies += 1
        out.append(Reply(packet=packet))


class DeviceEncoder:
    """Produces the notification payloads a real device would send (drives emulated sensors)."""

    family: ClassVar[str] = ""
    samples_per_packet: int = 1
    """Samples one device packet carries (a packet may span several notifications)."""

    @property
    def is_streaming(self) -> bool:
        """Whether :meth:`encode` currently produces notifications (start commands seen)."""
        return True

    def encode(
        self,
        acc_m_s2: np.ndarray,
        gyr_dps: np.ndarray,
        quat_wxyz: np.ndarray | None = None,
    ) -> list[bytes]:
        raise NotImplementedError

    def flush(self) -> list[bytes]:
        """Notifications for samples held in an unfinished packet (none for most families)."""
        return []

    def respond(self, command: bytes) -> list[tuple[str, bytes]]:
        """Notifications ``(char uuid, payload)`` the device sends after ``command`` is written."""
        return []


def as_rows(name: str, a: object, width: int) -> np.ndarray:
    """``a`` as a float64 (n, width) array (a single row is accepted)."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != width:
        msg = f"{name} must have shape (n, {width}), got {arr.shape}"
        raise ValueError(msg)
    return arr


def quantize(values: np.ndarray, lsb_per_unit: float, lo: int, hi: int) -> np.ndarray:
    """Physical values to saturated integer counts (what a sensor's ADC does at full scale)."""
    raw = np.rint(np.nan_to_num(values, nan=0.0) * lsb_per_unit)
    return np.clip(raw, lo, hi).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Family
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Family:
    """One sensor family: its GATT profile, how to recognise it, commands, codec factories.

    Subclasses (one per family module) implement the command and codec methods.
    """

    name: str
    display_name: str
    service_uuid: str
    notify_char_uuids: tuple[str, ...]
    write_char_uuid: str
    supported_rates_hz: tuple[float, ...]
    default_rate_hz: float
    has_device_time: bool
    has_quaternion: bool
    has_counter: bool = False
    streams: str = ""
    """What each sample carries, for ``describe``."""
    name_patterns: tuple[str, ...] = ()
    """Regular expressions (``re.search``, case-sensitive) over the advertised name."""
    manufacturer_ids: tuple[int, ...] = ()
    """Bluetooth SIG company ids seen in the advertisement's manufacturer data."""
    extra_service_uuids: tuple[str, ...] = ()
    """Other services worth reading (battery, device information)."""
    notes: tuple[str, ...] = field(default=())

    def matches(
        self,
        name: str | None,
        service_uuids: list[str],
        manufacturer_data: dict[int, bytes],
    ) -> bool:
        """Whether an advertisement looks like a device of this family."""
        uuids = {u.lower() for u in service_uuids}
        if self.service_uuid.lower() in uuids:
            return True
        if name and any(re.search(p, name) for p in self.name_patterns):
            return True
        return any(mid in manufacturer_data for mid in self.manufacturer_ids)

    def check_rate(self, rate_hz: float) -> float:
        """``rate_hz`` if the family supports it, else :class:`UnsupportedSettingError`."""
        for r in self.supported_rates_hz:
            if abs(float(rate_hz) - r) < 1e-9:
                return r
        raise UnsupportedSettingError(
            "rate_hz", rate_hz, self.supported_rates_hz, family=self.display_name
        )

    def start_commands(self, rate_hz: float) -> list[tuple[str, bytes]]:
        raise NotImplementedError

    def stop_commands(self) -> list[tuple[str, bytes]]:
        raise NotImplementedError

    def new_decoder(self, rate_hz: float | None = None) -> StreamDecoder:
        raise NotImplementedError

    def new_encoder(self, rate_hz: float, mtu: int = 23) -> DeviceEncoder:
        raise NotImplementedError
