"""WitMotion BLE 5.0 IMUs (WT901BLECL 5.0, BWT901BLECL5.0, WT9011DCL-BT50).

Wire format (all little-endian; sources in ``sensor-protocols.md`` §1 and below):

* Notify ``0000ffe4-…9a34fb`` (note the **9a** base, not the SIG 9b base), write
  ``0000ffe9-…9a34fb``, service ``0000ffe5-…9a34fb``.
* ``0x61`` frame, 20 bytes, pushed at the return rate: ``55 61`` + int16 acc x,y,z (×16/32768 g),
  gyro x,y,z (×2000/32768 °/s), angle roll,pitch,yaw (×180/32768 °). No checksum, no counter,
  no time stamp, so a lost frame cannot be detected from the bytes.
* ``0x71`` frame, 20 bytes, only as the answer to a register read ``FF AA 27 <reg> 00``:
  ``55 71 <reg u16>`` + eight int16 registers starting at ``<reg>``.
* Commands are 5 bytes ``FF AA <reg> <value u16>``; writes need ``FF AA 69 88 B5`` (unlock,
  valid ~10 s) first.

Confirmed in the vendor's own code (WITMOTION/WitBluetooth_BWT901BLE5_0,
``Windows_C#/Wit.Example_BWT901BLE/Form1.cs``): unlock ``FF AA 69 88 B5``, return rate
``FF AA 03 06 00`` = 10 Hz and ``FF AA 03 08 00`` = 50 Hz, read ``FF AA 27 03 00``, and the
advertised-name filter ``Contains("WT")``.

200 Hz: sources disagree. The WIT register tables of the serial modules (WT901, JY901) give
0x09 = 100 Hz, 0x0A = 125 Hz (WT931 only) and 0x0B = 200 Hz; the table for this BLE model, as
transcribed from the "WT901BLECL datasheet v23-0420" in rubenmuehlhans/esphome-witmotion
(``components/witmotion/witmotion_struct.h``, ``RateArg``: ``RATE_100HZ = 0x09``,
``RATE_200HZ = 0x0A``, with no 125 Hz step), gives **0x0A = 200 Hz**. The vendor's own BLE
examples only use 10 and 50 Hz. We send 0x0A (the BLE model's table); the start sequence reads
register 0x03 back, and the emulator also takes 0x0B as 200 Hz. Measure the notification rate
before trusting 200 Hz.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from firmware_protocol._common import (
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
    UnsupportedSettingError,
)

__all__ = [
    "ACC_G_PER_LSB",
    "ANGLE_DEG_PER_LSB",
    "FAMILY",
    "GYR_DPS_PER_LSB",
    "NOTIFY_CHAR_UUID",
    "QUAT_PER_LSB",
    "RATE_CODES",
    "SERVICE_UUID",
    "WRITE_CHAR_UUID",
    "WitCommand",
    "WitDecoder",
    "WitEncoder",
    "WitImuFrame",
    "WitRegisterReply",
    "decode_command",
    "decode_frame",
    "encode_command",
    "encode_frame",
    "frame_to_samples",
    "read_register_command",
    "set_rate_command",
]

_BASE = "-0000-1000-8000-00805f9a34fb"  # WitMotion's base: 9a, not the SIG 9b
SERVICE_UUID = f"0000ffe5{_BASE}"
NOTIFY_CHAR_UUID = f"0000ffe4{_BASE}"
WRITE_CHAR_UUID = f"0000ffe9{_BASE}"

HEADER = 0x55
FLAG_IMU = 0x61
FLAG_REGISTERS = 0x71
FRAME_LEN = 20

ACC_G_PER_LSB = 16.0 / 32768.0  # ±16 g full scale
GYR_DPS_PER_LSB = 2000.0 / 32768.0  # ±2000 °/s
ANGLE_DEG_PER_LSB = 180.0 / 32768.0
QUAT_PER_LSB = 1.0 / 32768.0  # registers 0x51..0x54
BATTERY_V_PER_LSB = 0.01  # register 0x64
TEMPERATURE_C_PER_LSB = 0.01  # register 0x40

REG_SAVE = 0x00
REG_CALSW = 0x01
REG_RATE = 0x03
REG_READ = 0x27
REG_UNLOCK = 0x69
REG_MAG_X = 0x3A
REG_TEMPERATURE = 0x40
REG_QUAT_0 = 0x51
REG_BATTERY = 0x64
UNLOCK_VALUE = 0xB588  # FF AA 69 88 B5

# Return-rate register codes (reg 0x03). 200 Hz: see module docstring.
RATE_CODES: dict[float, int] = {
    0.2: 0x01,
    0.5: 0x02,
    1.0: 0x03,
    2.0: 0x04,
    5.0: 0x05,
    10.0: 0x06,
    20.0: 0x07,
    50.0: 0x08,
    100.0: 0x09,
    200.0: 0x0A,  # the BLE datasheet's table; 0x0B on the serial modules (module docstring)
}
_CODE_RATES = {v: k for k, v in RATE_CODES.items()} | {0x0B: 200.0}

_FRAME = struct.Struct("<BB9h")
_REPLY = struct.Struct("<BBH8h")
_COMMAND = struct.Struct("<BBBH")


@dataclass(frozen=True, slots=True, kw_only=True)
class WitImuFrame:
    """The default ``55 61`` frame, raw counts."""

    FLAG: ClassVar[int] = FLAG_IMU
    acc_raw: tuple[int, int, int]
    """x, y, z; × ACC_G_PER_LSB → g."""
    gyr_raw: tuple[int, int, int]
    """x, y, z; × GYR_DPS_PER_LSB → °/s."""
    angle_raw: tuple[int, int, int]
    """roll (x), pitch (y), yaw (z); × ANGLE_DEG_PER_LSB → °."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WitRegisterReply:
    """The ``55 71`` answer to a register read: eight int16 registers from ``start_register``."""

    FLAG: ClassVar[int] = FLAG_REGISTERS
    start_register: int
    values: tuple[int, int, int, int, int, int, int, int]

    def register(self, reg: int) -> int | None:
        """Value of register ``reg`` if this reply covers it."""
        i = reg - self.start_register
        return self.values[i] if 0 <= i < 8 else None


