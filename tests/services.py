"""Which real services this test run has, and what to do when one is missing.

Outside CI a test that needs a missing service is skipped with the reason.
With CI=true it fails instead: CI installs and starts everything, so a
missing service there is a broken pipeline, not a reason to pass quietly.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


def postgres_missing() -> str | None:
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    return None


def redis_missing() -> str | None:
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis"):
        return "needs Redis: set CELERY_BROKER_URL=redis://..."
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {url} does not answer: {exc}"
    return None


def browser_missing() -> str | None:
    if not Path(CHROMIUM_PATH).exists():
        return f"needs Chromium at {CHROMIUM_PATH} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs the playwright package (requirements-dev.txt)"
    return None


CHECKS = {"postgres": postgres_missing, "redis": redis_missing, "browser": browser_missing}


def require(service: str) -> None:
    """Skip (or, in CI, fail) the current test when ``service`` is missing."""
    reason = CHECKS[service]()
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true and the test {reason}", pytrace=False)
    pytest.skip(reason)
