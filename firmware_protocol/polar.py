"""Polar Measurement Data (PMD) — Polar Verity Sense accelerometer + gyroscope streams.

Sources: the vendor SDK (polarofficial/polar-ble-sdk, Android ``…/gatt/client/pmd/``:
``BlePMDClient.kt`` delta decoding, ``PmdSetting.kt``, ``PmdControlPointResponse.kt``,
``model/AccData.kt``, ``model/GyrData.kt``) and its unit tests ``model/AccDataTest.kt`` and
``model/GyrDataTest.kt``, whose byte vectors are this module's golden tests.

* Service ``fb005c80-…``; control point ``fb005c81-…`` (write; answers by indication);
  data ``fb005c82-…`` (notify). Measurement types: 2 = ACC, 5 = GYRO.
* Start ``[0x02][type]`` + settings ``[id][count=1][value]`` (0 sample rate u16, 1 resolution
  u16, 2 range u16, 4 channels u8); stop ``[0x03][type]``. Response ``[0xF0][op][type]
  [status][more][parameters]``; a start response carries the scale factor as setting 5
  (float32).
* Data frame: ``[type u8][timestamp u64 ns since 2000-01-01, of the LAST sample][frame type
  u8]`` + content. Bit 7 of the frame type = delta-compressed. ACC raw types 0/1/2 = 1/2/3-byte
  signed x,y,z in mG; ACC compressed type 0 = 16-bit samples × factor → g; compressed type 1 =
  16-bit × factor → mG; GYRO compressed type 0 = 16-bit × factor → °/s, type 1 = float32 bit
  patterns (deltas added to the integer patterns) × factor.
* Delta compression: one reference sample (``ceil(resolution/8)`` bytes per channel, signed),
  then blocks ``[delta bits u8][sample count u8][bits…]``, deltas packed LSB first, channel
  after channel, each sign-extended from its width.

Differences from the SDK, on purpose: a 1-bit delta is sign-extended to −1 (the SDK's mask
turns it into 2³¹ − 1), a zero-width block is rejected as malformed (the SDK silently yields no
samples), and compressed ACC is returned in g without the SDK's truncation to integer mG.
UNCONFIRMED: which frame types a given firmware sends (the emulator sends ACC and GYRO
compressed type 0, as the Verity Sense is reported to), and the factor values (the emulator
uses range / 32768).
"""

from __future__ import annotations

import itertools
import math
import struct
from dataclasses import dataclass

import numpy as np

from firmware_protocol._common import (
    GRAVITY_M_S2,
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
    "CONTROL_POINT_UUID",
    "DATA_CHAR_UUID",
    "FAMILY",
    "SERVICE_UUID",
    "PmdControlResponse",
    "PmdFrame",
    "PolarDecoder",
    "PolarEncoder",
    "decode_control_response",
    "decode_delta",
    "decode_frame",
    "encode_delta",
    "encode_frame",
    "frame_values",
    "start_command",
    "stop_command",
]

SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
DATA_CHAR_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

TYPE_ACC = 2
TYPE_GYRO = 5
OP_START = 0x02
OP_STOP = 0x03
RESPONSE_CODE = 0xF0
SETTING_SAMPLE_RATE = 0
SETTING_RESOLUTION = 1
SETTING_RANGE = 2
SETTING_CHANNELS = 4
SETTING_FACTOR = 5
_SETTING_SIZE = {0: 2, 1: 2, 2: 2, 3: 4, 4: 1, 5: 4}
HEADER_LEN = 10
COMPRESSED = 0x80
RATES_HZ: tuple[float, ...] = (52.0,)  # Verity Sense outside SDK mode
ACC_RANGE_G = 8
GYR_RANGE_DPS = 2000
NS_PER_S = 1_000_000_000
_U64 = 1 << 64


