"""Scoring a session against a plan: per-rep verdicts, summaries, advice, reports.

Pure and per file (no global state, no UI): :func:`score_session` returns a plain JSON-ready
dict (schema in ``docs/score-schema.md``), which the renderers turn into a table, CSV or PNG.
"""

from companion.scoring.plan import (
    ExerciseBlock,
    PhaseTarget,
    Plan,
    Subject,
    Tempo,
    builtin_preset_names,
    load_builtin_preset,
    load_plan,
    plan_from_dict,
    resolve_plan,
)

__all__ = [
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
