"""Fixtures of the history tests: the loans' people and programme, the
co-op's API key and the subsidy run's loans (borrowed from the tests of
those apps), and a client that logs in and sends its own address."""

import pytest
from django.core.cache import cache

from tests.api.conftest import key  # noqa: F401 (fixture)
from tests.loans.conftest import coop, groups, people, programme  # noqa: F401 (fixtures)
from tests.subsidies.conftest import launch_at_once, lend  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def fresh_throttle():
    """API request counts live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def logged_in(client, user):
    client.force_login(user)
    return client