@dataclass(frozen=True, slots=True, kw_only=True)
class PmdFrame:
    """One PMD data notification, undecoded content."""

    measurement_type: int
    timestamp_ns: int
    """Sensor time of the last sample in the frame, ns since 2000-01-01 (u64)."""
    frame_type: int
    """0..127 (the low 7 bits of the frame-type byte)."""
    compressed: bool
    content: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class PmdControlResponse:
    """Control-point indication answering a command."""

    op: int
    measurement_type: int
    status: int
    more: bool
    parameters: bytes

    @property
    def factor(self) -> float | None:
        """Scale factor (setting 5) carried by a successful start response, else None."""
        try:
            return _settings(self.parameters).get(SETTING_FACTOR)  # type: ignore[return-value]
        except ProtocolError:
            return None


def decode_frame(data: bytes) -> PmdFrame:
    what = "Polar PMD data frame"
    if len(data) < HEADER_LEN:
        raise TruncatedPacketError(HEADER_LEN, len(data), what=what)
    mtype, ts, ftype = struct.unpack_from("<BQB", data)
    return PmdFrame(
        measurement_type=mtype,
        timestamp_ns=ts,
        frame_type=ftype & 0x7F,
        compressed=bool(ftype & COMPRESSED),
        content=bytes(data[HEADER_LEN:]),
    )


def encode_frame(f: PmdFrame) -> bytes:
    ftype = f.frame_type | (COMPRESSED if f.compressed else 0)
    return struct.pack("<BQB", f.measurement_type, f.timestamp_ns, ftype) + f.content


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v & (1 << (bits - 1)) else v


def _int32(v: int) -> int:
    return ((v + (1 << 31)) % (1 << 32)) - (1 << 31)


def decode_delta(content: bytes, channels: int, resolution: int) -> list[tuple[int, ...]]:
    """Reference sample + delta blocks → samples (32-bit wrapping sums, as the SDK)."""
    what = "Polar PMD delta frame"
    nbytes = math.ceil(resolution / 8)
    ref_len = channels * nbytes
    if len(content) < ref_len:
        raise TruncatedPacketError(HEADER_LEN + ref_len, HEADER_LEN + len(content), what=what)
    last = [
        _signed(int.from_bytes(content[i * nbytes : (i + 1) * nbytes], "little"), nbytes * 8)
        for i in range(channels)
    ]
    samples = [tuple(last)]
    off = ref_len
    while off < len(content):
        if off + 2 > len(content):
            raise TruncatedPacketError(HEADER_LEN + off + 2, HEADER_LEN + len(content), what=what)
        width, count = content[off], content[off + 1]
        if not 1 <= width <= 32:
            raise MalformedPacketError(HEADER_LEN + off, "delta width 1..32 bits", width, what=what)
        if count == 0:
            raise MalformedPacketError(HEADER_LEN + off + 1, "sample count >= 1", 0, what=what)
        off += 2
        nbits = width * count * channels
        blen = math.ceil(nbits / 8)
        if off + blen > len(content):
            raise TruncatedPacketError(
                HEADER_LEN + off + blen, HEADER_LEN + len(content), what=what
            )
        bits = int.from_bytes(content[off : off + blen], "little")
        mask = (1 << width) - 1
        k = 0
        for _ in range(count):
            for c in range(channels):
                d = _signed((bits >> (k * width)) & mask, width)
                last[c] = _int32(last[c] + d)
                k += 1
            samples.append(tuple(last))
        off += blen
    return samples


