"""The Hypothesis profiles of tests/conftest.py do what docs/testing.md says.

These pin Hypothesis' own behaviour too (how a per-test ``@settings`` combines with the
loaded profile), so a Hypothesis upgrade that changes it fails here, not as CI flakes.
"""

from __future__ import annotations

import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import conftest


@settings(max_examples=4, derandomize=False, deadline=datetime.timedelta(seconds=30))
@given(st.integers())
def test_probe_with_its_own_settings(n: int) -> None:
    """Sets the keys the profiles care about; its effective settings are checked below."""
    assert isinstance(n, int)


def test_ci_profile_is_deterministic_and_untimed() -> None:
    ci = settings.get_profile("ci")
    assert ci.derandomize is True
    assert ci.database is None
    assert ci.deadline is None
    assert ci.print_blob is True


def test_explore_profile_is_random_and_untimed() -> None:
    ex = settings.get_profile("explore")
    assert ex.derandomize is False
    assert ex.database is None
    assert ex.deadline is None


def test_a_per_test_settings_inherits_the_profile_keys_it_does_not_set() -> None:
    # What a module-level @settings(...) gets when conftest has loaded "ci" before the import.
    s = settings(
        settings.get_profile("ci"),
        max_examples=3,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    assert s.max_examples == 3
    assert s.derandomize is True
    assert s.database is None
    assert s.deadline is None


def test_profile_settings_puts_the_profile_keys_back_on_top(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    own = settings(
        settings.get_profile("dev"),
        max_examples=7,
        derandomize=False,
        deadline=datetime.timedelta(milliseconds=200),
        suppress_health_check=[HealthCheck.too_slow],
    )
    ci = conftest.profile_settings(own, "ci")
    assert (ci.derandomize, ci.database, ci.deadline, ci.max_examples) == (True, None, None, 7)
    assert list(ci.suppress_health_check) == [HealthCheck.too_slow]

    monkeypatch.setenv("HYPOTHESIS_EXPLORE_FACTOR", "3")
    ex = conftest.profile_settings(own, "explore")
    assert (ex.derandomize, ex.database, ex.deadline, ex.max_examples) == (False, None, None, 21)

    assert conftest.profile_settings(own, "dev") is own


@pytest.mark.parametrize("raw", ["0", "-2", "ten", "2.5"])
def test_bad_explore_factor_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("HYPOTHESIS_EXPLORE_FACTOR", raw)
    with pytest.raises(pytest.UsageError, match="HYPOTHESIS_EXPLORE_FACTOR"):
        conftest.explore_factor()


def test_ci_settings_draw_the_same_examples_every_run() -> None:
    def draws() -> list[int]:
        seen: list[int] = []

        @conftest.profile_settings(settings(max_examples=20, derandomize=False), "ci")
        @given(st.integers())
        def inner(n: int) -> None:
            seen.append(n)

        inner()
        return seen

    first = draws()
    assert len(first) >= 10
    assert draws() == first


def test_the_loaded_profile_reaches_every_collected_test(request: pytest.FixtureRequest) -> None:
    """The collection hook has rewritten this file's probe (and every Hypothesis test)."""
    profile = settings.get_current_profile_name()
    assert profile in conftest.PROFILES
    probe = test_probe_with_its_own_settings._hypothesis_internal_use_settings
    if profile == "ci":
        assert (probe.derandomize, probe.database, probe.deadline) == (True, None, None)
        assert probe.max_examples == 4
    elif profile == "explore":
        assert (probe.derandomize, probe.deadline) == (False, None)
        assert probe.max_examples == 4 * conftest.explore_factor()
    else:
        assert (probe.derandomize, probe.max_examples) == (False, 4)
    for item in request.session.items:
        fn = getattr(item, "obj", None)
        s = getattr(fn, "_hypothesis_internal_use_settings", None)
        if s is not None and profile == "ci":
            assert (s.derandomize, s.database, s.deadline) == (True, None, None), item.nodeid
