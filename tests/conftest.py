"""Shared fixtures and options."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--sensor-address",
        action="append",
        default=[],
        help="BLE address of a real sensor; enables the hardware tests",
    )


@pytest.fixture
def shared_data() -> Path:
    """The public recordings in ../shared/data (skips when the folder is absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is not present beside the repository")
    return SHARED_DATA
