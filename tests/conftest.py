"""Shared fixtures and options, and the Hypothesis profiles (see docs/testing.md).

Profiles, chosen by ``HYPOTHESIS_PROFILE`` (or pytest's ``--hypothesis-profile``):

``dev`` (default)
    Random draws, Hypothesis' local example database, no deadline. Every run explores a
    little: a developer may see a new failure, and the database replays it next time.
``ci`` (set by ``.ci/run``)
    The same examples on every run (``derandomize``), no database, no deadline, and a
    ``@reproduce_failure`` blob printed with any failure. CI never fails on a draw nobody
    has seen before, and never on timing.
``explore``
    Random draws with every test's ``max_examples`` multiplied by ``HYPOTHESIS_EXPLORE_FACTOR``
    (default 10), no database, no deadline, blob printed. For looking for bugs on purpose,
    one test file at a time, with several ``--hypothesis-seed`` values.

Per-test ``@settings(...)`` are created when the test module is imported, after this file
has loaded the profile, so every key a test does not set comes from the profile. For the
keys a test does set, the test wins; so that ``ci`` and ``explore`` mean what they say
whatever a test sets, :func:`pytest_collection_modifyitems` re-applies the profile's own keys
on top of each Hypothesis test's settings (``ci``: derandomize, no database, no deadline,
blob; ``explore``: the scaled example count, random draws, no database, no deadline).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import is_hypothesis_test, settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()

# --------------------------------------------------------------------------------------------
# Hypothesis profiles
# --------------------------------------------------------------------------------------------

PROFILES = ("dev", "ci", "explore")
EXPLORE_FACTOR_DEFAULT = 10

settings.register_profile("dev", deadline=None, print_blob=True)
settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, print_blob=True, max_examples=100
)
# max_examples is the base that pytest_collection_modifyitems multiplies, as it does each
# test's own count (registering the product here would multiply twice).
settings.register_profile(
    "explore", derandomize=False, database=None, deadline=None, print_blob=True, max_examples=100
)

# Hypothesis itself switches to its own "ci" profile when it sees a CI service's environment
# (CI=..., GITHUB_ACTIONS=true, ...); ours replaced that one above, and is the default there.
_auto = "ci" if settings.get_current_profile_name() == "ci" else "dev"
_requested = os.environ.get("HYPOTHESIS_PROFILE", "").strip() or _auto
if _requested not in PROFILES:
    raise pytest.UsageError(
        f"HYPOTHESIS_PROFILE={_requested!r} is not a profile of this project; "
        f"use one of {', '.join(PROFILES)} (see docs/testing.md)."
    )
settings.load_profile(_requested)


def explore_factor() -> int:
    """The ``explore`` profile's multiplier of each test's ``max_examples``."""
    raw = os.environ.get("HYPOTHESIS_EXPLORE_FACTOR", "").strip()
    if not raw:
        return EXPLORE_FACTOR_DEFAULT
    try:
        factor = int(raw)
    except ValueError:
        factor = 0
    if factor < 1:
        raise pytest.UsageError(
            f"HYPOTHESIS_EXPLORE_FACTOR={raw!r} must be a whole number of at least 1."
        )
    return factor


def profile_settings(test_settings: settings, profile: str) -> settings:
    """``test_settings`` with the keys ``profile`` insists on put back on top.

    ``dev`` keeps whatever the test says; ``ci`` forces determinism and no deadline;
    ``explore`` multiplies the test's own example count and forces random draws.
    """
    if profile == "ci":
        return settings(
            test_settings, derandomize=True, database=None, deadline=None, print_blob=True
        )
    if profile == "explore":
        return settings(
            test_settings,
            max_examples=test_settings.max_examples * explore_factor(),
            derandomize=False,
            database=None,
            deadline=None,
            print_blob=True,
        )
    return test_settings


def pytest_report_header(config: pytest.Config) -> str:
    name = settings.get_current_profile_name()
    extra = f" (x{explore_factor()} examples)" if name == "explore" else ""
    return f"hypothesis project profile: {name}{extra} (see docs/testing.md)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    profile = settings.get_current_profile_name()
    if profile not in ("ci", "explore"):
        return
    done: set[int] = set()
    for item in items:
        fn = getattr(getattr(item, "obj", None), "__func__", getattr(item, "obj", None))
        if fn is None or not is_hypothesis_test(fn) or id(fn) in done:
            continue
        done.add(id(fn))  # parametrized tests share one function object: scale it once
        # Hypothesis reads this attribute when the test runs (``@seed`` rewrites it the
        # same way); the public ``@settings`` refuses a second application.
        fn._hypothesis_internal_use_settings = profile_settings(
            fn._hypothesis_internal_use_settings, profile
        )


# --------------------------------------------------------------------------------------------
# Options and fixtures
# --------------------------------------------------------------------------------------------


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