@dataclass(frozen=True, slots=True, kw_only=True)
class WitCommand:
    """A 5-byte command ``FF AA <register> <value u16>``."""

    register: int
    value: int


WitFrame = WitImuFrame | WitRegisterReply


def _i16_triplet(vals: tuple[int, ...]) -> tuple[int, int, int]:
    return (int(vals[0]), int(vals[1]), int(vals[2]))


def decode_frame(data: bytes) -> WitFrame:
    """Decode one 20-byte frame (``55 61`` or ``55 71``); raises :class:`ProtocolError`."""
    if len(data) < FRAME_LEN:
        raise TruncatedPacketError(FRAME_LEN, len(data), what="WitMotion frame")
    if len(data) > FRAME_LEN:
        raise MalformedPacketError(
            FRAME_LEN, "end of the 20-byte frame", data[FRAME_LEN], what="WitMotion frame"
        )
    if data[0] != HEADER:
        raise MalformedPacketError(0, "header 0x55", data[0], what="WitMotion frame")
    flag = data[1]
    if flag == FLAG_IMU:
        _, _, *v = _FRAME.unpack(data)
        return WitImuFrame(
            acc_raw=_i16_triplet(v[0:3]),
            gyr_raw=_i16_triplet(v[3:6]),
            angle_raw=_i16_triplet(v[6:9]),
        )
    if flag == FLAG_REGISTERS:
        _, _, reg, *vals = _REPLY.unpack(data)
        return WitRegisterReply(start_register=reg, values=tuple(int(x) for x in vals))  # type: ignore[arg-type]
    raise MalformedPacketError(1, "flag 0x61 or 0x71", flag, what="WitMotion frame")


def encode_frame(frame: WitFrame) -> bytes:
    """Inverse of :func:`decode_frame`."""
    if isinstance(frame, WitImuFrame):
        return _FRAME.pack(HEADER, FLAG_IMU, *frame.acc_raw, *frame.gyr_raw, *frame.angle_raw)
    return _REPLY.pack(HEADER, FLAG_REGISTERS, frame.start_register, *frame.values)


def frames_to_samples(frames: list[WitImuFrame]) -> Samples:
    """Raw frames to physical units (acc m/s², gyro °/s). No counter, no device time."""
    acc = np.array([f.acc_raw for f in frames], dtype=np.float64).reshape(-1, 3)
    gyr = np.array([f.gyr_raw for f in frames], dtype=np.float64).reshape(-1, 3)
    return Samples(acc_m_s2=acc * (ACC_G_PER_LSB * GRAVITY_M_S2), gyr_dps=gyr * GYR_DPS_PER_LSB)


def frame_to_samples(frame: WitImuFrame) -> Samples:
    return frames_to_samples([frame])


def euler_deg(frame: WitImuFrame) -> tuple[float, float, float]:
    """The frame's on-board roll, pitch, yaw in degrees."""
    r, p, y = frame.angle_raw
    return (r * ANGLE_DEG_PER_LSB, p * ANGLE_DEG_PER_LSB, y * ANGLE_DEG_PER_LSB)


# Commands -----------------------------------------------------------------------------------


def encode_command(register: int, value: int) -> bytes:
    """``FF AA <register> <value u16 LE>``."""
    if not 0 <= register <= 0xFF or not 0 <= value <= 0xFFFF:
        msg = f"WitMotion command register {register} / value {value} out of range"
        raise ProtocolError(msg)
    return _COMMAND.pack(0xFF, 0xAA, register, value)


