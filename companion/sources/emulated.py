"""Emulated sensors: in-process virtual peripherals behind bleak's own ``backend=`` seam.

An :class:`EmulatedRadio` holds one :class:`VirtualPeripheral` per emulated sensor. Each
peripheral speaks its family's exact bytes (the ``firmware_protocol`` encoders produce every
notification, and every command the host writes goes through the encoder's ``respond``),
driven by synthetic motion or by the simulator. The radio hands out two bleak backend
classes, :attr:`EmulatedRadio.backend` (``BleBackend(scanner=..., client=...)``), which are
passed as ``backend=`` to ``bleak.BleakScanner`` / ``bleak.BleakClient``; nothing else is
replaced, so bleak's facade code and the whole :class:`~companion.sources.ble.BleSource`
run exactly as with real hardware.

The link model: a connection has a connection interval (``ci_s``, 7.5 ms by default) and a
random phase; samples are measured on the device's crystal (``skew_ppm`` away from the
host's), packed into notifications by the encoder, and delivered at the next connection
event plus a small OS jitter. Faults (:class:`FaultSpec`, the ``--faults`` option) act on
that link: lost notifications, duplicates, stalls that deliver in a burst, malformed bytes,
a disconnect every N seconds, and a sensor that never answers.

Every peripheral keeps a ground-truth log (:attr:`VirtualPeripheral.truth`): for each
sample it streamed, its host-clock measurement time and whether the packet carrying it was
delivered intact, so tests can check the recording sample by sample.
"""

from __future__ import annotations

import asyncio
import logging
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError

import firmware_protocol as fp
from companion.errors import UsageError
from companion.model import GRAVITY_M_S2, Placement, Segment, Side
from companion.sources.ble_backend import BleBackend

__all__ = [
    "BATTERY_LEVEL_CHAR_UUID",
    "EmulatedRadio",
    "EmulatedSensorSpec",
    "FaultSpec",
    "MotionSource",
    "SimulatedMotion",
    "SyntheticMotion",
    "Truth",
    "VirtualPeripheral",
    "default_emulated_sensors",
]

_LOGGER = logging.getLogger(__name__)

BATTERY_SERVICE_UUID = fp.sig_uuid(0x180F)
BATTERY_LEVEL_CHAR_UUID = fp.sig_uuid(0x2A19)
EMULATED_MTU = 247
"""ATT MTU the emulated link negotiates (what BlueZ/macOS/Windows reach with these devices)."""
ADVERTISING_INTERVAL_S = 0.1
CONNECT_DELAY_S = 0.15
"""Time a connection takes to come up (link layer + service discovery from cache)."""


