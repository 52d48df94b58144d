"""``companion simulate``: write a simulated session (two IMUs plus the truth) to a file.

``companion simulate --scenario NAME|FILE.toml --seed N [--duration S] [--rate HZ]
[--side left|right] [--faults none|realistic] [--quaternions] --out FILE`` and ``companion simulate
--list``. The same arguments always write the same samples (see docs/simulator.md).
"""

from __future__ import annotations

import argparse
import collections
import math
from pathlib import Path

from companion.errors import UsageError

FAULT_PRESETS = ("none", "realistic")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="write a simulated session (shin + foot IMUs with known truth)",
        description=(
            "Simulate a scripted session — calf raises, tibialis raises, stretches, the "
            "lunge test, walking, ... — and write the two IMU streams together with the "
            "ground truth (ankle angles, rep phases, holds) to a session file. "
            "Use --list to see the built-in scenarios."
        ),
    )
    p.add_argument(
        "--scenario",
        metavar="NAME|FILE.toml",
        help="a built-in scenario name (see --list) or a scenario TOML file",
    )
    p.add_argument("--list", action="store_true", help="list the built-in scenarios and exit")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="repeat the scenario until S seconds are recorded (and cut there)",
    )
    p.add_argument(
        "--rate", type=float, default=100.0, metavar="HZ", help="sampling rate (default 100 Hz)"
    )
    p.add_argument("--side", choices=("left", "right"), default="left", help="which leg")
    p.add_argument(
        "--faults",
        choices=FAULT_PRESETS,
        default="none",
        help="sensor errors: none (ideal) or realistic (noise, bias, misalignment, "
        "jitter, clock skew, drops; drawn from the seed)",
    )
    p.add_argument(
        "--quaternions",
        action="store_true",
        help="also write each device's orientation quaternion (as AHRS sensors stream it)",
    )
    p.add_argument("--out", type=Path, metavar="FILE", help="session file to write (.calf)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from companion.sim import SensorFaults, list_scenarios, simulate

    if args.list:
        scenarios = list_scenarios()
        width = max(len(n) for n in scenarios)
        for name, description in scenarios.items():
            print(f"{name:<{width}}  {description}")
        return 0
    if not args.scenario:
        raise UsageError(
            "no scenario given; add --scenario NAME (see companion simulate --list) "
            "or --scenario FILE.toml."
        )
    if args.out is None:
        raise UsageError("no output file given; add --out FILE.calf.")
    out: Path = args.out
    if out.exists():
        raise UsageError(f"{out} already exists; choose another --out, nothing was overwritten.")
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent} is not a folder; create it first or choose another --out.")
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise UsageError(f"--duration {args.duration} is not a positive number of seconds.")
    faults = (
        SensorFaults.realistic(args.seed) if args.faults == "realistic" else SensorFaults.none()
    )
    session = simulate(
        args.scenario,
        seed=args.seed,
        duration_s=args.duration,
        sampling_rate_hz=args.rate,
        side=args.side,
        sensor_faults=faults,
        quaternions=args.quaternions,
    )
    from companion.storage import write_session

    write_session(out, session, overwrite=False)
    kinds = collections.Counter(a["kind"] for a in session.annotations)
    truth = ", ".join(f"{n} {k.removeprefix('truth.')}" for k, n in sorted(kinds.items()))
    n = min(len(c) for c in session.chunks.values())
    print(
        f"wrote {out}: scenario {session.extra['scenario']}, seed {args.seed}, "
        f"{session.duration_s:.1f} s, {len(session.chunks)} sensors × ~{n} samples at "
        f"{args.rate:g} Hz, faults {args.faults}; truth: {truth}"
    )
    return 0
