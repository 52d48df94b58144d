"""Movesense — GATT SensorData Protocol (``gatt_sensordata_app`` firmware), IMU6 / IMU9.

Wire format (sources: sensor-protocols.md §2; confirmed against the vendor sample client
``samples/gatt_sensordata_app/python_client/movesense_sensor_data.py`` in
alexisduque/movesense-device-lib and its later DATA_PART2 version):

* Write ``34800001-…``: ``[command u8][client reference u8][data]``; SUBSCRIBE = 1 with the
  UTF-8 resource path (``/Meas/IMU6/104``), UNSUBSCRIBE = 2, HELLO = 0.
* Notify ``34800002-…``: ``[type u8][reference u8][payload]``; type 1 = command result,
  2 = DATA, 3 = DATA_PART2 (the continuation of the previous DATA: append its payload after
  its own 2-byte header is removed).
* IMU payload: u32 timestamp (ms, sensor clock, of the first sample), then **whole arrays per
  sensor**: N × (x, y, z float32) acc [m/s²], N × gyro [°/s], (IMU9) N × magn [µT].
  N = (len − 6) / (12 k), k = 2 (IMU6) or 3 (IMU9).

UNCONFIRMED: how many samples the firmware puts in one packet at each rate (the vendor example
shows 8 at 104 Hz for IMU9; the emulator uses round(rate / 13)), the byte order of the status
in command results (the C++ sample sends 507 as ``01 FB``, big-endian), and where the firmware
splits a packet into DATA / DATA_PART2 (the decoder does not depend on it).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from firmware_protocol._common import (
    DeviceEncoder,
    Event,
    Family,
    Samples,
    StreamDecoder,
    as_rows,
)
from firmware_protocol.errors import (
    MalformedPacketError,
    ProtocolError,
    TruncatedPacketError,
    UnsupportedSettingError,
)

__all__ = [
    "FAMILY",
    "NOTIFY_CHAR_UUID",
    "RATES_HZ",
    "SERVICE_UUID",
    "WRITE_CHAR_UUID",
    "MovesenseCommandResult",
    "MovesenseDecoder",
    "MovesenseEncoder",
    "MovesenseImuPacket",
    "decode_imu_payload",
    "decode_notification",
    "encode_imu_payload",
    "hello_command",
    "subscribe_command",
    "unsubscribe_command",
]

SERVICE_UUID = "34802252-7185-4d5d-b431-630e7050e8f0"
WRITE_CHAR_UUID = "34800001-7185-4d5d-b431-630e7050e8f0"
NOTIFY_CHAR_UUID = "34800002-7185-4d5d-b431-630e7050e8f0"

CMD_HELLO = 0
CMD_SUBSCRIBE = 1
CMD_UNSUBSCRIBE = 2
TYPE_RESULT = 1
TYPE_DATA = 2
TYPE_DATA_PART2 = 3
DEFAULT_REFERENCE = 99  # the vendor example's client reference

RATES_HZ: tuple[float, ...] = (13.0, 26.0, 52.0, 104.0, 208.0, 416.0, 833.0, 1666.0)
_BLOCKS = {"IMU6": 2, "IMU9": 3}


@dataclass(frozen=True, slots=True, kw_only=True)
class MovesenseImuPacket:
    """One IMU6/IMU9 data packet (after DATA_PART2 reassembly); float32 values as sent."""

    reference: int
    timestamp_ms: int
    """Sensor time of the first sample, ms (u32)."""
    acc: tuple[tuple[float, float, float], ...]
    """m/s²."""
    gyr: tuple[tuple[float, float, float], ...]
    """°/s."""
    magn: tuple[tuple[float, float, float], ...] | None = None
    """µT (IMU9 only)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MovesenseCommandResult:
    """Type-1 notification: the answer to HELLO / SUBSCRIBE / UNSUBSCRIBE."""

    TYPE: ClassVar[int] = TYPE_RESULT
    reference: int
    payload: bytes

    @property
    def status(self) -> int | None:
        """HTTP-like status when the payload is a 2-byte code (big-endian, UNCONFIRMED)."""
        return int.from_bytes(self.payload, "big") if len(self.payload) == 2 else None


def _triplets(vals: tuple[float, ...]) -> tuple[tuple[float, float, float], ...]:
    return tuple((vals[i], vals[i + 1], vals[i + 2]) for i in range(0, len(vals), 3))