# -- faults ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSpec:
    """Faults injected by the emulated link (``--faults drop=0.02,dup=0.01,...``).

    Probabilities are per notification unless said otherwise.
    """

    drop: float = 0.0
    """A notification is lost."""
    dup: float = 0.0
    """A notification is delivered twice."""
    burst: float = 0.0
    """Probability per second that the link stalls for ``burst_s`` and then delivers
    everything it held at once."""
    burst_s: float = 0.3
    malformed: float = 0.0
    """A notification is replaced by bytes that are not a valid packet (its samples are lost)."""
    disconnect_every: float = 0.0
    """Seconds between forced disconnects of each sensor (0: never)."""
    down_s: float = 2.0
    """How long a disconnected sensor stays away (not advertising) before it comes back."""
    mute: tuple[str, ...] = ()
    """Sensors (segment ``shin``/``foot``, placement label or address) that connect but
    never send data."""
    seed: int = 0

    _KEYS = ("drop", "dup", "burst", "burst_s", "malformed", "disconnect_every", "down_s", "seed")

    @classmethod
    def parse(cls, text: str | None) -> FaultSpec:
        """Parse ``drop=0.02,dup=0.01,burst=0.05,malformed=0.001,disconnect_every=60,mute=shin``."""
        if not text:
            return cls()
        values: dict[str, Any] = {}
        mute: list[str] = []
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, val = part.partition("=")
            key = key.strip().replace("-", "_")
            if not sep:
                msg = (
                    f"--faults: {part!r} is not KEY=VALUE; write e.g. drop=0.02,disconnect_every=60"
                )
                raise UsageError(msg)
            if key == "mute":
                mute.extend(v for v in val.strip().split("+") if v)
                continue
            if key not in cls._KEYS:
                msg = (
                    f"--faults: unknown fault {key!r}; use drop, dup, burst, burst_s, malformed, "
                    "disconnect_every, down_s, mute or seed"
                )
                raise UsageError(msg)
            try:
                num = int(val) if key == "seed" else float(val)
            except ValueError:
                msg = f"--faults: {key}={val!r} is not a number"
                raise UsageError(msg) from None
            if key in ("drop", "dup", "malformed") and not 0.0 <= num <= 1.0:
                msg = f"--faults: {key}={val} must be a probability between 0 and 1"
                raise UsageError(msg)
            if num < 0:
                msg = f"--faults: {key}={val} must not be negative"
                raise UsageError(msg)
            values[key] = num
        return cls(**values, mute=tuple(mute))

    def is_muted(self, spec: EmulatedSensorSpec) -> bool:
        keys = {
            spec.address.lower(),
            spec.placement.segment.value,
            spec.placement.label,
            spec.family,
        }
        return any(m.lower() in keys for m in self.mute)


# -- motion ---------------------------------------------------------------------------------


