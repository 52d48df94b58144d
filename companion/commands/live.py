"""``companion live``: the window on real sensors, simulated ones, or the emulated radio.

``--simulate [SCENARIO]`` (no hardware: the simulator plays a workout in real time) is the
default a newcomer should try; ``--emulate FAMILY`` runs the real BLE code against emulated
sensors; plain ``companion live`` connects to the sensors assigned in the device panel.
"""

from __future__ import annotations

import argparse

from companion.commands.simulate import seed_value
from companion.errors import UsageError
from companion.ui.launch import add_window_arguments, check_screenshot_target, launch

DEFAULT_SCENARIO = "routine"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "live",
        help="the live window: real sensors, --simulate (no hardware) or --emulate FAMILY",
        description=(
            "Open the companion window on live data: rep counter, tempo per rep against the "
            "plan, pacing cue, stretch timer with bounce and knee warnings, device panel."
        ),
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--simulate",
        nargs="?",
        const=DEFAULT_SCENARIO,
        default=None,
        metavar="SCENARIO",
        help=f"simulated sensors playing a scenario in real time (default {DEFAULT_SCENARIO}; "
        "see `companion simulate --list`)",
    )
    g.add_argument(
        "--emulate",
        default=None,
        metavar="FAMILY",
        help="emulated sensors of a supported family through the BLE code (no radio needed)",
    )
    p.add_argument(
        "--faults",
        metavar="SPEC",
        default=None,
        help="faults of the emulated link: drop=0.02,dup=0.01,burst=0.05,malformed=0.001,"
        "disconnect_every=60,down_s=2,mute=shin",
    )
    p.add_argument("--rate", type=float, default=None, metavar="HZ", help="sensor sampling rate")
    p.add_argument("--seed", type=seed_value, default=0, help="simulator seed (default 0)")
    p.add_argument(
        "--side", choices=("left", "right"), default="left", help="leg of the simulated sensors"
    )
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help=argparse.SUPPRESS,  # tests and screenshots: run the simulation faster than real time
    )
    add_window_arguments(p)
    p.set_defaults(func=run)


def _simulated_source(args: argparse.Namespace):
    from companion.sim import list_scenarios, simulate
    from companion.sim.faults import SensorFaults
    from companion.sources.replay import ReplaySource

    name = args.simulate
    if name not in list_scenarios():
        known = ", ".join(sorted(list_scenarios()))
        msg = f"no simulator scenario called {name!r}; choose one of: {known}"
        raise UsageError(msg)
    session = simulate(
        name, seed=args.seed, side=args.side, sensor_faults=SensorFaults.realistic(args.seed)
    )
    if not 0.25 <= args.speed <= 16.0:
        msg = f"--speed {args.speed:g} is out of range; choose 0.25 to 16"
        raise UsageError(msg)
    return ReplaySource.live(session, speed=args.speed), session


class SimulatedMotion:
    """What emulated sensors measure in ``--emulate``: a simulated workout (the scenario of
    ``--simulate``, default the whole routine), looped, at whatever rate the host configures,
    so the window coaches real-looking reps over the real BLE code."""

    def __init__(self, scenario: str, seed: int, side: str) -> None:
        self._scenario, self._seed, self._side = scenario, seed, side
        self._cache: dict[float, object] = {}

    def prepare(self, rate_hz: float) -> object:
        from companion.sim import simulate

        session = self._cache.get(rate_hz)
        if session is None:
            session = simulate(
                self._scenario,
                seed=self._seed,
                side=self._side,
                sampling_rate_hz=rate_hz,
                quaternions=True,
            )
            self._cache[rate_hz] = session
        return session

    def sample(self, placement, k0: int, n: int, rate_hz: float):
        import numpy as np

        session = self.prepare(rate_hz)
        chunk = session.chunks[f"{placement.segment.value}_{self._side}"]  # type: ignore[attr-defined]
        idx = np.arange(k0, k0 + n) % len(chunk)
        quat = (
            chunk.quat_wxyz[idx] if chunk.quat_wxyz is not None else np.tile([1.0, 0, 0, 0], (n, 1))
        )
        return chunk.acc_m_s2[idx], chunk.gyr_dps[idx], quat


