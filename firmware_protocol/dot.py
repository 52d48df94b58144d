"""Movella (Xsens) DOT — real-time streaming payload modes with acc + gyro (and quaternion).

Source: "Movella DOT BLE Service Specification", document XD0506P revision C (July 2023),
read in full for this module (sensor-protocols.md [X1]):

* Base UUID ``1517xxxx-4947-11e9-8646-d663bd873d93``; measurement service 0x2000, control
  0x2001 (3 bytes ``[type=1][action 0 stop / 1 start][payload mode]``), long payload 0x2002
  (63 B), medium 0x2003 (40 B), short 0x2004 (20 B); configuration service 0x1000 with
  device control 0x1002 (32 B; visit-index bit 4 = output rate at bytes 24–25); battery
  0x3001 ``[level %][charging 0/1]``. Company id 2182, names ``Movella DOT`` / ``Xsens DOT``.
* Payload = u32 timestamp (µs, sensor clock) + IEEE-754 float32 fields. Modes used here:
  **26 Custom mode 5** (44 B on 0x2002: quat w,x,y,z; acc x,y,z m/s² sensor frame; gyro x,y,z
  °/s) and **21 Rate quantities** (28 B on 0x2003: acc; gyro). The document says trailing
  unused bytes of a characteristic are 0x00: the encoder pads to the characteristic length and
  the decoder accepts the exact size or the padded one.
* Payload modes are decimal: 26 = 0x1A (a public script wrongly sends 0x26).
* Output rates 1, 4, 10, 12, 15, 20, 30, 60 (default) Hz; 120 Hz only for recording.
  The rate cannot change after measurement or synchronisation has started.

The vendor's own example (xsens/xsens_dot_server ``bleHandler.js``) writes ``[0x01, 0x01,
mode]`` to 0x2001 and unwraps the µs timestamp at 2³² (its ROLLOVER constant).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

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
    "BATTERY_CHAR_UUID",
    "CONTROL_CHAR_UUID",
    "DEVICE_CONTROL_CHAR_UUID",
    "FAMILY",
    "LONG_PAYLOAD_CHAR_UUID",
    "MEDIUM_PAYLOAD_CHAR_UUID",
    "MODE_CUSTOM5",
    "MODE_RATE_QUANTITIES",
    "SERVICE_UUID",
    "SHORT_PAYLOAD_CHAR_UUID",
    "DotBattery",
    "DotDecoder",
    "DotEncoder",
    "DotPacket",
    "decode_payload",
    "encode_payload",
    "set_output_rate_command",
    "start_command",
    "stop_command",
]


def dot_uuid(short: int) -> str:
    return f"1517{short:04x}-4947-11e9-8646-d663bd873d93"


SERVICE_UUID = dot_uuid(0x2000)
CONTROL_CHAR_UUID = dot_uuid(0x2001)
LONG_PAYLOAD_CHAR_UUID = dot_uuid(0x2002)
MEDIUM_PAYLOAD_CHAR_UUID = dot_uuid(0x2003)
SHORT_PAYLOAD_CHAR_UUID = dot_uuid(0x2004)
CONFIG_SERVICE_UUID = dot_uuid(0x1000)
DEVICE_CONTROL_CHAR_UUID = dot_uuid(0x1002)
BATTERY_SERVICE_UUID = dot_uuid(0x3000)
BATTERY_CHAR_UUID = dot_uuid(0x3001)
MOVELLA_COMPANY_ID = 2182

MODE_CUSTOM5 = 26
MODE_RATE_QUANTITIES = 21
RATES_HZ: tuple[float, ...] = (1.0, 4.0, 10.0, 12.0, 15.0, 20.0, 30.0, 60.0)

# mode → (characteristic, exact size, characteristic length, has quaternion)
_MODES: dict[int, tuple[str, int, int, bool]] = {
    MODE_CUSTOM5: (LONG_PAYLOAD_CHAR_UUID, 44, 63, True),
    MODE_RATE_QUANTITIES: (MEDIUM_PAYLOAD_CHAR_UUID, 28, 40, False),
}
_DEVICE_CONTROL_LEN = 32
_VISIT_OUTPUT_RATE = 0x10


@dataclass(frozen=True, slots=True, kw_only=True)
class DotPacket:
    """One DOT measurement notification (one sample); floats as sent."""

    mode: int
    timestamp_us: int
    """Sensor clock, µs, u32."""
    acc: tuple[float, float, float]
    """Calibrated acceleration in the sensor frame, m/s²."""
    gyr: tuple[float, float, float]
    """Angular velocity in the sensor frame, °/s."""
    quat: tuple[float, float, float, float] | None = None
    """Orientation w, x, y, z (mode 26 only)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DotBattery:
    """Battery characteristic 0x3001."""

    level_pct: int
    charging: bool


