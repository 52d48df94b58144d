"""Qt tests run offscreen, with settings in a temporary folder, and share one simulated session."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import functools

import pytest

from companion.model import Session


@pytest.fixture(scope="session", autouse=True)
def _isolated_qsettings(tmp_path_factory: pytest.TempPathFactory) -> None:
    """QSettings of every UI test live in a temporary folder, never in the user's home."""
    from PySide6.QtCore import QCoreApplication, QSettings

    QCoreApplication.setOrganizationName("calf-companion-tests")
    QCoreApplication.setApplicationName("companion-tests")
    folder = tmp_path_factory.mktemp("qsettings")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder))


@pytest.fixture(autouse=True)
def _fresh_settings() -> None:
    from PySide6.QtCore import QSettings

    QSettings().clear()


@functools.cache
def _simulated(scenario: str, duration_s: float | None) -> Session:
    from companion.sim import simulate

    return simulate(scenario, seed=3, duration_s=duration_s)


@pytest.fixture
def calf_session() -> Session:
    """About 45 s of the calf-raises scenario: stance, ankle pumps, then reps (cached)."""
    return _simulated("calf-raises", 45.0)


@pytest.fixture
def stretch_session() -> Session:
    """The bouncing-stretch scenario (cached)."""
    return _simulated("stretch-bouncing", None)