def decode_imu_payload(reference: int, payload: bytes, kind: str = "IMU6") -> MovesenseImuPacket:
    """Decode a reassembled IMU payload (bytes after ``[type][ref]``)."""
    what = f"Movesense {kind} packet"
    k = _BLOCKS[kind]
    if len(payload) < 4 + 12 * k:
        raise TruncatedPacketError(2 + 4 + 12 * k, 2 + len(payload), what=what)
    rest = (len(payload) - 4) % (12 * k)
    if rest:
        raise TruncatedPacketError(2 + len(payload) + 12 * k - rest, 2 + len(payload), what=what)
    n = (len(payload) - 4) // (12 * k)
    ts = struct.unpack_from("<I", payload)[0]
    vals = struct.unpack_from(f"<{3 * n * k}f", payload, 4)
    for i, v in enumerate(vals):
        if v != v or v in (float("inf"), float("-inf")):
            raise MalformedPacketError(2 + 4 + 4 * i, "a finite float32", v, what=what)
    acc = _triplets(vals[: 3 * n])
    gyr = _triplets(vals[3 * n : 6 * n])
    magn = _triplets(vals[6 * n : 9 * n]) if k == 3 else None
    return MovesenseImuPacket(reference=reference, timestamp_ms=ts, acc=acc, gyr=gyr, magn=magn)


def encode_imu_payload(p: MovesenseImuPacket) -> bytes:
    """Inverse of :func:`decode_imu_payload` (without the ``[type][ref]`` header)."""
    blocks = [p.acc, p.gyr] + ([p.magn] if p.magn is not None else [])
    flat = [c for b in blocks for row in b for c in row]
    return struct.pack(f"<I{len(flat)}f", p.timestamp_ms, *flat)


def decode_notification(
    data: bytes, kind: str = "IMU6"
) -> MovesenseImuPacket | MovesenseCommandResult:
    """One-shot decode of a single, complete notification (DATA or command result)."""
    what = "Movesense notification"
    if len(data) < 2:
        raise TruncatedPacketError(2, len(data), what=what)
    t, ref = data[0], data[1]
    if t == TYPE_RESULT:
        return MovesenseCommandResult(reference=ref, payload=bytes(data[2:]))
    if t == TYPE_DATA:
        return decode_imu_payload(ref, bytes(data[2:]), kind)
    raise MalformedPacketError(0, "type 1 (result) or 2 (data)", t, what=what)


def subscribe_command(kind: str, rate_hz: float, reference: int = DEFAULT_REFERENCE) -> bytes:
    """``01 <ref> "/Meas/IMU6/104"``."""
    if kind not in _BLOCKS:
        raise UnsupportedSettingError("resource", kind, tuple(_BLOCKS), family="Movesense")
    rate = _check_rate(rate_hz)
    return bytes((CMD_SUBSCRIBE, reference)) + f"/Meas/{kind}/{rate}".encode()


def unsubscribe_command(reference: int = DEFAULT_REFERENCE) -> bytes:
    return bytes((CMD_UNSUBSCRIBE, reference))


def hello_command(reference: int = 1) -> bytes:
    return bytes((CMD_HELLO, reference))


def _check_rate(rate_hz: float) -> int:
    for r in RATES_HZ:
        if abs(r - float(rate_hz)) < 1e-9:
            return int(r)
    raise UnsupportedSettingError("rate_hz", rate_hz, RATES_HZ, family="Movesense")


# Streaming decoder --------------------------------------------------------------------------

_U32 = 1 << 32