def decode_payload(data: bytes, mode: int = MODE_CUSTOM5) -> DotPacket:
    """Decode one measurement notification of payload ``mode``; raises :class:`ProtocolError`."""
    if mode not in _MODES:
        raise UnsupportedSettingError("payload mode", mode, tuple(_MODES), family="Movella DOT")
    _, size, char_len, has_q = _MODES[mode]
    what = f"Movella DOT mode-{mode} payload"
    if len(data) < size:
        raise TruncatedPacketError(size, len(data), what=what)
    if len(data) > char_len:
        raise MalformedPacketError(char_len, f"at most {char_len} bytes", len(data), what=what)
    if len(data) > size and any(data[size:]):
        i = size + next(i for i, b in enumerate(data[size:]) if b)
        raise MalformedPacketError(i, "0x00 padding", data[i], what=what)
    n_f = (size - 4) // 4
    ts, *vals = struct.unpack_from(f"<I{n_f}f", data)
    for i, v in enumerate(vals):
        if not math.isfinite(v):
            raise MalformedPacketError(4 + 4 * i, "a finite float32", v, what=what)
    if has_q:
        q = (vals[0], vals[1], vals[2], vals[3])
        vals = vals[4:]
    else:
        q = None
    return DotPacket(
        mode=mode,
        timestamp_us=ts,
        acc=(vals[0], vals[1], vals[2]),
        gyr=(vals[3], vals[4], vals[5]),
        quat=q,
    )


def encode_payload(p: DotPacket, *, pad: bool = True) -> bytes:
    """Inverse of :func:`decode_payload`; ``pad`` fills to the characteristic length with 0x00."""
    _, size, char_len, has_q = _MODES[p.mode]
    fields = ([*p.quat] if has_q and p.quat is not None else []) + [*p.acc, *p.gyr]
    if has_q and p.quat is None:
        msg = f"DOT mode {p.mode} needs a quaternion"
        raise ProtocolError(msg)
    out = struct.pack(f"<I{len(fields)}f", p.timestamp_us, *fields)
    return out + bytes(char_len - size) if pad else out


def decode_battery(data: bytes) -> DotBattery:
    what = "Movella DOT battery"
    if len(data) < 2:
        raise TruncatedPacketError(2, len(data), what=what)
    if data[0] > 100:
        raise MalformedPacketError(0, "level 0..100", data[0], what=what)
    if data[1] > 1:
        raise MalformedPacketError(1, "charging 0 or 1", data[1], what=what)
    return DotBattery(level_pct=data[0], charging=bool(data[1]))


def start_command(mode: int = MODE_CUSTOM5) -> bytes:
    """``01 01 <mode>`` to 0x2001 (after notifications on the payload characteristic are on)."""
    return bytes((0x01, 0x01, mode))


def stop_command(mode: int = MODE_CUSTOM5) -> bytes:
    return bytes((0x01, 0x00, mode))


def set_output_rate_command(rate_hz: float) -> bytes:
    """The 32-byte device-control write selecting the output rate (visit index bit 4)."""
    if float(rate_hz) not in RATES_HZ:
        raise UnsupportedSettingError("rate_hz", rate_hz, RATES_HZ, family="Movella DOT")
    buf = bytearray(_DEVICE_CONTROL_LEN)
    buf[0] = _VISIT_OUTPUT_RATE
    struct.pack_into("<H", buf, 24, int(rate_hz))
    return bytes(buf)


# Streaming decoder --------------------------------------------------------------------------

_U32 = 1 << 32


