"""Motion analysis core: orientation, calibration, ankle angles, reps/phases, stretch holds.

Pure numpy/scipy/imufusion: no asyncio, no Qt, no file I/O. One engine serves live, replay
and scoring: :class:`SessionAnalyzer` consumes chunks incrementally and emits events, and
:func:`analyze_session` is that same engine fed a whole recording.

Public API
----------
``SessionAnalyzer(settings=DEFAULT_SETTINGS, *, side, calibration=None, exercise_hint=None,
sampling_rate_hz=100.0)``
    ``.feed(chunk: ImuChunk) -> list[AnalysisEvent]`` (shin and foot chunks interleaved, any
    sizes), ``.finish() -> list[AnalysisEvent]``, ``.frames() -> AngleFrame`` (whole session),
    ``.frames_since_last() -> AngleFrame`` (new rows), ``.calibration``, ``.events``.
``analyze_session(session, *, settings=DEFAULT_SETTINGS, exercise_hint=None, side=None,
calibration=None) -> AnalysisResult``
    ``.reps``, ``.sets``, ``.holds``, ``.warnings``, ``.channels`` (AngleFrame),
    ``.calibration`` (``.flagged_fallback``), ``.events``.
Events (frozen dataclasses, all with ``t_s``): :class:`CalibrationDone`, :class:`RepStarted`,
:class:`PhaseChanged`, :class:`RepCompleted` (``.rep``), :class:`RepDiscarded` (``.reason``),
:class:`SetCompleted` (``.set``),
:class:`HoldStarted`, :class:`HoldUpdate`, :class:`HoldEnded` (``.hold``), :class:`Warning`
(``kind``: ``bounce``, ``knee_in``, ``rushed_lowering``, ``calibration_fallback``,
``uncalibrated``).
Results: :class:`Rep`, :class:`Hold`, :class:`SetSummary`, :class:`Calibration`.
Helpers: :func:`angles_from_up`, :func:`gyro_sagittal_angle`, :func:`fit_transition`.

Sign conventions: ``docs/coordinate_systems.md`` (dorsiflexion +, plantarflexion −, neutral
standing 0°; inversion +; shin forward tilt +; knee tracking + = over the outside of the foot).
"""

import logging

from companion.analysis.angles import AngleComputer, angles_from_up, gyro_sagittal_angle
from companion.analysis.calibration import Calibration, estimate_axis
from companion.analysis.engine import (
    CHANNEL_NAMES,
    EXERCISE_HINTS,
    AnalysisResult,
    AngleFrame,
    SessionAnalyzer,
    analyze_session,
)
from companion.analysis.events import (
    AnalysisEvent,
    CalibrationDone,
    Hold,
    HoldEnded,
    HoldStarted,
    HoldUpdate,
    PhaseChanged,
    Rep,
    RepCompleted,
    RepDiscarded,
    RepStarted,
    SetCompleted,
    SetSummary,
    Warning,
)
from companion.analysis.phases import fit_transition
from companion.analysis.settings import DEFAULT_SETTINGS, AnalysisSettings

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "CHANNEL_NAMES",
    "DEFAULT_SETTINGS",
    "EXERCISE_HINTS",
    "AnalysisEvent",
    "AnalysisResult",
    "AnalysisSettings",
    "AngleComputer",
    "AngleFrame",
    "Calibration",
    "CalibrationDone",
    "Hold",
    "HoldEnded",
    "HoldStarted",
    "HoldUpdate",
    "PhaseChanged",
    "Rep",
    "RepCompleted",
    "RepDiscarded",
    "RepStarted",
    "SessionAnalyzer",
    "SetCompleted",
    "SetSummary",
    "Warning",
    "analyze_session",
    "angles_from_up",
    "estimate_axis",
    "fit_transition",
    "gyro_sagittal_angle",
]
