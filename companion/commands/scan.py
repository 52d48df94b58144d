"""``companion scan``: list nearby supported sensors (family, name, address, RSSI, battery)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys

from companion.config import load_known_sensors
from companion.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan",
        help="list nearby supported sensors",
        description=(
            "Scan for supported BLE sensors (WitMotion, Movesense, MetaMotion, Movella DOT, calf "
            "boards) and list family, name, address, signal strength and, with --battery, "
            "battery level. Everything else is ignored."
        ),
    )
    p.add_argument("--timeout", type=float, default=5.0, metavar="S", help="scan time (default 5)")
    p.add_argument(
        "--battery",
        action="store_true",
        help="connect to each sensor briefly to read its battery level",
    )
    p.add_argument(
        "--emulate",
        metavar="FAMILY[,FAMILY]",
        default=None,
        help="scan emulated sensors instead of the radio (e.g. witmotion,dot)",
    )
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=run)


def emulated_backend(
    spec: str | None,
    faults: str | None = None,
    *,
    side: str = "left",
    addresses: dict[str, str | None] | None = None,
    scenario: str | None = None,
):
    """``(radio, backend)`` for ``--emulate FAMILY[,FAMILY]`` or ``(None, None)``.

    ``addresses`` (segment → address) renames the emulated sensors of ``side``."""
    if not spec:
        if faults:
            msg = "--faults only applies to emulated sensors; add --emulate FAMILY"
            raise UsageError(msg)
        return None, None
    from companion.sources.emulated import EmulatedRadio, FaultSpec, default_emulated_sensors

    families = [f.strip().lower() for f in spec.split(",") if f.strip()]
    if not families:
        msg = "--emulate needs a family, e.g. --emulate witmotion"
        raise UsageError(msg)
    specs = default_emulated_sensors(families, side=side)
    for i, sp in enumerate(specs):
        addr = (addresses or {}).get(sp.placement.segment.value)
        if addr and sp.placement.side.value == side:
            specs[i] = dataclasses.replace(sp, address=addr)
    motion = None
    if scenario:
        from companion.sim import list_scenarios
        from companion.sources.emulated import SimulatedMotion

        if scenario not in list_scenarios():
            names = ", ".join(list_scenarios())
            msg = f"--scenario: unknown scenario {scenario!r}; choose from {names}"
            raise UsageError(msg)
        motion = SimulatedMotion(scenario)
    radio = EmulatedRadio(specs, faults=FaultSpec.parse(faults), motion=motion)
    return radio, radio.backend


def run(args: argparse.Namespace) -> int:
    from companion.sources.ble import scan

    if args.timeout <= 0:
        msg = f"--timeout must be positive, got {args.timeout:g}"
        raise UsageError(msg)
    _, backend = emulated_backend(args.emulate)
    found = asyncio.run(scan(args.timeout, backend=backend, read_battery=args.battery))
    known = load_known_sensors()
    rows = []
    for f in found:
        k = known.get(f.address.upper())
        rows.append(
            {
                "family": f.family,
                "name": f.name,
                "address": f.address,
                "rssi_dbm": f.rssi_dbm,
                "battery_pct": f.battery_pct,
                "placement": k.placement.label if k else None,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0 if rows else 1
    if not rows:
        print(
            f"companion scan: no supported sensor found in {args.timeout:g} s; switch the sensors "
            "on (a short press wakes most of them) and keep them within a few metres.",
            file=sys.stderr,
        )
        return 1
    # The battery is read only with --battery (it costs a connection per sensor): without
    # it the column is left out; a battery that could not be read shows "–".
    batt_head = f"  {'BATTERY':>7}" if args.battery else ""
    print(f"{'FAMILY':<11}{'NAME':<22}{'ADDRESS':<19}{'RSSI':>6}{batt_head}  PLACEMENT")
    for r in rows:
        batt = ""
        if args.battery:
            pct = "–" if r["battery_pct"] is None else f"{r['battery_pct']:.0f} %"
            batt = f"  {pct:>7}"
        print(
            f"{r['family']:<11}{r['name'][:21]:<22}{r['address']:<19}{r['rssi_dbm']:>4} dBm"
            f"{batt}  {r['placement'] or '-'}"
        )
    return 0