class DotDecoder(StreamDecoder):
    """One sample per notification; unwraps the µs clock; gaps from the clock and the period.

    Gaps are sized with the period of ``rate_hz`` (the rate written at start). The DOT may
    keep an earlier rate (the rate cannot change after measurement or sync has started), so
    the decoder checks the hint against the intervals it sees: a shorter interval, or
    ``HINT_REFUTED_AFTER`` consecutive intervals of the same longer length, replace it by the
    shortest interval seen. Without ``rate_hz`` that learnt period is used from the start.
    """

    HINT_REFUTED_AFTER = 3

    family = "dot"

    def __init__(self, rate_hz: float | None = 60.0, mode: int = MODE_CUSTOM5) -> None:
        super().__init__()
        if mode not in _MODES:
            raise UnsupportedSettingError("payload mode", mode, tuple(_MODES), family="Movella DOT")
        self.mode = mode
        self.rate_hz = None if rate_hz is None else float(rate_hz)
        self._char = _MODES[mode][0]
        self._t_us: int | None = None  # unwrapped
        self._raw_us = 0
        self._min_d_us: int | None = None
        self._hint_ok = rate_hz is not None
        self._long_run = 0  # consecutive intervals of one length > 1.5 hint periods
        self._long_d = 0

    @property
    def period_us(self) -> float | None:
        """Sample period used for gap sizing, µs (None until known)."""
        if self._hint_ok and self.rate_hz is not None:
            return 1e6 / self.rate_hz
        return None if self._min_d_us is None else float(self._min_d_us)

    def _observe(self, d: int) -> None:
        if self._min_d_us is None or d < self._min_d_us:
            self._min_d_us = d
        if not self._hint_ok or self.rate_hz is None:
            return
        hint = 1e6 / self.rate_hz
        if d < 0.75 * hint:
            self._hint_ok = False
        elif d > 1.5 * hint and (self._long_run == 0 or abs(d - self._long_d) <= 0.1 * d):
            self._long_run += 1
            self._long_d = d
            if self._long_run >= self.HINT_REFUTED_AFTER:
                self._hint_ok = False
        else:
            self._long_run = 0

    def feed(self, data: bytes, char_uuid: str | None = None) -> list[Event]:
        out: list[Event] = []
        uuid = None if char_uuid is None else char_uuid.lower()
        if uuid == BATTERY_CHAR_UUID:
            try:
                self._reply(out, decode_battery(bytes(data)))
            except ProtocolError as exc:
                self._dropped(out, len(data), f"bad DOT battery notification: {exc}")
            return out
        if uuid is not None and uuid != self._char:
            self._dropped(
                out, len(data), f"not the DOT mode-{self.mode} characteristic: {char_uuid}"
            )
            return out
        try:
            p = decode_payload(bytes(data), self.mode)
        except ProtocolError as exc:
            self._dropped(out, len(data), f"bad DOT payload: {exc}")
            return out
        if self._t_us is None:
            t = p.timestamp_us
        else:
            d = (p.timestamp_us - self._raw_us) % _U32
            if d >= _U32 // 2:
                d -= _U32
            if d == 0:
                self._dropped(out, len(data), "repeated DOT time stamp")
                return out
            if d > 0:
                self._observe(d)
            period_us = self.period_us or float(abs(d))
            i_exp = round(self._t_us / period_us) + 1
            if d < 0:  # the sensor clock restarted: keep the time line monotonic, mark it
                t = self._t_us + max(1, round(period_us))
                self._gap(out, i_exp, i_exp, 0, reason="clock_reset")
            else:
                t = self._t_us + d
                missing = round(d / period_us) - 1
                if missing > 0:
                    self._gap(out, i_exp, i_exp + missing, missing)
        self._t_us = t
        self._raw_us = p.timestamp_us
        self._samples(
            out,
            Samples(
                acc_m_s2=np.array([p.acc], dtype=np.float64),
                gyr_dps=np.array([p.gyr], dtype=np.float64),
                quat_wxyz=None if p.quat is None else np.array([p.quat], dtype=np.float64),
                t_dev_s=np.array([t / 1e6]),
            ),
        )
        return out


# Encoder (emulated device) ------------------------------------------------------------------


