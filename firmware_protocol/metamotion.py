"""MbientLab MetaMotion (R / RL / C, BMI160) — accelerometer + gyro streams, fusion quaternion.

Every command and notification is ``[module id][register id][data…]`` on one write
characteristic (``326a9001-…``) and one notify characteristic (``326a9006-…``).

Byte sequences and scales below are taken from the vendor SDK's own unit tests
(mbientlab/MetaWear-SDK-Cpp ``test/test_accelerometer_bmi160.py``, ``test_gyro_bmi160.py``,
``test_sensor_fusion.py``, ``test_settings.py``; sensor-protocols.md §3):

* acc config ``03 03 <odr> <range>``: odr 0x26/0x27/0x28/0x29 = 25/50/100/200 Hz, range byte
  0x03/0x05/0x08/0x0C = ±2/4/8/16 g (32768/range LSB per g); gyro config ``13 03 <odr> <range>``
  with the same odr bytes and range 0..4 = ±2000/1000/500/250/125 °/s (16.4/32.8/65.6/131.2/262.4
  LSB per °/s, the SDK's divisors).
* data ``03 04`` + int16 x,y,z (acc) and ``13 05`` + int16 x,y,z (gyro); packed variants
  ``03 1C`` and ``13 07`` carry three consecutive samples in one 20-byte notification.
* subscribe ``03 1C 01`` / ``13 07 01``; enable sampling ``03 02 01 00`` / ``13 02 01 00``;
  start ``03 01 01`` / ``13 01 01``; stop ``03 01 00`` / ``13 01 00``; disable ``03 02 00 01`` /
  ``13 02 00 01``; unsubscribe ``03 1C 00`` / ``13 07 00``.
* sensor fusion (module 0x19): quaternion ``19 07`` + float32 w,x,y,z; corrected acc ``19 04``
  + float32 x,y,z **in mg** + u8 accuracy; corrected gyro ``19 05`` + float32 °/s + u8.
* battery: write ``11 CC``, notification ``11 8C <charge %> <voltage mV u16>``.

Streaming with device time (what :data:`FAMILY` starts): the raw acc and gyro notifications
carry no counter and no time stamp, and they are separate notifications, so a host cannot pair
them safely after a loss (two lost notifications in a row, a gyro and the next acc, make the
next acc and gyro look like a pair from different instants). The vendor's own recipe for
time-stamped acc + gyro streaming chains two on-board data processors instead (SDK docs and
examples: "chain two processors together (fuser and accounter) to get timestamped acc+gyro
data"; byte sequences from ``test/test_dataprocessor.py`` ``TestFuser`` /
``TestFuserAccounter`` and ``TestTearDown`` in mbientlab/MetaWear-SDK-Cpp):

* ``09 08`` removes every data processor (the SDK's tear-down), so the three processors
  created next get ids 0, 1, 2 and every later command can name them;
* ``09 02 13 05 ff a0 0f 05``: a buffer processor (type 0x0F) holding the latest gyro sample
  (``13 04`` on the BMI270), id 0;
* ``09 02 03 04 ff a0 1b 01 00`` + 11 zero bytes: a fuser (type 0x1B) that joins each acc
  sample with the buffered gyro sample, id 1;
* ``09 02 09 03 01 60 11 31 03``: an accounter (type 0x11, mode byte 0x31 = time, 4 bytes,
  prescale 3) on the fuser, id 2; ``09 07 02 01`` + ``09 03 01`` subscribe to it.

Each sample then arrives as **one** 19-byte notification ``09 03 <id> <tick u32> <acc int16
x,y,z> <gyro int16 x,y,z>`` (e.g. the SDK's ``09 03 04 1e 02 00 00 f4 0d 3c 39 99 11 01 80 d6
91 d3 67``): acc and gyro of one instant cannot be separated by a loss, and the tick — the
board's real-time counter, 48/32768 s = 1.465 ms per tick (``TICK_TIME_STEP`` in the SDKs'
logging modules) — is the device time of the sample. The SDK rejects an accounter on packed
data (``source->length() + 4 + 3 >= 20``), so this stream sends one notification per sample:
at 100 Hz that is the vendor's "about 100 Hz per link" ceiling.

The older packed streams (``raw_start_commands``) have no tick; :class:`MetaDecoder` still
pairs them by their cyclic arrival order and drops a half whose partner was lost, but two
adjacent losses cannot be told from a pair (see docs/ble.md).

MetaMotion S (BMI270), from test_accelerometer_bmi270.py and gyro_bosch_register.h: acc config
``03 03 <0xA0 | code> <range 0..3>``, packed acc ``03 05``, gyro data ``13 04``, packed gyro
``13 05`` (20 bytes; the 8-byte ``13 05`` is the BMI160 single sample). The accelerometer
module-info read ``03 80`` answers implementation 1 (BMI160) or 4 (BMI270).
"""

from __future__ import annotations

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
    quantize,
)
from firmware_protocol.errors import (
    MalformedPacketError,
    ProtocolError,
    TruncatedPacketError,
    UnsupportedSettingError,
)

__all__ = [
    "ACC_RANGE_BYTES",
    "FAMILY",
    "GYR_LSB_PER_DPS",
    "NOTIFY_CHAR_UUID",
    "SERVICE_UUID",
    "WRITE_CHAR_UUID",
    "MetaBattery",
    "MetaModuleInfo",
    "MetaCorrected",
    "MetaDecoder",
    "MetaEncoder",
    "MetaQuaternion",
    "MetaRaw",
    "decode_notification",
    "encode_notification",
    "fusion_start_commands",
    "MODULE_INFO_ACC_COMMAND",
    "raw_start_commands",
    "raw_stop_commands",
]

