"""QA regression: `companion scan` showed "?" in a BATTERY column it had not read."""

from __future__ import annotations

import pytest

from companion.cli import main


@pytest.fixture(autouse=True)
def _config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_without_battery_the_column_is_left_out(capsys) -> None:
    assert main(["scan", "--emulate", "dot", "--timeout", "0.3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["FAMILY", "NAME", "ADDRESS", "RSSI", "PLACEMENT"]
    assert len(lines) == 3
    assert all("?" not in line for line in lines)


def test_with_battery_the_column_shows_percent(capsys) -> None:
    assert main(["scan", "--emulate", "dot", "--timeout", "1", "--battery"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["FAMILY", "NAME", "ADDRESS", "RSSI", "BATTERY", "PLACEMENT"]
    for line in lines[1:]:
        assert "?" not in line
        assert line.split("dBm")[1].split()[0] in {"–"} | {str(p) for p in range(101)}