def encode_delta(samples: list[tuple[int, ...]], resolution: int) -> bytes:
    """Inverse of :func:`decode_delta`: one block with the narrowest width that fits."""
    if not samples:
        msg = "a PMD delta frame needs at least the reference sample"
        raise ProtocolError(msg)
    nbytes = math.ceil(resolution / 8)
    out = bytearray()
    for v in samples[0]:
        out += (v % (1 << (nbytes * 8))).to_bytes(nbytes, "little")
    if len(samples) == 1:
        return bytes(out)
    deltas = [_int32(b - a) for prev, cur in itertools.pairwise(samples) for a, b in zip(prev, cur)]
    width = max(max(d.bit_length() + 1 if d >= 0 else (-d - 1).bit_length() + 1 for d in deltas), 1)
    channels = len(samples[0])
    for start in range(0, len(samples) - 1, 255):
        chunk = deltas[start * channels : (start + 255) * channels]
        count = len(chunk) // channels
        bits = 0
        for k, d in enumerate(chunk):
            bits |= (d % (1 << width)) << (k * width)
        out += bytes((width, count)) + bits.to_bytes(math.ceil(width * len(chunk) / 8), "little")
    return bytes(out)


def frame_values(frame: PmdFrame, factor: float | None) -> np.ndarray:
    """Samples of an ACC (→ g) or GYRO (→ °/s) frame as an (n, 3) float array."""
    what = "Polar PMD data frame"
    t, ft = frame.measurement_type, frame.frame_type
    if t == TYPE_ACC and not frame.compressed and ft in (0, 1, 2):
        step = ft + 1
        if len(frame.content) % (3 * step):
            need = len(frame.content) + 3 * step - len(frame.content) % (3 * step)
            raise TruncatedPacketError(
                HEADER_LEN + need, HEADER_LEN + len(frame.content), what=what
            )
        raw = [
            _signed(int.from_bytes(frame.content[i : i + step], "little"), 8 * step)
            for i in range(0, len(frame.content), step)
        ]
        return np.array(raw, dtype=np.float64).reshape(-1, 3) / 1000.0  # mG → g
    if not frame.compressed or ft not in (0, 1) or t not in (TYPE_ACC, TYPE_GYRO):
        raise MalformedPacketError(
            9,
            "ACC raw 0/1/2, ACC or GYRO compressed 0/1",
            (0x80 if frame.compressed else 0) | ft,
            what=what,
        )
    if factor is None:
        raise MalformedPacketError(
            9, "a frame whose start response (factor) was seen", ft, what=what
        )
    if t == TYPE_GYRO and ft == 1:
        ints = decode_delta(frame.content, 3, 32)
        pats = np.array(ints, dtype=np.int64) % (1 << 32)
        with np.errstate(invalid="ignore"):  # NaN bit patterns are rejected just below
            vals = pats.astype(np.uint32).view(np.float32).astype(np.float64)
        if not np.all(np.isfinite(vals)):
            raise MalformedPacketError(HEADER_LEN, "finite float32 samples", "NaN/inf", what=what)
        return vals * factor
    arr = np.array(decode_delta(frame.content, 3, 16), dtype=np.float64)
    if t == TYPE_ACC and ft == 1:
        return arr * factor / 1000.0  # factor maps to mG
    return arr * factor  # ACC type 0: g; GYRO type 0: °/s


def _settings(params: bytes) -> dict[int, float | int]:
    out: dict[int, float | int] = {}
    off = 0
    while off < len(params):
        if off + 2 > len(params):
            raise TruncatedPacketError(off + 2, len(params), what="PMD settings")
        sid, count = params[off], params[off + 1]
        off += 2
        if sid not in _SETTING_SIZE:
            raise MalformedPacketError(off - 2, "setting id 0..5", sid, what="PMD settings")
        size = _SETTING_SIZE[sid]
        if off + size * count > len(params):
            raise TruncatedPacketError(off + size * count, len(params), what="PMD settings")
        for i in range(count):
            raw = params[off + i * size : off + (i + 1) * size]
            out[sid] = (
                struct.unpack("<f", raw)[0]
                if sid == SETTING_FACTOR
                else int.from_bytes(raw, "little")
            )
        off += size * count
    return out


