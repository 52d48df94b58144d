"""The live sensor link: scan, connect, stream, align clocks, reconnect — over bleak.

Shape (STYLE §3.3, A1, A2):

* **One event loop owns every bleak object.** Nothing here starts threads or loops; the
  window runs :class:`BleSource` on its qasync loop, ``companion record`` on
  ``asyncio.run``, tests on a :class:`~companion.sources.virtual_time.VirtualTimeLoop`.
* **Scan + connect are serialised** by one ``asyncio.Lock`` per source (BlueZ answers
  ``org.bluez.Error.InProgress`` to overlapping ones) and the ``BLEDevice`` from the scan is
  passed to ``BleakClient`` (an address string would trigger a second scan).
* **Subscribe before starting the stream**: notifications sent before ``start_notify`` are lost.
* **The notify callback only enqueues** ``(sensor, connection, t_host_s, char, bytes)``. A
  consumer task decodes (``firmware_protocol``), rebuilds sample times
  (:mod:`companion.sources.timebase`) and emits :class:`~companion.model.ImuChunk` /
  :class:`~companion.model.Gap` / :class:`LinkStateChanged` / :class:`SensorStats` items.
* **Reconnect**: a supervisor per sensor waits for bleak's disconnect callback (or a silent
  link), marks the sensor ``reconnecting``, rescans (BlueZ forgets a device that stopped
  advertising) and reconnects with a short capped backoff, while the other sensors stream on.
  The gap is marked ``disconnected`` on the same session clock.
* **Failures a user can cause** become one sentence (:mod:`companion.sources.errors`):
  :func:`classify_ble_error` is the pure classifier.

The host clock is ``loop.time()`` (monotonic); session time 0 is when iteration starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
)

import firmware_protocol as fp
from companion.errors import UsageError
from companion.model import ImuChunk, Placement, SensorInfo
from companion.sources.base import LinkState, LinkStateChanged, SensorStats, SourceItem
from companion.sources.ble_backend import BleBackend
from companion.sources.errors import (
    BluetoothUnavailableError,
    SensorLostError,
    SensorNotFoundError,
    WrongFamilyError,
)
from companion.sources.timebase import SensorClock, Stamped, StreamStats

__all__ = [
    "BleBackend",
    "BleErrorKind",
    "BleSource",
    "ErrorClass",
    "FoundSensor",
    "SensorAssignment",
    "classify_ble_error",
    "resolve_assignments",
    "scan",
]

_LOGGER = logging.getLogger(__name__)

# -- timing constants -------------------------------------------------------------------------
SCAN_TIMEOUT_S = 10.0
"""First scan for a sensor: advertising intervals of cheap sensors reach 1–2 s, and the user
may still be switching it on."""
RESCAN_TIMEOUT_S = 2.0
"""Rescan while reconnecting: short, so a sensor that comes back is seen in the next round."""
CONNECT_TIMEOUT_S = 20.0
BACKOFF_S = (0.2, 0.5, 1.0, 1.5)
"""Pause between reconnect rounds (then the last value): rescan 2 s + pause 1.5 s + connect
keeps "back within 5 s of the sensor returning" even in the worst phase."""
SILENCE_TIMEOUT_S = 3.0
"""A connected sensor that sends nothing for this long is dropped and reconnected."""
SILENT_ATTEMPTS_BEFORE_FAILED = 3
LOST_TIMEOUT_S = 300.0
"""A sensor away for longer than this is given up (state ``failed``)."""
BATCH_INTERVAL_S = 0.02
"""The consumer runs at 50 Hz: notifications are decoded and emitted as one chunk per
sensor per round (fewer, larger chunks for the window and the file writer)."""
STALL_RELEASE_S = 1.0
"""Samples held for look-ahead (arrival-time families) are released after this long without
newer arrivals (see ``SensorClock.horizon_s``)."""
STATS_INTERVAL_S = 1.0
BATTERY_INTERVAL_S = 60.0
WRITE_TIMEOUT_S = 5.0
LIPO_EMPTY_V, LIPO_FULL_V = 3.4, 4.15  # WitMotion reports volts only


# -- error classification (pure) ---------------------------------------------------------------


class BleErrorKind(enum.StrEnum):
    NO_DBUS = "no_dbus"
    NO_BLUEZ = "no_bluez"
    NO_ADAPTER = "no_adapter"
    POWERED_OFF = "powered_off"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    BUSY = "busy"
    TIMEOUT = "timeout"
    CONNECTION = "connection"


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorClass:
    kind: BleErrorKind
    fatal: bool
    """Retrying cannot help (the machine's Bluetooth is unusable): stop and tell the user."""
    backoff_s: float
    advice: str
    """One sentence for the user."""


_TRY_EMULATED = "or try the product without hardware with --emulate witmotion"
_ADVICE = {
    BleErrorKind.NO_DBUS: (
        "Bluetooth cannot be used: this machine has no D-Bus system bus, which BlueZ needs; "
        f"start D-Bus and bluetoothd, {_TRY_EMULATED}."
    ),
    BleErrorKind.NO_BLUEZ: (
        "Bluetooth cannot be used: BlueZ (bluetoothd) is not running; start it with "
        f"`sudo systemctl start bluetooth`, {_TRY_EMULATED}."
    ),
    BleErrorKind.NO_ADAPTER: (
        "Bluetooth cannot be used: this computer has no Bluetooth Low Energy adapter; plug in "
        f"a Bluetooth 4.0+ USB dongle, {_TRY_EMULATED}."
    ),
    BleErrorKind.POWERED_OFF: (
        "Bluetooth is switched off; switch it on (system settings or `bluetoothctl power on`) "
        "and try again."
    ),
    BleErrorKind.PERMISSION: (
        "This program is not allowed to use Bluetooth; grant it the Bluetooth permission in the "
        "system settings and try again."
    ),
    BleErrorKind.NOT_FOUND: "The sensor is not advertising; switch it on and bring it closer.",
    BleErrorKind.BUSY: "The Bluetooth adapter is busy with another operation; retrying.",
    BleErrorKind.TIMEOUT: "The sensor did not answer in time; retrying.",
    BleErrorKind.CONNECTION: "The connection failed; retrying.",
}


def classify_ble_error(exc: BaseException) -> ErrorClass:
    """Sort a raw failure into a kind, whether retrying can help, a backoff and advice."""

    def out(kind: BleErrorKind, fatal: bool, backoff_s: float) -> ErrorClass:
        return ErrorClass(kind=kind, fatal=fatal, backoff_s=backoff_s, advice=_ADVICE[kind])

    if isinstance(exc, BleakBluetoothNotAvailableError):
        reason = exc.reason
        if reason in (
            BleakBluetoothNotAvailableReason.NO_BLUETOOTH,
            BleakBluetoothNotAvailableReason.NO_BLE_CENTRAL_ROLE,
        ):
            return out(BleErrorKind.NO_ADAPTER, True, 0.0)
        if reason == BleakBluetoothNotAvailableReason.POWERED_OFF:
            return out(BleErrorKind.POWERED_OFF, True, 0.0)
        if reason in (
            BleakBluetoothNotAvailableReason.DENIED_BY_USER,
            BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM,
            BleakBluetoothNotAvailableReason.DENIED_BY_UNKNOWN,
        ):
            return out(BleErrorKind.PERMISSION, True, 0.0)
        return out(BleErrorKind.NO_ADAPTER, True, 0.0)
    if isinstance(exc, BleakDBusError):
        name = exc.dbus_error
        if name in (
            "org.freedesktop.DBus.Error.ServiceUnknown",
            "org.freedesktop.DBus.Error.NameHasNoOwner",
        ):
            return out(BleErrorKind.NO_BLUEZ, True, 0.0)
        if name == "org.bluez.Error.NotReady":
            return out(BleErrorKind.POWERED_OFF, True, 0.0)
        if name in ("org.freedesktop.DBus.Error.AccessDenied", "org.bluez.Error.NotPermitted"):
            return out(BleErrorKind.PERMISSION, True, 0.0)
        if name == "org.bluez.Error.InProgress":
            return out(BleErrorKind.BUSY, False, 1.0)
        return out(BleErrorKind.CONNECTION, False, 1.0)
    if isinstance(exc, BleakDeviceNotFoundError):
        return out(BleErrorKind.NOT_FOUND, False, 0.5)
    if isinstance(exc, BleakError):
        text = str(exc).lower()
        if "no bluetooth adapters" in text or ("adapter" in text and "not found" in text):
            return out(BleErrorKind.NO_ADAPTER, True, 0.0)
        if "bluez" in text and "requires" in text:
            return out(BleErrorKind.NO_BLUEZ, True, 0.0)
        if "not found" in text:
            return out(BleErrorKind.NOT_FOUND, False, 0.5)
        if "inprogress" in text or "in progress" in text:
            return out(BleErrorKind.BUSY, False, 1.0)
        return out(BleErrorKind.CONNECTION, False, 1.0)
    if isinstance(exc, FileNotFoundError):
        # dbus-fast: the system bus socket (/run/dbus/system_bus_socket) does not exist
        return out(BleErrorKind.NO_DBUS, True, 0.0)
    if isinstance(exc, ConnectionRefusedError):
        return out(BleErrorKind.NO_DBUS, True, 0.0)
    if isinstance(exc, PermissionError):
        return out(BleErrorKind.PERMISSION, True, 0.0)
    if isinstance(exc, TimeoutError):
        return out(BleErrorKind.TIMEOUT, False, 1.0)
    return out(BleErrorKind.CONNECTION, False, 1.0)


def _unavailable(exc: BaseException) -> BluetoothUnavailableError | None:
    c = classify_ble_error(exc)
    if c.fatal:
        return BluetoothUnavailableError(c.advice, kind=c.kind.value)
    return None


# -- scanning ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundSensor:
    """A supported sensor seen while scanning."""

    family: str
    name: str
    address: str
    rssi_dbm: int
    battery_pct: float | None = None
    device: BLEDevice | None = field(default=None, compare=False, repr=False)


def _scanner_kwargs(backend: BleBackend | None) -> dict[str, Any]:
    return {"backend": backend.scanner} if backend is not None and backend.scanner else {}


def _client_kwargs(backend: BleBackend | None) -> dict[str, Any]:
    return {"backend": backend.client} if backend is not None and backend.client else {}


async def _discover(
    timeout_s: float, backend: BleBackend | None
) -> dict[str, tuple[BLEDevice, Any]]:
    try:
        return await BleakScanner.discover(
            timeout=timeout_s, return_adv=True, **_scanner_kwargs(backend)
        )
    except (BleakError, OSError) as exc:
        err = _unavailable(exc)
        if err is not None:
            raise err from None
        raise


async def scan(
    timeout_s: float = 5.0,
    *,
    backend: BleBackend | None = None,
    families: Sequence[str] | None = None,
    read_battery: bool = False,
) -> list[FoundSensor]:
    """Scan for ``timeout_s`` and return the supported sensors seen, strongest first.

    Everything that is not a supported family is ignored. With ``read_battery`` each sensor
    is connected to briefly, one at a time, to read its battery level where the family
    offers one (``None`` otherwise). Raises :class:`BluetoothUnavailableError` (one sentence)
    when the machine's Bluetooth cannot be used.
    """
    seen = await _discover(timeout_s, backend)
    found: list[FoundSensor] = []
    for device, adv in seen.values():
        name = adv.local_name or device.name or ""
        fam = fp.identify_family(name, list(adv.service_uuids), dict(adv.manufacturer_data))
        if fam is None or (families is not None and fam.name not in families):
            continue
        found.append(
            FoundSensor(
                family=fam.name,
                name=name,
                address=device.address,
                rssi_dbm=int(adv.rssi),
                device=device,
            )
        )
    found.sort(key=lambda f: (-f.rssi_dbm, f.address))
    if read_battery:
        out = []
        for f in found:
            pct = None
            with contextlib.suppress(BleakError, TimeoutError, OSError):
                pct = await asyncio.wait_for(_read_battery_once(f, backend), 10.0)
            out.append(
                FoundSensor(
                    family=f.family,
                    name=f.name,
                    address=f.address,
                    rssi_dbm=f.rssi_dbm,
                    battery_pct=pct,
                    device=f.device,
                )
            )
        found = out
    return found


async def _read_battery_once(f: FoundSensor, backend: BleBackend | None) -> float | None:
    fam = fp.FAMILIES[f.family]
    assert f.device is not None
    async with BleakClient(f.device, **_client_kwargs(backend)) as client:
        req = _battery_request(fam, client)
        if req is None:
            return None
        kind, uuid, payload = req
        if kind == "read":
            data = await client.read_gatt_char(uuid)
            return float(data[0]) if data else None
        # the answer comes as a notification: decode it with the family's decoder
        got: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        dec = fam.new_decoder()

        def on_note(char: BleakGATTCharacteristic, data: bytearray) -> None:
            for ev in dec.feed(bytes(data), char.uuid):
                pct = _battery_from_reply(ev)
                if pct is not None and not got.done():
                    got.set_result(pct)

        for u in fam.notify_char_uuids:
            if client.services.get_characteristic(u) is not None:
                await client.start_notify(u, on_note)
        await client.write_gatt_char(uuid, payload, response=True)
        return await asyncio.wait_for(got, 3.0)


def _battery_request(fam: fp.Family, client: BleakClient) -> tuple[str, str, bytes] | None:
    """How to ask this family for its battery level: ("read", uuid, b"") or ("write", ...)."""
    std = fp.sig_uuid(0x2A19)
    if client.services.get_characteristic(std) is not None:
        return ("read", std, b"")
    if fam.name == "dot":
        return ("read", fp.dot.BATTERY_CHAR_UUID, b"")
    if fam.name == "witmotion":
        return (
            "write",
            fp.witmotion.WRITE_CHAR_UUID,
            fp.witmotion.read_register_command(fp.witmotion.REG_BATTERY),
        )
    if fam.name == "metamotion":
        return ("write", fam.write_char_uuid, fp.metamotion.BATTERY_READ_COMMAND)
    return None


def _battery_from_reply(ev: object) -> float | None:
    if not isinstance(ev, fp.Reply):
        return None
    p = ev.packet
    for attr in ("level_pct", "charge_pct"):
        if hasattr(p, attr):
            return float(getattr(p, attr))
    if isinstance(p, fp.witmotion.WitRegisterReply):
        raw = p.register(fp.witmotion.REG_BATTERY)
        if raw is not None:
            volts = raw * fp.witmotion.BATTERY_V_PER_LSB
            frac = (volts - LIPO_EMPTY_V) / (LIPO_FULL_V - LIPO_EMPTY_V)
            return float(round(100.0 * min(1.0, max(0.0, frac))))
    return None


# -- assignments ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorAssignment:
    """One sensor of a session: its address, where it sits and (once known) its family."""

    address: str
    placement: Placement
    family: str | None = None
    """``None``: identify it from its advertisement (:func:`resolve_assignments`)."""
    rate_hz: float | None = None
    """``None``: the source's rate, else the family's default."""
    name: str = ""


async def resolve_assignments(
    assignments: Sequence[SensorAssignment],
    *,
    backend: BleBackend | None = None,
    timeout_s: float = SCAN_TIMEOUT_S,
) -> list[SensorAssignment]:
    """Fill in family and name of every assignment from one scan.

    Raises :class:`SensorNotFoundError` for an address that does not advertise within
    ``timeout_s`` and :class:`WrongFamilyError` for a device that is not a supported sensor
    (or not the family asked for).
    """
    wanted = {a.address.lower() for a in assignments}
    found: dict[str, tuple[BLEDevice, Any]] = {}
    try:
        async with BleakScanner(**_scanner_kwargs(backend)) as scanner:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    async for dev, adv in scanner.advertisement_data():
                        if dev.address.lower() in wanted:
                            found[dev.address.lower()] = (dev, adv)
                            if set(found) == wanted:
                                break
    except (BleakError, OSError) as exc:
        err = _unavailable(exc)
        if err is not None:
            raise err from None
        raise
    out = []
    for a in assignments:
        hit = found.get(a.address.lower())
        if hit is None:
            raise SensorNotFoundError(
                f"The {a.placement.segment.value} sensor {a.address} was not found within "
                f"{timeout_s:g} s; switch it on, bring it within a few metres and check the "
                "address with `companion scan`.",
                address=a.address,
            )
        dev, adv = hit
        name = adv.local_name or dev.name or ""
        fam = fp.identify_family(name, list(adv.service_uuids), dict(adv.manufacturer_data))
        if fam is None or (a.family is not None and fam.name != a.family):
            what = f"a {fam.name} sensor" if fam else "not a supported sensor"
            want = f"a {a.family} sensor" if a.family else "a supported sensor"
            raise WrongFamilyError(
                f"The device at {a.address} ({name or 'no name'}) is {what}, not {want}; "
                "check the address with `companion scan`"
                + (" or pass the right --family." if a.family else "."),
                address=a.address,
                family=fam.name if fam else None,
            )
        out.append(
            SensorAssignment(
                address=a.address,
                placement=a.placement,
                family=fam.name,
                rate_hz=a.rate_hz,
                name=a.name or name,
            )
        )
    return out


# -- the source -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Link:
    index: int
    assignment: SensorAssignment
    family: fp.Family
    info: SensorInfo
    rate_hz: float
    clock: SensorClock | None = None
    stats: StreamStats = field(default_factory=StreamStats)
    conn_id: int = 0
    decoders: dict[int, fp.StreamDecoder] = field(default_factory=dict)
    """Decoder of each live connection id (kept until its last notification is processed)."""
    configured_at_host_s: dict[int, float] = field(default_factory=dict)
    """Host time the first connection's start commands were acknowledged: before it, a sensor
    without device time may still stream at its default rate (−inf on a reconnect: the
    sensor kept the rate it was given)."""
    client: BleakClient | None = None
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    connected_at_host_s: float = 0.0
    last_data_host_s: float = 0.0
    battery_pct: float | None = None
    state: LinkState = LinkState.DISCONNECTED
    failed: bool = False
    silent_attempts: int = 0
    reconnects: int = 0
    bytes_dropped: int = 0
    duplicates_dropped: int = 0
    early_samples_dropped: int = 0
    """Samples without device time that arrived before the start commands took effect."""
    last_note: tuple[bytes, float] | None = None
    task: asyncio.Task[None] | None = None

    @property
    def label(self) -> str:
        return self.info.sensor_id

    @property
    def address(self) -> str:
        return self.assignment.address


@dataclass(frozen=True, slots=True)
class _LinkDown:
    """Queued behind the last notification of a connection that ended."""

    index: int
    conn_id: int


_END = object()


class BleSource:
    """Live samples from BLE sensors (implements :class:`~companion.sources.base.SampleSource`).

    Parameters
    ----------
    assignments
        One per sensor, families known (see :func:`resolve_assignments`).
    backend
        bleak backend classes; ``None`` for the OS radio, ``EmulatedRadio.backend`` for
        emulated sensors.
    rate_hz
        Sampling rate for sensors whose assignment does not set one (default: family default).
    """

    def __init__(
        self,
        assignments: Sequence[SensorAssignment],
        *,
        backend: BleBackend | None = None,
        rate_hz: float | None = None,
        scan_timeout_s: float = SCAN_TIMEOUT_S,
        rescan_timeout_s: float = RESCAN_TIMEOUT_S,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        silence_timeout_s: float = SILENCE_TIMEOUT_S,
        lost_timeout_s: float = LOST_TIMEOUT_S,
        stats_interval_s: float = STATS_INTERVAL_S,
        battery_interval_s: float = BATTERY_INTERVAL_S,
        backoff_s: Sequence[float] = BACKOFF_S,
    ) -> None:
        if not assignments:
            msg = "a BLE source needs at least one sensor; give --shin and --foot addresses"
            raise UsageError(msg)
        self._backend = backend
        self._scan_timeout_s = scan_timeout_s
        self._rescan_timeout_s = rescan_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._silence_timeout_s = silence_timeout_s
        self._lost_timeout_s = lost_timeout_s
        self._stats_interval_s = stats_interval_s
        self._battery_interval_s = battery_interval_s
        self._backoff_s = tuple(backoff_s)
        self._links: list[_Link] = []
        labels: set[str] = set()
        addresses: set[str] = set()
        for i, a in enumerate(assignments):
            if a.family is None:
                msg = (
                    f"the family of sensor {a.address} is not known; pass --family or scan first "
                    "(companion.sources.ble.resolve_assignments)"
                )
                raise UsageError(msg)
            if a.family not in fp.FAMILIES:
                msg = f"unknown sensor family {a.family!r}; choose from {', '.join(fp.FAMILIES)}"
                raise UsageError(msg)
            fam = fp.FAMILIES[a.family]
            rate = a.rate_hz or rate_hz or fam.default_rate_hz
            try:
                rate = fam.check_rate(rate)
            except fp.ProtocolError:
                rates = ", ".join(f"{r:g}" for r in fam.supported_rates_hz)
                msg = f"{fam.name} sensors cannot stream at {rate:g} Hz; choose one of {rates} Hz"
                raise UsageError(msg) from None
            label = a.placement.label
            if label in labels:
                msg = f"two sensors are placed at {label}; give each segment and side one sensor"
                raise UsageError(msg)
            if a.address.lower() in addresses:
                msg = f"sensor {a.address} is assigned twice; give each placement its own sensor"
                raise UsageError(msg)
            labels.add(label)
            addresses.add(a.address.lower())
            info = SensorInfo(
                sensor_id=label,
                family=fam.name,
                placement=a.placement,
                sampling_rate_hz=rate,
                address=a.address,
                name=a.name,
                has_quaternion=fam.has_quaternion,
                has_counter=fam.has_counter,
            )
            self._links.append(_Link(index=i, assignment=a, family=fam, info=info, rate_hz=rate))
        self._lock: asyncio.Lock | None = None
        self._raw: asyncio.Queue[Any] | None = None
        self._out: asyncio.Queue[Any] | None = None
        self._t0 = 0.0
        self._closing = False
        self._started = False
        self._tasks: list[asyncio.Task[None]] = []

    # -- SampleSource --------------------------------------------------------------------
    @property
    def sensors(self) -> list[SensorInfo]:
        return [link.info for link in self._links]

    @property
    def t0_host_s(self) -> float:
        """Host time (``loop.time()``) of session time 0 (valid once iteration started)."""
        return self._t0

    def __aiter__(self) -> AsyncIterator[SourceItem]:
        if self._started:
            msg = "a BleSource can be iterated only once; make a new one"
            raise RuntimeError(msg)
        self._started = True
        return self._iterate()

    async def close(self) -> None:
        """Stop streaming, disconnect every sensor and end the iteration."""
        if self._closing:
            return
        self._closing = True
        me = asyncio.current_task()
        for t in self._tasks:
            if t is not me:
                t.cancel()
        for t in self._tasks:
            if t is not me:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        if self._raw is not None and self._out is not None:
            self._process_raw(force=True)
        for link in self._links:
            await self._drop_client(link, stop=True)
        if self._out is not None:
            self._out.put_nowait(_END)

    # -- iteration -----------------------------------------------------------------------
    async def _iterate(self) -> AsyncIterator[SourceItem]:
        loop = asyncio.get_running_loop()
        self._t0 = loop.time()
        self._lock = asyncio.Lock()
        self._raw = asyncio.Queue()
        self._out = asyncio.Queue()
        for link in self._links:
            link.clock = SensorClock(
                sensor_id=link.label,
                rate_hz=link.rate_hz,
                t0_host_s=self._t0,
                has_device_time=link.family.has_device_time,
            )
        try:
            for link in self._links:
                await self._connect(link, initial=True)
        except BaseException:
            await self.close()
            raise
        self._tasks.append(loop.create_task(self._consume(), name="ble consumer"))
        for link in self._links:
            link.task = loop.create_task(self._supervise(link), name=f"ble {link.label}")
            self._tasks.append(link.task)
        try:
            while True:
                item = await self._out.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            await self.close()

    def _now_s(self) -> float:
        return asyncio.get_running_loop().time() - self._t0

    def _state(self, link: _Link, state: LinkState, message: str = "") -> None:
        link.state = state
        if message:
            _LOGGER.info("%s (%s): %s", link.label, link.address, message)
        assert self._out is not None
        self._out.put_nowait(
            LinkStateChanged(sensor_id=link.label, state=state, t_s=self._now_s(), message=message)
        )

    async def _connect(self, link: _Link, *, initial: bool) -> None:
        """Scan for the sensor, connect, subscribe, start streaming (raises on failure)."""
        loop = asyncio.get_running_loop()
        assert self._lock is not None
        assert self._raw is not None
        timeout = self._scan_timeout_s if initial else self._rescan_timeout_s
        async with self._lock:
            if initial:
                self._state(link, LinkState.SCANNING)
            try:
                device = await BleakScanner.find_device_by_address(
                    link.address, timeout=timeout, **_scanner_kwargs(self._backend)
                )
            except (BleakError, OSError) as exc:
                err = _unavailable(exc)
                if err is not None:
                    raise err from None
                raise
            if device is None:
                raise SensorNotFoundError(
                    f"The {link.info.placement.segment.value} sensor {link.address} "
                    f"({link.label}) was not found within {timeout:g} s; switch it on, bring it "
                    "within a few metres and check the address with `companion scan`.",
                    address=link.address,
                )
            self._state(link, LinkState.CONNECTING)
            link.disconnected = asyncio.Event()
            event = link.disconnected
            client = BleakClient(
                device,
                disconnected_callback=lambda _c: event.set(),
                timeout=self._connect_timeout_s,
                **_client_kwargs(self._backend),
            )
            try:
                await client.connect()
            except (BleakError, OSError) as exc:
                err = _unavailable(exc)
                if err is not None:
                    raise err from None
                raise
        link.client = client
        try:
            self._state(link, LinkState.CONFIGURING)
            services = client.services
            uuids = {s.uuid.lower() for s in services}
            if link.family.service_uuid.lower() not in uuids:
                actual = next(
                    (f.name for f in fp.FAMILIES.values() if f.service_uuid.lower() in uuids),
                    None,
                )
                what = f"a {actual} sensor" if actual else "no sensor this program supports"
                raise WrongFamilyError(
                    f"The device at {link.address} is {what}, not a {link.family.name} sensor "
                    "(its GATT lacks that service); check the address with `companion scan` "
                    "or pass the right --family.",
                    address=link.address,
                    family=actual,
                )
            link.conn_id += 1
            cid = link.conn_id
            link.decoders[cid] = link.family.new_decoder(link.rate_hz)
            if not initial:  # the sensor kept the rate set on the first connection
                link.configured_at_host_s[cid] = -math.inf
            raw = self._raw
            index = link.index

            def on_notify(char: BleakGATTCharacteristic, data: bytearray) -> None:
                raw.put_nowait((index, cid, loop.time(), char.uuid, bytes(data)))

            subscribed = 0
            for u in link.family.notify_char_uuids:
                if services.get_characteristic(u) is not None:
                    await client.start_notify(u, on_notify)
                    subscribed += 1
            if subscribed == 0:
                raise WrongFamilyError(
                    f"The device at {link.address} has none of the {link.family.name} data "
                    "characteristics; check the address with `companion scan` or update the "
                    "sensor's firmware.",
                    address=link.address,
                    family=link.family.name,
                )
            for char, payload in link.family.start_commands(link.rate_hz):
                await asyncio.wait_for(
                    client.write_gatt_char(char, payload, response=True), WRITE_TIMEOUT_S
                )
            if initial:
                link.configured_at_host_s[cid] = loop.time()
        except BaseException:
            await self._drop_client(link, stop=False)
            raise
        link.connected_at_host_s = loop.time()
        link.last_data_host_s = loop.time()
        self._state(link, LinkState.STREAMING)

    async def _drop_client(self, link: _Link, *, stop: bool) -> None:
        client, link.client = link.client, None
        if client is None:
            return
        with contextlib.suppress(BleakError, OSError, TimeoutError, EOFError):
            if stop and client.is_connected:
                for char, payload in link.family.stop_commands():
                    await asyncio.wait_for(
                        client.write_gatt_char(char, payload, response=True), 2.0
                    )
            if client.is_connected:
                await asyncio.wait_for(client.disconnect(), 5.0)

    async def _supervise(self, link: _Link) -> None:
        try:
            await self._supervise_inner(link)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: surface it through the iterator, not a lost task
            _LOGGER.exception("%s (%s): supervisor failed", link.label, link.address)
            assert self._out is not None
            self._out.put_nowait(exc)

    async def _supervise_inner(self, link: _Link) -> None:
        loop = asyncio.get_running_loop()
        next_battery = loop.time()
        while not self._closing:
            # -- streaming: wait for a drop or silence --------------------------------------
            reason = ""
            while True:
                now = loop.time()
                if now >= next_battery:
                    next_battery = now + self._battery_interval_s
                    await self._poll_battery(link)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(link.disconnected.wait(), timeout=0.5)
                if link.disconnected.is_set():
                    reason = "dropped out"
                    link.silent_attempts = 0
                    break
                if loop.time() - link.last_data_host_s > self._silence_timeout_s:
                    reason = f"sent no data for {self._silence_timeout_s:g} s"
                    if link.stats.last_arrival_host_s is None or (
                        link.stats.last_arrival_host_s < link.connected_at_host_s
                    ):
                        link.silent_attempts += 1
                    break
            await self._drop_client(link, stop=False)
            assert self._raw is not None
            self._raw.put_nowait(_LinkDown(link.index, link.conn_id))
            if link.silent_attempts >= SILENT_ATTEMPTS_BEFORE_FAILED:
                self._fail(
                    link,
                    f"{link.label} ({link.address}) connects but never sends data; switch it "
                    "off and on again, then restart the session.",
                )
                return
            self._state(
                link,
                LinkState.RECONNECTING,
                f"{link.label} ({link.address}) {reason}; reconnecting while the other "
                "sensors stream on.",
            )
            # -- reconnect ------------------------------------------------------------------
            lost_at = loop.time()
            attempt = 0
            while not self._closing:
                if loop.time() - lost_at > self._lost_timeout_s:
                    self._fail(
                        link,
                        f"{link.label} ({link.address}) has been out of reach for "
                        f"{self._lost_timeout_s:g} s; check its battery and distance, then "
                        "start a new session.",
                    )
                    return
                try:
                    await self._connect(link, initial=False)
                    link.reconnects += 1
                    break
                except (BluetoothUnavailableError, WrongFamilyError) as exc:
                    self._fail(link, str(exc))
                    assert self._out is not None
                    if isinstance(exc, BluetoothUnavailableError):
                        self._out.put_nowait(exc)
                    return
                except (SensorNotFoundError, BleakError, OSError, TimeoutError, EOFError) as exc:
                    _LOGGER.debug(
                        "%s (%s): reconnect attempt failed: %r", link.label, link.address, exc
                    )
                pause = self._backoff_s[min(attempt, len(self._backoff_s) - 1)]
                attempt += 1
                await asyncio.sleep(pause)

    def _fail(self, link: _Link, message: str) -> None:
        link.failed = True
        self._state(link, LinkState.FAILED, message)
        if all(x.failed for x in self._links):
            assert self._out is not None
            self._out.put_nowait(
                SensorLostError(
                    "Every sensor dropped out and none came back; check batteries and distance, "
                    "then start a new session."
                )
            )

    async def _poll_battery(self, link: _Link) -> None:
        client = link.client
        if client is None or not client.is_connected:
            return
        req = _battery_request(link.family, client)
        if req is None:
            return
        kind, uuid, payload = req
        try:
            if kind == "read":
                data = await asyncio.wait_for(client.read_gatt_char(uuid), 5.0)
                if data:
                    link.battery_pct = float(data[0])
            else:  # the reply arrives as a notification and is decoded by the consumer
                await asyncio.wait_for(client.write_gatt_char(uuid, payload, response=True), 5.0)
        except (BleakError, OSError, TimeoutError) as exc:
            _LOGGER.debug("%s (%s): battery read failed: %r", link.label, link.address, exc)

    # -- consumer ------------------------------------------------------------------------
    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        next_stats = loop.time() + self._stats_interval_s
        try:
            while True:
                await asyncio.sleep(BATCH_INTERVAL_S)
                self._process_raw(force=False)
                now = loop.time()
                if now >= next_stats:
                    next_stats = now + self._stats_interval_s
                    self._emit_stats(now)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: surface it through the iterator
            _LOGGER.exception("BLE consumer failed")
            assert self._out is not None
            self._out.put_nowait(exc)

    def _process_raw(self, *, force: bool) -> None:
        assert self._raw is not None
        assert self._out is not None
        loop = asyncio.get_running_loop()
        now = loop.time()
        stamped: dict[int, list[Stamped]] = {}
        while True:
            try:
                item = self._raw.get_nowait()
            except asyncio.QueueEmpty:
                break
            if isinstance(item, _LinkDown):
                link = self._links[item.index]
                assert link.clock is not None
                # a decoder may hold the start of a packet (Movesense DATA): release it
                link.configured_at_host_s.pop(item.conn_id, None)
                flush = getattr(link.decoders.pop(item.conn_id, None), "flush", None)
                if flush is not None:
                    for ev in flush():
                        if isinstance(ev, fp.Samples):
                            self._push_samples(link, link.last_data_host_s, ev, stamped)
                stamped.setdefault(item.index, []).extend(link.clock.new_connection())
                link.last_note = None
                continue
            index, cid, t_host, char, data = item
            link = self._links[index]
            decoder = link.decoders.get(cid)
            if decoder is None:
                continue  # a late notification of a connection already closed
            link.last_data_host_s = t_host
            # A repeated notification: with device time it carries the same time stamp (some
            # decoders would move it forward as a "clock reset"); without, it would pass as a
            # new sample. Drop a byte-identical repeat (without device time: only one that
            # arrives within half a period, as a sensor at rest can repeat its values).
            prev = link.last_note
            link.last_note = (data, t_host)
            if (
                prev is not None
                and prev[0] == data
                and (link.family.has_device_time or t_host - prev[1] < 0.5 / link.rate_hz)
            ):
                link.duplicates_dropped += 1
                continue
            # Without device time a sample's time comes from counting samples at the
            # configured rate, so samples streamed before the rate took effect (at the
            # sensor's default rate) would stretch the time axis: they are not used.
            early = not link.family.has_device_time and t_host < link.configured_at_host_s.get(
                cid, math.inf
            )
            for ev in decoder.feed(data, char):
                if isinstance(ev, fp.Samples):
                    if early:
                        link.early_samples_dropped += len(ev)
                        continue
                    self._push_samples(link, t_host, ev, stamped)
                elif isinstance(ev, fp.BytesDropped):
                    link.bytes_dropped += ev.n_bytes
                    _LOGGER.debug(
                        "%s (%s): %d bytes dropped: %s",
                        link.label,
                        link.address,
                        ev.n_bytes,
                        ev.reason,
                    )
                else:
                    pct = _battery_from_reply(ev)
                    if pct is not None:
                        link.battery_pct = pct
        for link in self._links:
            assert link.clock is not None
            # Held packets are normally released by later arrivals (their look-ahead); by the
            # clock only when the stream has stalled, so a late process (a busy machine, a
            # slow D-Bus) does not release them before the samples that follow have arrived.
            released = link.clock.flush(math.inf if force else now - STALL_RELEASE_S, force=force)
            if released:
                stamped.setdefault(link.index, []).extend(released)
        for index, items in stamped.items():
            self._emit_stamped(self._links[index], items)

    def _push_samples(
        self, link: _Link, t_host: float, s: fp.Samples, stamped: dict[int, list[Stamped]]
    ) -> None:
        assert link.clock is not None
        t_dev = s.t_dev_s if link.family.has_device_time else None
        if link.family.has_device_time and t_dev is None:
            _LOGGER.debug("%s: samples without device time ignored", link.label)
            return
        out = link.clock.push(t_host, len(s), s, t_dev)
        if out:
            stamped.setdefault(link.index, []).extend(out)

    def _emit_stamped(self, link: _Link, items: list[Stamped]) -> None:
        assert self._out is not None
        run: list[tuple[Stamped, np.ndarray | None]] = []

        def flush_run() -> None:
            if run:
                self._out.put_nowait(self._chunk(link, run))  # type: ignore[union-attr]
                run.clear()

        for st in items:
            if st.gap_before is not None:
                flush_run()
                self._out.put_nowait(st.gap_before)
                link.stats.on_missing(st.gap_before.n_missing)
            keep = st.keep
            if keep is not None and not keep.any():
                continue
            run.append((st, keep))
            n = len(st.t_s) if keep is None else int(keep.sum())
            t_last = float(st.t_s[-1] if keep is None else st.t_s[keep][-1])
            latency = st.t_host_s - self._t0 - t_last
            link.stats.on_samples(st.t_host_s, n, latency)
        flush_run()

    def _chunk(self, link: _Link, run: list[tuple[Stamped, np.ndarray | None]]) -> ImuChunk:
        def pick(a: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
            return a if keep is None else a[keep]

        samples = [(st.payload, keep) for st, keep in run]
        t = np.concatenate([pick(st.t_s, keep) for st, keep in run])
        acc = np.concatenate([pick(s.acc_m_s2, k) for s, k in samples])  # type: ignore[attr-defined]
        gyr = np.concatenate([pick(s.gyr_dps, k) for s, k in samples])  # type: ignore[attr-defined]
        quat = None
        if link.family.has_quaternion and all(s.quat_wxyz is not None for s, _ in samples):  # type: ignore[attr-defined]
            quat = np.concatenate([pick(s.quat_wxyz, k) for s, k in samples])  # type: ignore[attr-defined]
        counter = None
        if link.family.has_counter and all(s.counter is not None for s, _ in samples):  # type: ignore[attr-defined]
            counter = np.concatenate([pick(s.counter, k) for s, k in samples])  # type: ignore[attr-defined]
        return ImuChunk(
            sensor_id=link.label,
            placement=link.info.placement,
            t_s=t,
            acc_m_s2=acc,
            gyr_dps=gyr,
            quat_wxyz=quat,
            counter=counter,
        )

    def _emit_stats(self, now_host_s: float) -> None:
        assert self._out is not None
        for link in self._links:
            st = link.stats
            self._out.put_nowait(
                SensorStats(
                    sensor_id=link.label,
                    t_s=now_host_s - self._t0,
                    effective_rate_hz=st.effective_rate_hz(now_host_s),
                    loss_pct=st.loss_pct,
                    last_packet_age_s=st.age_s(now_host_s),
                    latency_s=st.last_latency_s,
                    battery_pct=link.battery_pct,
                )
            )