SERVICE_UUID = "326a9000-85cb-9195-d9dd-464cfbbae75a"
WRITE_CHAR_UUID = "326a9001-85cb-9195-d9dd-464cfbbae75a"
NOTIFY_CHAR_UUID = "326a9006-85cb-9195-d9dd-464cfbbae75a"

MOD_ACC = 0x03
MOD_SETTINGS = 0x11
MOD_GYRO = 0x13
MOD_FUSION = 0x19
REG_ACC_DATA = 0x04
REG_ACC_PACKED = 0x1C
REG_GYRO_DATA = 0x05
REG_GYRO_PACKED = 0x07
REG_FUSION_ACC = 0x04
REG_FUSION_GYRO = 0x05
REG_FUSION_QUAT = 0x07
REG_BATTERY_READ = 0xCC
REG_BATTERY = 0x8C
MOD_DATA_PROCESSOR = 0x09
REG_DP_ADD = 0x02
REG_DP_NOTIFY = 0x03
REG_DP_SUBSCRIBE = 0x07
REG_DP_REMOVE_ALL = 0x08
DP_TYPE_BUFFER = 0x0F
DP_TYPE_ACCOUNTER = 0x11
DP_TYPE_FUSER = 0x1B
ACCOUNTER_TIME_CONFIG = 0x31
"""Accounter config byte: mode 1 (time) | (length 4 - 1) << 4; 0x30 is count mode."""
ACCOUNTER_PRESCALE = 0x03
BUFFER_ID, FUSER_ID, ACCOUNTER_ID = 0, 1, 2
"""Processor ids the board assigns after ``09 08`` (remove all): in creation order."""
_U32 = 1 << 32
TICK_S = 48.0 / 32768.0
"""One tick of the board's real-time counter (``TICK_TIME_STEP`` = 48/32768 s in the SDKs)."""
ACCOUNTED_LEN = 19
FUSED_LEN = 15

ODR_BYTES: dict[float, int] = {25.0: 0x26, 50.0: 0x27, 100.0: 0x28, 200.0: 0x29}
ACC_RANGE_BYTES: dict[float, int] = {2.0: 0x03, 4.0: 0x05, 8.0: 0x08, 16.0: 0x0C}
# MetaMotion S (BMI270): test_accelerometer_bmi270.py (odr 0xA0 | code, range 0..3) and
# gyro_bosch_register.h (GyroBmi270Register: DATA = 4, PACKED_GYRO_DATA = 5).
ODR_BYTES_BMI270_ACC: dict[float, int] = {25.0: 0xA6, 50.0: 0xA7, 100.0: 0xA8, 200.0: 0xA9}
ACC_RANGE_BYTES_BMI270: dict[float, int] = {2.0: 0, 4.0: 1, 8.0: 2, 16.0: 3}
REG_ACC_PACKED_BMI270 = 0x05
REG_GYRO_DATA_BMI270 = 0x04
REG_GYRO_PACKED_BMI270 = 0x05
REG_MODULE_INFO = 0x80
ACC_IMPLEMENTATION = {1: "bmi160", 4: "bmi270"}  # module-info implementation byte
IMUS = ("bmi160", "bmi270")
GYR_RANGE_CODES: dict[float, int] = {2000.0: 0, 1000.0: 1, 500.0: 2, 250.0: 3, 125.0: 4}
GYR_LSB_PER_DPS: dict[float, float] = {
    2000.0: 16.4,
    1000.0: 32.8,
    500.0: 65.6,
    250.0: 131.2,
    125.0: 262.4,
}
DEFAULT_ACC_RANGE_G = 8.0
DEFAULT_GYR_RANGE_DPS = 1000.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MetaRaw:
    """Raw acc (module 0x03) or gyro (0x13) samples, one or three (packed) per notification."""

    module: int
    register: int
    samples: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class MetaQuaternion:
    """Sensor-fusion quaternion ``19 07``: w, x, y, z float32."""

    wxyz: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True, kw_only=True)