def decode_control_response(data: bytes) -> PmdControlResponse:
    what = "Polar PMD control-point response"
    if len(data) < 4:
        raise TruncatedPacketError(4, len(data), what=what)
    if data[0] != RESPONSE_CODE:
        raise MalformedPacketError(0, "response code 0xF0", data[0], what=what)
    ok = data[3] == 0
    return PmdControlResponse(
        op=data[1],
        measurement_type=data[2],
        status=data[3],
        more=ok and len(data) > 4 and data[4] != 0,
        parameters=bytes(data[5:]) if ok else b"",
    )


def start_command(measurement_type: int, rate_hz: int, resolution: int, range_: int) -> bytes:
    return bytes((OP_START, measurement_type)) + struct.pack(
        "<BBHBBHBBH",
        SETTING_SAMPLE_RATE,
        1,
        rate_hz,
        SETTING_RESOLUTION,
        1,
        resolution,
        SETTING_RANGE,
        1,
        range_,
    )


def stop_command(measurement_type: int) -> bytes:
    return bytes((OP_STOP, measurement_type))


# Streaming decoder --------------------------------------------------------------------------


class PolarDecoder(StreamDecoder):
    """Decodes ACC and GYRO frames, places samples in device time, pairs them by time.

    Per stream, the samples of a frame are spread between the previous frame's time stamp and
    this one (the SDK's rule); the first frame, and a frame after a gap, are spread backwards
    from its stamp at the nominal rate. Acc and gyro samples whose times agree within half a
    period are paired; one that can no longer find a partner is dropped and reported.
    """

    family = "polar"

    def __init__(self, rate_hz: float = 52.0) -> None:
        super().__init__()
        self.period_ns = NS_PER_S / float(rate_hz)
        self._factor: dict[int, float] = {}
        self._prev_ts: dict[int, int] = {}
        self._queues: dict[int, list[tuple[float, tuple[float, float, float]]]] = {
            TYPE_ACC: [],
            TYPE_GYRO: [],
        }
        self._last_t_ns = -math.inf

    def feed(self, data: bytes, char_uuid: str | None = None) -> list[Event]:
        out: list[Event] = []
        uuid = None if char_uuid is None else char_uuid.lower()
        if uuid == CONTROL_POINT_UUID:
            try:
                r = decode_control_response(bytes(data))
            except ProtocolError as exc:
                self._dropped(out, len(data), f"bad PMD control-point response: {exc}")
                return out
            if r.op == OP_START and r.status == 0 and r.factor is not None:
                self._factor[r.measurement_type] = r.factor
            self._reply(out, r)
            return out
        if uuid is not None and uuid != DATA_CHAR_UUID:
            self._dropped(out, len(data), f"not the PMD data characteristic: {char_uuid}")
            return out
        try:
            frame = decode_frame(bytes(data))
            if frame.measurement_type not in self._queues:
                raise MalformedPacketError(
                    0, "measurement type 2 (ACC) or 5 (GYRO)", frame.measurement_type
                )
            vals = frame_values(frame, self._factor.get(frame.measurement_type))
        except ProtocolError as exc:
            self._dropped(out, len(data), f"bad PMD frame: {exc}")
            return out
        if not np.all(np.isfinite(vals)):
            self._dropped(out, len(data), "PMD frame with non-finite values")
            return out
        self.stats.packets += 1
        t = self._times(out, frame, len(vals))
        if t is None:
            self._dropped(out, len(data), "PMD time stamp did not advance")
            return out
        q = self._queues[frame.measurement_type]
        q += [(float(ti), (float(v[0]), float(v[1]), float(v[2]))) for ti, v in zip(t, vals)]
        self._pair(out)
        return out

    def _times(self, out: list[Event], frame: PmdFrame, n: int) -> np.ndarray | None:
        ts = frame.timestamp_ns
        prev = self._prev_ts.get(frame.measurement_type)
        p = self.period_ns
        back = ts - np.arange(n - 1, -1, -1, dtype=np.float64) * p
        if prev is None:
            t = back
        elif ts <= prev:
            return None
        else:
            missing = round((ts - prev) / p) - n
            if missing > 0:
                if frame.measurement_type == TYPE_ACC:  # count once, on the acc stream
                    i_exp = round(prev / p) + 1
                    self._gap(out, i_exp, i_exp + missing, missing)
                t = back
            else:
                t = prev + np.arange(1, n + 1, dtype=np.float64) * ((ts - prev) / n)
        self._prev_ts[frame.measurement_type] = ts
        return t

    def _pair(self, out: list[Event]) -> None:
        acc, gyr = self._queues[TYPE_ACC], self._queues[TYPE_GYRO]
        half = 0.5 * self.period_ns
        rows_a: list[tuple[float, float, float]] = []
        rows_g: list[tuple[float, float, float]] = []
        times: list[float] = []
        dropped = {"acc": 0, "gyro": 0}
        while acc and gyr:
            ta, tg = acc[0][0], gyr[0][0]
            if abs(ta - tg) <= half:
                if ta > self._last_t_ns:
                    times.append(ta)
                    rows_a.append(acc[0][1])
                    rows_g.append(gyr[0][1])
                    self._last_t_ns = ta
                else:
                    dropped["acc"] += 1
                    dropped["gyro"] += 1
                acc.pop(0)
                gyr.pop(0)
            elif ta < tg:
                acc.pop(0)
                dropped["acc"] += 1
            else:
                gyr.pop(0)
                dropped["gyro"] += 1
        if times:
            g = GRAVITY_M_S2
            self.stats.samples += len(times)
            out.append(
                Samples(
                    acc_m_s2=np.array(rows_a, dtype=np.float64) * g,
                    gyr_dps=np.array(rows_g, dtype=np.float64),
                    t_dev_s=np.array(times) / NS_PER_S,
                )
            )
        for name, n in dropped.items():
            if n:
                self._dropped(out, 6 * n, f"{n} PMD {name} samples without a partner in time")


