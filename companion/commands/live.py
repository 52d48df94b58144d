"""``companion live``: the window on real sensors, simulated ones, or the emulated radio.

``--simulate [SCENARIO]`` (no hardware: the simulator plays a workout in real time) is the
default a newcomer should try; ``--emulate FAMILY`` runs the real BLE code against emulated
sensors; plain ``companion live`` connects to the sensors assigned in the device panel.
"""

from __future__ import annotations

import argparse

from companion.errors import UsageError
from companion.ui.launch import add_window_arguments, launch

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
    p.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
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


def run(args: argparse.Namespace) -> int:
    from companion.ui.app import check_display
    from companion.ui.launch import bundled_recording

    check_display(suggestion=f"companion score {bundled_recording()}")
    if args.simulate is not None:
        source, session = _simulated_source(args)
        return launch(
            source,
            args,
            mode="simulate",
            title=f"calf companion — simulated sensors ({args.simulate})",
            session_plan=session.plan,
        )
    if args.emulate is not None:
        msg = (
            "emulated sensors are not available in this build yet; "
            "use `companion live --simulate` to try the window"
        )
        raise UsageError(msg)
    msg = (
        "connecting to real sensors is not available in this build yet; "
        "use `companion live --simulate` to try the window"
    )
    raise UsageError(msg)