class MetaCorrected:
    """Sensor-fusion corrected acc (``19 04``, mg) or gyro (``19 05``, °/s) with accuracy 0..3."""

    register: int
    xyz: tuple[float, float, float]
    accuracy: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MetaBattery:
    """Settings battery reply ``11 8C``."""

    charge_pct: int
    voltage_mv: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MetaModuleInfo:
    """Reply to a module-info read ``[module] 80``: which chip implements the module.

    Accelerometer implementation 1 = BMI160 (MetaMotion R / RL / C), 4 = BMI270 (MetaMotion S);
    no implementation byte = module absent.
    """

    module: int
    implementation: int | None
    revision: int | None
    extra: bytes = b""

    @property
    def imu(self) -> str | None:
        """``bmi160`` / ``bmi270`` for an accelerometer reply, else None."""
        if self.module != MOD_ACC or self.implementation is None:
            return None
        return ACC_IMPLEMENTATION.get(self.implementation)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetaAccounted:
    """Fused acc + gyro sample with the board's tick: ``09 03 <id> <tick u32> <acc> <gyro>``."""

    processor_id: int
    tick: int
    acc: tuple[int, int, int]
    gyr: tuple[int, int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class MetaFused:
    """Fused acc + gyro sample without a tick (fuser only): ``09 03 <id> <acc> <gyro>``."""

    processor_id: int
    acc: tuple[int, int, int]
    gyr: tuple[int, int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class MetaProcessorCreated:
    """Reply to a data-processor add command: ``09 02 <id>``."""

    processor_id: int


MetaPacket = (
    MetaRaw
    | MetaQuaternion
    | MetaCorrected
    | MetaBattery
    | MetaModuleInfo
    | MetaAccounted
    | MetaFused
    | MetaProcessorCreated
)

# (module, register, length) → samples; BMI160 and BMI270 ids differ but never collide
# once the length is taken into account (13 05 is single on BMI160, packed on BMI270).
_RAW_KINDS = {
    (MOD_ACC, REG_ACC_DATA, 8): 1,
    (MOD_ACC, REG_ACC_PACKED, 20): 3,
    (MOD_ACC, REG_ACC_PACKED_BMI270, 20): 3,
    (MOD_GYRO, REG_GYRO_DATA, 8): 1,
    (MOD_GYRO, REG_GYRO_PACKED, 20): 3,
    (MOD_GYRO, REG_GYRO_DATA_BMI270, 8): 1,
    (MOD_GYRO, REG_GYRO_PACKED_BMI270, 20): 3,
}
_RAW_REGS = {(m, r) for m, r, _ in _RAW_KINDS}


def _finite(vals: tuple[float, ...], offset: int, what: str) -> None:
    for i, v in enumerate(vals):
        if not math.isfinite(v):
            raise MalformedPacketError(offset + 4 * i, "a finite float32", v, what=what)


def decode_notification(data: bytes) -> MetaPacket:
    """Decode one notification of the kinds this module streams; raises :class:`ProtocolError`."""
    what = "MetaMotion notification"
    if len(data) < 2:
        raise TruncatedPacketError(2, len(data), what=what)
    key = (data[0], data[1])
    if key in _RAW_REGS:
        n = _RAW_KINDS.get((data[0], data[1], len(data)), 0)
        if not n:
            sizes = sorted(ln for m, r, ln in _RAW_KINDS if (m, r) == key)
            if len(data) < sizes[0]:
                raise TruncatedPacketError(sizes[0], len(data), what=what)
            raise MalformedPacketError(
                len(data) - 1,
                f"a {' or '.join(map(str, sizes))}-byte notification",
                len(data),
                what=what,
            )
        v = struct.unpack_from(f"<{3 * n}h", data, 2)
        return MetaRaw(
            module=data[0],
            register=data[1],
            samples=tuple((v[i], v[i + 1], v[i + 2]) for i in range(0, 3 * n, 3)),
        )
    if key == (MOD_DATA_PROCESSOR, REG_DP_NOTIFY):
        if len(data) < FUSED_LEN:
            raise TruncatedPacketError(FUSED_LEN, len(data), what=what)
        if len(data) == ACCOUNTED_LEN:
            tick, *v = struct.unpack_from("<I6h", data, 3)
            return MetaAccounted(
                processor_id=data[2], tick=tick, acc=tuple(v[:3]), gyr=tuple(v[3:])
            )  # type: ignore[arg-type]
        if len(data) == FUSED_LEN:
            v = struct.unpack_from("<6h", data, 3)
            return MetaFused(processor_id=data[2], acc=v[:3], gyr=v[3:])  # type: ignore[arg-type]
        raise MalformedPacketError(
            len(data) - 1,
            f"a {FUSED_LEN}- or {ACCOUNTED_LEN}-byte fused acc + gyro notification",
            len(data),
            what=what,
        )
    if key == (MOD_DATA_PROCESSOR, REG_DP_ADD):
        _exact(data, 3, what)
        return MetaProcessorCreated(processor_id=data[2])
    if key == (MOD_FUSION, REG_FUSION_QUAT):
        _exact(data, 18, what)
        q = struct.unpack_from("<4f", data, 2)
        _finite(q, 2, what)
        return MetaQuaternion(wxyz=q)  # type: ignore[arg-type]
    if key in ((MOD_FUSION, REG_FUSION_ACC), (MOD_FUSION, REG_FUSION_GYRO)):
        _exact(data, 15, what)
        xyz = struct.unpack_from("<3f", data, 2)
        _finite(xyz, 2, what)
        if data[14] > 3:
            raise MalformedPacketError(14, "accuracy 0..3", data[14], what=what)
        return MetaCorrected(register=data[1], xyz=xyz, accuracy=data[14])  # type: ignore[arg-type]
    if data[1] == REG_MODULE_INFO and data[0] in (MOD_ACC, MOD_GYRO, MOD_FUSION, MOD_SETTINGS):
        return MetaModuleInfo(
            module=data[0],
            implementation=data[2] if len(data) > 2 else None,
            revision=data[3] if len(data) > 3 else None,
            extra=bytes(data[4:]),
        )
    if key == (MOD_SETTINGS, REG_BATTERY):
        _exact(data, 5, what)
        if data[2] > 100:
            raise MalformedPacketError(2, "charge 0..100 %", data[2], what=what)
        return MetaBattery(charge_pct=data[2], voltage_mv=struct.unpack_from("<H", data, 3)[0])
    raise MalformedPacketError(
        0, "a known [module][register] pair", data[0] << 8 | data[1], what=what
    )


def _exact(data: bytes, n: int, what: str) -> None:
    if len(data) < n:
        raise TruncatedPacketError(n, len(data), what=what)
    if len(data) > n:
        raise MalformedPacketError(n, f"end of the {n}-byte notification", data[n], what=what)


def encode_notification(p: MetaPacket) -> bytes:
    """Inverse of :func:`decode_notification`."""
    if isinstance(p, MetaRaw):
        flat = [c for s in p.samples for c in s]
        return bytes((p.module, p.register)) + struct.pack(f"<{len(flat)}h", *flat)
    if isinstance(p, MetaQuaternion):
        return bytes((MOD_FUSION, REG_FUSION_QUAT)) + struct.pack("<4f", *p.wxyz)
    if isinstance(p, MetaCorrected):
        return bytes((MOD_FUSION, p.register)) + struct.pack("<3fB", *p.xyz, p.accuracy)
    if isinstance(p, MetaAccounted):
        head = bytes((MOD_DATA_PROCESSOR, REG_DP_NOTIFY, p.processor_id))
        return head + struct.pack("<I6h", p.tick, *p.acc, *p.gyr)
    if isinstance(p, MetaFused):
        head = bytes((MOD_DATA_PROCESSOR, REG_DP_NOTIFY, p.processor_id))
        return head + struct.pack("<6h", *p.acc, *p.gyr)
    if isinstance(p, MetaProcessorCreated):
        return bytes((MOD_DATA_PROCESSOR, REG_DP_ADD, p.processor_id))
    if isinstance(p, MetaModuleInfo):
        tail = b"" if p.implementation is None else bytes((p.implementation,))
        if p.revision is not None:
            tail += bytes((p.revision,)) + p.extra
        return bytes((p.module, REG_MODULE_INFO)) + tail
    return bytes((MOD_SETTINGS, REG_BATTERY, p.charge_pct)) + struct.pack("<H", p.voltage_mv)


# Commands -----------------------------------------------------------------------------------


def _odr(rate_hz: float) -> int:
    if float(rate_hz) not in ODR_BYTES:
        raise UnsupportedSettingError("rate_hz", rate_hz, tuple(ODR_BYTES), family="MetaMotion")
    return ODR_BYTES[float(rate_hz)]


def _check_imu(imu: str) -> None:
    if imu not in IMUS:
        raise UnsupportedSettingError("imu", imu, IMUS, family="MetaMotion")


MODULE_INFO_ACC_COMMAND = bytes((MOD_ACC, REG_MODULE_INFO))  # reply: MetaModuleInfo


def raw_start_commands(
    rate_hz: float,
    acc_range_g: float = DEFAULT_ACC_RANGE_G,
    gyr_range_dps: float = DEFAULT_GYR_RANGE_DPS,
    *,
    imu: str = "bmi160",
) -> list[bytes]:
    """Configure, subscribe (packed), enable and start acc + gyro at ``rate_hz``.

    ``imu`` is ``bmi160`` (MetaMotion R / RL / C) or ``bmi270`` (MetaMotion S); read it with
    :data:`MODULE_INFO_ACC_COMMAND` first when the board model is not known.
    """
    odr = _odr(rate_hz)
    _check_imu(imu)
    if imu == "bmi160":
        acc_cfg = bytes((MOD_ACC, 0x03, odr, ACC_RANGE_BYTES[float(acc_range_g)]))
        acc_packed, gyr_packed = REG_ACC_PACKED, REG_GYRO_PACKED
    else:
        acc_cfg = bytes(
            (
                MOD_ACC,
                0x03,
                ODR_BYTES_BMI270_ACC[float(rate_hz)],
                ACC_RANGE_BYTES_BMI270[float(acc_range_g)],
            )
        )
        acc_packed, gyr_packed = REG_ACC_PACKED_BMI270, REG_GYRO_PACKED_BMI270
    return [
        acc_cfg,
        bytes((MOD_GYRO, 0x03, odr, GYR_RANGE_CODES[float(gyr_range_dps)])),
        bytes((MOD_ACC, acc_packed, 0x01)),
        bytes((MOD_GYRO, gyr_packed, 0x01)),
        bytes((MOD_ACC, 0x02, 0x01, 0x00)),
        bytes((MOD_GYRO, 0x02, 0x01, 0x00)),
        bytes((MOD_ACC, 0x01, 0x01)),
        bytes((MOD_GYRO, 0x01, 0x01)),
    ]


def raw_stop_commands(*, imu: str = "bmi160") -> list[bytes]:
    _check_imu(imu)
    acc_packed, gyr_packed = (
        (REG_ACC_PACKED, REG_GYRO_PACKED)
        if imu == "bmi160"
        else (REG_ACC_PACKED_BMI270, REG_GYRO_PACKED_BMI270)
    )
    return [
        bytes((MOD_ACC, 0x01, 0x00)),
        bytes((MOD_GYRO, 0x01, 0x00)),
        bytes((MOD_ACC, 0x02, 0x00, 0x01)),
        bytes((MOD_GYRO, 0x02, 0x00, 0x01)),
        bytes((MOD_ACC, acc_packed, 0x00)),
        bytes((MOD_GYRO, gyr_packed, 0x00)),
    ]


def _config_commands(
    rate_hz: float, acc_range_g: float, gyr_range_dps: float, imu: str
) -> list[bytes]:
    odr = _odr(rate_hz)
    if imu == "bmi160":
        acc_cfg = bytes((MOD_ACC, 0x03, odr, ACC_RANGE_BYTES[float(acc_range_g)]))
    else:
        acc_cfg = bytes(
            (
                MOD_ACC,
                0x03,
                ODR_BYTES_BMI270_ACC[float(rate_hz)],
                ACC_RANGE_BYTES_BMI270[float(acc_range_g)],
            )
        )
    return [acc_cfg, bytes((MOD_GYRO, 0x03, odr, GYR_RANGE_CODES[float(gyr_range_dps)]))]


REMOVE_ALL_PROCESSORS_COMMAND = bytes((MOD_DATA_PROCESSOR, REG_DP_REMOVE_ALL))


def stream_start_commands(
    rate_hz: float,
    acc_range_g: float = DEFAULT_ACC_RANGE_G,
    gyr_range_dps: float = DEFAULT_GYR_RANGE_DPS,
    *,
    imu: str = "bmi160",
) -> list[bytes]:
    """Time-stamped acc + gyro: one ``09 03 02`` notification per sample (module docstring).

    Remove every data processor, configure acc and gyro, create buffer (gyro) → fuser (acc +
    buffer) → accounter (time) with the vendor SDK's bytes, subscribe to the accounter, then
    enable and start both sensors.
    """
    _check_imu(imu)
    cmds = _config_commands(rate_hz, acc_range_g, gyr_range_dps, imu)
    gyr_reg = REG_GYRO_DATA if imu == "bmi160" else REG_GYRO_DATA_BMI270
    return [
        REMOVE_ALL_PROCESSORS_COMMAND,
        *cmds,
        # buffer processor on the gyro data signal (source id 0xff, attributes a0, 6 bytes)
        bytes((MOD_DATA_PROCESSOR, REG_DP_ADD, MOD_GYRO, gyr_reg, 0xFF, 0xA0, DP_TYPE_BUFFER, 5)),
        # fuser: acc data joined with buffer BUFFER_ID (config padded to 20 bytes, as the SDK)
        bytes((MOD_DATA_PROCESSOR, REG_DP_ADD, MOD_ACC, REG_ACC_DATA, 0xFF, 0xA0, DP_TYPE_FUSER, 1))
        + bytes((BUFFER_ID,))
        + bytes(11),
        # accounter (time, 4 bytes) on the fuser's output
        bytes(
            (
                MOD_DATA_PROCESSOR,
                REG_DP_ADD,
                MOD_DATA_PROCESSOR,
                REG_DP_NOTIFY,
                FUSER_ID,
                0x60,
                DP_TYPE_ACCOUNTER,
                ACCOUNTER_TIME_CONFIG,
                ACCOUNTER_PRESCALE,
            )
        ),
        bytes((MOD_DATA_PROCESSOR, REG_DP_SUBSCRIBE, ACCOUNTER_ID, 0x01)),
        bytes((MOD_DATA_PROCESSOR, REG_DP_NOTIFY, 0x01)),
        bytes((MOD_ACC, 0x02, 0x01, 0x00)),
        bytes((MOD_GYRO, 0x02, 0x01, 0x00)),
        bytes((MOD_GYRO, 0x01, 0x01)),
        bytes((MOD_ACC, 0x01, 0x01)),
    ]


def stream_stop_commands() -> list[bytes]:
    """Stop and disable acc + gyro, unsubscribe the accounter, remove the processors."""
    return [
        bytes((MOD_ACC, 0x01, 0x00)),
        bytes((MOD_GYRO, 0x01, 0x00)),
        bytes((MOD_ACC, 0x02, 0x00, 0x01)),
        bytes((MOD_GYRO, 0x02, 0x00, 0x01)),
        bytes((MOD_DATA_PROCESSOR, REG_DP_SUBSCRIBE, ACCOUNTER_ID, 0x00)),
        REMOVE_ALL_PROCESSORS_COMMAND,
    ]


def fusion_start_commands(acc_range_g: float = 16.0, gyr_range_dps: float = 2000.0) -> list[bytes]:
    """IMUPlus fusion at 100 Hz: corrected acc + gyro + quaternion (SDK sequence, test vectors).

    Mode byte 2 = IMUPlus; the range byte packs acc range 0..3 (2..16 g) and gyro range
    (SDK enum + 1) << 4. Output-enable mask bits 0 (acc), 1 (gyro), 3 (quaternion).
    """
    acc_code = (2.0, 4.0, 8.0, 16.0).index(float(acc_range_g))
    gyr_code = GYR_RANGE_CODES[float(gyr_range_dps)] + 1
    mask = (1 << 0) | (1 << 1) | (1 << 3)
    return [
        bytes((MOD_FUSION, 0x02, 0x02, acc_code | gyr_code << 4)),
        bytes((MOD_ACC, 0x03, ODR_BYTES[100.0], ACC_RANGE_BYTES[float(acc_range_g)])),
        bytes((MOD_GYRO, 0x03, ODR_BYTES[100.0], GYR_RANGE_CODES[float(gyr_range_dps)])),
        bytes((MOD_FUSION, REG_FUSION_ACC, 0x01)),
        bytes((MOD_FUSION, REG_FUSION_GYRO, 0x01)),
        bytes((MOD_FUSION, REG_FUSION_QUAT, 0x01)),
        bytes((MOD_ACC, 0x02, 0x01, 0x00)),
        bytes((MOD_GYRO, 0x02, 0x01, 0x00)),
        bytes((MOD_ACC, 0x01, 0x01)),
        bytes((MOD_GYRO, 0x01, 0x01)),
        bytes((MOD_FUSION, 0x03, mask, 0x00)),
        bytes((MOD_FUSION, 0x01, 0x01)),
    ]


BATTERY_READ_COMMAND = bytes((MOD_SETTINGS, REG_BATTERY_READ))


# Streaming decoder --------------------------------------------------------------------------


class MetaDecoder(StreamDecoder):
    """Decodes the time-stamped fused stream (``09 03``: one sample per notification, device
    time from the tick, unwrapped) and groups the older separate streams.

    Separate streams: one notification of each stream (acc, gyro[, quaternion]) per sample.

    The board streams without counters, but it reads acc and gyro from one IMU at one ODR
    and sends their notifications in a fixed cyclic order (acc, gyro, acc, gyro, …). The
    decoder learns that order from the first complete group; a notification that arrives out
    of turn means a notification was lost, and the samples that can no longer be paired are
    dropped and reported, never paired with the wrong partner.
    """

    family = "metamotion"

    def __init__(
        self,
        acc_range_g: float = DEFAULT_ACC_RANGE_G,
        gyr_range_dps: float = DEFAULT_GYR_RANGE_DPS,
        *,
        fusion: bool = False,
        rate_hz: float | None = None,
    ) -> None:
        super().__init__()
        self.acc_g_per_lsb = float(acc_range_g) / 32768.0
        self.gyr_dps_per_lsb = 1.0 / GYR_LSB_PER_DPS[float(gyr_range_dps)]
        self.fusion = fusion
        self._n_streams = 3 if fusion else 2
        self._order: list[str] = []  # learned cyclic order of stream names
        self._learned = False
        self._group: dict[str, tuple[list[tuple[float, ...]], int]] = {}  # name → (rows, bytes)
        self._pos = 0
        self._period_ticks = None if rate_hz is None else 1.0 / (float(rate_hz) * TICK_S)
        self._t_tick: int | None = None  # unwrapped
        self._raw_tick = 0
        self._min_d: int | None = None

    def feed(self, data: bytes, char_uuid: str | None = None) -> list[Event]:
        out: list[Event] = []
        if char_uuid is not None and char_uuid.lower() != NOTIFY_CHAR_UUID:
            self._dropped(out, len(data), f"not the MetaMotion notify characteristic: {char_uuid}")
            return out
        try:
            p = decode_notification(bytes(data))
        except ProtocolError as exc:
            self._dropped(out, len(data), f"bad MetaMotion notification: {exc}")
            return out
        g = GRAVITY_M_S2
        if isinstance(p, MetaBattery | MetaModuleInfo | MetaProcessorCreated):
            self._reply(out, p)
            return out
        if isinstance(p, MetaAccounted | MetaFused):
            if self.fusion:
                self._dropped(out, len(data), "MetaMotion stream not used in this mode")
                return out
            t_dev = None
            if isinstance(p, MetaAccounted):
                t_tick = self._tick_time(out, p.tick, len(data))
                if t_tick is None:
                    return out
                t_dev = np.array([t_tick * TICK_S])
            self._samples(
                out,
                Samples(
                    acc_m_s2=np.array([p.acc], dtype=np.float64) * (self.acc_g_per_lsb * g),
                    gyr_dps=np.array([p.gyr], dtype=np.float64) * self.gyr_dps_per_lsb,
                    t_dev_s=t_dev,
                ),
            )
            return out
        rows: list[tuple[float, ...]]
        if isinstance(p, MetaRaw) and not self.fusion:
            if p.module == MOD_ACC:
                name, k = "acc", self.acc_g_per_lsb * g
            else:
                name, k = "gyro", self.gyr_dps_per_lsb
            rows = [(x * k, y * k, z * k) for x, y, z in p.samples]
        elif isinstance(p, MetaCorrected) and self.fusion:
            if p.register == REG_FUSION_ACC:
                name, rows = "acc", [tuple(v * 1e-3 * g for v in p.xyz)]
            else:
                name, rows = "gyro", [p.xyz]
        elif isinstance(p, MetaQuaternion) and self.fusion:
            name, rows = "quaternion", [p.wxyz]
        else:
            self._dropped(out, len(data), "MetaMotion stream not used in this mode")
            return out
        self.stats.packets += 1
        self._take(out, name, rows, len(data))
        return out

    def _tick_time(self, out: list[Event], tick: int, nbytes: int) -> int | None:
        """Unwrapped tick of a sample; None (dropped) for a repeated tick.

        The 32-bit tick wraps after 72.8 days; a tick that goes backwards (the board
        restarted) continues the time line one period later, marked ``clock_reset``. Lost
        samples are reported as :class:`SequenceGap` sized with the rate (or the shortest
        interval seen).
        """
        if self._t_tick is None:
            t = tick
        else:
            d = (tick - self._raw_tick) % _U32
            if d >= _U32 // 2:
                d -= _U32
            if d == 0:
                self._dropped(out, nbytes, "repeated MetaMotion tick")
                return None
            if d > 0 and (self._min_d is None or d < self._min_d):
                self._min_d = d
            period = self._period_ticks or float(self._min_d or abs(d))
            i_exp = round(self._t_tick / period) + 1
            if d < 0:
                t = self._t_tick + max(1, round(period))
                self._gap(out, i_exp, i_exp, 0, reason="clock_reset")
            else:
                t = self._t_tick + d
                missing = round(d / period) - 1
                if missing > 0:
                    self._gap(out, i_exp, i_exp + missing, missing)
        self._t_tick = t
        self._raw_tick = tick
        return t

    def _drop_group(self, out: list[Event]) -> None:
        if self._group:
            n = sum(b for _, b in self._group.values())
            names = "+".join(self._group)
            self._dropped(
                out, n, f"unpaired MetaMotion {names} (a notification of another stream was lost)"
            )
        self._group = {}

    def _take(
        self, out: list[Event], name: str, rows: list[tuple[float, ...]], nbytes: int
    ) -> None:
        if not self._learned:
            if name in self._group:  # repeat before every stream was seen: restart
                self._drop_group(out)
                self._order = []
            self._order.append(name)
            self._group[name] = (rows, nbytes)
            if len(self._order) == self._n_streams:
                self._learned = True
                self._emit(out)
            return
        i = self._order.index(name)
        if i != self._pos:
            # Out of turn: the group in progress misses the streams in between.
            self._drop_group(out)
            if i != 0:  # X's own group misses its earlier members too
                self._dropped(
                    out,
                    nbytes,
                    f"unpaired MetaMotion {name} (a notification of another stream was lost)",
                )
                self._pos = (i + 1) % self._n_streams
                return
        self._group[name] = (rows, nbytes)
        self._pos = i + 1
        if self._pos == self._n_streams:
            self._emit(out)

    def _emit(self, out: list[Event]) -> None:
        group = self._group
        self._group = {}
        self._pos = 0
        n = min(len(r) for r, _ in group.values())
        if any(len(r) != n for r, _ in group.values()):
            self._dropped(out, 0, "MetaMotion streams with unequal batch sizes")
        s = Samples(
            acc_m_s2=np.array(group["acc"][0][:n], dtype=np.float64).reshape(n, 3),
            gyr_dps=np.array(group["gyro"][0][:n], dtype=np.float64).reshape(n, 3),
            quat_wxyz=np.array(group["quaternion"][0][:n], dtype=np.float64).reshape(n, 4)
            if self.fusion
            else None,
        )
        self.stats.samples += n
        out.append(s)


# Encoder (emulated device) ------------------------------------------------------------------


class MetaEncoder(DeviceEncoder):
    """An emulated MetaMotion streaming packed acc + gyro, fusion outputs, or — once the host
    has created and subscribed the buffer → fuser → accounter chain
    (:func:`stream_start_commands`) — one time-stamped fused acc + gyro notification per sample.

    ``tick0`` is the board's real-time counter at the first streamed sample; the tick then
    advances with the samples streamed (:meth:`skip` advances it over samples not streamed).

    ``imu`` picks the board: ``bmi160`` (MetaMotion R / RL / C) or ``bmi270`` (MetaMotion S);
    it answers the accelerometer module-info read accordingly and parses config writes with
    that chip's byte values, as the real firmware does.
    """

    family = "metamotion"

    def __init__(
        self,
        rate_hz: float = 100.0,
        mtu: int = 23,
        *,
        acc_range_g: float = DEFAULT_ACC_RANGE_G,
        gyr_range_dps: float = DEFAULT_GYR_RANGE_DPS,
        fusion: bool = False,
        streaming: bool = True,
        imu: str = "bmi160",
        tick0: int = 0x000D33A6,
    ) -> None:
        _odr(rate_hz)
        _check_imu(imu)
        self.imu = imu
        self.rate_hz = float(rate_hz)
        self.acc_range_g = float(acc_range_g)
        self.gyr_range_dps = float(gyr_range_dps)
        self.fusion = fusion
        self.streaming = streaming
        self.battery = MetaBattery(charge_pct=99, voltage_mv=4148)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.tick0 = int(tick0)
        self._n_sampled = 0  # samples measured since tick0 (streamed or skipped)
        # data processors the host created (id → (type, source module, register, source id))
        self._processors: dict[int, tuple[int, int, int, int]] = {}
        self._dp_subscribed: set[int] = set()
        self._dp_notify = False

    @property
    def accounted(self) -> bool:
        """Whether a subscribed time accounter on a fuser makes the stream time-stamped."""
        return self._dp_notify and self._accounter_id() is not None

    def _accounter_id(self) -> int | None:
        for pid, (typ, mod, reg, src) in self._processors.items():
            if (
                typ == DP_TYPE_ACCOUNTER
                and pid in self._dp_subscribed
                and (mod, reg) == (MOD_DATA_PROCESSOR, REG_DP_NOTIFY)
                and self._processors.get(src, (None,))[0] == DP_TYPE_FUSER
            ):
                return pid
        return None

    def skip(self, n: int) -> None:
        """``n`` samples were measured but not streamed (nobody connected): the tick runs on."""
        self._n_sampled += int(n)

    def flush(self) -> list[bytes]:
        """A stopped board drops the packet it was filling."""
        self._pending = []
        return []

    @property
    def is_streaming(self) -> bool:
        return self.streaming

    @property
    def samples_per_packet(self) -> int:  # type: ignore[override]
        """3 (packed acc + packed gyro notifications) raw; 1 time-stamped or fusion."""
        return 1 if self.fusion or self.accounted else 3

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
        if not self.streaming:
            return []
        if self.fusion:
            q = (
                np.tile([1.0, 0.0, 0.0, 0.0], (acc.shape[0], 1))
                if quat_wxyz is None
                else as_rows("quat_wxyz", quat_wxyz, 4)
            )
            out = []
            for i in range(acc.shape[0]):
                mg = acc[i] / GRAVITY_M_S2 * 1000.0
                out.append(
                    encode_notification(
                        MetaCorrected(register=REG_FUSION_ACC, xyz=tuple(mg.tolist()), accuracy=3)
                    )
                )  # type: ignore[arg-type]
                out.append(
                    encode_notification(
                        MetaCorrected(
                            register=REG_FUSION_GYRO, xyz=tuple(gyr[i].tolist()), accuracy=3
                        )
                    )
                )  # type: ignore[arg-type]
                out.append(encode_notification(MetaQuaternion(wxyz=tuple(q[i].tolist()))))  # type: ignore[arg-type]
            return out
        a = quantize(acc / GRAVITY_M_S2, 32768.0 / self.acc_range_g, -32768, 32767)
        g = quantize(gyr, GYR_LSB_PER_DPS[self.gyr_range_dps], -32768, 32767)
        out = []
        acc_id = self._accounter_id() if self._dp_notify else None
        if acc_id is not None:
            for i in range(a.shape[0]):
                t_dev = self._n_sampled / self.rate_hz
                self._n_sampled += 1
                tick = (self.tick0 + math.floor(t_dev / TICK_S + 1e-9)) & 0xFFFFFFFF
                out.append(
                    encode_notification(
                        MetaAccounted(
                            processor_id=acc_id,
                            tick=tick,
                            acc=tuple(a[i].tolist()),
                            gyr=tuple(g[i].tolist()),
                        )
                    )  # type: ignore[arg-type]
                )
            return out
        self._n_sampled += a.shape[0]
        for i in range(a.shape[0]):
            self._pending.append((a[i], g[i]))
            if len(self._pending) == 3:
                rows = self._pending
                self._pending = []
                out.append(
                    encode_notification(
                        MetaRaw(
                            module=MOD_ACC,
                            register=REG_ACC_PACKED
                            if self.imu == "bmi160"
                            else REG_ACC_PACKED_BMI270,
                            samples=tuple(tuple(r[0].tolist()) for r in rows),
                        )
                    )
                )  # type: ignore[arg-type]
                out.append(
                    encode_notification(
                        MetaRaw(
                            module=MOD_GYRO,
                            register=REG_GYRO_PACKED
                            if self.imu == "bmi160"
                            else REG_GYRO_PACKED_BMI270,
                            samples=tuple(tuple(r[1].tolist()) for r in rows),
                        )
                    )
                )  # type: ignore[arg-type]
        return out

    def respond(self, command: bytes) -> list[tuple[str, bytes]]:
        if len(command) >= 2 and command[0] == MOD_DATA_PROCESSOR:
            return self._respond_processor(command)
        if command == BATTERY_READ_COMMAND:
            return [(NOTIFY_CHAR_UUID, encode_notification(self.battery))]
        if command == MODULE_INFO_ACC_COMMAND:
            impl = {v: k for k, v in ACC_IMPLEMENTATION.items()}[self.imu]
            info = MetaModuleInfo(module=MOD_ACC, implementation=impl, revision=1)
            return [(NOTIFY_CHAR_UUID, encode_notification(info))]
        if len(command) == 4 and command[0] == MOD_ACC and command[1] == 0x03:
            odrs = ODR_BYTES if self.imu == "bmi160" else ODR_BYTES_BMI270_ACC
            ranges = ACC_RANGE_BYTES if self.imu == "bmi160" else ACC_RANGE_BYTES_BMI270
            for r, b in odrs.items():
                if b == command[2]:
                    self.rate_hz = r
            for rg, b in ranges.items():
                if b == command[3]:
                    self.acc_range_g = rg
        elif len(command) == 4 and command[0] == MOD_GYRO and command[1] == 0x03:
            for rg, c in GYR_RANGE_CODES.items():
                if c == command[3]:
                    self.gyr_range_dps = rg
        elif len(command) == 3 and command[0] in (MOD_ACC, MOD_FUSION) and command[1] == 0x01:
            self.fusion = command[0] == MOD_FUSION or self.fusion
            self.streaming = command[2] == 0x01
        return []

    def _respond_processor(self, command: bytes) -> list[tuple[str, bytes]]:
        reg = command[1]
        if reg == REG_DP_REMOVE_ALL:
            self._processors.clear()
            self._dp_subscribed.clear()
        elif reg == REG_DP_ADD and len(command) >= 7:
            pid = next(i for i in range(256) if i not in self._processors)
            self._processors[pid] = (command[6], command[2], command[3], command[4])
            created = MetaProcessorCreated(processor_id=pid)
            return [(NOTIFY_CHAR_UUID, encode_notification(created))]
        elif reg == REG_DP_SUBSCRIBE and len(command) == 4:
            if command[3]:
                self._dp_subscribed.add(command[2])
            else:
                self._dp_subscribed.discard(command[2])
        elif reg == REG_DP_NOTIFY and len(command) == 3:
            self._dp_notify = command[2] == 0x01
        return []


# Family -------------------------------------------------------------------------------------


class MetaMotionFamily(Family):
    """``start_commands`` / ``stop_commands`` take ``imu`` (default ``bmi160``). A client that
    does not know the model writes :data:`MODULE_INFO_ACC_COMMAND` first; the decoder returns
    the answer as ``Reply(MetaModuleInfo)`` whose ``.imu`` is the value to pass."""

    __slots__ = ()

    def start_commands(self, rate_hz: float, *, imu: str = "bmi160") -> list[tuple[str, bytes]]:
        """The time-stamped fused stream (:func:`stream_start_commands`)."""
        rate = self.check_rate(rate_hz)
        return [(WRITE_CHAR_UUID, c) for c in stream_start_commands(rate, imu=imu)]

    def stop_commands(self, *, imu: str = "bmi160") -> list[tuple[str, bytes]]:
        _check_imu(imu)
        return [(WRITE_CHAR_UUID, c) for c in stream_stop_commands()]

    def probe_commands(self) -> list[tuple[str, bytes]]:
        """Commands whose replies identify the board (accelerometer module info)."""
        return [(WRITE_CHAR_UUID, MODULE_INFO_ACC_COMMAND)]

    def new_decoder(self, rate_hz: float | None = None) -> MetaDecoder:
        return MetaDecoder(rate_hz=rate_hz)

    def new_encoder(self, rate_hz: float, mtu: int = 23, *, imu: str = "bmi160") -> MetaEncoder:
        return MetaEncoder(self.check_rate(rate_hz), mtu, streaming=False, imu=imu)


FAMILY = MetaMotionFamily(
    name="metamotion",
    display_name="MbientLab MetaMotion R / RL / C (BMI160) and S (BMI270)",
    service_uuid=SERVICE_UUID,
    notify_char_uuids=(NOTIFY_CHAR_UUID,),
    write_char_uuid=WRITE_CHAR_UUID,
    supported_rates_hz=(25.0, 50.0, 100.0, 200.0),
    default_rate_hz=100.0,
    has_device_time=True,
    has_quaternion=False,
    has_counter=False,
    streams="acc (±8 g) + gyro (±1000 °/s) int16 fused on the board with its 1.465 ms tick, one "
    "19-byte notification per sample (buffer → fuser → accounter processors); packed streams "
    "via metamotion.raw_start_commands(), fusion quaternion via fusion_start_commands()",
    name_patterns=(r"^MetaWear", r"^MetaMotion"),
    notes=(
        "device time from the accounter's tick (48/32768 s); one notification per sample, so "
        "100 Hz is the vendor's reliable ceiling per link (200 Hz is accepted but may lose more)",
        "MetaMotion S (BMI270) uses other config bytes and register ids: read module info "
        "(03 80) and pass imu='bmi270' to start_commands",
    ),
)
