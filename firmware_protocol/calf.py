"""The project's own open protocol ("calf", version 1) for DIY sensor boards.

The normative text is ``firmware_protocol/SPEC.md``; this module implements it byte for byte.
Summary: one service; a data characteristic that notifies versioned packets (8-byte header with
sequence number, device time of the first sample in µs and the sample period in µs, then 1..n
int16 six-axis samples at declared full-scale ranges); a control characteristic taking commands
and notifying replies. Battery and device information use the standard SIG services.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from firmware_protocol._common import (
    BATTERY_SERVICE_UUID,
    DEVICE_INFORMATION_SERVICE_UUID,
    GRAVITY_M_S2,
    DeviceEncoder,
    Event,
    Family,
    Samples,
    StreamDecoder,
    as_rows,
    quantize,
)
from firmware_protocol.errors import (
    MalformedPacketError,
    ProtocolError,
    TruncatedPacketError,
    UnsupportedVersionError,
)

__all__ = [
    "ACC_RANGES_G",
    "CONTROL_CHAR_UUID",
    "DATA_CHAR_UUID",
    "FAMILY",
    "GYR_RANGES_DPS",
    "HEADER_LEN",
    "PROTOCOL_VERSION",
    "SAMPLE_LEN",
    "SERVICE_UUID",
    "CalfCommand",
    "CalfConfig",
    "CalfDecoder",
    "CalfEncoder",
    "CalfImuPacket",
    "CalfReply",
    "Opcode",
    "Status",
    "decode_command",
    "decode_packet",
    "decode_reply",
    "encode_command",
    "encode_packet",
    "encode_reply",
    "max_samples_per_packet",
    "packet_to_samples",
]

SERVICE_UUID = "ca1f0001-45aa-4172-ac33-6823983e296e"
DATA_CHAR_UUID = "ca1f0002-45aa-4172-ac33-6823983e296e"
CONTROL_CHAR_UUID = "ca1f0003-45aa-4172-ac33-6823983e296e"

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = (1,)
HEADER_LEN = 8
SAMPLE_LEN = 12  # 6 × int16
ATT_OVERHEAD = 3  # opcode + handle of a Handle Value Notification

ACC_RANGES_G: tuple[float, ...] = (2.0, 4.0, 8.0, 16.0)  # code 0..3
GYR_RANGES_DPS: tuple[float, ...] = (125.0, 250.0, 500.0, 1000.0, 2000.0)  # code 0..4
RATES_HZ: tuple[float, ...] = (25.0, 50.0, 100.0, 200.0, 400.0)
DEFAULT_ACC_RANGE_G = 8.0
DEFAULT_GYR_RANGE_DPS = 1000.0
MAX_LATENCY_S = 0.05  # a device sends a packet at least every 50 ms (SPEC §4.3)

_HEADER = struct.Struct("<BBIH")
_SAMPLE = struct.Struct("<6h")
_CONFIG = struct.Struct("<BBHHBBB")


class Opcode:
    """Control-characteristic opcodes (SPEC §5)."""

    START = 0x01
    STOP = 0x02
    SET_RATE = 0x03
    SET_RANGE = 0x04
    IDENTIFY = 0x05
    GET_CONFIG = 0x06
    REPLY_FLAG = 0x80


class Status:
    """Reply status codes (SPEC §5.2)."""

    OK = 0
    UNKNOWN_OPCODE = 1
    INVALID_ARGUMENT = 2
    BUSY_STREAMING = 3
    BAD_LENGTH = 4


_ARG_LEN = {
    Opcode.START: 0,
    Opcode.STOP: 0,
    Opcode.SET_RATE: 2,
    Opcode.SET_RANGE: 2,
    Opcode.IDENTIFY: 1,
    Opcode.GET_CONFIG: 0,
}


def acc_g_per_lsb(code: int) -> float:
    return ACC_RANGES_G[code] / 32768.0


def gyr_dps_per_lsb(code: int) -> float:
    return GYR_RANGES_DPS[code] / 32768.0


def max_samples_per_packet(mtu: int) -> int:
    """How many samples fit one notification at ATT MTU ``mtu`` (1 at the default 23)."""
    if mtu < 23:
        msg = f"ATT MTU {mtu} is below the Bluetooth minimum of 23"
        raise ProtocolError(msg)
    return (min(mtu, 517) - ATT_OVERHEAD - HEADER_LEN) // SAMPLE_LEN


@dataclass(frozen=True, slots=True, kw_only=True)
class CalfImuPacket:
    """One data notification (SPEC §4), raw integers."""

    VERSION: ClassVar[int] = PROTOCOL_VERSION
    acc_range_code: int
    """0..3 → ±2/4/8/16 g."""
    gyr_range_code: int
    """0..4 → ±125/250/500/1000/2000 °/s."""
    seq: int
    """Packet sequence number, 0..255, +1 per packet, wraps."""
    t_first_us: int
    """Device time of the first sample, µs, u32 (wraps after 71.6 min)."""
    period_us: int
    """Sample period, µs, 1..65535."""
    acc_raw: tuple[tuple[int, int, int], ...]
    gyr_raw: tuple[tuple[int, int, int], ...]
    version: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True, kw_only=True)
class CalfConfig:
    """Configuration block carried by replies to SET_RATE, SET_RANGE and GET_CONFIG (SPEC §5.3)."""

    version: int
    streaming: bool
    rate_hz: int
    period_us: int
    acc_range_code: int
    gyr_range_code: int
    max_samples_per_packet: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CalfReply:
    """A control-characteristic notification answering one command."""

    opcode: int
    status: int
    config: CalfConfig | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CalfCommand:
    """A command written to the control characteristic."""

    opcode: int
    args: bytes = b""

    @property
    def rate_hz(self) -> int:
        return int(struct.unpack_from("<H", self.args)[0])


# Data packets -------------------------------------------------------------------------------


def decode_packet(data: bytes) -> CalfImuPacket:
    """Decode one data notification; raises :class:`ProtocolError`."""
    what = "calf data packet"
    if len(data) < 1:
        raise TruncatedPacketError(HEADER_LEN + SAMPLE_LEN, 0, what=what)
    version = data[0] >> 5
    if version not in SUPPORTED_VERSIONS:
        raise UnsupportedVersionError(version, supported=SUPPORTED_VERSIONS, what=what)
    if len(data) < HEADER_LEN + SAMPLE_LEN:
        raise TruncatedPacketError(HEADER_LEN + SAMPLE_LEN, len(data), what=what)
    extra = (len(data) - HEADER_LEN) % SAMPLE_LEN
    if extra:
        raise TruncatedPacketError(len(data) + SAMPLE_LEN - extra, len(data), what=what)
    head, seq, t_first_us, period_us = _HEADER.unpack_from(data)
    acc_code = (head >> 3) & 0x03
    gyr_code = head & 0x07
    if gyr_code >= len(GYR_RANGES_DPS):
        raise MalformedPacketError(0, "gyro range code 0..4 in bits 2..0", head, what=what)
    if period_us == 0:
        raise MalformedPacketError(6, "sample period 1..65535 µs", 0, what=what)
    n = (len(data) - HEADER_LEN) // SAMPLE_LEN
    acc = []
    gyr = []
    for i in range(n):
        v = _SAMPLE.unpack_from(data, HEADER_LEN + i * SAMPLE_LEN)
        acc.append((v[0], v[1], v[2]))
        gyr.append((v[3], v[4], v[5]))
    return CalfImuPacket(
        version=version,
        acc_range_code=acc_code,
        gyr_range_code=gyr_code,
        seq=seq,
        t_first_us=t_first_us,
        period_us=period_us,
        acc_raw=tuple(acc),
        gyr_raw=tuple(gyr),
    )


def encode_packet(p: CalfImuPacket) -> bytes:
    """Inverse of :func:`decode_packet`."""
    if len(p.acc_raw) != len(p.gyr_raw) or not p.acc_raw:
        msg = "a calf packet needs the same, non-zero number of acc and gyro samples"
        raise ProtocolError(msg)
    head = (p.version << 5) | (p.acc_range_code << 3) | p.gyr_range_code
    parts = [_HEADER.pack(head, p.seq, p.t_first_us, p.period_us)]
    parts += [_SAMPLE.pack(*a, *g) for a, g in zip(p.acc_raw, p.gyr_raw)]
    return b"".join(parts)


def packet_to_samples(
    p: CalfImuPacket, *, t_first_us: int | None = None, counter: int | None = None
) -> Samples:
    """Physical units. ``t_first_us`` overrides the packet's (for an unwrapped device time)."""
    n = len(p.acc_raw)
    acc = np.array(p.acc_raw, dtype=np.float64).reshape(n, 3) * (
        acc_g_per_lsb(p.acc_range_code) * GRAVITY_M_S2
    )
    gyr = np.array(p.gyr_raw, dtype=np.float64).reshape(n, 3) * gyr_dps_per_lsb(p.gyr_range_code)
    t0 = p.t_first_us if t_first_us is None else t_first_us
    t = (t0 + np.arange(n, dtype=np.int64) * p.period_us) / 1e6
    cnt = np.full(n, p.seq if counter is None else counter, dtype=np.int64)
    return Samples(acc_m_s2=acc, gyr_dps=gyr, counter=cnt, t_dev_s=t)


