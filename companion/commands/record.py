"""``companion record``: stream BLE sensors (or emulated ones) into a session file, headless.

Runs until ``--duration`` or Ctrl-C. The file is written by
:class:`~companion.storage.SessionWriter`, which flushes at least every 0.5 s, so an
interrupted or killed recording keeps everything up to the last flush. One status line per
sensor is printed every second; connection changes are printed as they happen and stored in
the file as ``link.state`` annotations.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import math
import signal
import sys
from pathlib import Path

import numpy as np

from companion.commands.scan import emulated_backend
from companion.config import KnownSensor, load_known_sensors, remember_sensors
from companion.errors import UsageError
from companion.model import Gap, ImuChunk, Placement, Side


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "record",
        help="record BLE sensors to a session file",
        description=(
            "Stream the shin and foot sensors (or four: --shin/--foot for one leg, "
            "--sensor for remembered ones) into a session file until --duration or Ctrl-C. "
            "Placements given here are remembered per address."
        ),
    )
    p.add_argument("--shin", metavar="ADDR", help="address of the shin sensor")
    p.add_argument("--foot", metavar="ADDR", help="address of the foot sensor")
    p.add_argument(
        "--sensor",
        metavar="ADDR",
        action="append",
        default=[],
        help="a sensor whose placement was remembered before (repeatable)",
    )
    p.add_argument("--side", choices=["left", "right"], default="left", help="leg (default left)")
    p.add_argument("--family", default=None, help="sensor family (default: from the advert)")
    p.add_argument("--rate", type=float, default=None, metavar="HZ", help="sampling rate")
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="session file to write")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S s")
    p.add_argument(
        "--scan-timeout", type=float, default=10.0, metavar="S", help="first scan (default 10 s)"
    )
    p.add_argument(
        "--emulate",
        metavar="FAMILY[,FAMILY]",
        default=None,
        help="record emulated sensors (one family per leg), e.g. --emulate dot",
    )
    p.add_argument(
        "--faults",
        metavar="SPEC",
        default=None,
        help="faults of the emulated link: drop=0.02,dup=0.01,burst=0.05,malformed=0.001,"
        "disconnect_every=60,down_s=2,mute=shin",
    )
    p.add_argument(
        "--scenario",
        default="calf-raises",
        help="simulator scenario the emulated sensors perform (default calf-raises; "
        "see `companion simulate --list`)",
    )
    p.add_argument("--quiet", action="store_true", help="no live status lines")
    p.set_defaults(func=run)


def _assignments(args: argparse.Namespace, radio: object | None) -> list:
    from companion.sources.ble import SensorAssignment

    side = Side(args.side)
    out: list[SensorAssignment] = []
    if radio is not None:
        for p in radio.peripherals:  # type: ignore[attr-defined]
            out.append(
                SensorAssignment(
                    address=p.spec.address,
                    placement=p.spec.placement,
                    family=p.spec.family,
                    rate_hz=args.rate,
                    name=p.spec.name,
                )
            )
        return out
    known = load_known_sensors()
    for seg in ("shin", "foot"):
        addr = getattr(args, seg)
        if addr:
            k = known.get(addr.upper())
            out.append(
                SensorAssignment(
                    address=addr,
                    placement=Placement(segment=seg, side=side),
                    family=args.family or (k.family if k else None),
                    rate_hz=args.rate,
                    name=k.name if k else "",
                )
            )
    for addr in args.sensor:
        k = known.get(addr.upper())
        if k is None:
            msg = (
                f"sensor {addr} has no remembered placement; give it with --shin/--foot and "
                "--side once"
            )
            raise UsageError(msg)
        out.append(
            SensorAssignment(
                address=addr,
                placement=k.placement,
                family=args.family or k.family,
                rate_hz=args.rate,
                name=k.name,
            )
        )
    if not out:
        msg = "no sensors given; use --shin ADDR --foot ADDR (find them with `companion scan`)"
        raise UsageError(msg)
    return out


def run(args: argparse.Namespace) -> int:
    from companion.storage import check_writable_session_path

    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        msg = f"--duration must be a positive number of seconds, got {args.duration:g}"
        raise UsageError(msg)
    check_writable_session_path(args.out)  # a folder, an existing file, a missing folder
    return asyncio.run(_record(args))


STOP_LATENCY_S = 0.5
"""With --duration, the source is closed this long after the last wanted sample was measured,
so samples still on the radio (connection interval, the clock's look-ahead) are in."""


def _clip_chunk(chunk: ImuChunk, t_end_s: float | None) -> ImuChunk | None:
    """The part of ``chunk`` measured before ``t_end_s`` (None if nothing is)."""
    if t_end_s is None or chunk.t_s[-1] < t_end_s:
        return chunk
    n = int(np.searchsorted(chunk.t_s, t_end_s, side="left"))
    return chunk.slice(0, n) if n > 0 else None


def _status_line(st, state: str) -> str:
    batt = "" if st.battery_pct is None else f"  battery {st.battery_pct:.0f} %"
    lat = "" if st.latency_s is None else f"  latency {1000 * st.latency_s:.0f} ms"
    return (
        f"{st.t_s:7.1f} s  {st.sensor_id:<11} {state:<12} {st.effective_rate_hz:6.1f} Hz"
        f"  loss {st.loss_pct:5.2f} %  last packet {st.last_packet_age_s:5.2f} s ago{lat}{batt}"
    )


async def _record(args: argparse.Namespace) -> int:
    from companion.sources.base import LinkStateChanged, SensorStats
    from companion.sources.ble import BleSource, resolve_assignments
    from companion.storage import SessionWriter

    radio, backend = emulated_backend(
        args.emulate,
        args.faults,
        side=args.side,
        addresses={"shin": args.shin, "foot": args.foot},
        scenario=args.scenario if args.emulate else None,
    )
    assignments = _assignments(args, radio)
    if any(a.family is None for a in assignments):
        assignments = await resolve_assignments(
            assignments, backend=backend, timeout_s=args.scan_timeout
        )
    source = BleSource(
        assignments, backend=backend, rate_hz=args.rate, scan_timeout_s=args.scan_timeout
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)

    async def stopper() -> None:
        await stop.wait()
        await source.close()

    stop_task = loop.create_task(stopper())
    writer: SessionWriter | None = None
    states = {s.sensor_id: "connecting" for s in source.sensors}
    counts = dict.fromkeys(states, 0)
    gaps = dict.fromkeys(states, 0)
    out = sys.stdout
    t_start = None
    t_end_s: float | None = None
    """Session time at which --duration ends: the first sample's time + the duration."""
    try:
        async for item in source:
            if writer is None:
                t_start = loop.time()
                if radio is None:  # the sensors are there: remember where they sit
                    remember_sensors(
                        KnownSensor(
                            address=a.address, placement=a.placement, family=a.family, name=a.name
                        )
                        for a in assignments
                    )
                writer = SessionWriter(
                    args.out,
                    sensors=source.sensors,
                    start_time_utc=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                    source="record:emulated" if radio is not None else "record",
                    extra={
                        "emulated": args.emulate or None,
                        "faults": args.faults or None,
                    },
                )
            if isinstance(item, ImuChunk):
                if t_end_s is None and args.duration is not None and len(item):
                    t_end_s = float(item.t_s[0]) + args.duration
                kept = _clip_chunk(item, t_end_s)
                if kept is not None:
                    writer.write_chunk(kept)
                    counts[item.sensor_id] += len(kept)
            elif isinstance(item, Gap):
                if t_end_s is None or item.t_start_s < t_end_s:
                    writer.add_gap(item)
                    gaps[item.sensor_id] += 1
            elif isinstance(item, LinkStateChanged):
                states[item.sensor_id] = item.state.value
                writer.add_annotation(
                    {
                        "kind": "link.state",
                        "sensor_id": item.sensor_id,
                        "state": item.state.value,
                        "t_s": item.t_s,
                        "message": item.message,
                    }
                )
                if item.message and not args.quiet:
                    print(f"{item.t_s:7.1f} s  {item.message}", file=out, flush=True)
            elif isinstance(item, SensorStats) and not args.quiet:
                print(_status_line(item, states[item.sensor_id]), file=out, flush=True)
            # --duration is session time from the first sample: close once every sample
            # measured before its end has had time to arrive (no samples at all: wall time).
            now_s = loop.time() - source.t0_host_s
            if (t_end_s is not None and now_s >= t_end_s + STOP_LATENCY_S) or (
                t_end_s is None
                and args.duration is not None
                and t_start is not None
                and loop.time() - t_start >= args.duration + STOP_LATENCY_S
            ):
                await source.close()
    finally:
        stop_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stop_task
        await source.close()
        if writer is not None:
            writer.close()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)
    if writer is None:
        return 1
    total = ", ".join(f"{k} {v} samples ({gaps[k]} gaps)" for k, v in counts.items())
    print(f"recorded {args.out}: {total}", file=out)
    return 0