class MovesenseDecoder(StreamDecoder):
    """Reassembles DATA + DATA_PART2 and reports time gaps.

    A DATA notification may be the whole packet or only its first part; that is known only
    when the next notification arrives (DATA_PART2 or not). The decoder therefore holds a DATA
    whose length has not yet been seen complete until the next notification (or :meth:`flush`),
    and emits DATA of a length already proven complete at once. State is per instance (the
    vendor example's module-level global breaks with two sensors).
    """

    family = "movesense"

    def __init__(self, rate_hz: float = 104.0, kind: str = "IMU6") -> None:
        super().__init__()
        self.kind = kind
        self.rate_hz = float(rate_hz)
        self._pending: bytes | None = None
        self._complete_lengths: set[int] = set()
        self._t_last_ms: int | None = None  # unwrapped timestamp of the last packet
        self._raw_last_ms = 0
        self._n_last = 0

    def feed(self, data: bytes, char_uuid: str | None = None) -> list[Event]:
        out: list[Event] = []
        if char_uuid is not None and char_uuid.lower() != NOTIFY_CHAR_UUID:
            self._dropped(out, len(data), f"not a Movesense data characteristic: {char_uuid}")
            return out
        data = bytes(data)
        if len(data) < 2:
            self._flush_pending(out)
            self._dropped(out, len(data), "Movesense notification shorter than its 2-byte header")
            return out
        t = data[0]
        if t == TYPE_DATA_PART2:
            if self._pending is None or self._pending[1] != data[1]:
                self._flush_pending(out)
                self._dropped(out, len(data), "DATA_PART2 without a matching DATA")
                return out
            whole = self._pending + data[2:]
            self._pending = None
            self._decode(out, whole)
            return out
        self._flush_pending(out)
        if t == TYPE_RESULT:
            self._reply(out, MovesenseCommandResult(reference=data[1], payload=data[2:]))
        elif t == TYPE_DATA:
            if len(data) in self._complete_lengths:
                self._decode(out, data)
            else:
                self._pending = data
        else:
            self._dropped(out, len(data), f"unknown Movesense notification type {t}")
        return out

    def flush(self) -> list[Event]:
        """Decode a held DATA notification (call at the end of a stream)."""
        out: list[Event] = []
        self._flush_pending(out)
        return out

    def _flush_pending(self, out: list[Event]) -> None:
        if self._pending is not None:
            p = self._pending
            self._pending = None
            if self._decode(out, p):
                self._complete_lengths.add(len(p))

    def _decode(self, out: list[Event], whole: bytes) -> bool:
        try:
            p = decode_imu_payload(whole[1], whole[2:], self.kind)
        except ProtocolError as exc:
            self._dropped(out, len(whole), f"bad Movesense packet: {exc}")
            return False
        n = len(p.acc)
        period_ms = 1000.0 / self.rate_hz
        if self._t_last_ms is None:
            t_ms = p.timestamp_ms
        else:
            d = (p.timestamp_ms - self._raw_last_ms) % _U32
            if d >= _U32 // 2:
                d -= _U32
            t_ms = self._t_last_ms + d
            expected = self._t_last_ms + self._n_last * period_ms
            missing = round((t_ms - expected) / period_ms)
            i_exp = round(self._t_last_ms / period_ms) + self._n_last
            if missing < 0:  # clock went backwards (sensor restart): continue the time line
                t_ms = expected
                self._gap(out, i_exp, i_exp, 0, reason="clock_reset")
            elif missing > 0:
                self._gap(out, i_exp, i_exp + missing, missing)
        self._t_last_ms = t_ms
        self._raw_last_ms = p.timestamp_ms
        self._n_last = n
        t_dev_s = (t_ms + np.arange(n) * period_ms) / 1000.0
        self._samples(
            out,
            Samples(
                acc_m_s2=np.array(p.acc, dtype=np.float64).reshape(n, 3),
                gyr_dps=np.array(p.gyr, dtype=np.float64).reshape(n, 3),
                t_dev_s=t_dev_s,
            ),
        )
        return True


# Encoder (emulated device) ------------------------------------------------------------------