# Control ------------------------------------------------------------------------------------


def encode_command(
    opcode: int,
    *,
    rate_hz: int = 0,
    acc_range_code: int = 0,
    gyr_range_code: int = 0,
    seconds: int = 0,
) -> bytes:
    """Bytes to write to the control characteristic."""
    if opcode == Opcode.SET_RATE:
        return struct.pack("<BH", opcode, rate_hz)
    if opcode == Opcode.SET_RANGE:
        return bytes((opcode, acc_range_code, gyr_range_code))
    if opcode == Opcode.IDENTIFY:
        return bytes((opcode, seconds))
    if opcode in (Opcode.START, Opcode.STOP, Opcode.GET_CONFIG):
        return bytes((opcode,))
    msg = f"unknown calf opcode 0x{opcode:02X}"
    raise ProtocolError(msg)


def decode_command(data: bytes) -> CalfCommand:
    """Parse a control write (firmware side / emulator)."""
    what = "calf command"
    if not data:
        raise TruncatedPacketError(1, 0, what=what)
    op = data[0]
    if op not in _ARG_LEN:
        raise MalformedPacketError(0, "opcode 0x01..0x06", op, what=what)
    need = 1 + _ARG_LEN[op]
    if len(data) < need:
        raise TruncatedPacketError(need, len(data), what=what)
    if len(data) > need:
        raise MalformedPacketError(need, f"end of the {need}-byte command", data[need], what=what)
    return CalfCommand(opcode=op, args=bytes(data[1:]))


