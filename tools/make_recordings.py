#!/usr/bin/env python
"""Make the bundled sessions in recordings/ from the motion simulator.

Usage: .venv/bin/python tools/make_recordings.py [--out recordings] [--force]

Each file is a simulated session with realistic sensor faults (noise, gyro bias and drift,
mounting misalignment, jitter, clock skew, a few dropped samples), the ground truth stored as
annotations and reference tracks, and the exercise plan the person was following. Seeds are
fixed, so the files are reproducible bit for bit. recordings/README.md describes each file.
"""

from __future__ import annotations

import argparse
import copy
import tomllib
from importlib import resources
from pathlib import Path

from companion.sim import SensorFaults, simulate
from companion.storage import write_session


def preset(name: str) -> dict:
    text = (resources.files("companion.scoring") / "presets" / f"{name}.toml").read_text("utf-8")
    return tomllib.loads(text)


def stretch_plan(knee: str, holds: int) -> dict:
    plan = copy.deepcopy(preset("stretch"))
    plan["exercise"] = [e for e in plan["exercise"] if e["knee"] == knee]
    plan["exercise"][0]["holds"] = holds
    plan["name"] = f"Calf stretch, {knee} knee: {holds} x 30 s"
    return plan


def tibialis_plan() -> dict:
    plan = preset("seed-tibialis")
    plan["exercise"][0]["reps"] = 15
    plan["name"] = "Tibialis raises 3 x 15 (3 s down, quick up, 1 s hold)"
    return plan


# file stem -> (scenario, seed, plan, note for the README)
RECORDINGS: dict[str, tuple[str, int, dict, str]] = {
    "calf-raises": (
        "calf-raises",
        101,
        preset("seed"),
        "3 × 20 calf raises at the prescribed tempo (quick rise, 1 s hold, 3 s lowering)",
    ),
    "calf-raises-rushed": (
        "calf-raises-rushed",
        102,
        preset("seed"),
        "the same plan done badly: lowering rushed, no hold, partial reps in the last set",
    ),
    "tibialis-raises": (
        "tibialis-raises",
        103,
        tibialis_plan(),
        "3 × 15 tibialis (toe) raises against a wall at the prescribed tempo",
    ),
    "stretch-straight": (
        "stretch-straight",
        104,
        stretch_plan("straight", 2),
        "straight-knee calf stretch, 2 × 30 s, steady, knee over the outside of the foot",
    ),
    "stretch-bent": (
        "stretch-bent",
        105,
        stretch_plan("bent", 2),
        "bent-knee (soleus) calf stretch, 2 × 30 s, steady",
    ),
    "stretch-bouncing": (
        "stretch-bouncing",
        106,
        stretch_plan("straight", 1),
        "straight-knee stretch done wrong: bouncing instead of holding",
    ),
    "stretch-knee-in": (
        "stretch-knee-in",
        107,
        stretch_plan("bent", 1),
        "bent-knee stretch with the knee caving inside the foot",
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "recordings")
    ap.add_argument("--force", action="store_true", help="replace existing files")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for stem, (scenario, seed, plan, note) in RECORDINGS.items():
        session = simulate(scenario, seed=seed, sensor_faults=SensorFaults.realistic(seed))
        session.plan = plan
        session.notes = note
        path = args.out / f"{stem}.calf"
        write_session(path, session, overwrite=args.force)
        print(f"{path}  {session.duration_s:6.1f} s  {path.stat().st_size / 1e6:5.2f} MB  {note}")


if __name__ == "__main__":
    main()