# Encoder (emulated device) ------------------------------------------------------------------


class PolarEncoder(DeviceEncoder):
    """An emulated Verity Sense: ACC and GYRO as compressed type-0 frames, ns time stamps."""

    family = "polar"

    def __init__(
        self, rate_hz: float = 52.0, mtu: int = 23, *, t0_ns: int = 700_000_000 * NS_PER_S
    ) -> None:
        if float(rate_hz) not in RATES_HZ:
            raise UnsupportedSettingError("rate_hz", rate_hz, RATES_HZ, family="Polar Verity Sense")
        self.rate_hz = float(rate_hz)
        self.max_payload = min(int(mtu), 517) - 3
        self.factor = {TYPE_ACC: ACC_RANGE_G / 32768.0, TYPE_GYRO: GYR_RANGE_DPS / 32768.0}
        self.active: set[int] = set()
        self._t0_ns = int(t0_ns)
        self._n = 0
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []

    @property
    def samples_per_frame(self) -> int:
        """Samples per frame so that a frame fits one notification even with the widest
        deltas (17 bits for 16-bit samples): header 10 + reference 6 + block header 2."""
        room_bits = (self.max_payload - HEADER_LEN - 6 - 2) * 8
        return max(1, min(256, room_bits // (3 * 17) + 1))

    @property
    def is_streaming(self) -> bool:
        return bool(self.active)

    @property
    def samples_per_packet(self) -> int:  # type: ignore[override]
        """Samples per frame pair (one ACC and one GYRO notification)."""
        return self.samples_per_frame

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
        if not self.active:
            return []
        out: list[bytes] = []
        for i in range(acc.shape[0]):
            self._pending.append((acc[i], gyr[i]))
            if len(self._pending) >= self.samples_per_frame:
                out += self.flush()
        return out

    def flush(self) -> list[bytes]:
        rows = self._pending
        if not rows:
            return []
        self._pending = []
        n = len(rows)
        self._n += n
        ts = (self._t0_ns + round((self._n - 1) * NS_PER_S / self.rate_hz)) % _U64
        out = []
        for mtype, col, scale in ((TYPE_ACC, 0, 1.0 / GRAVITY_M_S2), (TYPE_GYRO, 1, 1.0)):
            if mtype not in self.active:
                continue
            raw = [
                tuple(
                    int(np.clip(round(v * scale / self.factor[mtype]), -32768, 32767))
                    for v in r[col]
                )
                for r in rows
            ]
            content = encode_delta(raw, 16)  # type: ignore[arg-type]
            frame = PmdFrame(
                measurement_type=mtype,
                timestamp_ns=ts,
                frame_type=0,
                compressed=True,
                content=content,
            )
            out.append(encode_frame(frame))
        return out

    def respond(self, command: bytes) -> list[tuple[str, bytes]]:
        if len(command) < 2:
            return []
        op, mtype = command[0], command[1]
        if mtype not in (TYPE_ACC, TYPE_GYRO) or op not in (OP_START, OP_STOP):
            return [(CONTROL_POINT_UUID, bytes((RESPONSE_CODE, op, mtype, 2)))]  # invalid type
        if op == OP_START:
            if mtype in self.active:
                return [(CONTROL_POINT_UUID, bytes((RESPONSE_CODE, op, mtype, 6)))]  # already on
            self.active.add(mtype)
            params = bytes((SETTING_FACTOR, 1)) + struct.pack("<f", self.factor[mtype])
            return [(CONTROL_POINT_UUID, bytes((RESPONSE_CODE, op, mtype, 0, 0)) + params)]
        self.active.discard(mtype)
        return [(CONTROL_POINT_UUID, bytes((RESPONSE_CODE, op, mtype, 0, 0)))]


# Family -------------------------------------------------------------------------------------


class PolarFamily(Family):
    __slots__ = ()

    def start_commands(self, rate_hz: float) -> list[tuple[str, bytes]]:
        rate = int(self.check_rate(rate_hz))
        return [
            (CONTROL_POINT_UUID, start_command(TYPE_ACC, rate, 16, ACC_RANGE_G)),
            (CONTROL_POINT_UUID, start_command(TYPE_GYRO, rate, 16, GYR_RANGE_DPS)),
        ]

    def stop_commands(self) -> list[tuple[str, bytes]]:
        return [
            (CONTROL_POINT_UUID, stop_command(TYPE_ACC)),
            (CONTROL_POINT_UUID, stop_command(TYPE_GYRO)),
        ]

    def new_decoder(self, rate_hz: float | None = None) -> PolarDecoder:
        return PolarDecoder(self.default_rate_hz if rate_hz is None else rate_hz)

    def new_encoder(self, rate_hz: float, mtu: int = 23) -> PolarEncoder:
        return PolarEncoder(self.check_rate(rate_hz), mtu)


FAMILY = PolarFamily(
    name="polar",
    display_name="Polar Verity Sense (Polar Measurement Data, PMD)",
    service_uuid=SERVICE_UUID,
    notify_char_uuids=(DATA_CHAR_UUID, CONTROL_POINT_UUID),
    write_char_uuid=CONTROL_POINT_UUID,
    supported_rates_hz=RATES_HZ,
    default_rate_hz=52.0,
    has_device_time=True,
    has_quaternion=False,
    has_counter=False,
    streams="ACC (±8 g) and GYRO (±2000 °/s) as delta-compressed frames, ns time stamp of the "
    "last sample per frame; paired by device time",
    name_patterns=(r"^Polar Sense",),
    notes=(
        "the control point answers by indication: subscribe to it too (the scale factor comes "
        "in the start response; frames before it are dropped)",
        "52 Hz only (SDK mode for 26–416 Hz is not implemented); Polar H10/OH1 have no gyro",
    ),
)