def encode_reply(r: CalfReply) -> bytes:
    out = bytes((Opcode.REPLY_FLAG | r.opcode, r.status))
    if r.config is not None:
        c = r.config
        out += _CONFIG.pack(
            c.version,
            int(c.streaming),
            c.rate_hz,
            c.period_us,
            c.acc_range_code,
            c.gyr_range_code,
            c.max_samples_per_packet,
        )
    return out


def decode_reply(data: bytes) -> CalfReply:
    what = "calf reply"
    if len(data) < 2:
        raise TruncatedPacketError(2, len(data), what=what)
    if not data[0] & Opcode.REPLY_FLAG:
        raise MalformedPacketError(0, "reply opcode with bit 7 set", data[0], what=what)
    op = data[0] & 0x7F
    status = data[1]
    if len(data) == 2:
        return CalfReply(opcode=op, status=status)
    if len(data) < 2 + _CONFIG.size:
        raise TruncatedPacketError(2 + _CONFIG.size, len(data), what=what)
    if len(data) > 2 + _CONFIG.size:
        raise MalformedPacketError(
            2 + _CONFIG.size, "end of reply", data[2 + _CONFIG.size], what=what
        )
    v, streaming, rate, period, ac, gc, nmax = _CONFIG.unpack_from(data, 2)
    if streaming > 1:
        raise MalformedPacketError(3, "streaming flag 0 or 1", streaming, what=what)
    return CalfReply(
        opcode=op,
        status=status,
        config=CalfConfig(
            version=v,
            streaming=bool(streaming),
            rate_hz=rate,
            period_us=period,
            acc_range_code=ac,
            gyr_range_code=gc,
            max_samples_per_packet=nmax,
        ),
    )


