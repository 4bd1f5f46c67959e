import pytest

from tests.subsidies.conftest import (  # noqa: F401  (fixtures)
    AFTER_2025,
    coop,
    groups,
    launch_at_once,
    lend,
    people,
    programme,
)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Stored report files go to a directory of the test's own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture(autouse=True)
def report_launch_at_once(monkeypatch, request):
    """As for subsidy runs: the generation a request queues on commit is
    started at once in tests whose transaction never commits."""
    if "transactional_db" not in request.fixturenames:
        monkeypatch.setattr("reports.services._after_commit", lambda callback: callback())
