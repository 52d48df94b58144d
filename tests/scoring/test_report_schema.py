"""Renderers come from the same data; the document validates against the shipped schema."""

from __future__ import annotations

import csv
import io
import json

import pytest

from companion.scoring import load_builtin_preset
from companion.scoring.report import (
    REP_CSV_COLUMNS,
    SUMMARY_COLUMNS,
    render_csv,
    render_json,
    render_summary_csv,
    render_table,
    summary_row,
)
from companion.scoring.schema import load_schema, validate, validate_score
from companion.scoring.score import score_analysis
from tests.scoring.fakes import make_hold, make_sets, result


def _docs():
    seed = load_builtin_preset("seed")
    yield score_analysis(
        {
            "left": result(
                make_sets(3, 6, lower_s=lambda s, i: 3 - 0.5 * s, partial=lambda s, i: i == 5)
            )
        },
        seed,
        session_meta={"file": "a.calf", "sides": ["left"], "duration_s": 120.0},
    )
    both = {"left": result(make_sets(1, 8)), "right": result(make_sets(1, 8, rom_deg=28.0))}
    yield score_analysis(both, None)
    holds = [
        make_hold(t0=0, bouncing=True, n_bounces=4),
        make_hold(t0=50, knee="bent", knee_in=True),
    ]
    yield score_analysis({"right": result([], holds)}, load_builtin_preset("stretch"))
    yield score_analysis({"left": result(make_sets(1, 20))}, load_builtin_preset("heel-rise-test"))
    yield score_analysis({"left": result([], [make_hold(t0=0)])}, load_builtin_preset("lunge-test"))


@pytest.mark.parametrize("doc", list(_docs()))
def test_documents_validate_against_schema(doc):
    assert validate_score(doc) == []
    assert validate_score(json.loads(render_json(doc))) == []


def test_validator_catches_violations():
    doc = next(_docs())
    bad = json.loads(render_json(doc))
    bad["reps"][0]["verdicts"]["lower"] = "quick"
    bad["summary"]["reps_done"] = -1
    bad["sets"][0]["surprise"] = 1
    del bad["advice"]
    bad["session"]["duration_s"] = "long"
    errors = validate_score(bad)
    joined = "\n".join(errors)
    assert "/reps/0/verdicts/lower: 'quick' is not one of" in joined
    assert "/summary/reps_done: -1 is below the minimum 0" in joined
    assert "/sets/0: unexpected key 'surprise'" in joined
    assert "/: missing required key 'advice'" in joined
    assert "/session/duration_s: expected number or null, got str" in joined
    assert len(errors) == 5
    with pytest.raises(ValueError, match="unsupported keywords"):
        validate(1, {"pattern": "x"})


def test_every_schema_definition_is_used_and_closed():
    schema = load_schema()
    text = json.dumps(schema)
    for name, d in schema["$defs"].items():
        assert f"#/$defs/{name}" in text, name
        if d.get("type") == "object" and name not in ("session",):
            assert d["additionalProperties"] is False, name


def test_csv_has_one_row_per_rep_and_hold_with_same_numbers():
    for doc in _docs():
        rows = list(csv.DictReader(io.StringIO(render_csv(doc))))
        assert len(rows) == len(doc["reps"]) + len(doc["stretches"])
        for row, rep in zip(rows, doc["reps"]):
            assert tuple(row) == REP_CSV_COLUMNS
            assert row["record"] == "rep"
            assert float(row["lower_s"]) == rep["lower_s"]
            assert row["lower_verdict"] == rep["verdicts"]["lower"]


def test_table_shows_verdicts_and_advice():
    doc = next(_docs())
    text = render_table(doc)
    assert "NOT COMPLIANT" in text
    assert "lower short" in text
    assert "2.00↓" in text
    assert "next time:" in text
    assert doc["advice"][0]["text"] in text


def test_summary_csv_ok_and_failed_rows():
    doc = next(_docs())
    rows = [summary_row(doc, "a.calf"), summary_row(None, "b.calf", "b.calf: broken")]
    parsed = list(csv.DictReader(io.StringIO(render_summary_csv(rows))))
    assert tuple(parsed[0]) == SUMMARY_COLUMNS
    assert parsed[0]["status"] == "ok"
    assert int(parsed[0]["reps_done"]) == doc["summary"]["reps_done"]
    assert parsed[0]["compliant"] == "false"
    assert parsed[1]["status"] == "failed"
    assert parsed[1]["error"] == "b.calf: broken"