# Streaming decoder --------------------------------------------------------------------------

_U32 = 1 << 32


def _signed_mod(d: int, m: int) -> int:
    d %= m
    return d - m if d >= m // 2 else d


class CalfDecoder(StreamDecoder):
    """One packet per notification; gaps from the sequence number, sized by device time."""

    family = "calf"

    def __init__(self) -> None:
        super().__init__()
        self._seq: int | None = None  # unwrapped
        self._t_first_us = 0  # unwrapped
        self._last: CalfImuPacket | None = None

    def feed(self, data: bytes, char_uuid: str | None = None) -> list[Event]:
        out: list[Event] = []
        uuid = None if char_uuid is None else char_uuid.lower()
        if uuid == CONTROL_CHAR_UUID:
            try:
                self._reply(out, decode_reply(bytes(data)))
            except ProtocolError as exc:
                self._dropped(out, len(data), f"bad calf reply: {exc}")
            return out
        if uuid is not None and uuid != DATA_CHAR_UUID:
            self._dropped(out, len(data), f"not a calf data characteristic: {char_uuid}")
            return out
        try:
            p = decode_packet(bytes(data))
        except ProtocolError as exc:
            self._dropped(out, len(data), f"bad calf packet: {exc}")
            return out
        last = self._last
        if last is None or self._seq is None:
            self._seq = p.seq
            self._t_first_us = p.t_first_us
        else:
            n_last = len(last.acc_raw)
            expected_t = self._t_first_us + n_last * last.period_us
            t = self._t_first_us + _signed_mod(p.t_first_us - last.t_first_us, _U32)
            dseq = (p.seq - last.seq) % 256
            if dseq == 0:
                self._dropped(out, len(data), "repeated calf sequence number")
                return out
            missing_t = round((t - expected_t) / p.period_us)
            if missing_t < 0:  # device clock went backwards (board restart): mark, continue
                self._gap(out, self._seq + 1, self._seq + dseq, 0, reason="clock_reset")
                self._seq += dseq
                self._t_first_us = expected_t
                self._last = p
                self._samples(
                    out, packet_to_samples(p, t_first_us=self._t_first_us, counter=self._seq)
                )
                return out
            k = dseq - 1  # packets lost according to the 8-bit counter
            if missing_t > 0 and n_last > 0:
                est = missing_t / n_last
                k += 256 * max(0, round((est - k) / 256))
            got = self._seq + k + 1
            if k > 0 or missing_t > 0:
                n_missing = missing_t if missing_t > 0 else k * n_last
                self._gap(out, self._seq + 1, got, n_missing)
            self._seq = got
            self._t_first_us = t
        self._last = p
        self._samples(out, packet_to_samples(p, t_first_us=self._t_first_us, counter=self._seq))
        return out


# Encoder (emulated device) ------------------------------------------------------------------


@dataclass(slots=True)
class _DeviceState:
    rate_hz: int
    acc_code: int
    gyr_code: int
    streaming: bool = True
    seq: int = 0
    t_us: int = 0
    pending: list[tuple[tuple[int, int, int], tuple[int, int, int]]] = field(default_factory=list)