class DotEncoder(DeviceEncoder):
    """An emulated DOT: one padded notification per sample, µs time stamps at the output rate."""

    family = "dot"

    def __init__(
        self,
        rate_hz: float = 60.0,
        mtu: int = 23,
        *,
        mode: int = MODE_CUSTOM5,
        t0_us: int = 0,
        measuring: bool = True,
    ) -> None:
        if float(rate_hz) not in RATES_HZ:
            raise UnsupportedSettingError("rate_hz", rate_hz, RATES_HZ, family="Movella DOT")
        self.rate_hz = float(rate_hz)
        self.mode = mode
        self.mtu = int(mtu)
        self.measuring = measuring
        self._t0_us = int(t0_us)
        self._n = 0
        self.battery = DotBattery(level_pct=87, charging=False)

    @property
    def char_uuid(self) -> str:
        return _MODES[self.mode][0]

    @property
    def is_streaming(self) -> bool:
        return self.measuring

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
        has_q = _MODES[self.mode][3]
        if has_q:
            q = (
                np.tile([1.0, 0.0, 0.0, 0.0], (acc.shape[0], 1))
                if quat_wxyz is None
                else as_rows("quat_wxyz", quat_wxyz, 4)
            )
        if not self.measuring:
            return []
        out = []
        for i in range(acc.shape[0]):
            ts = (self._t0_us + round(self._n * 1e6 / self.rate_hz)) % _U32
            self._n += 1
            p = DotPacket(
                mode=self.mode,
                timestamp_us=ts,
                acc=tuple(float(v) for v in acc[i]),  # type: ignore[arg-type]
                gyr=tuple(float(v) for v in gyr[i]),  # type: ignore[arg-type]
                quat=tuple(float(v) for v in q[i]) if has_q else None,  # type: ignore[arg-type]
            )
            # The notification carries the characteristic's full length (zero padded) when the
            # MTU allows; at a small MTU the OS truncates to MTU − 3, which still holds the data
            # of mode 21 only if it fits.
            payload = encode_payload(p, pad=True)
            out.append(payload[: max(self.mtu - 3, _MODES[self.mode][1])])
        return out

    def respond(self, command: bytes) -> list[tuple[str, bytes]]:
        if len(command) == 3 and command[0] == 0x01:
            if command[1] == 0x01 and command[2] in _MODES:
                self.mode = command[2]
                self.measuring = True
            elif command[1] == 0x00:
                self.measuring = False
        elif len(command) == _DEVICE_CONTROL_LEN and command[0] & _VISIT_OUTPUT_RATE:
            rate = struct.unpack_from("<H", command, 24)[0]
            if float(rate) in RATES_HZ and not self.measuring:
                self.rate_hz = float(rate)
        return []

    def encode_battery(self) -> bytes:
        return bytes((self.battery.level_pct, int(self.battery.charging)))


# Family -------------------------------------------------------------------------------------


class DotFamily(Family):
    __slots__ = ()

    def start_commands(self, rate_hz: float) -> list[tuple[str, bytes]]:
        rate = self.check_rate(rate_hz)
        return [
            (DEVICE_CONTROL_CHAR_UUID, set_output_rate_command(rate)),
            (CONTROL_CHAR_UUID, start_command(MODE_CUSTOM5)),
        ]

    def stop_commands(self) -> list[tuple[str, bytes]]:
        return [(CONTROL_CHAR_UUID, stop_command(MODE_CUSTOM5))]

    def new_decoder(self, rate_hz: float | None = None) -> DotDecoder:
        """Pass the rate given to :meth:`start_commands`; without it the period is learnt."""
        return DotDecoder(rate_hz, MODE_CUSTOM5)

    def new_encoder(self, rate_hz: float, mtu: int = 23) -> DotEncoder:
        return DotEncoder(self.check_rate(rate_hz), mtu, measuring=False)


FAMILY = DotFamily(
    name="dot",
    display_name="Movella DOT / Xsens DOT (BLE Service Specification XD0506P rev C)",
    service_uuid=SERVICE_UUID,
    notify_char_uuids=(LONG_PAYLOAD_CHAR_UUID, BATTERY_CHAR_UUID),
    write_char_uuid=CONTROL_CHAR_UUID,
    supported_rates_hz=RATES_HZ,
    default_rate_hz=60.0,
    has_device_time=True,
    has_quaternion=True,
    has_counter=False,
    streams="payload mode 26 (custom mode 5): µs time stamp, quaternion w,x,y,z, acc m/s², "
    "gyro °/s as float32, one sample per 44-byte notification (needs MTU ≥ 47)",
    name_patterns=(r"^(Movella|Xsens) DOT",),
    manufacturer_ids=(MOVELLA_COMPANY_ID,),
    notes=(
        "the output rate is written to device control 0x1002 before start; it is fixed after",
        "mode 21 (rate quantities, acc + gyro only) is decoded too: DotDecoder(mode=21)",
    ),
)
