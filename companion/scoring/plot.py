"""The PNG report: ankle angle over time with phases shaded, target bands, per-rep tempo bars.

Matplotlib with the Agg backend only (no Qt): the picture is made in worker processes and
on machines without a display. Everything drawn comes from the score document, plus the
analysis' per-sample ankle angle for the trace.
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PHASE_COLOURS", "render_png"]

PHASE_COLOURS = {
    "rise": "#f5a623",
    "hold": "#7ed321",
    "lower": "#4a90e2",
    "stretch": "#b57edc",
}
VERDICT_COLOURS = {"ok": "#2e9d4f", "short": "#d0021b", "long": "#f08c00", "unknown": "#999999"}
MAX_TRACE_POINTS = 6000


def _decimate(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min/max per bin so a long session keeps its peaks but draws fast."""
    n = t.size
    if n <= MAX_TRACE_POINTS:
        return t, y
    bins = MAX_TRACE_POINTS // 2
    edges = np.linspace(0, n, bins + 1).astype(int)
    tt, yy = [], []
    for a, b in itertools.pairwise(edges):
        seg = y[a:b]
        if seg.size == 0 or np.all(np.isnan(seg)):
            tt += [t[a]]
            yy += [np.nan]
            continue
        i_min, i_max = int(np.nanargmin(seg)), int(np.nanargmax(seg))
        for i in sorted((i_min, i_max)):
            tt.append(t[a + i])
            yy.append(seg[i])
    return np.asarray(tt), np.asarray(yy)


def _trace(channels: Any) -> tuple[np.ndarray, np.ndarray] | None:
    if channels is None:
        return None
    get = channels.get if isinstance(channels, Mapping) else lambda k: getattr(channels, k, None)
    t, y = get("t_s"), get("ankle_sagittal_deg")
    if t is None or y is None:
        return None
    t, y = np.asarray(t, dtype=float), np.asarray(y, dtype=float)
    if t.size == 0:
        return None
    return _decimate(t, y)


def headline(doc: Mapping[str, Any], side: str) -> tuple[str, str]:
    """The picture's title (file, date, leg, plan) and its verdict line, in words."""
    from companion.scoring.report import flag_text, plural

    s = doc["summary"]
    sess = doc["session"]
    reps = [r for r in doc["reps"] if r["side"] == side]
    holds = [h for h in doc["stretches"] if h["side"] == side]
    when = str(sess.get("start_time_utc") or "")
    date = f" — {when[:10]} {when[11:16]} UTC" if len(when) >= 16 else ""
    title = f"{Path(sess.get('file') or 'session').name}{date} — {side} leg — {doc['plan']['name']}"
    parts = []
    if reps:  # this leg's numbers (the document may hold both legs)
        prescribed = [
            b["reps_prescribed"]
            for b in doc["blocks"]
            if b["side"] == side and b["reps_prescribed"] is not None
        ]
        rp = f" of {sum(prescribed)}" if prescribed else ""
        judged = [r["within_tolerance"] for r in reps if r["within_tolerance"] is not None]
        comp = 100.0 * sum(judged) / len(judged) if judged else None
        parts.append(
            f"{len(reps)}{rp} rep{'' if len(reps) == 1 and not rp else 's'} · tempo on target in "
            f"{'–' if comp is None else f'{comp:.0f}'} % of reps"
        )
    if holds:
        met = sum(bool(h["met"]) for h in holds)
        parts.append(f"{plural(len(holds), 'stretch hold')}, {met} long enough")
    for t in doc["tests"]:
        if t["side"] != side:
            continue
        if t["kind"] == "lunge_test" and t.get("shin_angle_deg") is not None:
            parts.append(
                f"lunge test: shin angle {t['shin_angle_deg']:.0f}° (norm "
                f"{t['norm_mean_deg']:g} ± {t['norm_sd_deg']:g}°: {t['interpretation']})"
            )
        elif t["kind"] == "heel_rise_test":
            norms = t.get("norms") or {}
            norm = (
                f" (norm: median {norms['median_reps_men']} men, {norms['median_reps_women']} "
                "women)"
                if norms
                else ""
            )
            parts.append(f"heel-rise test: {plural(t['reps'], 'full rep')}{norm}")
    verdict = (
        "COMPLIANT"
        if s["compliant"]
        else "NOT COMPLIANT: " + ", ".join(flag_text(f) for f in s["flags"])
    )
    if len(sess.get("sides") or []) > 1:
        verdict = f"both legs: {verdict}"
    return textwrap.shorten(title, 135, placeholder=" …"), "  ·  ".join([*parts, verdict])


