"""Settings come from the environment; production mode is hardened.

Each case runs Django in a fresh process with a controlled environment,
because settings are read once at start-up.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "k7#Qz!v2$Lw9@Rt4^Xp8&Nm3*Hs6(Jd1)Fb5_Gc0+Ye7=Ua2-Wq9~Zi4"


def run_django(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE"))}
    for name in ("SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "CELERY_BROKER_URL"):
        clean.pop(name, None)
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_value(expression: str, **env: str) -> str:
    result = run_django(
        "shell", "-c", f"from django.conf import settings; print({expression})", **env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_production_mode_passes_the_deployment_checklist_with_no_warning():
    result = run_django(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="zxd.example.cn",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_development_mode_would_fail_that_checklist():
    # Shows that the check above can fail: the defaults are for a laptop.
    result = run_django("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0


def test_production_mode_refuses_to_start_without_a_secret_key():
    result = run_django("check", DJANGO_ENV="production")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_without_database_url_the_database_is_a_sqlite_file_under_var():
    name = settings_value("settings.DATABASES['default']['NAME']")
    engine = settings_value("settings.DATABASES['default']['ENGINE']")
    assert engine == "django.db.backends.sqlite3"
    assert Path(name).parent == ROOT / "var"


def test_database_url_selects_postgresql():
    engine = settings_value(
        "settings.DATABASES['default']['ENGINE']",
        DATABASE_URL="postgres://zxd:secret@db.internal:5432/zhenxingdai",
    )
    assert engine == "django.db.backends.postgresql"


def test_without_a_broker_tasks_run_eagerly_and_with_one_they_are_queued():
    assert settings_value("settings.CELERY_TASK_ALWAYS_EAGER") == "True"
    queued = settings_value(
        "settings.CELERY_TASK_ALWAYS_EAGER", CELERY_BROKER_URL="redis://127.0.0.1:6379/0"
    )
    assert queued == "False"


def test_the_site_speaks_chinese_first_in_shanghai_time():
    assert settings_value("settings.LANGUAGE_CODE") == "zh-hans"
    assert settings_value("settings.TIME_ZONE") == "Asia/Shanghai"
    assert settings_value("[code for code, _ in settings.LANGUAGES]") == "['zh-hans', 'en']"


def test_production_cookies_are_secure_and_hsts_is_a_year():
    production = {"DJANGO_ENV": "production", "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "x.cn"}
    names = [
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "AXES_CLIENT_IP_CALLABLE",
        "SESSION_COOKIE_AGE",
        "SESSION_SAVE_EVERY_REQUEST",
    ]
    expression = "[getattr(settings, name, None) for name in %r]" % names
    assert settings_value(expression, **production) == repr(
        [True, True, True, True, 31536000, True, "accounts.login.proxied_client_ip", 1800, True]
    )
    # On a laptop (plain HTTP) cookies must not be marked Secure, and the
    # client address is the connection's own.
    assert settings_value(expression) == repr(
        [False, False, True, False, 0, False, None, 1800, True]
    )


def test_the_session_idle_time_comes_from_the_environment():
    assert settings_value("settings.SESSION_COOKIE_AGE", SESSION_IDLE_SECONDS="600") == "600"


def test_postgresql_connections_are_made_without_jit():
    # The startup option, unless DATABASE_JIT asks for PostgreSQL's own default.
    url = "postgres://postgres@127.0.0.1:5432/postgres"
    options = 'settings.DATABASES["default"].get("OPTIONS", {}).get("options")'
    assert settings_value(options, DATABASE_URL=url) == "-c jit=off"
    assert settings_value(options, DATABASE_URL=url, DATABASE_JIT="true") == "None"
    assert settings_value(options, DATABASE_URL="sqlite:////tmp/x.sqlite3") == "None"


@pytest.mark.postgres
def test_the_test_database_connection_has_jit_off(db):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
