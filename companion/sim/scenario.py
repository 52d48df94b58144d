"""Scenarios: scripted movement as data (small TOML files) and its compilation to motion.

A scenario is a list of *blocks* performed one after another, preceded by a still
calibration stance (``calibration_s``, default 3 s) and ``ankle_pumps`` (default 3). The
file format is documented, key by key, in docs/simulator.md; built-in scenarios live in
``companion/sim/scenarios/*.toml`` and are examples of it.

Compilation turns the blocks into keyframes of the four DOFs of
:mod:`companion.sim.kinematics` (minimum-jerk moves between them, so every transition is
C2) and into the truth annotations (rep phases, holds, ...). Angle-dependent truth values
(``rom_deg``, ``peak_angle_deg``, ``hold_angle_deg``) are filled in later from the truth
curves by :func:`companion.sim.simulator.simulate`.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import MISSING, asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from companion.errors import UsageError
from companion.sim.curves import HermiteTrack, min_jerk, smooth_bump
from companion.sim.kinematics import Body, Motion

__all__ = [
    "BLOCK_KINDS",
    "LungeBlock",
    "PumpsBlock",
    "RepsBlock",
    "Scenario",
    "SquatBlock",
    "StillBlock",
    "StretchBlock",
    "WalkBlock",
    "compile_scenario",
    "list_scenarios",
]

# Thresholds that turn a performed rep into fault labels (relative to the prescription).
RUSHED_LOWERING_FRACTION = 0.75  # lowering faster than 75 % of the prescribed time
NO_HOLD_FRACTION = 0.5  # top hold shorter than half the prescribed hold
PARTIAL_ROM_FRACTION = 0.8  # range of motion below 80 % of the prescribed range
SINGLE_LEG_WOBBLE_DEG = 1.5  # σ of the knee's sideways drift at the top of a one-leg rep

_TEMPO_KEYS = ("rise_s", "hold_s", "lower_s", "rest_s", "rom_deg")


def _err(where: str, problem: str, advice: str) -> UsageError:
    return UsageError(f"{where}: {problem}; {advice}.")


def _build(cls: type, d: dict[str, Any], where: str) -> Any:
    """Instantiate a block dataclass from a TOML table, with one-line errors."""
    names = [f.name for f in fields(cls) if f.name != "kind"]
    unknown = sorted(set(d) - set(names) - {"kind"})
    if unknown:
        raise _err(where, f"unknown key {unknown[0]!r}", f"valid keys: {', '.join(names)}")
    kwargs = {k: v for k, v in d.items() if k != "kind"}
    type_names = {float: "a number", int: "a whole number", bool: "true or false", str: "text"}
    for f in fields(cls):
        if f.name not in kwargs or f.default is MISSING:
            continue
        want = type(f.default)
        value = kwargs[f.name]
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            kwargs[f.name] = float(value)
        elif want in type_names and (
            not isinstance(value, want) or (want is not bool and isinstance(value, bool))
        ):
            raise _err(
                where,
                f"{f.name} must be {type_names[want]}, got {value!r}",
                "fix the value in the scenario file",
            )
    for f in fields(cls):
        if f.name in kwargs and f.default is MISSING and not isinstance(kwargs[f.name], list):
            raise _err(where, f"{f.name} must be a list", "write it as [...] or [[...]] tables")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise _err(where, str(exc), "fix the value in the scenario file") from None


def _positive(where: str, **values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(value) and value > 0.0):
            raise _err(where, f"{name} must be > 0, got {value!r}", "use a positive number")


def _non_negative(where: str, **values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(value) and value >= 0.0):
            raise _err(where, f"{name} must be >= 0, got {value!r}", "use a number >= 0")


MAX_PHASE_S = 3600.0
"""Longest single phase a scenario may ask for (a hold, a rest, a calibration stance)."""
MAX_COUNT = 1000
"""Most sets, reps, holds, pumps or strides in one block."""
MAX_REPS_PER_BLOCK = 5000
"""Most reps in one block (sets × reps)."""
_DEG_LIMITS: dict[str, tuple[float, float]] = {
    # Anatomical ranges, generous: ankle dorsiflexion reaches ~50°, plantarflexion ~65°.
    "rom_deg": (0.0, 90.0),
    "toes_raised_deg": (0.0, 45.0),
    "angle_deg": (-20.0, 60.0),
    "dorsiflexion_deg": (0.0, 50.0),
    "plantarflexion_deg": (0.0, 65.0),
    "bottom_deg": (-45.0, 45.0),
    "shin_lean_deg": (-45.0, 45.0),
    "sway_deg": (0.0, 10.0),
    "deepen_per_breath_deg": (-5.0, 5.0),
    "bounce_amplitude_deg": (0.0, 20.0),
    "knee_tracking_deg": (-30.0, 30.0),
    "knee_in_deg": (-30.0, 30.0),
    "arch_collapse_deg": (0.0, 20.0),
    "depth_deg": (0.0, 60.0),
}
_DEFAULT_DEG_LIMITS = (-60.0, 60.0)
_OTHER_LIMITS: dict[str, tuple[float, float]] = {
    "bounce_hz": (0.0, 5.0),
    "stride_length_m": (0.0, 3.0),
    "heel_strike_m_s2": (0.0, 200.0),
}


def _check_limits(block: Any, where: str) -> None:
    """Upper limits (and anatomical angle ranges) that keep a scenario realistic and finite:
    phases up to :data:`MAX_PHASE_S`, counts up to :data:`MAX_COUNT`."""
    for f in fields(block):
        value = getattr(block, f.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if isinstance(value, int):
            if value > MAX_COUNT:
                raise _err(where, f"{f.name} = {value} is too many", f"use at most {MAX_COUNT}")
            continue
        if math.isnan(value) and math.isnan(f.default if isinstance(f.default, float) else 0.0):
            continue  # NaN: "the default" for this key
        if f.name == "rom_deg" and value == -1.0:
            continue  # the exercise's default ROM
        name = f.name
        if name.endswith("_s"):
            lo, hi = 0.0, MAX_PHASE_S
        elif name in _OTHER_LIMITS:
            lo, hi = _OTHER_LIMITS[name]
        elif name.endswith("_deg"):
            lo, hi = _DEG_LIMITS.get(name, _DEFAULT_DEG_LIMITS)
        else:
            continue
        if not (math.isfinite(value) and lo <= value <= hi):
            raise _err(where, f"{name} = {value:g} is out of range", f"use {lo:g} to {hi:g}")
    sets, reps = getattr(block, "sets", 1), getattr(block, "reps", 1)
    if isinstance(sets, int) and isinstance(reps, int) and sets * reps > MAX_REPS_PER_BLOCK:
        raise _err(
            where,
            f"{sets} sets × {reps} reps is too many",
            f"use at most {MAX_REPS_PER_BLOCK} reps in a block",
        )
    for i, dev in enumerate(getattr(block, "deviations", ()) or ()):
        for key, value in dev.items():
            hi = MAX_PHASE_S if key.endswith("_s") else _DEG_LIMITS.get(key, (0, math.inf))[1]
            if key in _TEMPO_KEYS and value > hi:
                raise _err(
                    f"{where}, deviation {i}",
                    f"{key} = {value:g} is out of range",
                    f"use 0 to {hi:g}",
                )


# ----------------------------------------------------------------------------- blocks


@dataclass(frozen=True, slots=True, kw_only=True)
class StillBlock:
    """Standing still on both feet; ``sway_deg`` adds slow natural sway of the shin."""

    kind: ClassVar[str] = "still"
    duration_s: float = 3.0
    sway_deg: float = 0.0
    calibration: bool = False

    def validate(self, where: str) -> None:
        _positive(where, duration_s=self.duration_s)
        _non_negative(where, sway_deg=self.sway_deg)


@dataclass(frozen=True, slots=True, kw_only=True)
class PumpsBlock:
    """Ankle pumps standing: toes up (about the heel), back, heels up (about the MTP)."""

    kind: ClassVar[str] = "pumps"
    n: int = 3
    dorsiflexion_deg: float = 15.0
    plantarflexion_deg: float = 20.0
    move_s: float = 0.7

    def validate(self, where: str) -> None:
        if self.n < 1:
            raise _err(where, f"n must be >= 1, got {self.n}", "use ankle_pumps = 0 to skip")
        _positive(
            where,
            dorsiflexion_deg=self.dorsiflexion_deg,
            plantarflexion_deg=self.plantarflexion_deg,
            move_s=self.move_s,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RepsBlock:
    """Sets of calf raises (``calf_raise``) or tibialis/toe raises (``tibialis_raise``).

    The tempo fields are the *prescription*; ``deviations`` change what is performed for
    chosen sets/reps (0-based) and produce the fault labels.
    """

    kind: ClassVar[str] = "reps"
    exercise: str = "calf_raise"
    sets: int = 3
    reps: int = 20
    rise_s: float = 1.0
    hold_s: float = 1.0
    lower_s: float = 3.0
    rest_s: float = 0.5
    set_rest_s: float = 60.0
    rom_deg: float = -1.0  # < 0: the exercise's default (35° calf, 25° tibialis)
    surface: str = "floor"
    stance: str = "double"
    bottom_deg: float = math.nan  # NaN: 0 on the floor, +15 on a step, the lean for tibialis
    shin_lean_deg: float = math.nan  # NaN: 0 for calf raises, −10 (back to a wall) tibialis
    shin_follow: float = 0.12
    inversion_coupling: float = 0.15
    plan_kind: str = ""  # "" = the exercise; "heel_rise_test" for the clinical test
    deviations: list[dict[str, Any]] = field(default_factory=list)

    EXERCISES: ClassVar[tuple[str, ...]] = ("calf_raise", "tibialis_raise")
    PLAN_KINDS: ClassVar[tuple[str, ...]] = ("", "calf_raise", "tibialis_raise", "heel_rise_test")

    def validate(self, where: str) -> None:
        if self.exercise not in self.EXERCISES:
            raise _err(
                where,
                f"unknown exercise {self.exercise!r}",
                f"valid exercises: {', '.join(self.EXERCISES)}",
            )
        if self.surface not in ("floor", "step"):
            raise _err(where, f"unknown surface {self.surface!r}", "valid surfaces: floor, step")
        if self.plan_kind not in self.PLAN_KINDS:
            raise _err(
                where,
                f"unknown plan_kind {self.plan_kind!r}",
                "valid values: calf_raise, tibialis_raise, heel_rise_test",
            )
        if self.plan_kind == "heel_rise_test" and self.exercise != "calf_raise":
            raise _err(
                where, "a heel-rise test is made of calf raises", "set exercise = calf_raise"
            )
        if self.stance not in ("double", "single"):
            raise _err(where, f"unknown stance {self.stance!r}", "valid stances: double, single")
        if self.exercise == "tibialis_raise" and self.surface == "step":
            raise _err(where, "tibialis raises on a step are not modelled", "use surface = floor")
        if self.sets < 1 or self.reps < 1:
            raise _err(where, "sets and reps must be >= 1", "fix the counts")
        if self.rom_deg != -1.0 and not (math.isfinite(self.rom_deg) and self.rom_deg > 0):
            raise _err(where, f"rom_deg must be > 0, got {self.rom_deg!r}", "fix the value")
        _positive(where, rise_s=self.rise_s, lower_s=self.lower_s)
        _non_negative(where, hold_s=self.hold_s, rest_s=self.rest_s, set_rest_s=self.set_rest_s)
        for i, dev in enumerate(self.deviations):
            w = f"{where}, deviation {i}"
            if not isinstance(dev, dict):
                raise _err(w, "a deviation must be a table", "write it as [[blocks.deviations]]")
            valid = ("sets", "reps", *_TEMPO_KEYS)
            unknown = sorted(set(dev) - set(valid))
            if unknown:
                raise _err(w, f"unknown key {unknown[0]!r}", f"valid keys: {', '.join(valid)}")
            if "reps" in dev and (
                not isinstance(dev["reps"], list)
                or len(dev["reps"]) != 2
                or not all(isinstance(x, int) for x in dev["reps"])
            ):
                raise _err(w, "reps must be [first, last] (0-based, inclusive)", "e.g. [10, 19]")
            if "sets" in dev and (
                not isinstance(dev["sets"], list)
                or not all(isinstance(x, int) for x in dev["sets"])
            ):
                raise _err(w, "sets must be a list of 0-based set indices", "e.g. [1, 2]")
            for key in _TEMPO_KEYS:
                if key in dev:
                    value = dev[key]
                    if (
                        not isinstance(value, int | float)
                        or isinstance(value, bool)
                        or not math.isfinite(value)
                        or value < 0
                    ):
                        raise _err(w, f"{key} must be a number >= 0", "fix the value")
            for key in ("rise_s", "lower_s", "rom_deg"):
                if key in dev and dev[key] <= 0:
                    raise _err(w, f"{key} must be > 0", "fix the value")

    @property
    def prescribed_rom_deg(self) -> float:
        if self.rom_deg > 0:
            return self.rom_deg
        return 35.0 if self.exercise == "calf_raise" else 25.0

    @property
    def lean_deg(self) -> float:
        if not math.isnan(self.shin_lean_deg):
            return self.shin_lean_deg
        return -10.0 if self.exercise == "tibialis_raise" else 0.0

    @property
    def bottom_angle_deg(self) -> float:
        if not math.isnan(self.bottom_deg):
            return self.bottom_deg
        if self.exercise == "tibialis_raise":
            return self.lean_deg
        return 15.0 if self.surface == "step" else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class StretchBlock:
    """A standing calf stretch: the shin tilts forward over a planted foot and holds.

    ``angle_deg`` is the ankle dorsiflexion aimed at (NaN: 22° straight, 32° bent knee).
    ``toes_raised_deg`` puts the toes up on a wall/block first. ``knee_tracking_deg``
    is the knee's sideways position (+ over the outside of the foot, as coached);
    ``knee_in`` makes it cave inside (``knee_in_deg``, with the arch collapsing).
    """

    kind: ClassVar[str] = "stretch"
    knee: str = "straight"
    hold_s: float = 30.0
    angle_deg: float = math.nan
    toes_raised_deg: float = 0.0
    enter_s: float = 3.0
    exit_s: float = 3.0
    breath_s: float = 5.0
    deepen_per_breath_deg: float = 0.5
    bouncing: bool = False
    bounce_amplitude_deg: float = 5.0
    bounce_hz: float = 1.2
    knee_tracking_deg: float = 3.0
    knee_in: bool = False
    knee_in_deg: float = -8.0
    arch_collapse_deg: float = 3.0
    holds: int = 1
    rest_s: float = 10.0

    def validate(self, where: str) -> None:
        if self.knee not in ("straight", "bent"):
            raise _err(where, f"unknown knee {self.knee!r}", "valid values: straight, bent")
        _positive(
            where,
            hold_s=self.hold_s,
            enter_s=self.enter_s,
            exit_s=self.exit_s,
            breath_s=self.breath_s,
            bounce_hz=self.bounce_hz,
        )
        _non_negative(
            where,
            toes_raised_deg=self.toes_raised_deg,
            bounce_amplitude_deg=self.bounce_amplitude_deg,
            rest_s=self.rest_s,
        )
        if self.holds < 1:
            raise _err(where, "holds must be >= 1", "fix the count")

    @property
    def target_deg(self) -> float:
        if not math.isnan(self.angle_deg):
            return self.angle_deg
        return 22.0 if self.knee == "straight" else 32.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LungeBlock:
    """Weight-bearing lunge (knee-to-wall) test: heel down, shin tilts to each angle."""

    kind: ClassVar[str] = "lunge"
    shin_angles_deg: list[float] = field(default_factory=lambda: [36.0, 40.0, 43.0])
    move_s: float = 2.0
    hold_s: float = 3.0
    rest_s: float = 3.0

    def validate(self, where: str) -> None:
        _positive(where, move_s=self.move_s, hold_s=self.hold_s)
        _non_negative(where, rest_s=self.rest_s)
        if not self.shin_angles_deg or not all(
            isinstance(a, int | float) and 0 < a < 80 for a in self.shin_angles_deg
        ):
            raise _err(where, "shin_angles_deg must be angles in (0, 80)", "e.g. [36, 40, 43]")


@dataclass(frozen=True, slots=True, kw_only=True)
class SquatBlock:
    """Body-weight squats (a negative control): heels down, shin tilts forward and back."""

    kind: ClassVar[str] = "squat"
    reps: int = 10
    depth_deg: float = 25.0
    down_s: float = 1.5
    up_s: float = 1.5
    rest_s: float = 1.0

    def validate(self, where: str) -> None:
        if self.reps < 1:
            raise _err(where, "reps must be >= 1", "fix the count")
        _positive(where, depth_deg=self.depth_deg, down_s=self.down_s, up_s=self.up_s)
        _non_negative(where, rest_s=self.rest_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class WalkBlock:
    """Walking in a straight line (a negative control): gait cycles of the measured leg."""

    kind: ClassVar[str] = "walk"
    strides: int = 20
    stride_s: float = 1.1
    stride_length_m: float = 1.3
    heel_strike_m_s2: float = 25.0

    def validate(self, where: str) -> None:
        if self.strides < 1:
            raise _err(where, "strides must be >= 1", "fix the count")
        _positive(where, stride_s=self.stride_s, stride_length_m=self.stride_length_m)
        _non_negative(where, heel_strike_m_s2=self.heel_strike_m_s2)


BLOCK_KINDS: dict[str, type] = {
    cls.kind: cls
    for cls in (StillBlock, PumpsBlock, RepsBlock, StretchBlock, LungeBlock, SquatBlock, WalkBlock)
}
Block = StillBlock | PumpsBlock | RepsBlock | StretchBlock | LungeBlock | SquatBlock | WalkBlock

# Friendly aliases accepted in files for ``kind``.
_KIND_ALIASES = {
    "calf_raise": ("reps", {"exercise": "calf_raise"}),
    "calf_raises": ("reps", {"exercise": "calf_raise"}),
    "tibialis_raise": ("reps", {"exercise": "tibialis_raise"}),
    "tibialis_raises": ("reps", {"exercise": "tibialis_raise"}),
    "lunge_test": ("lunge", {}),
    "walking": ("walk", {}),
    "squats": ("squat", {}),
}


# ----------------------------------------------------------------------------- scenario

_SCENARIO_KEYS = (
    "name",
    "description",
    "calibration_s",
    "ankle_pumps",
    "variability",
    "tail_s",
    "body",
    "blocks",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A scripted session: calibration stance, ankle pumps, then ``blocks`` in order."""

    name: str
    description: str = ""
    blocks: tuple[Block, ...] = ()
    calibration_s: float = 3.0
    ankle_pumps: int = 3
    variability: float = 0.04
    """Relative random spread (σ) of each rep's tempo; ROM varies by half of it."""
    tail_s: float = 2.0
    body: Body = field(default_factory=Body)

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "scenario") -> Scenario:
        unknown = sorted(set(d) - set(_SCENARIO_KEYS))
        if unknown:
            raise _err(
                source, f"unknown key {unknown[0]!r}", f"valid keys: {', '.join(_SCENARIO_KEYS)}"
            )
        body_d = d.get("body", {})
        if not isinstance(body_d, dict):
            raise _err(source, "body must be a table", "write it as [body]")
        body_names = [f.name for f in fields(Body)]
        bad = sorted(set(body_d) - set(body_names))
        if bad:
            raise _err(
                f"{source}, [body]",
                f"unknown key {bad[0]!r}",
                f"valid keys: {', '.join(body_names)}",
            )
        try:
            body = Body(**{k: float(v) for k, v in body_d.items()})
        except (TypeError, ValueError) as exc:
            raise _err(f"{source}, [body]", str(exc), "fix the value") from None
        raw_blocks = d.get("blocks", [])
        if not isinstance(raw_blocks, list) or not raw_blocks:
            raise _err(
                source, "no [[blocks]] found", "add at least one [[blocks]] table with a kind"
            )
        blocks: list[Block] = []
        for i, raw in enumerate(raw_blocks):
            where = f"{source}, block {i}"
            if not isinstance(raw, dict) or "kind" not in raw:
                raise _err(where, "missing 'kind'", f"valid kinds: {', '.join(_all_kinds())}")
            kind = str(raw["kind"])
            table = dict(raw)
            if kind in _KIND_ALIASES:
                kind, implied = _KIND_ALIASES[kind]
                for k, v in implied.items():
                    table.setdefault(k, v)
            if kind not in BLOCK_KINDS:
                raise _err(
                    where,
                    f"unknown kind {raw['kind']!r}",
                    f"valid kinds: {', '.join(_all_kinds())}",
                )
            block = _build(BLOCK_KINDS[kind], table, f"{where} ({kind})")
            block.validate(f"{where} ({kind})")
            _check_limits(block, f"{where} ({kind})")
            blocks.append(block)
        name = str(d.get("name", source))
        try:
            calibration_s = float(d.get("calibration_s", 3.0))
            ankle_pumps = int(d.get("ankle_pumps", 3))
            variability = float(d.get("variability", 0.04))
            tail_s = float(d.get("tail_s", 2.0))
        except (TypeError, ValueError) as exc:
            raise _err(
                source, str(exc), "use numbers for calibration_s, ankle_pumps, variability, tail_s"
            ) from None
        if not (
            0 < calibration_s <= MAX_PHASE_S
            and 0 <= ankle_pumps <= MAX_COUNT
            and 0 <= variability <= 0.3
            and 0 <= tail_s <= MAX_PHASE_S
        ):
            raise _err(
                source,
                f"calibration_s must be in (0, {MAX_PHASE_S:g}], ankle_pumps in [0, {MAX_COUNT}], "
                f"variability in [0, 0.3], tail_s in [0, {MAX_PHASE_S:g}]",
                "fix the header values",
            )
        return cls(
            name=name,
            description=str(d.get("description", "")),
            blocks=tuple(blocks),
            calibration_s=calibration_s,
            ankle_pumps=ankle_pumps,
            variability=variability,
            tail_s=tail_s,
            body=body,
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> Scenario:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(
                f"{p}: scenario file not found; check the path or use --list."
            ) from None
        except OSError as exc:
            raise UsageError(f"{p}: cannot read the scenario file ({exc.strerror}).") from None
        try:
            d = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{p}: not valid TOML ({exc}); fix the file.") from None
        d.setdefault("name", p.stem)
        return cls.from_dict(d, source=str(p))

    @classmethod
    def builtin(cls, name: str) -> Scenario:
        files = _builtin_files()
        if name not in files:
            raise UsageError(
                f"unknown scenario {name!r}; built-in scenarios: {', '.join(sorted(files))} "
                "(or give a path to a .toml file)."
            )
        d = tomllib.loads(files[name].read_text(encoding="utf-8"))
        d.setdefault("name", name)
        return cls.from_dict(d, source=f"built-in scenario {name}")

    @classmethod
    def resolve(cls, scenario: str | Path | Scenario) -> Scenario:
        """A :class:`Scenario` from itself, a built-in name or a TOML path."""
        if isinstance(scenario, Scenario):
            return scenario
        text = str(scenario)
        if isinstance(scenario, Path) or text.endswith(".toml") or "/" in text or "\\" in text:
            return cls.from_toml(Path(text))
        return cls.builtin(text)

    def plan(self, side: str) -> dict[str, Any] | None:
        """The exercise plan this scenario prescribes, in the plan format of docs/plans.md.

        Repetition, stretch and lunge blocks become ``[[exercise]]`` entries (the
        prescription, not what the simulated person then does); warm-ups, walking, squats
        and standing are not prescribed. None when nothing is.
        """
        exercises: list[dict[str, Any]] = []
        for b in self.blocks:
            if isinstance(b, RepsBlock) and b.plan_kind == "heel_rise_test":
                exercises.append(
                    {
                        "kind": "heel_rise_test",
                        "side": side,
                        "knee": "straight",
                        "metronome_bpm": round(60.0 / b.rise_s, 3),
                    }
                )
            elif isinstance(b, RepsBlock):
                tempo: dict[str, Any] = {
                    "rise_max_s": max(1.5, b.rise_s + 0.5),
                    "lower_s": b.lower_s,
                    "tolerance_s": 0.5,
                }
                if b.hold_s > 0:
                    tempo["hold_s"] = b.hold_s
                entry: dict[str, Any] = {
                    "kind": b.exercise,
                    "sets": b.sets,
                    "reps": b.reps,
                    "side": side,
                    "rest_between_sets_s": b.set_rest_s,
                    "tempo": tempo,
                }
                if b.exercise == "calf_raise":
                    entry["knee"] = "straight"
                exercises.append(entry)
            elif isinstance(b, StretchBlock):
                entry = {
                    "kind": "stretch",
                    "knee": b.knee,
                    "side": side,
                    "holds": b.holds,
                    "hold_s": b.hold_s,
                }
                if b.holds > 1:
                    entry["rest_between_holds_s"] = b.rest_s
                exercises.append(entry)
            elif isinstance(b, LungeBlock):
                exercises.append({"kind": "lunge_test", "knee": "bent", "side": side})
        if not exercises:
            return None
        return {
            "name": self.description or self.name,
            "source": f"simulator scenario {self.name}",
            "version": 1,
            "exercise": exercises,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON/TOML-ready form (inverse of :meth:`from_dict`)."""
        blocks = []
        for b in self.blocks:
            entry: dict[str, Any] = {"kind": b.kind}
            for k, v in asdict(b).items():
                if isinstance(v, float) and math.isnan(v):
                    continue
                entry[k] = v
            blocks.append(entry)
        return {
            "name": self.name,
            "description": self.description,
            "calibration_s": self.calibration_s,
            "ankle_pumps": self.ankle_pumps,
            "variability": self.variability,
            "tail_s": self.tail_s,
            "body": asdict(self.body),
            "blocks": blocks,
        }


def _all_kinds() -> list[str]:
    return sorted(set(BLOCK_KINDS) | set(_KIND_ALIASES))


def _builtin_files() -> dict[str, Any]:
    root = resources.files("companion.sim") / "scenarios"
    return {
        entry.name.removesuffix(".toml"): entry
        for entry in root.iterdir()
        if entry.name.endswith(".toml")
    }


def list_scenarios() -> dict[str, str]:
    """Built-in scenario names mapped to their one-line descriptions, sorted by name."""
    out: dict[str, str] = {}
    for name, entry in sorted(_builtin_files().items()):
        d = tomllib.loads(entry.read_text(encoding="utf-8"))
        out[name] = (
            str(d.get("description", "")).strip().splitlines()[0] if d.get("description") else ""
        )
    return out


# ----------------------------------------------------------------------------- compiler

# DOF vector order (see kinematics.DOF_NAMES): foot pitch, foot inversion, shin pitch,
# shin lateral tilt; all degrees, world angles.
_FP, _FI, _SP, _SL = range(4)


_MIN_KEYFRAME_STEP_S = 1e-6
"""Keyframes closer than this are merged (far below any sampling period)."""


class _Timeline:
    """Accumulates keyframes, annotations and walking overlays."""

    def __init__(self) -> None:
        self.t = 0.0
        self.pose = np.zeros(4)
        self.kf_t: list[float] = [0.0]
        self.kf_v: list[np.ndarray] = [self.pose.copy()]
        self.annotations: list[dict[str, Any]] = []
        self.step_intervals: list[tuple[float, float]] = []
        self.overlays: list[Any] = []
        self.offsets: list[Any] = []
        self.rocker_gains: list[Any] = []
        self.set_counter = 0
        self.repeat_index = 0

    def move(self, duration_s: float, target: np.ndarray) -> None:
        if duration_s <= 0.0:
            return
        target = np.asarray(target, dtype=np.float64)
        if self.t + duration_s - self.kf_t[-1] < _MIN_KEYFRAME_STEP_S:
            # Rounding residue (a hold's remainder late in a long session can be 1e-13 s,
            # which the clock cannot even represent): no keyframe, or a step of 1 µs.
            if np.array_equal(target, self.pose):
                self.t += duration_s
                return
            duration_s = self.kf_t[-1] + _MIN_KEYFRAME_STEP_S - self.t
        self.t += duration_s
        self.pose = target.copy()
        self.kf_t.append(self.t)
        self.kf_v.append(self.pose.copy())

    def hold(self, duration_s: float) -> None:
        self.move(duration_s, self.pose)

    def annotate(self, d: dict[str, Any]) -> None:
        d["repeat_index"] = self.repeat_index
        self.annotations.append(d)


def _vary(rng: np.random.Generator, value: float, sd: float) -> float:
    if value <= 0.0 or sd <= 0.0:
        return value
    return value * (1.0 + float(np.clip(rng.normal(0.0, sd), -2.0 * sd, 2.0 * sd)))


def _still(tl: _Timeline, b: StillBlock, rng: np.random.Generator) -> None:
    t0 = tl.t
    if b.sway_deg <= 0.0:
        tl.hold(b.duration_s)
    else:
        base = tl.pose.copy()
        while tl.t < t0 + b.duration_s - 1e-9:
            step = min(float(rng.uniform(1.5, 3.0)), t0 + b.duration_s - tl.t)
            target = base.copy()
            last = t0 + b.duration_s - tl.t - step < 1e-9
            if not last:
                target[_SP] += float(rng.normal(0.0, b.sway_deg))
                target[_SL] += float(rng.normal(0.0, 0.5 * b.sway_deg))
            tl.move(step, target)
    tl.annotate(
        {
            "kind": "truth.still",
            "t_start_s": t0,
            "t_end_s": tl.t,
            "calibration": b.calibration,
            "sway_deg": b.sway_deg,
        }
    )


def _pumps(tl: _Timeline, b: PumpsBlock) -> None:
    t0 = tl.t
    flat = tl.pose.copy()
    for _ in range(b.n):
        up = flat.copy()
        up[_FP] = -b.dorsiflexion_deg  # toes up about the heel
        tl.move(b.move_s, up)
        tl.move(b.move_s, flat)
        heel = flat.copy()
        heel[_FP] = b.plantarflexion_deg  # heel up about the MTP
        tl.move(b.move_s, heel)
        tl.move(b.move_s, flat)
        tl.hold(0.3)
    tl.annotate(
        {
            "kind": "truth.pumps",
            "t_start_s": t0,
            "t_end_s": tl.t,
            "n_pumps": b.n,
            "dorsiflexion_deg": b.dorsiflexion_deg,
            "plantarflexion_deg": -b.plantarflexion_deg,
        }
    )


def _reps_pose(b: RepsBlock, ankle_deg: float, knee_wobble_deg: float = 0.0) -> np.ndarray:
    """DOFs for an ankle angle during a calf or tibialis raise."""
    p = np.zeros(4)
    p[_SL] = knee_wobble_deg
    if b.exercise == "calf_raise":
        # The foot pitches about the MTP; the shin follows a little forward (−c·angle) to
        # keep the centre of mass over the forefoot; the heel inverts as it rises.
        shin = -b.shin_follow * ankle_deg
        p[_SP] = shin
        p[_FP] = shin - ankle_deg
        p[_FI] = -b.inversion_coupling * ankle_deg
    else:
        # Back to a wall: the shin leans back by a constant; the toes lift about the ankle.
        p[_SP] = b.lean_deg
        p[_FP] = b.lean_deg - ankle_deg
    return p


def _rep_params(b: RepsBlock, set_i: int, rep_i: int) -> dict[str, float]:
    params = {
        "rise_s": b.rise_s,
        "hold_s": b.hold_s,
        "lower_s": b.lower_s,
        "rest_s": b.rest_s,
        "rom_deg": b.prescribed_rom_deg,
    }
    for dev in b.deviations:
        if "sets" in dev and set_i not in dev["sets"]:
            continue
        if "reps" in dev and not (dev["reps"][0] <= rep_i <= dev["reps"][1]):
            continue
        for key in _TEMPO_KEYS:
            if key in dev:
                params[key] = float(dev[key])
    return params


def _reps(tl: _Timeline, b: RepsBlock, rng: np.random.Generator, variability: float) -> None:
    bottom = b.bottom_angle_deg
    sign = -1.0 if b.exercise == "calf_raise" else 1.0  # direction of the "top"
    prescribed = {
        "rise_s": b.rise_s,
        "hold_s": b.hold_s,
        "lower_s": b.lower_s,
        "rest_s": b.rest_s,
        "rom_deg": b.prescribed_rom_deg,
    }
    block_t0 = tl.t
    for set_i in range(b.sets):
        set_index = tl.set_counter
        tl.set_counter += 1
        # Get into the start position (lean back to the wall / drop the heel off the step).
        tl.move(b.lower_s if b.surface == "step" else 2.0, _reps_pose(b, bottom))
        tl.hold(0.5)
        first_start = tl.t
        for rep_i in range(b.reps):
            p = _rep_params(b, set_i, rep_i)
            rise = _vary(rng, p["rise_s"], variability)
            hold = _vary(rng, p["hold_s"], variability)
            lower = _vary(rng, p["lower_s"], variability)
            last = rep_i == b.reps - 1
            rest = 0.0 if last else _vary(rng, p["rest_s"], variability)
            rom = _vary(rng, p["rom_deg"], 0.5 * variability)
            t_start = tl.t
            # Balancing on one leg the knee wanders sideways a little at the top.
            wobble = float(rng.normal(0.0, SINGLE_LEG_WOBBLE_DEG)) if b.stance == "single" else 0.0
            tl.move(rise, _reps_pose(b, bottom + sign * rom, wobble))
            t_rise_end = tl.t
            tl.hold(hold)
            t_hold_end = tl.t
            tl.move(lower, _reps_pose(b, bottom))
            t_lower_end = tl.t
            tl.hold(rest)
            faults = []
            if lower < RUSHED_LOWERING_FRACTION * b.lower_s:
                faults.append("rushed_lowering")
            if b.hold_s > 0 and hold < NO_HOLD_FRACTION * b.hold_s:
                faults.append("no_hold")
            if rom < PARTIAL_ROM_FRACTION * b.prescribed_rom_deg:
                faults.append("partial")
            tl.annotate(
                {
                    "kind": "truth.rep",
                    "exercise": b.exercise,
                    "set_index": set_index,
                    "rep_index": rep_i,
                    "t_start_s": t_start,
                    "t_rise_end_s": t_rise_end,
                    "t_hold_end_s": t_hold_end,
                    "t_lower_end_s": t_lower_end,
                    "t_end_s": tl.t,
                    "rise_s": t_rise_end - t_start,
                    "hold_s": t_hold_end - t_rise_end,
                    "lower_s": t_lower_end - t_hold_end,
                    "rest_s": tl.t - t_lower_end,
                    "rom_deg": math.nan,  # filled from the truth curve
                    "peak_angle_deg": math.nan,
                    "bottom_angle_deg": math.nan,
                    "surface": b.surface,
                    "stance": b.stance,
                    "faults": faults,
                }
            )
        last_end = tl.t
        tl.annotate(
            {
                "kind": "truth.set",
                "exercise": b.exercise,
                "set_index": set_index,
                "t_start_s": first_start,
                "t_end_s": last_end,
                "n_reps": b.reps,
                "surface": b.surface,
                "stance": b.stance,
                "test": b.plan_kind == "heel_rise_test",
                "prescribed": dict(prescribed),
            }
        )
        tl.hold(0.5)
        tl.move(2.0 if b.exercise == "tibialis_raise" else 1.5, np.zeros(4))
        if set_i < b.sets - 1:
            tl.hold(b.set_rest_s)
    if b.surface == "step":
        tl.step_intervals.append((block_t0, tl.t))


def _stretch(tl: _Timeline, b: StretchBlock, rng: np.random.Generator) -> None:
    del rng  # the stretch is scripted exactly
    for hold_i in range(b.holds):
        toes = tl.pose.copy()
        toes[:] = 0.0
        toes[_FP] = -b.toes_raised_deg
        if b.toes_raised_deg > 0:
            tl.move(1.5, toes)
        knee_lat = b.knee_in_deg if b.knee_in else b.knee_tracking_deg
        inversion = -b.arch_collapse_deg if b.knee_in else 0.0
        target = toes.copy()
        # ankle = shin pitch − foot pitch, so the shin tilts to target − toes.
        target[_SP] = b.target_deg - b.toes_raised_deg
        target[_SL] = knee_lat
        target[_FI] = inversion
        tl.move(b.enter_s, target)
        t_hold = tl.t
        n_bounces = 0
        if b.bouncing:
            period = 1.0 / b.bounce_hz
            n_bounces = max(1, math.floor(b.hold_s * b.bounce_hz + 1e-9))
            pad = (b.hold_s - n_bounces * period) / 2.0
            tl.hold(pad)
            for _ in range(n_bounces):
                deeper = tl.pose.copy()
                deeper[_SP] += b.bounce_amplitude_deg
                base = tl.pose.copy()
                tl.move(period / 2.0, deeper)
                tl.move(period / 2.0, base)
            tl.hold(b.hold_s - (tl.t - t_hold))
        else:
            n_breaths = int(b.hold_s // b.breath_s)
            for _ in range(n_breaths):
                deeper = tl.pose.copy()
                deeper[_SP] += b.deepen_per_breath_deg
                tl.move(b.breath_s, deeper)
            tl.hold(b.hold_s - (tl.t - t_hold))
        t_end = tl.t
        tl.annotate(
            {
                "kind": "truth.hold",
                "exercise": "stretch",
                "knee": b.knee,
                "t_start_s": t_hold,
                "t_end_s": t_end,
                "hold_angle_deg": math.nan,
                "hold_angle_min_deg": math.nan,
                "hold_angle_max_deg": math.nan,
                "shin_inclination_deg": math.nan,
                "knee_tracking_deg": math.nan,
                "bouncing": b.bouncing,
                "knee_in": b.knee_in,
                "n_bounces": n_bounces,
                "toes_raised_deg": b.toes_raised_deg,
                "hold_index": hold_i,
            }
        )
        tl.move(b.exit_s, toes)
        if b.toes_raised_deg > 0:
            tl.move(1.5, np.zeros(4))
        if hold_i < b.holds - 1:
            tl.hold(b.rest_s)


def _lunge(tl: _Timeline, b: LungeBlock) -> None:
    for i, angle in enumerate(b.shin_angles_deg):
        target = np.zeros(4)
        target[_SP] = float(angle)
        tl.move(b.move_s, target)
        t0 = tl.t
        tl.hold(b.hold_s)
        tl.annotate(
            {
                "kind": "truth.hold",
                "exercise": "lunge_test",
                "knee": "bent",
                "t_start_s": t0,
                "t_end_s": tl.t,
                "hold_angle_deg": math.nan,
                "hold_angle_min_deg": math.nan,
                "hold_angle_max_deg": math.nan,
                "shin_inclination_deg": math.nan,
                "knee_tracking_deg": math.nan,
                "bouncing": False,
                "knee_in": False,
                "n_bounces": 0,
                "hold_index": i,
            }
        )
        tl.move(b.move_s, np.zeros(4))
        tl.hold(b.rest_s)


def _squat(tl: _Timeline, b: SquatBlock, rng: np.random.Generator, variability: float) -> None:
    for i in range(b.reps):
        t0 = tl.t
        target = np.zeros(4)
        target[_SP] = _vary(rng, b.depth_deg, 0.5 * variability)
        tl.move(_vary(rng, b.down_s, variability), target)
        t_bottom = tl.t
        tl.move(_vary(rng, b.up_s, variability), np.zeros(4))
        t_end = tl.t
        tl.annotate(
            {
                "kind": "truth.squat",
                "rep_index": i,
                "t_start_s": t0,
                "t_bottom_s": t_bottom,
                "t_end_s": t_end,
                "peak_angle_deg": math.nan,
            }
        )
        tl.hold(b.rest_s)


# Gait pattern of the measured leg over one stride (phase 0 = heel strike with the toes
# 18° up, foot flat 0.12–0.40, toe-off 0.62).
# Foot pitch: Hermite keyframes (phase, deg, deg per unit phase); shin pitch: periodic spline.
_GAIT_FOOT = np.array(
    [
        [0.00, -18.0, 0.0],
        [0.12, 0.0, 0.0],
        [0.40, 0.0, 0.0],
        [0.62, 50.0, 250.0],
        [0.70, 58.0, 0.0],
        [0.85, 5.0, -250.0],
        [1.00, -18.0, 0.0],
    ]
)
_GAIT_SHIN = np.array(
    [
        [0.00, -20.0],
        [0.08, -6.0],
        [0.25, 2.0],
        [0.40, 10.0],
        [0.55, 30.0],
        [0.62, 40.0],
        [0.72, 45.0],
        [0.85, 10.0],
        [0.95, -18.0],
        [1.00, -20.0],
    ]
)
_WALK_START_PHASE = 0.10  # start and stop with the foot flat
_WALK_RAMP_PHASE = 0.25
_SWING_START_PHASE = 0.62


def _walk(tl: _Timeline, b: WalkBlock) -> None:
    from scipy.interpolate import CubicSpline

    foot = HermiteTrack(_GAIT_FOOT[:, 0], _GAIT_FOOT[:, 1], _GAIT_FOOT[:, 2])
    shin = CubicSpline(_GAIT_SHIN[:, 0], _GAIT_SHIN[:, 1], bc_type="periodic")
    t0 = tl.t
    period = b.stride_s
    n = b.strides
    phi0 = _WALK_START_PHASE
    phi_end = n + phi0 + _WALK_RAMP_PHASE - 0.05
    duration = (phi_end - phi0) * period
    t1 = t0 + duration

    def phase(t: np.ndarray) -> np.ndarray:
        return phi0 + (t - t0) / period

    def envelope(phi: np.ndarray) -> np.ndarray:
        up = min_jerk((phi - phi0) / _WALK_RAMP_PHASE)
        down = 1.0 - min_jerk((phi - (phi_end - _WALK_RAMP_PHASE)) / _WALK_RAMP_PHASE)
        return up * down

    def overlay(t: np.ndarray) -> np.ndarray:
        out = np.zeros((t.shape[0], 4))
        inside = (t > t0) & (t < t1)
        if np.any(inside):
            phi = phase(t[inside])
            frac = np.mod(phi, 1.0)
            e = envelope(phi)
            out[inside, _FP] = e * foot(frac)[:, 0]
            out[inside, _SP] = e * shin(frac)
        return out

    length = b.stride_length_m
    lift_m = 0.05
    sigma_s = 0.010
    impact_m = b.heel_strike_m_s2 * sigma_s**2
    strikes = [t0 + (k - phi0) * period for k in range(1, n + 1)]

    def offset(t: np.ndarray) -> np.ndarray:
        out = np.zeros((t.shape[0], 3))
        out[t >= t1, 0] = length * n  # after the walk: standing n strides further on
        inside = (t > t0) & (t < t1)
        if not np.any(inside):
            return out
        ti = t[inside]
        phi = phase(ti)
        k = np.floor(phi)
        frac = phi - k
        swing = (frac - _SWING_START_PHASE) / (1.0 - _SWING_START_PHASE)
        in_swing = (frac >= _SWING_START_PHASE) & (k < n)
        progress = np.minimum(k, n) + np.where(in_swing, min_jerk(swing), 0.0)
        z = np.where(in_swing, lift_m * smooth_bump(swing), 0.0)
        # The heel stops abruptly: a brief dip of the ankle, felt as an upward jolt. Each
        # strike only touches samples within 8 σ of it.
        order = None if np.all(np.diff(ti) >= 0.0) else np.argsort(ti)
        ts_sorted = ti if order is None else ti[order]
        for ts in strikes:
            lo, hi = np.searchsorted(ts_sorted, [ts - 8 * sigma_s, ts + 8 * sigma_s])
            if hi > lo:
                idx = np.arange(lo, hi) if order is None else order[lo:hi]
                z[idx] -= impact_m * np.exp(-0.5 * ((ti[idx] - ts) / sigma_s) ** 2)
        out[inside, 0] = length * progress
        out[inside, 2] = z
        return out

    def rocker_gain(t: np.ndarray) -> np.ndarray:
        # In the air the foot rolls about nothing: fade the floor rocker out over the swing.
        phi = np.clip(phase(t), phi0, phi_end)
        frac = np.mod(phi, 1.0)
        swing = (frac - _SWING_START_PHASE) / (1.0 - _SWING_START_PHASE)
        in_swing = (frac >= _SWING_START_PHASE) & (np.floor(phi) < n)
        return 1.0 - np.where(in_swing, smooth_bump(swing), 0.0)

    tl.overlays.append(overlay)
    tl.offsets.append(offset)
    tl.rocker_gains.append(rocker_gain)
    tl.hold(duration)
    tl.annotate(
        {
            "kind": "truth.walk",
            "t_start_s": t0,
            "t_end_s": t1,
            "n_strides": n,
            "stride_s": period,
            "stride_length_m": length,
            "heel_strikes_s": strikes,
        }
    )


def compile_scenario(
    scenario: Scenario, *, side_sign: float, rng: np.random.Generator, repeats: int = 1
) -> tuple[Motion, list[dict[str, Any]]]:
    """Keyframes, overlays and truth annotations of ``repeats`` runs of ``scenario``."""
    tl = _Timeline()
    for r in range(repeats):
        tl.repeat_index = r
        _still(tl, StillBlock(duration_s=scenario.calibration_s, calibration=True), rng)
        if scenario.ankle_pumps > 0:
            _pumps(tl, PumpsBlock(n=scenario.ankle_pumps))
            tl.hold(1.0)
        for block in scenario.blocks:
            if isinstance(block, StillBlock):
                _still(tl, block, rng)
            elif isinstance(block, PumpsBlock):
                _pumps(tl, block)
            elif isinstance(block, RepsBlock):
                _reps(tl, block, rng, scenario.variability)
            elif isinstance(block, StretchBlock):
                _stretch(tl, block, rng)
            elif isinstance(block, LungeBlock):
                _lunge(tl, block)
            elif isinstance(block, SquatBlock):
                _squat(tl, block, rng, scenario.variability)
            elif isinstance(block, WalkBlock):
                _walk(tl, block)
            tl.hold(1.0)
        tl.hold(scenario.tail_s)
    track = HermiteTrack(np.array(tl.kf_t), np.array(tl.kf_v))
    motion = Motion(
        track=track,
        body=scenario.body,
        side_sign=side_sign,
        duration_s=tl.t,
        overlays=tl.overlays,
        offsets=tl.offsets,
        step_intervals=tl.step_intervals,
        rocker_gains=tl.rocker_gains,
    )
    return motion, tl.annotations
