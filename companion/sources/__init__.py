"""Sources of samples (BLE, emulated BLE, replay, simulator) behind one stream type.

Every source is a :class:`SampleSource`: ``sensors`` (known before iterating), ``async for
item in source`` yielding :data:`SourceItem` (``ImuChunk``, ``Gap``, ``LinkStateChanged``,
``SensorStats``), and ``await source.close()``. Run everything on one asyncio loop (the
window's qasync loop, or ``asyncio.run`` in the CLI); sources never import Qt.

Live sensors (``companion.sources.ble``)
=========================================

Scan (an async function; strongest first, unsupported devices ignored)::

    from companion.sources.ble import scan
    found = await scan(5.0)                       # list[FoundSensor]
    found = await scan(5.0, read_battery=True)    # connects briefly to each for the battery
    # FoundSensor(family="dot", name="Movella DOT", address="D4:22:CD:..", rssi_dbm=-61,
    #             battery_pct=87.0)

It raises :class:`~companion.sources.errors.BluetoothUnavailableError` (one sentence; ``.kind``
is ``no_dbus`` / ``no_bluez`` / ``no_adapter`` / ``powered_off`` / ``permission``) when the
machine's Bluetooth cannot be used.

Build a source for given assignments (address → segment/side)::

    from companion.model import Placement
    from companion.sources.ble import BleSource, SensorAssignment, resolve_assignments

    shin = Placement(segment="shin", side="left")
    foot = Placement(segment="foot", side="left")
    wanted = [
        SensorAssignment(address="D4:22:CD:00:00:01", placement=shin),
        SensorAssignment(address="D4:22:CD:00:00:02", placement=foot),
    ]
    assignments = await resolve_assignments(wanted)   # family + name from one scan
    source = BleSource(assignments, rate_hz=None)     # None: each family's default rate
    for info in source.sensors: ...                   # SensorInfo, sensor_id = "shin_left", ...
    async for item in source: ...                     # connects one at a time, then streams
    await source.close()

``resolve_assignments`` raises ``SensorNotFoundError`` / ``WrongFamilyError``; iterating raises
``SensorNotFoundError`` if a sensor is not there at the start, ``BluetoothUnavailableError``
and, when every sensor is gone for good, ``SensorLostError`` (all one sentence,
:class:`~companion.errors.CompanionError` subclasses). A sensor that drops out mid-session
shows as ``LinkStateChanged(state=RECONNECTING, message=...)`` and, when it is back,
``STREAMING`` plus a ``Gap(reason="disconnected")``; the other sensors stream on. If the
family is already known (remembered in the config, see :mod:`companion.config`), give it in
the assignment and skip ``resolve_assignments``.

Emulated sensors (no hardware; ``companion.sources.emulated``)
==============================================================

The same ``BleSource`` over bleak's ``backend=`` seam::

    from companion.sources.emulated import (
        EmulatedRadio, FaultSpec, SimulatedMotion, default_emulated_sensors)

    specs = default_emulated_sensors(["witmotion"], side="left")   # shin + foot, or two
    radio = EmulatedRadio(specs, faults=FaultSpec.parse("drop=0.02,disconnect_every=60"),
                          motion=SimulatedMotion("calf-raises"))   # default: SyntheticMotion
    found = await scan(2.0, backend=radio.backend)                  # scanning works too
    source = BleSource(
        [SensorAssignment(address=s.address, placement=s.placement, family=s.family)
         for s in specs],
        backend=radio.backend,
    )

``companion.sources.virtual_time.run_virtual(coro)`` runs such a session on virtual time
(minutes in seconds) for tests and tools.
"""

from companion.sources.base import (
    LinkState,
    LinkStateChanged,
    SampleSource,
    SensorStats,
    SourceItem,
)

__all__ = ["LinkState", "LinkStateChanged", "SampleSource", "SensorStats", "SourceItem"]