class CalfEncoder(DeviceEncoder):
    """An emulated calf board. Batches samples like the firmware must (SPEC §4.3):
    ``min(max_samples_per_packet(mtu), ceil(rate × 50 ms))`` samples per packet; call
    :meth:`flush` to send a partial batch."""

    family = "calf"

    def __init__(
        self,
        rate_hz: float = 100.0,
        mtu: int = 23,
        *,
        acc_range_g: float = DEFAULT_ACC_RANGE_G,
        gyr_range_dps: float = DEFAULT_GYR_RANGE_DPS,
        t0_us: int = 0,
        streaming: bool = True,
    ) -> None:
        self.mtu = int(mtu)
        self._max_n = max_samples_per_packet(self.mtu)
        self.state = _DeviceState(
            rate_hz=int(rate_hz),
            acc_code=ACC_RANGES_G.index(float(acc_range_g)),
            gyr_code=GYR_RANGES_DPS.index(float(gyr_range_dps)),
            streaming=streaming,
            t_us=int(t0_us) % _U32,
        )

    @property
    def period_us(self) -> int:
        return round(1e6 / self.state.rate_hz)

    @property
    def samples_per_packet(self) -> int:
        return max(1, min(self._max_n, math.ceil(self.state.rate_hz * MAX_LATENCY_S)))

    def config(self) -> CalfConfig:
        s = self.state
        return CalfConfig(
            version=PROTOCOL_VERSION,
            streaming=s.streaming,
            rate_hz=s.rate_hz,
            period_us=self.period_us,
            acc_range_code=s.acc_code,
            gyr_range_code=s.gyr_code,
            max_samples_per_packet=self.samples_per_packet,
        )

    @property
    def is_streaming(self) -> bool:
        return self.state.streaming

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
        s = self.state
        if not s.streaming:
            return []
        a = quantize(acc / GRAVITY_M_S2, 1.0 / acc_g_per_lsb(s.acc_code), -32768, 32767)
        g = quantize(gyr, 1.0 / gyr_dps_per_lsb(s.gyr_code), -32768, 32767)
        out: list[bytes] = []
        for i in range(a.shape[0]):
            s.pending.append((tuple(a[i].tolist()), tuple(g[i].tolist())))  # type: ignore[arg-type]
            if len(s.pending) >= self.samples_per_packet:
                out.append(self._emit())
        return out

    def flush(self) -> list[bytes]:
        return [self._emit()] if self.state.pending else []

    def _emit(self) -> bytes:
        s = self.state
        n = len(s.pending)
        p = CalfImuPacket(
            acc_range_code=s.acc_code,
            gyr_range_code=s.gyr_code,
            seq=s.seq,
            t_first_us=s.t_us,
            period_us=self.period_us,
            acc_raw=tuple(x[0] for x in s.pending),
            gyr_raw=tuple(x[1] for x in s.pending),
        )
        s.pending.clear()
        s.seq = (s.seq + 1) % 256
        s.t_us = (s.t_us + n * self.period_us) % _U32
        return encode_packet(p)

    def encode_command_reply(self, command: bytes) -> bytes:
        """Apply ``command`` like the firmware and return the reply notification."""
        try:
            cmd = decode_command(command)
        except MalformedPacketError as exc:
            op = command[0] & 0x7F if command else 0
            status = Status.UNKNOWN_OPCODE if exc.offset == 0 else Status.BAD_LENGTH
            return encode_reply(CalfReply(opcode=op, status=status))
        except TruncatedPacketError:
            return encode_reply(CalfReply(opcode=command[0] & 0x7F, status=Status.BAD_LENGTH))
        s = self.state
        op = cmd.opcode
        if op == Opcode.START:
            if not s.streaming:
                s.streaming = True
                s.seq = 0
            return encode_reply(CalfReply(opcode=op, status=Status.OK))
        if op == Opcode.STOP:
            s.pending.clear()
            s.streaming = False
            return encode_reply(CalfReply(opcode=op, status=Status.OK))
        if op == Opcode.IDENTIFY:
            return encode_reply(CalfReply(opcode=op, status=Status.OK))
        if op in (Opcode.SET_RATE, Opcode.SET_RANGE) and s.streaming:
            return encode_reply(
                CalfReply(opcode=op, status=Status.BUSY_STREAMING, config=self.config())
            )
        if op == Opcode.SET_RATE:
            if float(cmd.rate_hz) not in RATES_HZ:
                return encode_reply(
                    CalfReply(opcode=op, status=Status.INVALID_ARGUMENT, config=self.config())
                )
            s.rate_hz = cmd.rate_hz
        elif op == Opcode.SET_RANGE:
            ac, gc = cmd.args[0], cmd.args[1]
            if ac >= len(ACC_RANGES_G) or gc >= len(GYR_RANGES_DPS):
                return encode_reply(
                    CalfReply(opcode=op, status=Status.INVALID_ARGUMENT, config=self.config())
                )
            s.acc_code, s.gyr_code = ac, gc
        return encode_reply(CalfReply(opcode=op, status=Status.OK, config=self.config()))

    def respond(self, command: bytes) -> list[tuple[str, bytes]]:
        return [(CONTROL_CHAR_UUID, self.encode_command_reply(command))]