def full_height_band(peaks: list[float]) -> tuple[float, float] | None:
    """Where the top of a full rep lies, deg, from a set's peak angles in rep order: from 70 %
    of the median peak of the set's first third (below that the analysis calls a rep partial)
    to 5° past it, as the live window draws it. The first third, so that reps that fall
    short later in the set are seen below the band."""
    if not peaks:
        return None
    first = peaks[: max(1, len(peaks) // 3)]
    p = float(np.median(first))
    lo, hi = sorted((0.7 * p, p + np.copysign(5.0, p)))
    return float(lo), float(hi)


def render_png(
    doc: Mapping[str, Any],
    out_path: str | Path,
    *,
    channels: Any = None,
    side: str | None = None,
) -> Path:
    """Draw the report for ``doc`` into ``out_path`` (PNG) and return the path.

    ``channels`` is the analysis' per-sample frame (``t_s``, ``ankle_sagittal_deg``) of the
    leg drawn (``side``, default the first leg in the document); without it only the
    phase spans are drawn.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    sides = doc["session"].get("sides") or ["left"]
    side = side or sides[0]
    reps = [r for r in doc["reps"] if r["side"] == side]
    holds = [h for h in doc["stretches"] if h["side"] == side]
    sets = [s for s in doc["sets"] if s["side"] == side]
    tempo_rows = [
        p for p in ("rise", "hold", "lower") if any(r[f"{p}_s"] is not None for r in reps)
    ]
    n_bottom = len(tempo_rows) if reps else (1 if holds else 0)

    heights = [3.2] + [1.15] * n_bottom + [1.25]
    height_in = sum(heights) + 0.9
    fig = plt.figure(figsize=(13, height_in), dpi=100)
    gs = fig.add_gridspec(
        len(heights),
        1,
        height_ratios=heights,
        hspace=0.6,
        top=1 - 0.95 / height_in,  # title, verdict and set labels above the trace
        bottom=0.02,
    )
    ax = fig.add_subplot(gs[0])

    # ---- title and verdict
    s = doc["summary"]
    title, subtitle = headline(doc, side)
    fig.suptitle(title, fontsize=12, fontweight="bold", x=0.01, ha="left", y=1 - 0.2 / height_in)
    colour = "#2e9d4f" if s["compliant"] else "#d0021b"
    ax.set_title(subtitle, fontsize=10.5, color=colour, loc="left", pad=16 if sets else 6)

    # ---- ankle angle with phases shaded
    tr = _trace(channels)
    spans: dict[str, list[list[tuple[float, float]]]] = {p: [] for p in PHASE_COLOURS}
    for r in reps:
        for phase, a, b in (
            ("rise", r["t_start_s"], r["t_rise_end_s"]),
            ("hold", r["t_rise_end_s"], r["t_hold_end_s"]),
            ("lower", r["t_hold_end_s"], r["t_lower_end_s"]),
        ):
            if a is not None and b is not None and b > a:
                spans[phase].append([(a, 0.0), (b, 0.0), (b, 1.0), (a, 1.0)])
    for phase, polys in spans.items():
        if polys:  # one collection per phase: fast for an hour of reps
            ax.add_collection(
                PolyCollection(
                    polys,
                    facecolors=PHASE_COLOURS[phase],
                    alpha=0.35,
                    linewidths=0,
                    transform=ax.get_xaxis_transform(),
                )
            )
    flagged = [r["t_start_s"] for r in reps if r["within_tolerance"] is False or r["partial"]]
    if flagged:
        ax.plot(flagged, [0] * len(flagged), "v", color="#d0021b", ms=4, clip_on=False, ls="none")
    if reps:
        # the whole recording when the trace is there: motion the analysis did not count as
        # reps (or after the last rep) must stay visible
        t_lo = min(r["t_start_s"] for r in reps) - 5
        t_hi = max(r["t_end_s"] or 0 for r in reps) + 5
        if tr is not None and np.isfinite(tr[0]).any():
            t_lo, t_hi = min(t_lo, float(np.nanmin(tr[0]))), max(t_hi, float(np.nanmax(tr[0])))
        ax.set_xlim(t_lo, t_hi)
    for h in holds:
        ax.axvspan(h["t_start_s"], h["t_end_s"], color=PHASE_COLOURS["stretch"], alpha=0.25, lw=0)
        label = f"{h['time_in_position_s'] or 0:.0f} s"
        if h["target_s"]:
            label += f" of {h['target_s']:.0f} s"
        if h["peak_angle_deg"] is not None:
            label += f", peak {h['peak_angle_deg']:.0f}°"
        if h["bouncing"]:
            label += f"\n{h['n_bounces']} bounces!"
        if h["knee_in"]:
            label += "\nknee in!"
        bad = h["bouncing"] or h["knee_in"] or h["met"] is False
        ax.annotate(
            label,
            xy=(0.5 * (h["t_start_s"] + h["t_end_s"]), 1.0),
            xycoords=("data", "axes fraction"),
            ha="center",
            va="top",
            fontsize=8,
            color="#d0021b" if bad else "#333333",
        )
    # full-height band per set (labelled with the set), hold band per stretch
    for st in sets:
        set_reps = [
            r for r in reps if r["block"] == st["block"] and r["set_number"] == st["set_number"]
        ]
        band = full_height_band(
            [r["peak_angle_deg"] for r in set_reps if r["peak_angle_deg"] is not None]
        )
        if band is not None:
            ax.fill_between(
                [st["t_start_s"], st["t_end_s"]], *band, color="#888888", alpha=0.22, lw=0
            )
        comp = st["tempo_compliance_pct"]
        ax.annotate(
            f"set {st['set_number']}" + ("" if comp is None else f": {comp:.0f} % on tempo"),
            xy=(0.5 * (st["t_start_s"] + st["t_end_s"]), 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
            color="#2e9d4f" if comp is not None and comp >= 80 else "#d0021b",
        )
    for h in holds:
        if h["mean_angle_deg"] is not None:
            m = h["mean_angle_deg"]
            ax.fill_between(
                [h["t_start_s"], h["t_end_s"]], m - 5, m + 5, color="#888888", alpha=0.18, lw=0
            )
    if tr is not None:
        ax.plot(tr[0], tr[1], color="#222222", lw=0.8)
    ax.axhline(0, color="#999999", lw=0.6, ls=":")
    if holds:  # room for the hold labels above the trace
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + 0.3 * (hi - lo))
    ax.set_ylabel("ankle angle, deg\n(+ dorsiflexion)")
    ax.set_xlabel("time, s")
    ax.margins(x=0.01)
    handles = []
    if reps:
        handles += [
            Patch(color=PHASE_COLOURS[p], alpha=0.5, label=p) for p in ("rise", "hold", "lower")
        ]
        handles.append(Patch(color="#888888", alpha=0.3, label="full height (top of a full rep)"))
    if holds:
        handles.append(Patch(color=PHASE_COLOURS["stretch"], alpha=0.4, label="stretch hold"))
        handles.append(Patch(color="#888888", alpha=0.3, label="in position (±5°)"))
    if flagged:
        handles.append(
            Line2D([], [], marker="v", color="#d0021b", ls="none", ms=5, label="rep off target")
        )
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.005, 1.0),
        fontsize=8,
        frameon=False,
    )

    # ---- per-rep tempo bars against the target
    targets = {i: b["tempo"] for i, b in enumerate(doc["plan"].get("exercises", []))}
    row = 1
    if reps:
        x = np.arange(1, len(reps) + 1)
        boundaries = [
            i + 0.5
            for i in range(1, len(reps))
            if (reps[i]["block"], reps[i]["set_number"])
            != (reps[i - 1]["block"], reps[i - 1]["set_number"])
        ]
        for phase in tempo_rows:
            bx = fig.add_subplot(gs[row])
            row += 1
            vals = np.array([np.nan if r[f"{phase}_s"] is None else r[f"{phase}_s"] for r in reps])
            cols = [VERDICT_COLOURS.get(r["verdicts"][phase], "#777777") for r in reps]
            cols = [
                c if r["verdicts"][phase] != "no_target" else "#9aa5b1" for c, r in zip(cols, reps)
            ]
            if len(reps) > 150:  # thin lines draw much faster than rectangles
                bx.vlines(x, 0, np.nan_to_num(vals), colors=cols, linewidth=1.0)
            else:
                bx.bar(x, vals, color=cols, width=0.8)
            short_x = [x[i] for i, r in enumerate(reps) if r["verdicts"][phase] == "short"]
            if short_x:  # a rushed phase can be ~0 s: mark it so it is seen
                bx.plot(
                    short_x,
                    [0] * len(short_x),
                    "^",
                    color=VERDICT_COLOURS["short"],
                    ms=4,
                    clip_on=False,
                    ls="none",
                )
            # target band per run of reps from the same plan block
            drawn = False
            finite = vals[np.isfinite(vals)]
            top = float(finite.max()) * 1.1 if finite.size else 1.0
            run_start = 0
            for i in range(1, len(reps) + 1):
                if i < len(reps) and reps[i]["block"] == reps[run_start]["block"]:
                    continue
                blk = reps[run_start]["block"]
                tgt = (targets.get(blk) or {}).get(phase) if blk is not None else None
                if tgt is None and (blk is None or doc["plan"].get("origin") == "default"):
                    tgt = _default_target(phase)
                if tgt is not None:
                    lo = tgt["min_s"]
                    hi = tgt["max_s"] if tgt["max_s"] is not None else max(top, lo + 1)
                    xs = [x[run_start] - 0.5, x[i - 1] + 0.5]
                    bx.fill_between(xs, lo, hi, color="#2e9d4f", alpha=0.15, lw=0)
                    if tgt.get("target_s") is not None:
                        bx.plot(xs, [tgt["target_s"]] * 2, color="#2e9d4f", lw=1.0)
                    drawn = True
                run_start = i
            for b in boundaries:
                bx.axvline(b, color="#555555", lw=0.8, ls="--")
            mean = np.nanmean(vals) if np.isfinite(vals).any() else float("nan")
            bx.set_ylabel(f"{phase}, s", fontsize=9)
            bx.set_title(f"{phase} per rep (mean {mean:.2f} s)", fontsize=8.5, loc="left", pad=2)
            bx.set_xlim(0.4, max(len(reps), 10) + 0.6)
            bx.tick_params(labelsize=8)
            _rep_ticks(bx, reps, x)
            if drawn:
                bx.text(
                    1.002,
                    0.5,
                    "green band\n= target",
                    transform=bx.transAxes,
                    fontsize=7,
                    va="center",
                    color="#2e9d4f",
                )
            if row == 1 + len(tempo_rows):
                bx.set_xlabel(
                    "rep number within its set (dashed lines: next set)  ·  green = on target, "
                    "red = too short, orange = too long"
                )
    elif holds:
        bx = fig.add_subplot(gs[row])
        row += 1
        x = np.arange(1, len(holds) + 1)
        vals = [h["time_in_position_s"] or 0 for h in holds]
        cols = [
            VERDICT_COLOURS["short"]
            if (h["met"] is False or h["bouncing"] or h["knee_in"])
            else VERDICT_COLOURS["ok"]
            for h in holds
        ]
        bx.bar(x, vals, color=cols, width=0.7)
        for i, h in enumerate(holds):
            if h["target_s"]:
                bx.plot([x[i] - 0.45, x[i] + 0.45], [h["target_s"]] * 2, color="#2e9d4f", lw=2)
            bx.text(
                x[i], 1, f"{h['knee']} knee", ha="center", va="bottom", fontsize=7.5, color="white"
            )
        bx.set_ylabel("time in\nposition, s", fontsize=8.5)
        bx.set_xlabel("hold (green line: target; red: short, bouncing or knee in)")
        bx.set_xticks(x)
        bx.set_xlim(0.4, max(len(holds), 6) + 0.6)

    # ---- advice
    tx = fig.add_subplot(gs[row])
    tx.axis("off")
    lines = ["Next time:"] + [
        textwrap.fill(f"{i}. {a['text']}", 150, subsequent_indent="    ")
        for i, a in enumerate(doc["advice"], start=1)
    ]
    tx.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=9.5, transform=tx.transAxes)
    notes = [
        textwrap.fill(f"Note: {w}", 160, subsequent_indent="    ")
        for w in doc["warnings"]
        if w.startswith(f"{side} leg") or not w.startswith(("left leg", "right leg"))
    ]
    if notes:  # just below the advice, in orange: what the reader must know about the data
        n_lines = "\n".join(lines).count("\n") + 1
        tx.annotate(
            "\n".join(notes[:4]),
            xy=(0.0, 1.0),
            xycoords="axes fraction",
            xytext=(0, -13.5 * n_lines - 6),
            textcoords="offset points",
            va="top",
            ha="left",
            fontsize=8.5,
            color="#b35900",
        )

    out = Path(out_path)
    fig.savefig(out, format="png", bbox_inches="tight")
    plt.close(fig)
    return out


def _rep_ticks(bx: Any, reps: list[Mapping[str, Any]], x: np.ndarray) -> None:
    """Tick labels are rep numbers within their set, as in the table."""
    starts = [0] + [
        i
        for i in range(1, len(reps))
        if (reps[i]["side"], reps[i]["block"], reps[i]["set_number"])
        != (reps[i - 1]["side"], reps[i - 1]["block"], reps[i - 1]["set_number"])
    ]
    ends = [*starts[1:], len(reps)]
    step = 1 if len(reps) <= 30 else 5 if len(reps) <= 150 else 10
    ticks, labels = [], []
    for a, b in zip(starts, ends):
        for i in range(a, b):
            n = reps[i]["rep_number"]
            if n % step == 0 or (n == 1 and step == 1):
                ticks.append(x[i])
                labels.append(str(n))
    bx.set_xticks(ticks)
    bx.set_xticklabels(labels)


def _default_target(phase: str) -> dict[str, Any] | None:
    from companion.scoring.score import DEFAULT_TEMPO

    t = DEFAULT_TEMPO.phases()[phase]
    return None if t is None else t.to_dict()
