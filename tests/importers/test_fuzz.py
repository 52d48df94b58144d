"""Damaged exports never crash an importer: a session or one ImportFormatError sentence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from companion.importers import ImportFormatError, load_export
from tests.importers.vendor_files import dot_rows, write_dot, write_metabase, write_witmotion_record

SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
edits = st.lists(
    st.tuples(
        st.floats(0, 1),
        st.sampled_from(["delete", "insert", "newline", "truncate"]),
        st.sampled_from([",", "nan", "x", "-", "", "\t", "9999999999", "°"]),
    ),
    min_size=1,
    max_size=6,
)


def _damage(path: Path, ops) -> None:
    text = path.read_text(encoding="utf-8")
    for pos, op, junk in ops:
        i = int(pos * len(text))
        if op == "delete":
            text = text[:i] + text[i + 7 :]
        elif op == "insert":
            text = text[:i] + junk + text[i:]
        elif op == "newline":
            text = text[:i] + "\n" + junk + "\n" + text[i:]
        else:
            text = text[: max(i, 1)]
    path.write_text(text, encoding="utf-8")


def _outcome(paths, fmt, **kw) -> None:
    try:
        s = load_export(paths, fmt, **kw)
    except ImportFormatError as exc:
        text = str(exc)
        assert text
        assert "\n" not in text
        assert "Traceback" not in text
    else:
        for c in s.chunks.values():
            assert np.all(np.diff(c.t_s) > 0)
            assert np.isfinite(c.acc_m_s2).all()
            assert np.isfinite(c.gyr_dps).all()


@SETTINGS
@given(ops=edits)
def test_damaged_dot(tmp_path: Path, ops) -> None:
    p = write_dot(tmp_path / "1_D422CD003238_20231031_124807.csv", dot_rows(80, stf0=2**32 - 5000))
    _damage(p, ops)
    _outcome([p], "dot", filename_rule="1_*=foot_left")


@SETTINGS
@given(ops=edits)
def test_damaged_metabase(tmp_path: Path, ops) -> None:
    k = np.arange(80)
    t = 1_558_457_705_383 + 10 * k
    xyz = np.column_stack([np.zeros(80), np.zeros(80), np.ones(80)])
    fa = write_metabase(
        tmp_path, name="A", mac="D98B0E4A4D7D", signal="Accelerometer", epoch_ms=t, xyz=xyz
    )
    write_metabase(
        tmp_path, name="A", mac="D98B0E4A4D7D", signal="Gyroscope", epoch_ms=t + 2, xyz=xyz
    )
    _damage(fa, ops)
    _outcome([tmp_path], "metabase", placements={"shin_left": "D98B0E4A4D7D"})


@SETTINGS
@given(ops=edits)
def test_damaged_witmotion(tmp_path: Path, ops) -> None:
    n = 80
    dev = {
        "t_ms": 10.0 * np.arange(n),
        "acc_g": np.tile([0.0, 0.0, 1.0], (n, 1)),
        "gyr_dps": np.zeros((n, 3)),
        "quat_wxyz": np.tile([1.0, 0.0, 0.0, 0.0], (n, 1)),
    }
    p = write_witmotion_record(tmp_path / "w.csv", {"WT1(aa:bb:cc:dd:ee:ff)": dev})
    _damage(p, ops)
    _outcome([p], "witmotion", placements={"shin_left": "WT1*"})


@SETTINGS
@given(ops=edits)
def test_damaged_generic(tmp_path: Path, ops) -> None:
    rows = ["t,ax,ay,az,gx,gy,gz"] + [f"{i * 0.01:.2f},0,0,1,{i},0,0" for i in range(80)]
    p = tmp_path / "g.csv"
    p.write_text("\n".join(rows) + "\n")
    m = tmp_path / "m.toml"
    m.write_text(
        '[time]\ncolumn = "t"\nunit = "s"\n[[sensor]]\nsegment = "foot"\nside = "left"\n'
        'acc = ["ax", "ay", "az"]\nacc_unit = "g"\ngyr = ["gx", "gy", "gz"]\ngyr_unit = "deg/s"\n'
    )
    _damage(p, ops)
    _outcome([p], "generic", map_path=m)