# Family -------------------------------------------------------------------------------------


class CalfFamily(Family):
    __slots__ = ()

    def start_commands(self, rate_hz: float) -> list[tuple[str, bytes]]:
        rate = int(self.check_rate(rate_hz))
        return [
            (CONTROL_CHAR_UUID, encode_command(Opcode.STOP)),  # a reconnect may find it streaming
            (CONTROL_CHAR_UUID, encode_command(Opcode.SET_RATE, rate_hz=rate)),
            (
                CONTROL_CHAR_UUID,
                encode_command(
                    Opcode.SET_RANGE,
                    acc_range_code=ACC_RANGES_G.index(DEFAULT_ACC_RANGE_G),
                    gyr_range_code=GYR_RANGES_DPS.index(DEFAULT_GYR_RANGE_DPS),
                ),
            ),
            (CONTROL_CHAR_UUID, encode_command(Opcode.START)),
        ]

    def stop_commands(self) -> list[tuple[str, bytes]]:
        return [(CONTROL_CHAR_UUID, encode_command(Opcode.STOP))]

    def identify_command(self, seconds: int = 3) -> tuple[str, bytes]:
        return (CONTROL_CHAR_UUID, encode_command(Opcode.IDENTIFY, seconds=seconds))

    def new_decoder(self, rate_hz: float | None = None) -> CalfDecoder:
        return CalfDecoder()

    def new_encoder(self, rate_hz: float, mtu: int = 23) -> CalfEncoder:
        return CalfEncoder(self.check_rate(rate_hz), mtu, streaming=False)


FAMILY = CalfFamily(
    name="calf",
    display_name="calf open protocol v1 (DIY nRF52840 / ESP32 boards)",
    service_uuid=SERVICE_UUID,
    notify_char_uuids=(DATA_CHAR_UUID, CONTROL_CHAR_UUID),
    write_char_uuid=CONTROL_CHAR_UUID,
    supported_rates_hz=RATES_HZ,
    default_rate_hz=100.0,
    has_device_time=True,
    has_quaternion=False,
    has_counter=True,
    streams="acc + gyro int16 at declared ranges (default ±8 g, ±1000 °/s), µs device time, "
    "8-bit packet sequence; 1 sample per packet at MTU 23, up to 42 at MTU 517",
    name_patterns=(r"^CALF",),
    extra_service_uuids=(BATTERY_SERVICE_UUID, DEVICE_INFORMATION_SERVICE_UUID),
    notes=("specification: firmware_protocol/SPEC.md",),
)
