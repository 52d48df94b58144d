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
MAX_SESSION_S = 86400.0  # companion.sim.simulator.MAX_SESSION_S, without importing numpy here


def seed_value(text: str) -> int:
    """``--seed N``: a whole number from 0 to 2**63-1 (numpy's seed range)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number such as 0 or 42, got {text!r}"
        ) from None
    if not 0 <= v <= 2**63 - 1:
        raise argparse.ArgumentTypeError(f"seed {v} is out of range; give 0 to 2**63-1")
    return v


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
    p.add_argument("--seed", type=seed_value, default=0, help="random seed (default 0)")
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
    from companion.storage import check_writable_session_path

    check_writable_session_path(out)  # before the simulation: a folder, an existing file...
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise UsageError(f"--duration {args.duration} is not a positive number of seconds.")
    if args.duration is not None and args.duration > MAX_SESSION_S:
        raise UsageError(
            f"--duration {args.duration:g} s is too long; give at most {MAX_SESSION_S:g} s (24 h)."
        )
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
    truth = ", ".join(_count(n, k.removeprefix("truth.")) for k, n in sorted(kinds.items()))
    n = min(len(c) for c in session.chunks.values())
    print(
        f"wrote {out}: scenario {session.extra['scenario']}, seed {args.seed}, "
        f"{session.duration_s:.1f} s, {len(session.chunks)} sensors × ~{n} samples at "
        f"{args.rate:g} Hz, faults {args.faults}; truth: {truth}"
    )
    return 0


_NOUNS = {
    "pumps": ("ankle-pump block", "ankle-pump blocks"),
    "still": ("still stance", "still stances"),
    "walk": ("walk", "walks"),
}


def _count(n: int, kind: str) -> str:
    """``1 rep``, ``60 reps``, ``1 ankle-pump block`` for a truth annotation kind."""
    one, many = _NOUNS.get(kind, (kind, kind if kind.endswith("s") else f"{kind}s"))
    return f"{n} {one if n == 1 else many}"
