"""Nordic Thingy:52 — Thingy Motion Service (TMS), raw acc + gyro (+ compass) stream.

Facts from Nordic's own firmware (NordicSemiconductor/Nordic-Thingy52-FW,
``source/modules/m_motion.c``; UUIDs in ``ble_tms.c``, sensor-protocols.md §6):

* Base ``EF68xxxx-9B35-4933-9B10-52FFA9740042``; motion service 0x0400; configuration 0x0401
  (R/W: u16 pedometer interval ms, u16 temperature-compensation interval ms, u16 compass
  interval ms, **u16 motion processing frequency Hz (5–200)**, u8 wake-on-motion; 9 bytes);
  quaternion 0x0404 (4 × int32, Q2.30); raw data 0x0406 (9 × int16).
* The driver delivers Q16.16 values (g, °/s, µT). ``m_motion.c`` saturates the integer part
  to 6 / 11 / 12 bits and right-shifts by 6 / 11 / 12 before sending, so on the wire
  **acc = counts / 1024 g, gyro = counts / 32 °/s, compass = counts / 16 µT**. (The official
  Thingy.js library divides by 64 / 2048 / 4096 instead and reads ~16 g at rest — its open
  issue #20; we follow the firmware.)
* Streaming starts when the client enables notifications on the raw characteristic; there is
  no start command. Nothing in the motion payloads carries a counter or a time stamp.
* The Thingy advertises the configuration service ``EF680100-…`` and the name ``Thingy`` by
  default (Nordic's Zephyr sample filters on that UUID; the name is user-settable).
"""

from __future__ import annotations

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
    "CONFIG_CHAR_UUID",
    "FAMILY",
    "GYR_DPS_PER_LSB",
    "QUAT_CHAR_UUID",
    "RAW_CHAR_UUID",
    "SERVICE_UUID",
    "ThingyConfig",
    "ThingyDecoder",
    "ThingyEncoder",
    "ThingyRaw",
    "decode_config",
    "decode_quaternion",
    "decode_raw",
    "encode_config",
    "encode_quaternion",
    "encode_raw",
]


def thingy_uuid(short: int) -> str:
    return f"ef68{short:04x}-9b35-4933-9b10-52ffa9740042"


SERVICE_UUID = thingy_uuid(0x0400)
ADVERTISED_UUID = thingy_uuid(0x0100)
CONFIG_CHAR_UUID = thingy_uuid(0x0401)
QUAT_CHAR_UUID = thingy_uuid(0x0404)
RAW_CHAR_UUID = thingy_uuid(0x0406)

ACC_G_PER_LSB = 1.0 / 1024.0  # Q6.10
GYR_DPS_PER_LSB = 1.0 / 32.0  # Q11.5
CMP_UT_PER_LSB = 1.0 / 16.0  # Q12.4
QUAT_PER_LSB = 1.0 / (1 << 30)  # Q2.30
# m_motion.c clamps the integer part before shifting: acc < 31 g, gyro < 1023 °/s
ACC_RAW_MAX = 31 << 10
GYR_RAW_MAX = 1023 << 5
RATES_HZ: tuple[float, ...] = (5.0, 10.0, 20.0, 25.0, 50.0, 100.0, 200.0)

_RAW = struct.Struct("<9h")
_QUAT = struct.Struct("<4i")
_CONFIG = struct.Struct("<HHHHB")