class MovesenseEncoder(DeviceEncoder):
    """An emulated Movesense running gatt_sensordata_app.

    Packs ``samples_per_packet`` samples per packet (default round(rate / 13), see module
    docstring) and splits a packet that does not fit one notification (ATT MTU − 3 bytes) into
    DATA + DATA_PART2. If even two notifications are too small, it packs fewer samples.
    """

    family = "movesense"

    def __init__(
        self,
        rate_hz: float = 104.0,
        mtu: int = 23,
        *,
        kind: str = "IMU6",
        reference: int = DEFAULT_REFERENCE,
        samples_per_packet: int | None = None,
        t0_ms: int = 0,
        subscribed: bool = True,
    ) -> None:
        self.rate_hz = float(_check_rate(rate_hz))
        self.kind = kind
        self.reference = reference
        self.max_payload = min(int(mtu), 517) - 3
        k = _BLOCKS[kind]
        self._fixed_n = samples_per_packet
        if (2 * self.max_payload - 2 - 2 - 4) // (12 * k) < 1:
            msg = f"ATT MTU {mtu} cannot carry one Movesense {kind} sample"
            raise ProtocolError(msg)
        self.samples_per_packet = self._packet_size()
        self.subscribed = subscribed
        self._t0_ms = int(t0_ms)
        self._n_sent = 0
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []

    def _packet_size(self) -> int:
        n = self._fixed_n or max(1, round(self.rate_hz / 13.0))
        n_fit = (2 * self.max_payload - 2 - 2 - 4) // (12 * _BLOCKS[self.kind])
        return max(1, min(n, n_fit))

    def flush(self) -> list[bytes]:
        """Send the samples of an unfinished packet."""
        return self._emit() if self._pending else []

    @property
    def is_streaming(self) -> bool:
        return self.subscribed

    def encode(
        self,
        acc_m_s2: np.ndarray,
        gyr_dps: np.ndarray,
        quat_wxyz: np.ndarray | None = None,
    ) -> list[bytes]:
        acc = as_rows("acc_m_s2", acc_m_s2, 3)
        gyr = as_rows("gyr_dps", gyr_dps, 3)
        if acc.shape != gyr.shape:
            msg = f"acc_m_s2 {acc.shape} and gyr_dps {gyr.shape} differ in length"
            raise ValueError(msg)
        if not self.subscribed:
            return []
        out: list[bytes] = []
        for i in range(acc.shape[0]):
            self._pending.append((acc[i], gyr[i]))
            if len(self._pending) >= self.samples_per_packet:
                out += self._emit()
        return out

    def _emit(self) -> list[bytes]:
        rows = self._pending
        self._pending = []
        ts = (self._t0_ms + round(self._n_sent * 1000.0 / self.rate_hz)) % _U32
        self._n_sent += len(rows)
        f32 = np.float32
        acc = tuple(tuple(float(f32(v)) for v in r[0]) for r in rows)
        gyr = tuple(tuple(float(f32(v)) for v in r[1]) for r in rows)
        magn = tuple((0.0, 0.0, 0.0) for _ in rows) if self.kind == "IMU9" else None
        pkt = MovesenseImuPacket(
            reference=self.reference,
            timestamp_ms=ts,
            acc=acc,
            gyr=gyr,
            magn=magn,  # type: ignore[arg-type]
        )
        whole = bytes((TYPE_DATA, self.reference)) + encode_imu_payload(pkt)
        if len(whole) <= self.max_payload:
            return [whole]
        first = whole[: self.max_payload]
        second = bytes((TYPE_DATA_PART2, self.reference)) + whole[self.max_payload :]
        return [first, second]

    def respond(self, command: bytes) -> list[tuple[str, bytes]]:
        if len(command) < 2:
            return []
        cmd, ref = command[0], command[1]
        if cmd == CMD_HELLO:
            return [(NOTIFY_CHAR_UUID, bytes((TYPE_RESULT, ref)) + b"Hello")]
        if cmd == CMD_SUBSCRIBE:
            path = command[2:].decode("utf-8", "replace").strip("/").split("/")
            ok = (
                len(path) == 3
                and path[0] == "Meas"
                and path[1] in _BLOCKS
                and path[2].isdigit()
                and float(path[2]) in RATES_HZ
            )
            if not ok:
                return [(NOTIFY_CHAR_UUID, bytes((TYPE_RESULT, ref)) + (404).to_bytes(2, "big"))]
            self.kind, self.rate_hz, self.reference = path[1], float(path[2]), ref
            self.samples_per_packet = self._packet_size()
            self.subscribed = True
            return [(NOTIFY_CHAR_UUID, bytes((TYPE_RESULT, ref)) + (200).to_bytes(2, "big"))]
        if cmd == CMD_UNSUBSCRIBE:
            self.subscribed = False
            self._pending = []
            return [(NOTIFY_CHAR_UUID, bytes((TYPE_RESULT, ref)) + (200).to_bytes(2, "big"))]
        return []


# Family -------------------------------------------------------------------------------------


class MovesenseFamily(Family):
    __slots__ = ()

    def start_commands(self, rate_hz: float) -> list[tuple[str, bytes]]:
        self.check_rate(rate_hz)
        return [(WRITE_CHAR_UUID, subscribe_command("IMU6", rate_hz))]

    def stop_commands(self) -> list[tuple[str, bytes]]:
        return [(WRITE_CHAR_UUID, unsubscribe_command())]

    def new_decoder(self, rate_hz: float | None = None) -> MovesenseDecoder:
        return MovesenseDecoder(self.default_rate_hz if rate_hz is None else rate_hz)

    def new_encoder(self, rate_hz: float, mtu: int = 23) -> MovesenseEncoder:
        return MovesenseEncoder(self.check_rate(rate_hz), mtu, subscribed=False)


FAMILY = MovesenseFamily(
    name="movesense",
    display_name="Movesense (gatt_sensordata_app firmware, GATT SensorData Protocol)",
    service_uuid=SERVICE_UUID,
    notify_char_uuids=(NOTIFY_CHAR_UUID,),
    write_char_uuid=WRITE_CHAR_UUID,
    supported_rates_hz=(13.0, 26.0, 52.0, 104.0, 208.0),
    default_rate_hz=104.0,
    has_device_time=True,
    has_quaternion=False,
    has_counter=False,
    streams="IMU6: acc m/s² + gyro °/s as float32 blocks, ms time stamp of the first sample, "
    "several samples per packet (DATA + DATA_PART2 when it does not fit one notification)",
    name_patterns=(r"^Movesense",),
    notes=(
        "needs the gatt_sensordata_app sample firmware; stock firmware speaks MDS/Whiteboard",
        "a DATA notification is held until the next one shows whether a DATA_PART2 follows",
    ),
)