class MotionSource(Protocol):
    """Produces a sensor's samples: ``sample(placement, k0, n, rate_hz) -> (acc, gyr, quat)``."""

    def sample(
        self, placement: Placement, k0: int, n: int, rate_hz: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SyntheticMotion:
    """Slow calf raises: the foot pitches ±``amplitude_deg`` about the sensor's y axis at
    ``rep_hz``, the shin follows at a third of it; tiny deterministic noise keeps every
    sample distinct. Specific force and angular rate are consistent with the rotation."""

    amplitude_deg: float = 20.0
    rep_hz: float = 0.25
    noise_m_s2: float = 0.02
    seed: int = 1

    def sample(
        self, placement: Placement, k0: int, n: int, rate_hz: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = np.arange(k0, k0 + n, dtype=np.float64)
        t = k / rate_hz
        amp = math.radians(self.amplitude_deg) * (
            1.0 if placement.segment == Segment.FOOT else 0.33
        )
        w = 2 * math.pi * self.rep_hz
        theta = amp * np.sin(w * t)
        dtheta = amp * w * np.cos(w * t)
        acc = np.zeros((n, 3))
        acc[:, 0] = -GRAVITY_M_S2 * np.sin(theta)
        acc[:, 2] = GRAVITY_M_S2 * np.cos(theta)
        # cheap deterministic noise (a hash of the index) so every sample is distinct
        h = np.sin((k[:, None] + self.seed) * np.array([12.9898, 78.233, 37.719])) * 43758.5453
        noise = (h - np.floor(h)) - 0.5
        acc += noise * (2 * self.noise_m_s2)
        gyr = np.zeros((n, 3))
        gyr[:, 1] = np.degrees(dtheta)
        gyr += noise[:, ::-1] * 0.1
        quat = np.stack([np.cos(theta / 2), np.zeros(n), np.sin(theta / 2), np.zeros(n)], axis=1)
        return acc, gyr, quat


class SimulatedMotion:
    """The motion simulator's scenario as the emulated sensors' motion (looped).

    ``companion.sim.simulate`` produces the shin and foot streams of one leg at the rate the
    host configured; the emulator plays them sample by sample and starts over at the end.
    The device quaternion (AHRS families) is the simulator's device orientation estimate.
    """

    def __init__(
        self,
        scenario: str = "calf-raises",
        *,
        seed: int = 0,
        duration_s: float | None = None,
        noise_m_s2: float = 0.02,
        noise_dps: float = 0.1,
    ) -> None:
        self.noise_m_s2 = noise_m_s2
        self.noise_dps = noise_dps
        self.scenario = scenario
        self.seed = seed
        self.duration_s = duration_s
        self._cache: dict[tuple[str, float], Any] = {}

    def _session(self, side: str, rate_hz: float) -> Any:
        key = (side, float(rate_hz))
        if key not in self._cache:
            from companion.sim import simulate

            # the simulator's own range is 10–2000 Hz: slower devices sample a 10 Hz run
            sim_rate = max(10.0, float(rate_hz))
            self._cache[key] = simulate(
                self.scenario,
                seed=self.seed,
                duration_s=self.duration_s,
                sampling_rate_hz=sim_rate,
                side=side,
                quaternions=True,
            )
        return self._cache[key]

    def sample(
        self, placement: Placement, k0: int, n: int, rate_hz: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        session = self._session(placement.side.value, rate_hz)
        chunk = session.chunks[placement.label]
        idx = (k0 + np.arange(n)) % len(chunk)
        quat = (
            chunk.quat_wxyz[idx]
            if chunk.quat_wxyz is not None
            else np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
        )
        # a real sensor's noise (the simulator's streams are noiseless unless told otherwise):
        # without it a still sensor would repeat byte-identical frames
        k = (k0 + np.arange(n, dtype=np.float64))[:, None]
        h = np.sin((k + self.seed) * np.array([12.9898, 78.233, 37.719])) * 43758.5453
        noise = (h - np.floor(h)) - 0.5
        acc = chunk.acc_m_s2[idx] + noise * (2 * self.noise_m_s2)
        gyr = chunk.gyr_dps[idx] + noise[:, ::-1] * (2 * self.noise_dps)
        return acc, gyr, quat


# -- sensors --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatedSensorSpec:
    family: str
    address: str
    placement: Placement
    name: str = ""
    rssi_dbm: int = -60
    skew_ppm: float = 0.0
    """Crystal error of the device relative to the host clock."""
    battery_pct: int = 80


def _default_name(family: str, i: int) -> str:
    return {
        "witmotion": f"WT901BLE{68 + i}",
        "movesense": f"Movesense 2230{i:05d}",
        "metamotion": "MetaWear",
        "dot": "Movella DOT",
        "calf": f"CALF-{i:04X}",
    }.get(family, f"{family}-{i}")


def default_emulated_sensors(
    families: list[str],
    *,
    side: Side | str = Side.LEFT,
    skew_ppm: tuple[float, ...] = (40.0, -25.0),
) -> list[EmulatedSensorSpec]:
    """Two sensors (shin, foot) of one leg for each family in ``families``.

    With several families, the first pair is ``side``, the next the other leg, and so on
    (at most four sensors: both legs).
    """
    known = list(fp.FAMILIES)
    out: list[EmulatedSensorSpec] = []
    sides = [Side(side), Side.RIGHT if Side(side) == Side.LEFT else Side.LEFT]
    if len(families) > 2:
        msg = f"--emulate takes at most two families (one per leg), got {len(families)}"
        raise UsageError(msg)
    for j, fam in enumerate(families):
        if fam not in known:
            msg = f"--emulate: unknown sensor family {fam!r}; choose from {', '.join(known)}"
            raise UsageError(msg)
        for i, seg in enumerate((Segment.SHIN, Segment.FOOT)):
            n = 2 * j + i
            out.append(
                EmulatedSensorSpec(
                    family=fam,
                    address=f"EE:00:00:00:{j:02X}:{i + 1:02X}",
                    placement=Placement(segment=seg, side=sides[j]),
                    name=_default_name(fam, n),
                    rssi_dbm=-55 - 7 * n,
                    skew_ppm=skew_ppm[i % len(skew_ppm)],
                )
            )
    return out


@dataclass(slots=True)
class Truth:
    """Ground truth of one peripheral: every sample it streamed, in order."""

    t_host_s: list[float] = field(default_factory=list)
    """Host-clock time at which each sample was measured."""
    delivered: list[bool] = field(default_factory=list)
    """Whether the notification(s) carrying the sample reached the host intact."""
    acc_m_s2: list[np.ndarray] = field(default_factory=list)
    connections: list[tuple[float, float]] = field(default_factory=list)
    """(connected at, disconnected at) host times; the last may end at inf."""
    returned_at: list[float] = field(default_factory=list)
    """Host times at which the sensor came back (advertising again) after a forced drop."""

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array(self.t_host_s), np.array(self.delivered, dtype=bool)


_Note = tuple[str, bytes, list[int] | None]
"""A notification on its way: characteristic, payload, truth indices it completes."""


def _encoder_streaming(enc: fp.DeviceEncoder) -> bool:
    state = getattr(enc, "state", None)
    if state is not None and hasattr(state, "streaming"):
        return bool(state.streaming)
    for attr in ("streaming", "subscribed", "measuring", "is_streaming"):
        if hasattr(enc, attr):
            return bool(getattr(enc, attr))
    return True


class VirtualPeripheral:
    """One emulated sensor: advertising, one connection at a time, streaming with faults."""

    def __init__(
        self,
        spec: EmulatedSensorSpec,
        radio: EmulatedRadio,
        *,
        rate_hz: float | None = None,
    ) -> None:
        self.spec = spec
        self.radio = radio
        self.family = fp.FAMILIES[spec.family]
        self.rate_hz = float(rate_hz or self.family.default_rate_hz)
        self.encoder = self.family.new_encoder(self.rate_hz, EMULATED_MTU)
        self.muted = radio.faults.is_muted(spec)
        self.truth = Truth()
        self.advertising = True
        self._rng = np.random.default_rng([radio.faults.seed, zlib.crc32(spec.address.encode())])
        self._client: EmulatedClientBackend | None = None
        self._callbacks: dict[str, NotifyCallback] = {}
        self._task: asyncio.Task[None] | None = None
        self._t_next: float | None = None  # host time at which the next sample is measured
        self._k = 0  # index of the next sample (drives the motion)
        self._stall_until = -math.inf
        self._held: list[_Note] = []
        self._group: list[int] = []  # truth indices waiting in the encoder's current packet
        self._battery = spec.battery_pct
        self._motion_cache: tuple[int, np.ndarray, np.ndarray, np.ndarray, float] | None = None

    # -- GATT --------------------------------------------------------------------------
    def gatt_uuids(self) -> dict[str, list[str]]:
        """Characteristic properties by UUID."""
        props: dict[str, list[str]] = {}
        for u in self.family.notify_char_uuids:
            props.setdefault(u.lower(), []).extend(["notify", "read"])
        cmd_chars = {c for c, _ in self.family.start_commands(self.rate_hz)}
        cmd_chars |= {c for c, _ in self.family.stop_commands()}
        cmd_chars.add(self.family.write_char_uuid)
        for u in cmd_chars:
            props.setdefault(u.lower(), []).extend(["write", "write-without-response"])
        data_char = getattr(self.encoder, "char_uuid", None)
        if data_char:
            props.setdefault(str(data_char).lower(), []).append("notify")
        if BATTERY_SERVICE_UUID in self.family.extra_service_uuids:
            props[BATTERY_LEVEL_CHAR_UUID] = ["read", "notify"]
        return props

    def advertisement(self) -> AdvertisementData:
        mfr: dict[int, bytes] = {}
        if self.family.manufacturer_ids:
            mfr[self.family.manufacturer_ids[0]] = b"\x00\x01"
        return AdvertisementData(
            local_name=self.spec.name,
            manufacturer_data=mfr,
            service_data={},
            service_uuids=[self.family.service_uuid],
            tx_power=None,
            rssi=self.spec.rssi_dbm,
            platform_data=(),
        )

    # -- connection --------------------------------------------------------------------
    def attach(self, client: EmulatedClientBackend) -> None:
        if self._client is not None or not self.advertising:
            raise BleakDeviceNotFoundError(
                self.spec.address, f"Device with address {self.spec.address} was not found."
            )
        loop = asyncio.get_running_loop()
        self._client = client
        self._callbacks = {}
        self.advertising = False
        self.truth.connections.append((loop.time(), math.inf))
        self._task = loop.create_task(self._run_link(), name=f"emulated {self.spec.address}")

    def detach(self, *, by_host: bool) -> None:
        """End the connection (the host disconnected, or the link dropped)."""
        client, self._client = self._client, None
        if client is None:
            return
        loop = asyncio.get_running_loop()
        if self.truth.connections:
            a, _ = self.truth.connections[-1]
            self.truth.connections[-1] = (a, loop.time())
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        self._callbacks = {}
        self._group = []
        self._held = []
        # A device stops streaming when its central goes away (the next host re-configures)
        # and drops the packet it was filling.
        for _, cmd in self.family.stop_commands():
            try:
                self.encoder.respond(cmd)
            except fp.ProtocolError:  # pragma: no cover - encoder-specific
                pass
        flush = getattr(self.encoder, "flush", None)
        if flush is not None:
            flush()
        elif getattr(self.encoder, "_pending", None):
            # an encoder without flush() (MetaMotion) keeps its partial packet: start afresh
            self.encoder = self.family.new_encoder(self.rate_hz, EMULATED_MTU)
        if by_host:
            self.advertising = True
        else:
            client.link_lost()
            loop.call_later(self.radio.faults.down_s, self._come_back)

    def _come_back(self) -> None:
        self.advertising = True
        self.truth.returned_at.append(asyncio.get_running_loop().time())

    def subscribe(self, char_uuid: str, callback: NotifyCallback) -> None:
        self._callbacks[char_uuid.lower()] = callback

    def unsubscribe(self, char_uuid: str) -> None:
        self._callbacks.pop(char_uuid.lower(), None)

    def write(self, char_uuid: str, data: bytes) -> None:
        if self.muted:
            return
        try:
            replies = self.encoder.respond(bytes(data))
        except fp.ProtocolError as exc:
            _LOGGER.debug(
                "%s: ignoring malformed command %s: %s", self.spec.address, data.hex(), exc
            )
            return
        if replies:
            loop = asyncio.get_running_loop()
            notes: list[_Note] = [(c, p, None) for c, p in replies]
            loop.call_later(self.radio.ci_s, self._deliver_now, notes)

    def read(self, char_uuid: str) -> bytes:
        u = char_uuid.lower()
        if u == BATTERY_LEVEL_CHAR_UUID:
            return bytes((self._battery,))
        enc_batt = getattr(self.encoder, "encode_battery", None)
        if enc_batt is not None and "3001" in u[:8]:
            return bytes(enc_batt())
        return b""

    # -- streaming ---------------------------------------------------------------------
    def _motion(self, k0: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Samples k0..k0+n-1 of the motion, computed in blocks (cheap per connection event)."""
        c = self._motion_cache
        rate = self._configured_rate()
        if c is None or c[4] != rate or k0 < c[0] or k0 + n > c[0] + len(c[1]):
            block = max(n, 1024)
            acc, gyr, quat = self.radio.motion.sample(self.spec.placement, k0, block, rate)
            c = self._motion_cache = (k0, acc, gyr, quat, rate)
        i = k0 - c[0]
        return c[1][i : i + n], c[2][i : i + n], c[3][i : i + n]

    def _configured_rate(self) -> float:
        state = getattr(self.encoder, "state", None)
        rate = getattr(state if state is not None else self.encoder, "rate_hz", None)
        return float(rate or self.rate_hz)

    def _data_char(self) -> str:
        return str(getattr(self.encoder, "char_uuid", self.family.notify_char_uuids[0])).lower()

    async def _run_link(self) -> None:
        loop = asyncio.get_running_loop()
        radio = self.radio
        skew = 1.0 + self.spec.skew_ppm * 1e-6
        now = loop.time()
        if self._t_next is None:
            self._t_next = now + float(self._rng.uniform(0, 1.0 / self._configured_rate()))
            if radio.motion_epoch_s is None:
                radio.motion_epoch_s = self._t_next
            # start where the leg's movement is now, not at its beginning
            self._k = max(0, round((self._t_next - radio.motion_epoch_s) * self._configured_rate()))
        # samples measured while nobody was connected are not sent
        T_dev = skew / self._configured_rate()
        if self._t_next < now:
            n_skip = math.floor((now - self._t_next) / T_dev) + 1
            self._t_next += n_skip * T_dev
            self._k += n_skip
            self._skip_device_clock(n_skip)
        phase = float(self._rng.uniform(0, radio.ci_s))
        t_connected = loop.time()
        next_drop = (
            t_connected + radio.faults.disconnect_every
            if radio.faults.disconnect_every > 0
            else math.inf
        )
        ce = math.ceil((loop.time() - phase) / radio.ci_s) * radio.ci_s + phase
        while True:
            await asyncio.sleep(max(0.0, ce - loop.time()))
            now = loop.time()
            if now >= next_drop:
                self.detach(by_host=False)
                return
            # the rate the host configured (the encoder holds the device's settings)
            T_dev = skew / self._configured_rate()
            out: list[_Note] = []
            if self._t_next <= now:
                n = math.floor((now - self._t_next) / T_dev) + 1
                out = self._produce(self._k, n, self._t_next, T_dev)
                self._k += n
                self._t_next += n * T_dev
            if radio.faults.burst > 0 and now >= self._stall_until:
                if self._rng.random() < radio.faults.burst * radio.ci_s:
                    self._stall_until = now + radio.faults.burst_s
            if now < self._stall_until:
                self._held.extend(out)
            else:
                if self._held:
                    out = self._held + out
                    self._held = []
                if out:
                    jitter = float(self._rng.exponential(radio.jitter_s))
                    loop.call_later(jitter, self._deliver_now, out)
            ce += radio.ci_s

    def _skip_device_clock(self, n: int) -> None:
        """Samples measured but not streamed: a device clock that runs on (MetaMotion's tick)
        advances over them; encoders that count streamed samples do not offer ``skip``."""
        skip = getattr(self.encoder, "skip", None)
        if skip is not None:
            skip(n)

    def _produce(self, k0: int, n: int, t_first: float, T_dev: float) -> list[_Note]:
        """Measure samples k0..k0+n-1, encode, apply per-notification faults."""
        data_char = self._data_char()
        streaming = (
            not self.muted and data_char in self._callbacks and _encoder_streaming(self.encoder)
        )
        if not streaming:
            self._group = []
            self._skip_device_clock(n)
            return []
        acc, gyr, quat = self._motion(k0, n)
        faults = self.radio.faults
        truth = self.truth
        first = len(truth.t_host_s)
        truth.t_host_s.extend((t_first + np.arange(n) * T_dev).tolist())
        truth.delivered.extend([False] * n)
        truth.acc_m_s2.extend(acc)
        self._group.extend(range(first, first + n))
        notes = self.encoder.encode(acc, gyr, quat)
        out: list[_Note] = []
        if not notes:
            return out
        # which samples each notification carries: the encoder packs `spp` samples per packet
        # and sends a packet as one or more notifications
        spp = int(
            getattr(
                self.encoder, "samples_per_packet", 3 if self.family.name == "metamotion" else 1
            )
        )
        n_packets = len(self._group) // spp
        per_packet = len(notes) // max(1, n_packets)
        if n_packets == 0 or per_packet * n_packets != len(notes):
            # cannot tell which samples these carry: send them, count none as delivered
            _LOGGER.warning(
                "emulated %s: cannot map %d notifications to samples", self.family.name, len(notes)
            )
            self._group = []
            return [(data_char, payload, None) for payload in notes]
        rnd = self._rng.random((len(notes), 3))
        for p in range(n_packets):
            intact = True
            for j in range(p * per_packet, (p + 1) * per_packet):
                payload = notes[j]
                r = rnd[j]
                if r[0] < faults.drop:
                    intact = False
                    continue
                if r[1] < faults.malformed:
                    intact = False
                    # zero bytes: no family accepts them as a packet (no header, version 0)
                    out.append((data_char, bytes(int(self._rng.integers(1, 8))), None))
                    continue
                out.append((data_char, payload, None))
                if r[2] < faults.dup:
                    out.append((data_char, payload, None))
            if intact and out:
                # the packet's samples count as delivered once its last notification is
                c, pl, _ = out[-1]
                out[-1] = (c, pl, self._group[p * spp : (p + 1) * spp])
        del self._group[: n_packets * spp]
        return out

    def _deliver_now(self, notes: list[_Note]) -> None:
        for char, payload, marks in notes:
            cb = self._callbacks.get(char.lower())
            if cb is not None:
                cb(bytearray(payload))
                if marks:
                    for idx in marks:
                        self.truth.delivered[idx] = True


# -- bleak backends -------------------------------------------------------------------------


class EmulatedScannerBackend(BaseBleakScanner):
    """bleak scanner backend over an :class:`EmulatedRadio` (bound in a subclass)."""

    radio: EmulatedRadio

    def __init__(
        self,
        detection_callback: Any,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.radio.check_available()
        self.seen_devices = {}
        self._task = asyncio.get_running_loop().create_task(self._advertise())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _advertise(self) -> None:
        while True:
            for p in self.radio.peripherals:
                if not p.advertising:
                    continue
                adv = p.advertisement()
                if not self.is_allowed_uuid(adv.service_uuids):
                    continue
                dev = self.create_or_update_device(
                    p.spec.address, p.spec.address, p.spec.name, p, adv
                )
                self.call_detection_callbacks(dev, adv)
            await asyncio.sleep(ADVERTISING_INTERVAL_S)


class EmulatedClientBackend(BaseBleakClient):
    """bleak client backend over an :class:`EmulatedRadio` (bound in a subclass)."""

    radio: EmulatedRadio

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._peripheral: VirtualPeripheral | None = None

    @property
    def name(self) -> str:
        p = self.radio.find(self.address)
        return p.spec.name if p else self.address

    @property
    def mtu_size(self) -> int:
        return EMULATED_MTU

    @property
    def is_connected(self) -> bool:
        return self._peripheral is not None

    async def connect(self, pair: bool = False, **kwargs: Any) -> None:
        self.radio.check_available()
        p = self.radio.find(self.address)
        if p is None or not p.advertising:
            raise BleakDeviceNotFoundError(
                self.address, f"Device with address {self.address} was not found."
            )
        await asyncio.sleep(CONNECT_DELAY_S)
        p.attach(self)
        self._peripheral = p
        self.services = self._build_services(p)

    def _build_services(self, p: VirtualPeripheral) -> BleakGATTServiceCollection:
        coll = BleakGATTServiceCollection()
        main = BleakGATTService(None, 1, p.family.service_uuid.lower())
        coll.add_service(main)
        batt = None
        handle = 2
        for uuid, props in p.gatt_uuids().items():
            svc = main
            if uuid == BATTERY_LEVEL_CHAR_UUID:
                if batt is None:
                    batt = BleakGATTService(None, 200, BATTERY_SERVICE_UUID)
                    coll.add_service(batt)
                svc = batt
            char = BleakGATTCharacteristic(
                None, handle, uuid, sorted(set(props)), lambda: EMULATED_MTU - 3, svc
            )
            coll.add_characteristic(char)
            handle += 2
        return coll

    async def disconnect(self) -> None:
        p, self._peripheral = self._peripheral, None
        if p is not None:
            p.detach(by_host=True)

    def link_lost(self) -> None:
        """Called by the peripheral when the link drops (not on a host disconnect)."""
        self._peripheral = None
        if self._disconnected_callback is not None:
            asyncio.get_running_loop().call_soon(self._disconnected_callback)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def unpair(self) -> None:
        return None

    def _need(self) -> VirtualPeripheral:
        if self._peripheral is None:
            msg = "Not connected"
            raise BleakError(msg)
        return self._peripheral

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        p = self._need()
        await asyncio.sleep(self.radio.ci_s)
        return bytearray(p.read(characteristic.uuid))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        raise BleakError("emulated sensors have no descriptors")

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        p = self._need()
        if response:
            await asyncio.sleep(self.radio.ci_s)
        p.write(characteristic.uuid, bytes(data))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        raise BleakError("emulated sensors have no descriptors")

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        p = self._need()
        await asyncio.sleep(self.radio.ci_s)
        p.subscribe(characteristic.uuid, callback)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        p = self._need()
        p.unsubscribe(characteristic.uuid)


# -- radio ----------------------------------------------------------------------------------


class EmulatedRadio:
    """A room with emulated sensors in it; pass :attr:`backend` to the BLE source or bleak.

    Parameters
    ----------
    sensors
        The peripherals (see :func:`default_emulated_sensors`).
    faults
        Link faults (:meth:`FaultSpec.parse` reads the ``--faults`` text).
    rate_hz
        Initial configured rate per family (the host's start commands may change it).
    motion
        What the sensors measure (default: :class:`SyntheticMotion`).
    ci_s, jitter_s
        Connection interval and mean OS delivery jitter of the emulated link.
    available
        ``False`` emulates a machine whose Bluetooth is switched off.
    """

    def __init__(
        self,
        sensors: list[EmulatedSensorSpec],
        *,
        faults: FaultSpec | None = None,
        rate_hz: dict[str, float] | None = None,
        motion: MotionSource | None = None,
        ci_s: float = 0.0075,
        jitter_s: float = 0.0003,
        available: bool = True,
    ) -> None:
        self.faults = faults or FaultSpec()
        self.motion: MotionSource = motion or SyntheticMotion()
        self.ci_s = float(ci_s)
        self.jitter_s = float(jitter_s)
        self.available = available
        # One motion clock for every peripheral of the radio: the shin and the foot belong
        # to one leg, so sample k of each is the same instant of the movement however far
        # apart the host connected them (set when the first peripheral starts streaming).
        self.motion_epoch_s: float | None = None
        rates = rate_hz or {}
        self.peripherals = [
            VirtualPeripheral(s, self, rate_hz=rates.get(s.family)) for s in sensors
        ]
        scanner = type("EmulatedScanner", (EmulatedScannerBackend,), {"radio": self})
        client = type("EmulatedClient", (EmulatedClientBackend,), {"radio": self})
        self.backend = BleBackend(scanner=scanner, client=client)

    def find(self, address: str) -> VirtualPeripheral | None:
        a = address.lower()
        for p in self.peripherals:
            if p.spec.address.lower() == a:
                return p
        return None

    def check_available(self) -> None:
        if not self.available:
            from bleak.exc import (
                BleakBluetoothNotAvailableError,
                BleakBluetoothNotAvailableReason,
            )

            raise BleakBluetoothNotAvailableError(
                "Bluetooth is turned off", BleakBluetoothNotAvailableReason.POWERED_OFF
            )