@dataclass(frozen=True, slots=True, kw_only=True)
class ThingyRaw:
    """Raw data notification 0x0406 (counts)."""

    acc_raw: tuple[int, int, int]
    gyr_raw: tuple[int, int, int]
    compass_raw: tuple[int, int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class ThingyConfig:
    """Motion configuration 0x0401."""

    pedometer_interval_ms: int
    temperature_interval_ms: int
    compass_interval_ms: int
    motion_freq_hz: int
    wake_on_motion: bool


def decode_raw(data: bytes) -> ThingyRaw:
    what = "Thingy:52 raw motion notification"
    if len(data) < _RAW.size:
        raise TruncatedPacketError(_RAW.size, len(data), what=what)
    if len(data) > _RAW.size:
        raise MalformedPacketError(
            _RAW.size, "end of the 18-byte notification", data[18], what=what
        )
    v = _RAW.unpack(data)
    return ThingyRaw(acc_raw=v[0:3], gyr_raw=v[3:6], compass_raw=v[6:9])  # type: ignore[arg-type]


def encode_raw(p: ThingyRaw) -> bytes:
    return _RAW.pack(*p.acc_raw, *p.gyr_raw, *p.compass_raw)


def decode_quaternion(data: bytes) -> tuple[int, int, int, int]:
    """Quaternion notification 0x0404: raw Q2.30 w, x, y, z (× QUAT_PER_LSB)."""
    what = "Thingy:52 quaternion notification"
    if len(data) < _QUAT.size:
        raise TruncatedPacketError(_QUAT.size, len(data), what=what)
    if len(data) > _QUAT.size:
        raise MalformedPacketError(
            _QUAT.size, "end of the 16-byte notification", data[16], what=what
        )
    return _QUAT.unpack(data)  # type: ignore[return-value]


def encode_quaternion(wxyz_raw: tuple[int, int, int, int]) -> bytes:
    return _QUAT.pack(*wxyz_raw)


def decode_config(data: bytes) -> ThingyConfig:
    what = "Thingy:52 motion configuration"
    if len(data) < _CONFIG.size:
        raise TruncatedPacketError(_CONFIG.size, len(data), what=what)
    if len(data) > _CONFIG.size:
        raise MalformedPacketError(_CONFIG.size, "end of the 9-byte struct", data[9], what=what)
    pedo, temp, cmp_ms, freq, wom = _CONFIG.unpack(data)
    if not 5 <= freq <= 200:
        raise MalformedPacketError(6, "motion frequency 5..200 Hz", freq, what=what)
    if wom > 1:
        raise MalformedPacketError(8, "wake-on-motion 0 or 1", wom, what=what)
    return ThingyConfig(
        pedometer_interval_ms=pedo,
        temperature_interval_ms=temp,
        compass_interval_ms=cmp_ms,
        motion_freq_hz=freq,
        wake_on_motion=bool(wom),
    )


def encode_config(c: ThingyConfig) -> bytes:
    return _CONFIG.pack(
        c.pedometer_interval_ms,
        c.temperature_interval_ms,
        c.compass_interval_ms,
        c.motion_freq_hz,
        int(c.wake_on_motion),
    )


def config_for_rate(rate_hz: float) -> ThingyConfig:
    """The configuration we write: the wanted motion rate, other intervals at mid-range values
    inside the firmware's documented limits (the write replaces the whole struct)."""
    if float(rate_hz) not in RATES_HZ:
        raise UnsupportedSettingError("rate_hz", rate_hz, RATES_HZ, family="Nordic Thingy:52")
    return ThingyConfig(
        pedometer_interval_ms=1000,
        temperature_interval_ms=1000,
        compass_interval_ms=500,
        motion_freq_hz=int(rate_hz),
        wake_on_motion=True,
    )


def raw_to_samples(p: ThingyRaw) -> Samples:
    acc = np.array([p.acc_raw], dtype=np.float64) * (ACC_G_PER_LSB * GRAVITY_M_S2)
    gyr = np.array([p.gyr_raw], dtype=np.float64) * GYR_DPS_PER_LSB
    return Samples(acc_m_s2=acc, gyr_dps=gyr)


class ThingyDecoder(StreamDecoder):
    """One sample per raw notification; no counter, no device time (stamp on arrival)."""

    family = "thingy52"

    def feed(self, data: bytes, char_uuid: str | None = None) -> list[Event]:
        out: list[Event] = []
        uuid = None if char_uuid is None else char_uuid.lower()
        if uuid == CONFIG_CHAR_UUID:
            try:
                self._reply(out, decode_config(bytes(data)))
            except ProtocolError as exc:
                self._dropped(out, len(data), f"bad Thingy:52 configuration: {exc}")
            return out
        if uuid is not None and uuid != RAW_CHAR_UUID:
            self._dropped(out, len(data), f"not the Thingy:52 raw characteristic: {char_uuid}")
            return out
        try:
            p = decode_raw(bytes(data))
        except ProtocolError as exc:
            self._dropped(out, len(data), f"bad Thingy:52 raw notification: {exc}")
            return out
        self._samples(out, raw_to_samples(p))
        return out


class ThingyEncoder(DeviceEncoder):
    """An emulated Thingy:52: one 18-byte raw notification per sample, firmware saturation."""

    family = "thingy52"

    def __init__(self, rate_hz: float = 100.0, mtu: int = 23) -> None:
        self.config = config_for_rate(rate_hz)

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
        a = quantize(acc / GRAVITY_M_S2, 1 / ACC_G_PER_LSB, -ACC_RAW_MAX - 1024, ACC_RAW_MAX)
        g = quantize(gyr, 1 / GYR_DPS_PER_LSB, -GYR_RAW_MAX - 32, GYR_RAW_MAX)
        return [
            encode_raw(
                ThingyRaw(
                    acc_raw=tuple(a[i].tolist()),  # type: ignore[arg-type]
                    gyr_raw=tuple(g[i].tolist()),  # type: ignore[arg-type]
                    compass_raw=(0, 0, 0),
                )
            )
            for i in range(a.shape[0])
        ]

    def respond(self, command: bytes) -> list[tuple[str, bytes]]:
        try:
            self.config = decode_config(command)
        except ProtocolError:
            pass  # the firmware rejects a malformed write (ATT error), nothing is notified
        return []


class ThingyFamily(Family):
    __slots__ = ()

    def matches(
        self,
        name: str | None,
        service_uuids: list[str],
        manufacturer_data: dict[int, bytes],
    ) -> bool:
        """Also accepts the configuration-service UUID the Thingy puts in its advertisement."""
        if ADVERTISED_UUID in {u.lower() for u in service_uuids}:
            return True
        return Family.matches(self, name, service_uuids, manufacturer_data)

    def start_commands(self, rate_hz: float) -> list[tuple[str, bytes]]:
        rate = self.check_rate(rate_hz)
        return [(CONFIG_CHAR_UUID, encode_config(config_for_rate(rate)))]

    def stop_commands(self) -> list[tuple[str, bytes]]:
        return []  # streaming stops when the client disables notifications

    def new_decoder(self, rate_hz: float | None = None) -> ThingyDecoder:
        return ThingyDecoder()

    def new_encoder(self, rate_hz: float, mtu: int = 23) -> ThingyEncoder:
        return ThingyEncoder(self.check_rate(rate_hz), mtu)


FAMILY = ThingyFamily(
    name="thingy52",
    display_name="Nordic Thingy:52 (Thingy Motion Service)",
    service_uuid=SERVICE_UUID,
    notify_char_uuids=(RAW_CHAR_UUID,),
    write_char_uuid=CONFIG_CHAR_UUID,
    supported_rates_hz=RATES_HZ,
    default_rate_hz=100.0,
    has_device_time=False,
    has_quaternion=False,
    has_counter=False,
    streams="acc (1/1024 g) + gyro (1/32 °/s) + compass int16, one sample per 18-byte "
    "notification; quaternion (Q2.30) on its own characteristic, not paired",
    name_patterns=(r"^Thingy",),
    notes=(
        "recognised also by the configuration service ef680100-… it advertises",
        "no counter and no device time: stamp on arrival; users report 50–120 Hz delivered "
        "when 200 Hz is configured",
        "gyro saturates at ±1023 °/s in the firmware's fixed-point format",
    ),
)
