"""Text, JSON and CSV renderings of a score document (all from the same data)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "FLAG_TEXT",
    "REP_CSV_COLUMNS",
    "SUMMARY_COLUMNS",
    "flag_text",
    "plural",
    "render_csv",
    "render_json",
    "render_summary_csv",
    "render_table",
    "summary_row",
]

REP_CSV_COLUMNS = (
    "record",
    "side",
    "exercise",
    "block",
    "set_number",
    "number",
    "t_start_s",
    "t_end_s",
    "rise_s",
    "hold_s",
    "lower_s",
    "rest_s",
    "rise_verdict",
    "hold_verdict",
    "lower_verdict",
    "within_tolerance",
    "rom_deg",
    "peak_angle_deg",
    "mean_velocity_dps",
    "peak_velocity_dps",
    "flags",
    "time_in_position_s",
    "target_s",
    "met",
    "n_bounces",
    "bouncing",
    "knee",
    "knee_expected",
    "knee_in",
    "pause_s",
    "mean_angle_deg",
    "knee_tracking_mean_deg",
)
"""Columns of ``--format csv``: one row per rep (``record=rep``) and per stretch hold
(``record=hold``); cells that do not apply are empty."""

SUMMARY_COLUMNS = (
    "file",
    "status",
    "error",
    "plan",
    "sides",
    "duration_s",
    "reps_done",
    "reps_prescribed",
    "sets_done",
    "tempo_compliance_pct",
    "rise_mean_s",
    "hold_mean_s",
    "lower_mean_s",
    "rom_mean_deg",
    "partial_reps",
    "fatigued_sets",
    "holds_done",
    "holds_met",
    "bouncing_holds",
    "heel_rise_reps",
    "lunge_shin_angle_deg",
    "flags",
    "compliant",
    "advice",
)
"""Columns of ``--summary-csv``: one row per scored file (failed files too)."""


FLAG_TEXT = {
    "rushed": "rushed",
    "too_slow": "too slow",
    "reps_missing": "reps missing",
    "partial_reps": "partial reps",
    "holds_missing": "stretch holds missing",
    "fatigue": "fatigue",
    "holds_short": "stretch holds too short",
    "bouncing": "bouncing",
    "knee_in": "knee caving in",
    "wrong_knee": "wrong knee position",
}
"""The summary flags (``summary.flags``) in words, for the text report and the picture."""


SYMMETRY_LABELS = {
    "reps_done": ("reps done", "{:.0f}"),
    "rom_mean_deg": ("mean range of motion, °", "{:.1f}"),
    "lower_mean_s": ("mean lowering time, s", "{:.2f}"),
    "stretch_peak_dorsiflexion_deg": ("best stretch dorsiflexion, °", "{:.1f}"),
    "heel_rise_test_reps": ("heel-rise test reps", "{:.0f}"),
    "lunge_test_shin_angle_deg": ("lunge test shin angle, °", "{:.1f}"),
}
"""The symmetry metrics (``symmetry`` keys) in words, with their number format."""


def flag_text(flag: str) -> str:
    """A summary flag in words (``partial_reps`` → ``partial reps``)."""
    return FLAG_TEXT.get(flag, flag.replace("_", " "))


def plural(n: int, noun: str) -> str:
    """``1 set``, ``3 sets``, ``2 stretches``: a count with its noun."""
    if n == 1:
        return f"{n} {noun}"
    ending = "es" if noun.endswith(("ch", "sh", "s", "x")) else "s"
    return f"{n} {noun}{ending}"


def render_json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list | tuple):
        return ";".join(str(x) for x in v)
    return str(v)


def render_csv(doc: Mapping[str, Any]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=REP_CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in doc["reps"]:
        row = {k: r.get(k) for k in REP_CSV_COLUMNS}
        row.update(
            record="rep",
            number=r["rep_number"],
            rise_verdict=r["verdicts"]["rise"],
            hold_verdict=r["verdicts"]["hold"],
            lower_verdict=r["verdicts"]["lower"],
        )
        w.writerow({k: _cell(v) for k, v in row.items()})
    for h in doc["stretches"]:
        row = {k: h.get(k) for k in REP_CSV_COLUMNS}
        row.update(record="hold", exercise="stretch", number=h["hold_number"])
        w.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def _mean(values: Iterable[Any]) -> float | None:
    v = [float(x) for x in values if x is not None]
    return round(sum(v) / len(v), 3) if v else None


def summary_row(doc: Mapping[str, Any] | None, file: str, error: str = "") -> dict[str, Any]:
    """One ``--summary-csv`` row for a scored file (``doc``) or a failed one (``error``)."""
    row: dict[str, Any] = dict.fromkeys(SUMMARY_COLUMNS, "")
    row["file"] = file
    if doc is None:
        row.update(status="failed", error=error)
        return row
    s = doc["summary"]
    reps = doc["reps"]
    tests = doc["tests"]
    row.update(
        status="ok",
        plan=doc["plan"]["name"],
        sides="+".join(doc["session"].get("sides", [])),
        duration_s=doc["session"].get("duration_s"),
        reps_done=s["reps_done"],
        reps_prescribed=s["reps_prescribed"],
        sets_done=s["sets_done"],
        tempo_compliance_pct=s["tempo_compliance_pct"],
        rise_mean_s=_mean(r["rise_s"] for r in reps),
        hold_mean_s=_mean(r["hold_s"] for r in reps),
        lower_mean_s=_mean(r["lower_s"] for r in reps),
        rom_mean_deg=_mean(r["rom_deg"] for r in reps),
        partial_reps=s["partial_reps"],
        fatigued_sets=s["fatigued_sets"],
        holds_done=s["holds_done"],
        holds_met=s["holds_met"],
        bouncing_holds=sum(h["bouncing"] for h in doc["stretches"]),
        heel_rise_reps=next((t["reps"] for t in tests if t["kind"] == "heel_rise_test"), None),
        lunge_shin_angle_deg=next(
            (t["shin_angle_deg"] for t in tests if t["kind"] == "lunge_test"), None
        ),
        flags=s["flags"],
        compliant=s["compliant"],
        advice=" | ".join(a["text"] for a in doc["advice"]),
    )
    return row


def render_summary_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: _cell(row.get(k)) for k in SUMMARY_COLUMNS})
    return out.getvalue()


# --------------------------------------------------------------------------------------
# the text table


def _n(v: Any, fmt: str = "{:.1f}", empty: str = "–") -> str:
    return empty if v is None else fmt.format(v)


_MARK = {"ok": " ", "short": "↓", "long": "↑", "unknown": "?", "no_target": " "}


def _phase_cell(rep: Mapping[str, Any], phase: str) -> str:
    return f"{_n(rep[f'{phase}_s'], '{:.2f}')}{_MARK[rep['verdicts'][phase]]}"


def _columns(
    header: list[str], rows: list[list[str]], right: set[int], indent: str = "  "
) -> list[str]:
    """Aligned text columns: each as wide as its widest cell, numbers right-aligned, two
    spaces between columns, no trailing spaces."""
    widths = [max(len(c) for c in col) for col in zip(header, *rows)]
    out = []
    for row in (header, *rows):
        cells = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))
        ]
        out.append((indent + "  ".join(cells)).rstrip())
    return out


def _rep_lines(reps: list[Mapping[str, Any]]) -> list[str]:
    header = [
        "rep",
        "start_s",
        "rise_s",
        "hold_s",
        "lower_s",
        "pause_s",
        "ROM°",
        "peak°",
        "verdict",
    ]
    rows = []
    for r in reps:
        bad = [p for p in ("rise", "hold", "lower") if r["verdicts"][p] in ("short", "long")]
        verdict = (
            ", ".join(f"{p} {r['verdicts'][p]}" for p in bad)
            if bad
            else ("ok" if r["within_tolerance"] else "–")
        )
        if r["partial"]:
            verdict += ", partial"
        rows.append(
            [
                str(r["rep_number"]),
                _n(r["t_start_s"]),
                _phase_cell(r, "rise"),
                _phase_cell(r, "hold"),
                _phase_cell(r, "lower"),
                _n(r.get("pause_s"), "{:.2f}"),
                _n(r["rom_deg"]),
                _n(r["peak_angle_deg"]),
                verdict,
            ]
        )
    return _columns(header, rows, right=set(range(8)))


def _stretch_lines(holds: list[Mapping[str, Any]]) -> list[str]:
    header = [
        "side",
        "#",
        "start_s",
        "in_position_s",
        "target_s",
        "peak°",
        "mean°",
        "bounces",
        "knee",
        "expected",
        "notes",
    ]
    rows = []
    for h in holds:
        notes = []
        if h["met"] is False:
            notes.append("short")
        if h["bouncing"]:
            notes.append("BOUNCING")
        if h["knee_in"]:
            notes.append("KNEE IN")
        if h["knee_ok"] is False:
            notes.append("wrong knee")
        rows.append(
            [
                h["side"],
                str(h["hold_number"]),
                _n(h["t_start_s"]),
                _n(h["time_in_position_s"]),
                _n(h["target_s"], "{:g}"),
                _n(h["peak_angle_deg"]),
                _n(h["mean_angle_deg"]),
                str(h["n_bounces"]),
                h["knee"],
                h["knee_expected"],
                ", ".join(notes) or "ok",
            ]
        )
    return _columns(header, rows, right={1, 2, 3, 4, 5, 6, 7})


def render_table(doc: Mapping[str, Any]) -> str:
    """A plain-text report: header, summary, warnings, per-set rep tables, stretches, tests,
    symmetry, advice."""
    lines: list[str] = []
    sess = doc["session"]
    plan = doc["plan"]
    s = doc["summary"]
    head = sess.get("file") or "session"
    sides = sess.get("sides", [])
    dur = sess.get("duration_s")
    legs = " and ".join(sides) + (" legs" if len(sides) > 1 else " leg")
    lines.append(f"{head}  ({legs}, {_n(dur, '{:.0f}')} s)")
    origin = plan.get("origin", "")
    lines.append(f"plan: {plan['name']}" + (f"  [{origin}]" if origin else ""))
    parts = []
    if s["reps_done"] or s["reps_prescribed"]:
        rp = f"/{s['reps_prescribed']}" if s["reps_prescribed"] else ""
        parts.append(f"reps {s['reps_done']}{rp} in {plural(s['sets_done'], 'set')}")
        parts.append(f"tempo compliance {_n(s['tempo_compliance_pct'], '{:.0f}')} %")
    if s["holds_done"] or s["holds_prescribed"]:
        hp = f"/{s['holds_prescribed']}" if s["holds_prescribed"] else ""
        parts.append(f"stretch holds {s['holds_done']}{hp} ({s['holds_met']} on target)")
    if doc["tests"]:
        parts.append(", ".join(t["kind"].replace("_", " ") for t in doc["tests"]))
    verdict = (
        "COMPLIANT"
        if s["compliant"]
        else "NOT COMPLIANT: " + ", ".join(flag_text(f) for f in s["flags"])
    )
    lines.append("; ".join(parts) + f" — {verdict}")
    for w in doc["warnings"]:
        lines.append(f"warning: {w}")
    lines.append("")
    if doc["reps"]:
        lines.append("key: ↓ shorter than the target, ↑ longer than the target;")
        lines.append(
            "     pause_s: rest at the bottom before the next rep; "
            "angles in degrees, dorsiflexion +, plantarflexion −"
        )
        lines.append("")
    targets_by_block = {i: b["tempo"] for i, b in enumerate(plan.get("exercises", []))}
    for st in doc["sets"]:
        reps = [
            r
            for r in doc["reps"]
            if r["side"] == st["side"]
            and r["block"] == st["block"]
            and r["set_number"] == st["set_number"]
        ]
        tempo = targets_by_block.get(st["block"])
        f = st["fatigue"]
        lines.append(
            f"{st['exercise'].replace('_', ' ')} — {st['side']} leg, set {st['set_number']}"
            f"{' (extra)' if st['extra'] else ''}: "
            + (
                f"{st['reps_done']}/{st['reps_prescribed']} reps"
                if st["reps_prescribed"]
                else plural(st["reps_done"], "rep")
            )
            + ", "
            f"tempo compliance {_n(st['tempo_compliance_pct'], '{:.0f}')} %, "
            f"ROM {_n(st['rom_mean_deg'])} ± {_n(st['rom_sd_deg'])}°"
        )
        lines.append(
            f"  first → last third of the set: ROM {_n(f['rom_change_pct'], '{:+.0f}')} %, "
            f"lowering time {_n(f['lower_change_pct'], '{:+.0f}')} %"
            + (" — FATIGUE" if f["fatigued"] else "")
        )
        if tempo:
            lines.append(
                "  targets: "
                + ", ".join(f"{p} {t['text']}" for p, t in tempo.items() if t is not None)
            )
        lines.extend(_rep_lines(reps))
        ph = st["phases"]
        lines.append(
            "  mean ± sd: "
            + ", ".join(
                f"{p} {_n(ph[p]['mean_s'], '{:.2f}')} ± {_n(ph[p]['sd_s'], '{:.2f}')} s"
                for p in ("rise", "hold", "lower")
            )
        )
        lines.append("")
    if doc["stretches"]:
        lines.append("stretch holds (angles in degrees of dorsiflexion)")
        table = _stretch_lines(doc["stretches"])  # one width for every group
        groups: dict[tuple[str, Any], list[int]] = {}
        for i, h in enumerate(doc["stretches"]):
            groups.setdefault((h["side"], h["block"]), []).append(i)
        blocks = {(b["side"], b["block"]): b for b in doc["blocks"]}
        for key, rows in groups.items():
            b = blocks.get(key)
            met = sum(bool(doc["stretches"][i]["met"]) for i in rows)
            if b is not None:
                done = f"holds {len(rows)}/{b['holds_prescribed'] or '–'}"
                target = f" ({b['hold_s']:g} s each)" if b["hold_s"] else ""
                lines.append(f"{b['name']} — {key[0]} leg: {done}{target}, {met} long enough")
            elif len(groups) > 1:
                lines.append(
                    f"stretch holds without a plan block — {key[0]} leg: "
                    f"{plural(len(rows), 'hold')}, {met} long enough"
                )
            lines.append(table[0])
            lines.extend(table[1 + i] for i in rows)
        lines.append("")
    for t in doc["tests"]:
        if t["kind"] == "heel_rise_test":
            lines.append(
                f"heel-rise endurance test ({t['side']} leg): {plural(t['reps'], 'full rep')}"
                + (
                    f" (+{t['reps_including_partial'] - t['reps']} partial), "
                    f"cadence {_n(t['cadence_bpm'], '{:.0f}')} bpm "
                    f"(metronome {_n(t['metronome_bpm'], '{:.0f}')}); "
                    f"norm: median {t['norms']['median_reps_men']} (men) / "
                    f"{t['norms']['median_reps_women']} (women)"
                    if "reps_including_partial" in t
                    else f" — {t.get('note', '')}"
                )
            )
            if t.get("peak_heel_height_cm") is not None:
                lines.append(
                    f"  peak heel height ≈ {t['peak_heel_height_cm']} cm, total work ≈ "
                    f"{_n(t['total_work_j'], '{:.0f}')} J (estimates: {t['estimate_note']})"
                )
            elif t.get("estimate_note"):
                lines.append(f"  {t['estimate_note']}")
        else:
            lines.append(
                f"weight-bearing lunge test ({t['side']}): shin angle "
                f"{_n(t['shin_angle_deg'])}° against the norm {t.get('norm_mean_deg', 45)} ± "
                f"{t.get('norm_sd_deg', 5.5)}° — {t.get('interpretation', 'no data')}; "
                f"changes under {t.get('mdc_deg', 4.6)}° are within measurement noise"
            )
    if doc["tests"]:
        lines.append("")
    if doc["symmetry"]:
        lines.append("left/right symmetry (SI = 100·(L − R) / mean of L and R)")
        header = ["measure", "left", "right", "SI %", ""]
        rows = []
        for name, m in doc["symmetry"].items():
            label, fmt = SYMMETRY_LABELS.get(name, (name.replace("_", " "), "{:.1f}"))
            rows.append(
                [
                    label,
                    _n(m["left"], fmt),
                    _n(m["right"], fmt),
                    _n(m["symmetry_index_pct"], "{:+.0f}"),
                    "ASYMMETRIC" if m["asymmetric"] else "",
                ]
            )
        lines.extend(_columns(header, rows, right={1, 2, 3}))
        lines.append("")
    lines.append("next time:")
    for i, a in enumerate(doc["advice"], start=1):
        lines.append(f"  {i}. {a['text']}")
    return "\n".join(lines) + "\n"
