"""Exercise plans (prescriptions): the TOML format, its validation, the built-in presets.

The format is documented in ``docs/plans.md``. A plan is a list of exercise blocks in the
order they are done::

    name = "Seed protocol"
    source = "..."

    [[exercise]]
    kind = "calf_raise"  # calf_raise|tibialis_raise|stretch|heel_rise_test|lunge_test
    sets = 3
    reps = 20
    knee = "straight"            # straight | bent | any
    rest_between_sets_s = 60

    [exercise.tempo]
    rise_max_s = 1.5             # "quick up": at most 1.5 s
    hold_s = 1.0                 # target ± tolerance_s
    lower_s = 3.0
    tolerance_s = 0.5

Every problem a user can make in a plan (an unknown key, a wrong type, an impossible target)
raises :class:`~companion.errors.UsageError` whose message names the file and the key. The
module is pure: :func:`load_plan` reads one file, everything else works on dicts.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from companion.errors import UsageError

__all__ = [
    "EXERCISE_KINDS",
    "KNEE_VALUES",
    "MAX_REP_S",
    "PLAN_FORMAT_VERSION",
    "ExerciseBlock",
    "PhaseTarget",
    "Plan",
    "Subject",
    "Tempo",
    "builtin_preset_names",
    "load_builtin_preset",
    "load_plan",
    "plan_from_dict",
    "resolve_plan",
]

PLAN_FORMAT_VERSION = 1
EXERCISE_KINDS = ("calf_raise", "tibialis_raise", "stretch", "heel_rise_test", "lunge_test")
KNEE_VALUES = ("straight", "bent", "any")
SIDE_VALUES = ("left", "right", "both", "any")
MAX_REP_S = 20.0
"""The analysis abandons a candidate rep longer than this (``AnalysisSettings.max_rep_s``), so
a tempo whose phases add up to more is impossible to score, s."""
DEFAULT_TOLERANCE_S = 0.5

_TOP_KEYS = {"name", "source", "notes", "version", "subject", "exercise"}
_SUBJECT_KEYS = {"foot_length_cm", "foot_lever_cm", "body_mass_kg"}
_BLOCK_KEYS = {
    "kind",
    "name",
    "sets",
    "reps",
    "knee",
    "side",
    "rest_between_sets_s",
    "tempo",
    "holds",
    "hold_s",
    "rest_between_holds_s",
    "metronome_bpm",
}
_TEMPO_KEYS = {
    f"{phase}{suffix}"
    for phase in ("rise", "hold", "lower")
    for suffix in ("_s", "_min_s", "_max_s")
} | {"tolerance_s"}
# Which keys make sense for which kind (others are rejected as impossible for that kind).
_KIND_KEYS = {
    "calf_raise": {"kind", "name", "sets", "reps", "knee", "side", "rest_between_sets_s", "tempo"},
    "tibialis_raise": {"kind", "name", "sets", "reps", "side", "rest_between_sets_s", "tempo"},
    "stretch": {"kind", "name", "knee", "side", "holds", "hold_s", "rest_between_holds_s"},
    "heel_rise_test": {"kind", "name", "side", "metronome_bpm", "knee"},
    "lunge_test": {"kind", "name", "side", "knee"},
}


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseTarget:
    """Allowed duration of one phase of a rep: ``min_s <= duration <= max_s``.

    ``target_s`` is the prescribed value when there is one (``None`` for "at most"/"at
    least" targets); open ends are ``0`` and ``inf``.
    """

    min_s: float = 0.0
    max_s: float = math.inf
    target_s: float | None = None

    def verdict(self, duration_s: float | None) -> str:
        """``ok``, ``short`` or ``long`` (``unknown`` when the duration is missing)."""
        if duration_s is None or not math.isfinite(duration_s):
            return "unknown"
        if duration_s < self.min_s:
            return "short"
        if duration_s > self.max_s:
            return "long"
        return "ok"

    def describe(self) -> str:
        """``3 s ± 0.5``, ``≤ 1.5 s``, ``≥ 1 s``, ``1–2 s``."""
        if self.target_s is not None:
            tol = max(self.target_s - self.min_s, self.max_s - self.target_s)
            return f"{_num(self.target_s)} s ± {_num(tol)}"
        if self.min_s > 0 and math.isinf(self.max_s):
            return f"≥ {_num(self.min_s)} s"
        if self.min_s <= 0 and math.isfinite(self.max_s):
            return f"≤ {_num(self.max_s)} s"
        return f"{_num(self.min_s)}–{_num(self.max_s)} s"

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_s": self.min_s,
            "max_s": None if math.isinf(self.max_s) else self.max_s,
            "target_s": self.target_s,
            "text": self.describe(),
        }


def _num(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Tempo:
    """Targets per phase; a phase without a target is ``None`` and is not judged."""

    rise: PhaseTarget | None = None
    hold: PhaseTarget | None = None
    lower: PhaseTarget | None = None

    def phases(self) -> dict[str, PhaseTarget | None]:
        return {"rise": self.rise, "hold": self.hold, "lower": self.lower}

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if v is None else v.to_dict()) for k, v in self.phases().items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class ExerciseBlock:
    """One prescribed exercise: sets × reps with a tempo, or holds × seconds, or a test."""

    kind: str
    name: str = ""
    sets: int | None = None
    reps: int | None = None
    knee: str = "any"
    side: str = "any"
    rest_between_sets_s: float | None = None
    tempo: Tempo = field(default_factory=Tempo)
    holds: int | None = None
    hold_s: float | None = None
    rest_between_holds_s: float | None = None
    metronome_bpm: float | None = None

    @property
    def is_rep_block(self) -> bool:
        return self.kind in ("calf_raise", "tibialis_raise", "heel_rise_test")

    @property
    def rep_exercise(self) -> str | None:
        """The analysis' rep kind this block consumes (``calf_raise``/``tibialis_raise``)."""
        if self.kind == "tibialis_raise":
            return "tibialis_raise"
        if self.kind in ("calf_raise", "heel_rise_test"):
            return "calf_raise"
        return None

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        base = self.kind.replace("_", " ")
        return f"{base} ({self.knee} knee)" if self.knee != "any" else base

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.label,
            "sets": self.sets,
            "reps": self.reps,
            "knee": self.knee,
            "side": self.side,
            "rest_between_sets_s": self.rest_between_sets_s,
            "tempo": self.tempo.to_dict(),
            "holds": self.holds,
            "hold_s": self.hold_s,
            "rest_between_holds_s": self.rest_between_holds_s,
            "metronome_bpm": self.metronome_bpm,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Subject:
    """Optional body measures for the heel-rise test's height and work estimates."""

    foot_length_cm: float | None = None
    foot_lever_cm: float | None = None
    """Heel to the ball of the foot (the lever the heel rises on); default 0.73 × foot length."""
    body_mass_kg: float | None = None

    @property
    def lever_m(self) -> float | None:
        if self.foot_lever_cm is not None:
            return self.foot_lever_cm / 100.0
        if self.foot_length_cm is not None:
            return 0.73 * self.foot_length_cm / 100.0
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "foot_length_cm": self.foot_length_cm,
            "foot_lever_cm": self.foot_lever_cm,
            "body_mass_kg": self.body_mass_kg,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """A validated prescription. ``origin`` says where it came from (file, preset, session)."""

    name: str
    exercises: tuple[ExerciseBlock, ...]
    source: str = ""
    notes: str = ""
    subject: Subject = field(default_factory=Subject)
    origin: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    """The plan as parsed from TOML (what is stored in a session file)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "origin": self.origin,
            "exercises": [b.to_dict() for b in self.exercises],
            "subject": self.subject.to_dict(),
        }


# --------------------------------------------------------------------------------------
# parsing


def _fail(where: str, key: str, problem: str, advice: str) -> UsageError:
    loc = f"{where}: {key}" if key else where
    return UsageError(f"{loc}: {problem}; {advice}")


def _check_keys(d: dict[str, Any], allowed: set[str], where: str, prefix: str) -> None:
    for key in d:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = (
                f"did you mean '{close[0]}'?"
                if close
                else f"known keys here: {', '.join(sorted(allowed))}"
            )
            raise _fail(where, f"{prefix}{key}", "unknown key", hint)


def _number(
    d: dict[str, Any],
    key: str,
    where: str,
    prefix: str,
    *,
    positive: bool = True,
    integer: bool = False,
    max_value: float | None = None,
) -> float | int | None:
    if key not in d:
        return None
    v = d[key]
    if (
        isinstance(v, bool)
        or not isinstance(v, int | float)
        or (integer and not isinstance(v, int))
    ):
        kind = "a whole number" if integer else "a number"
        raise _fail(where, prefix + key, f"expected {kind}, got {v!r}", f"write e.g. {key} = 3")
    if not math.isfinite(v):
        raise _fail(where, prefix + key, f"{v!r} is not a finite number", "give a finite value")
    if positive and v <= 0:
        raise _fail(where, prefix + key, f"impossible target {v!r}", "it must be greater than 0")
    if not positive and v < 0:
        raise _fail(where, prefix + key, f"impossible target {v!r}", "it must not be negative")
    if max_value is not None and v > max_value:
        raise _fail(
            where, prefix + key, f"impossible target {v!r}", f"it must be at most {max_value:g}"
        )
    return v


def _choice(
    d: dict[str, Any], key: str, allowed: tuple[str, ...], default: str, where: str, prefix: str
) -> str:
    v = d.get(key, default)
    if v not in allowed:
        raise _fail(where, prefix + key, f"unknown value {v!r}", f"use one of {', '.join(allowed)}")
    return str(v)


def _parse_tempo(d: Any, where: str, prefix: str) -> Tempo:
    if not isinstance(d, dict):
        raise _fail(where, prefix.rstrip("."), "expected a table", "write [exercise.tempo]")
    _check_keys(d, _TEMPO_KEYS, where, prefix)
    tol = _number(d, "tolerance_s", where, prefix, positive=False, max_value=10.0)
    tol = DEFAULT_TOLERANCE_S if tol is None else float(tol)
    phases: dict[str, PhaseTarget | None] = {}
    for phase in ("rise", "hold", "lower"):
        zero_ok = phase == "hold"
        target = _number(d, f"{phase}_s", where, prefix, positive=not zero_ok, max_value=MAX_REP_S)
        lo = _number(d, f"{phase}_min_s", where, prefix, positive=False, max_value=MAX_REP_S)
        hi = _number(d, f"{phase}_max_s", where, prefix, positive=True, max_value=MAX_REP_S)
        if target is None and lo is None and hi is None:
            phases[phase] = None
            continue
        min_s = (
            float(lo) if lo is not None else (max(0.0, target - tol) if target is not None else 0.0)
        )
        max_s = float(hi) if hi is not None else (target + tol if target is not None else math.inf)
        if min_s > max_s:
            raise _fail(
                where,
                f"{prefix}{phase}",
                f"impossible target: at least {min_s:g} s but at most {max_s:g} s",
                f"make {phase}_min_s smaller than {phase}_max_s",
            )
        if target is not None and not (min_s <= target <= max_s):
            raise _fail(
                where,
                f"{prefix}{phase}_s",
                f"impossible target: {target:g} s lies outside {min_s:g}–{max_s:g} s",
                "move the target inside its limits",
            )
        phases[phase] = PhaseTarget(
            min_s=min_s, max_s=max_s, target_s=None if target is None else float(target)
        )
    least = sum(p.min_s for p in phases.values() if p is not None)
    if least > MAX_REP_S:
        raise _fail(
            where,
            prefix.rstrip("."),
            f"impossible tempo: the phases need at least {least:g} s per rep, "
            f"longer than the {MAX_REP_S:g} s the rep detector follows",
            "shorten the rise, hold or lowering targets",
        )
    return Tempo(**phases)


def _parse_block(d: Any, index: int, where: str) -> ExerciseBlock:
    prefix = f"exercise[{index}]."
    if not isinstance(d, dict):
        raise _fail(where, f"exercise[{index}]", "expected a table", "write [[exercise]] blocks")
    _check_keys(d, _BLOCK_KEYS, where, prefix)
    if "kind" not in d:
        raise _fail(
            where, prefix + "kind", "missing", f"add kind = one of {', '.join(EXERCISE_KINDS)}"
        )
    kind = _choice(d, "kind", EXERCISE_KINDS, "", where, prefix)
    for key in d:
        if key not in _KIND_KEYS[kind]:
            raise _fail(
                where,
                prefix + key,
                f"does not apply to kind = {kind!r}",
                f"remove it (keys for {kind}: {', '.join(sorted(_KIND_KEYS[kind]))})",
            )
    name = d.get("name", "")
    if not isinstance(name, str):
        raise _fail(where, prefix + "name", "expected text", 'write name = "..."')
    knee = _choice(d, "knee", KNEE_VALUES, "any", where, prefix)
    side = _choice(d, "side", SIDE_VALUES, "any", where, prefix)
    sets = _number(d, "sets", where, prefix, integer=True, max_value=50)
    reps = _number(d, "reps", where, prefix, integer=True, max_value=500)
    rest = _number(d, "rest_between_sets_s", where, prefix, positive=False, max_value=3600)
    holds = _number(d, "holds", where, prefix, integer=True, max_value=50)
    hold_s = _number(d, "hold_s", where, prefix, max_value=600)
    rest_h = _number(d, "rest_between_holds_s", where, prefix, positive=False, max_value=3600)
    bpm = _number(d, "metronome_bpm", where, prefix, max_value=240)
    tempo = _parse_tempo(d["tempo"], where, prefix + "tempo.") if "tempo" in d else Tempo()
    if kind in ("calf_raise", "tibialis_raise"):
        if sets is None or reps is None:
            missing = "sets" if sets is None else "reps"
            raise _fail(where, prefix + missing, "missing", f"say how many, e.g. {missing} = 3")
    if kind == "stretch":
        if holds is None or hold_s is None:
            missing = "holds" if holds is None else "hold_s"
            raise _fail(where, prefix + missing, "missing", f"say how many, e.g. {missing} = 3")
        if hold_s < 3.0:
            raise _fail(
                where,
                prefix + "hold_s",
                f"impossible target {hold_s:g} s",
                "holds shorter than 3 s are not detected as stretches; prescribe at least 3 s",
            )
    if kind == "heel_rise_test":
        bpm = 60.0 if bpm is None else bpm
        if not 20 <= bpm <= 120:
            raise _fail(
                where, prefix + "metronome_bpm", f"impossible target {bpm:g}", "use 20 to 120 bpm"
            )
        # One beat up, one beat down: each phase within a beat (+0.5 s slack).
        tempo = Tempo(
            rise=PhaseTarget(min_s=0.0, max_s=60.0 / bpm + 0.5),
            lower=PhaseTarget(min_s=0.0, max_s=60.0 / bpm + 0.5),
        )
        sets, reps = 1, None
    return ExerciseBlock(
        kind=kind,
        name=name,
        sets=None if sets is None else int(sets),
        reps=None if reps is None else int(reps),
        knee=knee,
        side=side,
        rest_between_sets_s=None if rest is None else float(rest),
        tempo=tempo,
        holds=None if holds is None else int(holds),
        hold_s=None if hold_s is None else float(hold_s),
        rest_between_holds_s=None if rest_h is None else float(rest_h),
        metronome_bpm=None if bpm is None else float(bpm),
    )


def plan_from_dict(d: Any, *, where: str = "plan", origin: str = "") -> Plan:
    """Validate a plan given as a dict (parsed TOML or ``Session.plan``).

    ``where`` names the place in error messages (a file name, ``session file plan``).
    """
    if not isinstance(d, dict):
        raise _fail(where, "", "the plan is not a table", "see docs/plans.md for the format")
    _check_keys(d, _TOP_KEYS, where, "")
    version = d.get("version", PLAN_FORMAT_VERSION)
    if version != PLAN_FORMAT_VERSION:
        raise _fail(
            where,
            "version",
            f"plan format version {version!r} is not supported",
            f"this companion reads version {PLAN_FORMAT_VERSION}",
        )
    for key in ("name", "source", "notes"):
        if key in d and not isinstance(d[key], str):
            raise _fail(where, key, "expected text", f'write {key} = "..."')
    subject = Subject()
    if "subject" in d:
        sd = d["subject"]
        if not isinstance(sd, dict):
            raise _fail(where, "subject", "expected a table", "write [subject]")
        _check_keys(sd, _SUBJECT_KEYS, where, "subject.")
        fl = _number(sd, "foot_length_cm", where, "subject.", max_value=40)
        lever = _number(sd, "foot_lever_cm", where, "subject.", max_value=35)
        mass = _number(sd, "body_mass_kg", where, "subject.", max_value=400)
        if fl is not None and fl < 10:
            raise _fail(
                where, "subject.foot_length_cm", f"impossible value {fl:g}", "give it in cm"
            )
        subject = Subject(
            foot_length_cm=None if fl is None else float(fl),
            foot_lever_cm=None if lever is None else float(lever),
            body_mass_kg=None if mass is None else float(mass),
        )
    blocks_raw = d.get("exercise", [])
    if not isinstance(blocks_raw, list):
        raise _fail(where, "exercise", "expected a list of tables", "write [[exercise]] blocks")
    if not blocks_raw:
        raise _fail(
            where, "exercise", "the plan prescribes nothing", "add at least one [[exercise]]"
        )
    blocks = tuple(_parse_block(b, i, where) for i, b in enumerate(blocks_raw))
    return Plan(
        name=str(d.get("name", "") or "unnamed plan"),
        exercises=blocks,
        source=str(d.get("source", "")),
        notes=str(d.get("notes", "")),
        subject=subject,
        origin=origin,
        raw=dict(d),
    )


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan TOML file, or a built-in preset by name (``seed``, ...)."""
    p = Path(path)
    if not p.exists() and str(path) in builtin_preset_names():
        return load_builtin_preset(str(path))
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = (
            f"{p}: plan file not found; give a TOML plan file or a built-in preset "
            f"({', '.join(builtin_preset_names())})"
        )
        raise UsageError(msg) from None
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{p}: cannot read the plan ({exc.__class__.__name__}); check the file"
        raise UsageError(msg) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = f"{p}: not valid TOML ({exc}); see docs/plans.md for the format"
        raise UsageError(msg) from None
    return plan_from_dict(data, where=str(p), origin=f"file:{p}")


def builtin_preset_names() -> tuple[str, ...]:
    """Names of the presets shipped in ``companion/scoring/presets``."""
    folder = resources.files("companion.scoring") / "presets"
    return tuple(sorted(f.name[:-5] for f in folder.iterdir() if f.name.endswith(".toml")))


def load_builtin_preset(name: str) -> Plan:
    """A shipped preset by name (see :func:`builtin_preset_names`)."""
    if name not in builtin_preset_names():
        msg = f"no built-in plan called {name!r}; use one of {', '.join(builtin_preset_names())}"
        raise UsageError(msg)
    text = (resources.files("companion.scoring") / "presets" / f"{name}.toml").read_text("utf-8")
    return plan_from_dict(tomllib.loads(text), where=f"preset {name}", origin=f"preset:{name}")


def resolve_plan(session_plan: dict[str, Any] | None, override: Plan | None) -> Plan | None:
    """The plan to score against: ``override`` (``--plan``) wins over the session's own."""
    if override is not None:
        return override
    if session_plan:
        return plan_from_dict(session_plan, where="session file plan", origin="session")
    return None