def ble_source(args: argparse.Namespace, chosen: list | None = None):
    """``(source, scan_fn)`` for real sensors (remembered placements, or ``chosen`` from the
    device panel) or, with ``--emulate``, for emulated ones through the same BLE code."""
    from companion.commands.scan import emulated_backend
    from companion.config import KnownSensor, load_known_sensors, remember_sensors
    from companion.model import Placement
    from companion.sources.ble import BleSource, SensorAssignment, scan

    radio, backend = emulated_backend(args.emulate, args.faults, side=args.side)
    if radio is not None:
        import firmware_protocol as fp

        motion = SimulatedMotion(DEFAULT_SCENARIO, args.seed, args.side)
        for p in radio.peripherals:  # simulate now, not on the loop while streaming
            fam = fp.FAMILIES[p.spec.family]
            motion.prepare(fam.check_rate(args.rate or fam.default_rate_hz))
        radio.motion = motion
    if chosen:
        assignments = [
            SensorAssignment(
                address=f.address,
                placement=Placement(segment=seg, side=side),
                family=f.family,
                rate_hz=args.rate,
                name=f.name,
            )
            for f, seg, side in chosen
        ]
        if radio is None:
            remember_sensors(
                KnownSensor(address=a.address, placement=a.placement, family=a.family, name=a.name)
                for a in assignments
            )
    elif radio is not None:
        assignments = [
            SensorAssignment(
                address=p.spec.address,
                placement=p.spec.placement,
                family=p.spec.family,
                rate_hz=args.rate,
                name=p.spec.name,
            )
            for p in radio.peripherals
            if p.spec.placement.side.value == args.side
        ]
    else:
        known = [k for k in load_known_sensors().values() if k.placement.side.value == args.side]
        by_seg = {k.placement.segment.value: k for k in known}
        if set(by_seg) != {"shin", "foot"} or any(k.family is None for k in by_seg.values()):
            msg = (
                f"no shin and foot sensors are remembered for the {args.side} leg; find them "
                "with `companion scan` and record once with `companion record --shin ADDR "
                "--foot ADDR`, or try the window with `companion live --simulate`"
            )
            raise UsageError(msg)
        assignments = [
            SensorAssignment(
                address=k.address,
                placement=k.placement,
                family=k.family,
                rate_hz=args.rate,
                name=k.name,
            )
            for k in (by_seg["shin"], by_seg["foot"])
        ]

    async def scan_fn(timeout_s: float) -> list:
        return await scan(timeout_s, backend=backend)

    return BleSource(assignments, backend=backend, rate_hz=args.rate), scan_fn


def run(args: argparse.Namespace) -> int:
    from companion.ui.app import check_display
    from companion.ui.launch import bundled_recording

    check_display(suggestion=f"companion score {bundled_recording()}")
    if args.screenshot is not None:  # before simulating or connecting
        check_screenshot_target(args.screenshot)
    if args.simulate is not None:
        if args.faults:
            msg = "--faults only applies to emulated sensors; use --emulate FAMILY"
            raise UsageError(msg)
        source, session = _simulated_source(args)
        return launch(
            source,
            args,
            mode="simulate",
            title=f"calf companion — simulated sensors ({args.simulate})",
            session_plan=session.plan,
        )
    source, scan_fn = ble_source(args)
    mode = "emulate" if args.emulate else "live"
    what = f"emulated {args.emulate} sensors" if args.emulate else "sensors"
    return launch(
        source,
        args,
        mode=mode,
        title=f"calf companion — {what}",
        scan=scan_fn,
        connect=lambda chosen: ble_source(args, chosen)[0],
    )