def decode_command(data: bytes) -> WitCommand:
    """Parse a 5-byte command written to ``ffe9`` (used by the emulated sensor)."""
    if len(data) < 5:
        raise TruncatedPacketError(5, len(data), what="WitMotion command")
    if len(data) > 5:
        raise MalformedPacketError(
            5, "end of the 5-byte command", data[5], what="WitMotion command"
        )
    if data[0] != 0xFF:
        raise MalformedPacketError(0, "0xFF", data[0], what="WitMotion command")
    if data[1] != 0xAA:
        raise MalformedPacketError(1, "0xAA", data[1], what="WitMotion command")
    _, _, reg, value = _COMMAND.unpack(data)
    return WitCommand(register=reg, value=value)


UNLOCK_COMMAND = encode_command(REG_UNLOCK, UNLOCK_VALUE)  # FF AA 69 88 B5
SAVE_COMMAND = encode_command(REG_SAVE, 0)  # FF AA 00 00 00


def set_rate_command(rate_hz: float) -> bytes:
    """``FF AA 03 <code> 00`` for one of :data:`RATE_CODES`."""
    for r, code in RATE_CODES.items():
        if abs(r - float(rate_hz)) < 1e-9:
            return encode_command(REG_RATE, code)
    raise UnsupportedSettingError("rate_hz", rate_hz, tuple(RATE_CODES), family="WitMotion BLE 5.0")


def read_register_command(register: int) -> bytes:
    """``FF AA 27 <reg> 00``; the sensor answers with a ``55 71`` frame."""
    return encode_command(REG_READ, register)


# Streaming decoder --------------------------------------------------------------------------


class WitDecoder(StreamDecoder):
    """Re-synchronising decoder: keeps a byte buffer, scans for ``55 61`` / ``55 71``.

    A frame may straddle notifications and several frames may share one. Bytes before a
    header are dropped and reported. WitMotion frames carry no counter, so this decoder
    cannot report sequence gaps; the source layer must use arrival times.
    """

    family = "witmotion"

    def __init__(self) -> None:
        super().__init__()
        self._buf = bytearray()

    def feed(self, data: bytes, char_uuid: str | None = None) -> list[Event]:
        out: list[Event] = []
        if char_uuid is not None and char_uuid.lower() != NOTIFY_CHAR_UUID:
            self._dropped(out, len(data), f"not a WitMotion data characteristic: {char_uuid}")
            return out
        buf = self._buf
        buf += data
        pos = 0
        imu: list[WitImuFrame] = []
        while True:
            start = _find_header(buf, pos)
            if start < 0:
                # keep a trailing 0x55: it may be the first half of a header
                keep_from = len(buf) - 1 if buf and buf[-1] == HEADER else len(buf)
                keep_from = max(keep_from, pos)
                self._flush(out, imu)
                self._dropped(out, keep_from - pos, "no WitMotion frame header (55 61 / 55 71)")
                pos = keep_from
                break
            if start > pos:
                self._flush(out, imu)
                self._dropped(out, start - pos, "no WitMotion frame header (55 61 / 55 71)")
            pos = start
            if len(buf) - pos < FRAME_LEN:
                break
            frame = decode_frame(bytes(buf[pos : pos + FRAME_LEN]))
            pos += FRAME_LEN
            if isinstance(frame, WitImuFrame):
                imu.append(frame)
            else:
                self._flush(out, imu)
                self._reply(out, frame)
        self._flush(out, imu)
        del buf[:pos]
        return out

    def _flush(self, out: list[Event], imu: list[WitImuFrame]) -> None:
        # One Samples per frame keeps the events identical however the bytes were split.
        for f in imu:
            self._samples(out, frame_to_samples(f))
        imu.clear()


def _find_header(buf: bytearray, pos: int) -> int:
    """Index of the next ``55 61`` / ``55 71`` at or after ``pos``, or -1."""
    while True:
        i = buf.find(HEADER, pos)
        if i < 0 or i + 1 >= len(buf):
            return -1
        if buf[i + 1] in (FLAG_IMU, FLAG_REGISTERS):
            return i
        pos = i + 1


# Encoder (emulated device) ------------------------------------------------------------------


