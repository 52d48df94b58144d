"""Reader for the motion-capture calf-raise trials (``calf_raise_mocap_loadsol``).

Each CSV holds one 5 s trial at 100 Hz: ``Grounded, Time[secs], Forefoot/Midfoot/Heel/
TForce[N], RAnkleFlexion, RAnkleInversion, RAnkleAbduction, Person`` (right ankle, deg,
plantarflexion negative). The data is read, never copied into the project.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from companion.errors import ImportFormatError

__all__ = ["MocapTrial", "heel_events", "load_mocap_trial"]

_REQUIRED = ("Time[secs]", "RAnkleFlexion", "RAnkleInversion", "Heel Force[N]", "Grounded")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MocapTrial:
    """One trial: time, right-ankle flexion (dorsiflexion +) and inversion, heel force."""

    path: str
    t_s: np.ndarray
    flexion_deg: np.ndarray
    inversion_deg: np.ndarray
    heel_force_n: np.ndarray
    grounded: bool


def load_mocap_trial(path: str | Path) -> MocapTrial:
    """Read one trial; a corrupt export raises :class:`ImportFormatError` in one line."""
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise ImportFormatError(f"{p}: cannot read the trial ({exc.strerror}).") from None
    if not rows:
        raise ImportFormatError(f"{p}: the file holds no rows; it is not a mocap trial.")
    missing = [c for c in _REQUIRED if c not in rows[0]]
    if missing:
        raise ImportFormatError(
            f"{p}: column {missing[0]!r} is missing; expected the calf_raise_mocap_loadsol layout."
        )

    def column(name: str) -> np.ndarray:
        out = np.empty(len(rows))
        for i, row in enumerate(rows):
            text = (row.get(name) or "").strip()
            try:
                out[i] = float(text) if text else np.nan
            except ValueError:
                raise ImportFormatError(
                    f"{p}: line {i + 2}, column {name!r}: {text!r} is not a number; "
                    "the export is corrupt."
                ) from None
        return out

    t = column("Time[secs]")
    if not np.all(np.isfinite(t)) or not np.all(np.diff(t) > 0):
        bad = (
            int(np.flatnonzero(~(np.diff(t) > 0))[0]) + 3
            if np.all(np.isfinite(t))
            else int(np.flatnonzero(~np.isfinite(t))[0]) + 2
        )
        raise ImportFormatError(
            f"{p}: line {bad}: time stops increasing (duplicated or corrupt export); "
            "skip this trial."
        )
    flexion = column("RAnkleFlexion")
    finite = np.isfinite(flexion)
    if finite.sum() < 0.9 * flexion.shape[0]:
        raise ImportFormatError(
            f"{p}: {int((~finite).sum())} of {flexion.shape[0]} ankle angles are missing; "
            "the export is corrupt, skip this trial."
        )
    return MocapTrial(
        path=str(p),
        t_s=t,
        flexion_deg=flexion,
        inversion_deg=column("RAnkleInversion"),
        heel_force_n=column("Heel Force[N]"),
        grounded=bool(column("Grounded")[0] == 1.0),
    )


def heel_events(trial: MocapTrial) -> tuple[float, float] | None:
    """Heel-off and heel-on times (trial clock, s) from the heel insole, or ``None``.

    The heel is unloaded while its force is below 10 % of the standing force (median of
    the first 0.5 s, at least 10 N); heel-off is the first sample of the longest unloaded
    run, heel-on the first loaded sample after it. On a box (not ``grounded``) the heel
    hangs free and reads ~0 throughout: no events (``None``), as when no run exists.
    """
    if not trial.grounded:
        return None
    heel = trial.heel_force_n
    n_base = max(1, round(0.5 / float(np.median(np.diff(trial.t_s)))))
    base = float(np.nanmedian(heel[:n_base]))
    low = np.nan_to_num(heel, nan=np.inf) < max(10.0, 0.1 * base)
    best = cur = 0
    best_end = -1
    for k, flag in enumerate(low.tolist()):
        cur = cur + 1 if flag else 0
        if cur > best:
            best, best_end = cur, k
    if best == 0:
        return None
    k0, k1 = best_end - best + 1, best_end + 1
    return float(trial.t_s[k0]), float(trial.t_s[min(k1, heel.size - 1)])