def _quat_to_euler_deg(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return np.degrees(np.stack([roll, pitch, yaw], axis=1))


class WitEncoder(DeviceEncoder):
    """An emulated WitMotion sensor: 0x61 frames for samples, 0x71 replies to register reads.

    It keeps a small register file: return rate (0x03), temperature (0x40), quaternion
    (0x51..0x54, from the last encoded sample), battery (0x64, volts × 100).
    """

    family = "witmotion"

    def __init__(
        self, rate_hz: float = 10.0, *, battery_v: float = 3.95, temperature_c: float = 25.0
    ) -> None:
        self.registers: dict[int, int] = {}
        self.registers[REG_RATE] = RATE_CODES.get(float(rate_hz), RATE_CODES[10.0])
        self.registers[REG_TEMPERATURE] = round(temperature_c / TEMPERATURE_C_PER_LSB)
        self.registers[REG_BATTERY] = round(battery_v / BATTERY_V_PER_LSB)
        self.registers[REG_QUAT_0] = 32767
        self.unlocked = False

    @property
    def rate_hz(self) -> float:
        return _CODE_RATES.get(self.registers.get(REG_RATE, 0x06), 10.0)

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
        acc_raw = quantize(acc / GRAVITY_M_S2, 1.0 / ACC_G_PER_LSB, -32768, 32767)
        gyr_raw = quantize(gyr, 1.0 / GYR_DPS_PER_LSB, -32768, 32767)
        if quat_wxyz is not None:
            q = as_rows("quat_wxyz", quat_wxyz, 4)
            ang_raw = quantize(_quat_to_euler_deg(q), 1.0 / ANGLE_DEG_PER_LSB, -32768, 32767)
            q_raw = quantize(q[-1:], 1.0 / QUAT_PER_LSB, -32768, 32767)[0]
            for i in range(4):
                self.registers[REG_QUAT_0 + i] = int(q_raw[i])
        else:
            ang_raw = np.zeros_like(acc_raw)
        return [
            _FRAME.pack(
                HEADER, FLAG_IMU, *acc_raw[i].tolist(), *gyr_raw[i].tolist(), *ang_raw[i].tolist()
            )
            for i in range(acc_raw.shape[0])
        ]

    def encode_command_reply(self, start_register: int) -> bytes:
        """The ``55 71`` frame answering a read of ``start_register``."""
        vals = []
        for r in range(start_register, start_register + 8):
            v = self.registers.get(r, 0)
            vals.append(((v + 32768) % 65536) - 32768)
        return encode_frame(WitRegisterReply(start_register=start_register, values=tuple(vals)))  # type: ignore[arg-type]

    def respond(self, command: bytes) -> list[tuple[str, bytes]]:
        cmd = decode_command(command)
        if cmd.register == REG_UNLOCK:
            self.unlocked = cmd.value == UNLOCK_VALUE
            return []
        if cmd.register == REG_READ:
            return [(NOTIFY_CHAR_UUID, self.encode_command_reply(cmd.value & 0xFF))]
        if cmd.register == REG_SAVE:
            return []
        # Writes: the real device ignores them unless unlocked (vendor code always unlocks).
        if self.unlocked:
            self.registers[cmd.register] = cmd.value
        return []


# Family -------------------------------------------------------------------------------------


class WitMotionFamily(Family):
    __slots__ = ()

    def start_commands(self, rate_hz: float) -> list[tuple[str, bytes]]:
        rate = self.check_rate(rate_hz)
        return [
            (WRITE_CHAR_UUID, UNLOCK_COMMAND),
            (WRITE_CHAR_UUID, set_rate_command(rate)),
            # Read the rate back: the 55 71 reply lets the client verify the code took effect.
            (WRITE_CHAR_UUID, read_register_command(REG_RATE)),
        ]

    def stop_commands(self) -> list[tuple[str, bytes]]:
        # The 0x61 stream cannot be stopped by a documented command; the client disables
        # notifications (and disconnects). The rate is not saved to flash, so it resets.
        return []

    def new_decoder(self, rate_hz: float | None = None) -> WitDecoder:
        return WitDecoder()

    def new_encoder(self, rate_hz: float, mtu: int = 23) -> WitEncoder:
        return WitEncoder(self.check_rate(rate_hz))


FAMILY = WitMotionFamily(
    name="witmotion",
    display_name="WitMotion BLE 5.0 (WT901BLECL / BWT901BLECL5.0 / WT9011DCL)",
    service_uuid=SERVICE_UUID,
    notify_char_uuids=(NOTIFY_CHAR_UUID,),
    write_char_uuid=WRITE_CHAR_UUID,
    supported_rates_hz=(10.0, 20.0, 50.0, 100.0, 200.0),
    default_rate_hz=100.0,
    has_device_time=False,
    has_quaternion=False,
    has_counter=False,
    streams="acc ±16 g, gyro ±2000 °/s, Euler angles (int16), one sample per 20-byte 0x61 frame; "
    "quaternion/battery/temperature only by register poll (0x71)",
    name_patterns=(r"^B?WT9\d", r"WT901BLE", r"WT9011"),
    notes=(
        "no counter and no device time: lost frames are invisible, stamp on arrival",
        "200 Hz is code 0x0A in the BLE datasheet's table (0x0B on serial WIT modules); "
        "verify by reading register 0x03",
    ),
)
