"""Checks that docker-compose.yml and the Dockerfile agree with the project.

A variable set in compose that settings.py never reads is silently ignored in
production, so the names are compared against the ones settings.py passes to
``env``. None of this needs Django, a database or Docker.
"""

import ast
import json
import re
import shlex
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "zhenxingdai" / "settings.py"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

APP_SERVICES = ("web", "worker", "beat")
REQUIRED_VARIABLES = {
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "DJANGO_ENV",
    "ALLOWED_HOSTS",
}


def env_names_read(source: str) -> set[str]:
    """Names passed as the first argument to ``env(...)`` or ``env.<cast>(...)``."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        calls_env = (isinstance(func, ast.Name) and func.id == "env") or (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "env"
        )
        first = node.args[0]
        if calls_env and isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.add(first.value)
    return names


@cache
def settings_names() -> frozenset[str]:
    return frozenset(env_names_read(SETTINGS.read_text(encoding="utf-8")))


@cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def service(name: str) -> dict:
    return compose()["services"][name]


def environment_names(svc: dict) -> set[str]:
    env = svc.get("environment") or {}
    if isinstance(env, dict):
        return set(env)
    # The list form is "NAME=value" or a bare "NAME" passed through from the host.
    return {item.split("=", 1)[0] for item in env}


def command_text(svc: dict) -> str:
    command = svc.get("command", "")
    if isinstance(command, list):
        command = " ".join(command)
    return " ".join(command.split())


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined."""
    logical, pending = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        # Docker also skips comments and blank lines inside a continued instruction.
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    instructions = []
    for text in logical:
        keyword, _, arguments = text.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def dockerfile_runs() -> list[str]:
    return [args for keyword, args in dockerfile_instructions() if keyword == "RUN"]


def apt_packages_installed() -> set[str]:
    packages = set()
    for run in dockerfile_runs():
        for step in re.split(r"&&|;", run):
            words = shlex.split(step)
            if words[:2] in (["apt-get", "install"], ["apt", "install"]):
                packages.update(w for w in words[2:] if not w.startswith("-"))
    return packages


def test_settings_parser_finds_database_and_broker_urls():
    names = settings_names()
    assert "DATABASE_URL" in names
    assert "CELERY_BROKER_URL" in names


def test_settings_parser_ignores_calls_not_on_env():
    source = (
        "import os\n"
        "A = env.str('READ_VIA_ATTRIBUTE')\n"
        "B = env('READ_DIRECTLY')\n"
        "C = os.environ.get('NOT_THROUGH_ENV')\n"
        "D = other.str('NOT_ENV_EITHER')\n"
        "E = env.str(NAME_IN_A_VARIABLE)\n"
    )
    assert env_names_read(source) == {"READ_VIA_ATTRIBUTE", "READ_DIRECTLY"}


def test_compose_defines_every_service():
    assert {"db", "redis", "web", "worker", "beat"} <= set(compose()["services"])


def test_db_redis_and_web_have_healthchecks():
    for name in ("db", "redis", "web"):
        healthcheck = service(name).get("healthcheck") or {}
        assert healthcheck.get("test"), f"{name} has no healthcheck test"
        assert not healthcheck.get("disable"), f"{name} disables its healthcheck"


def test_app_services_wait_for_healthy_db_and_redis():
    for name in APP_SERVICES:
        depends_on = service(name).get("depends_on")
        # The short list form cannot express a condition, so it does not count.
        assert isinstance(depends_on, dict), f"{name} depends_on lacks conditions"
        for dependency in ("db", "redis"):
            condition = (depends_on.get(dependency) or {}).get("condition")
            assert condition == "service_healthy", f"{name} -> {dependency}: {condition}"


def test_database_data_lives_on_a_declared_named_volume():
    data_dir = "/var/lib/postgresql/data"
    sources = []
    for volume in service("db").get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("target") == data_dir:
                sources.append(volume.get("source"))
        else:
            source, _, rest = volume.partition(":")
            if rest.split(":")[0] == data_dir:
                sources.append(source)
    assert len(sources) == 1, f"{data_dir} mounted {len(sources)} times"
    source = sources[0]
    assert not source.startswith((".", "/", "~")), f"{source} is a bind mount"
    assert source in (compose().get("volumes") or {})


def test_worker_runs_the_celery_worker():
    assert "celery -A zhenxingdai worker" in command_text(service("worker"))


def test_beat_runs_celery_beat():
    assert "celery -A zhenxingdai beat" in command_text(service("beat"))


def test_web_runs_gunicorn_on_the_wsgi_application():
    command = command_text(service("web"))
    assert "gunicorn" in command
    assert "zhenxingdai.wsgi:application" in command


def test_every_compose_variable_is_read_by_settings():
    for name in APP_SERVICES:
        unread = environment_names(service(name)) - settings_names()
        assert not unread, f"{name} sets variables settings.py never reads: {sorted(unread)}"


def test_app_services_set_the_essential_variables():
    for name in APP_SERVICES:
        missing = REQUIRED_VARIABLES - environment_names(service(name))
        assert not missing, f"{name} does not set {sorted(missing)}"


def test_app_services_share_one_environment():
    web, worker, beat = (service(name).get("environment") for name in APP_SERVICES)
    assert web == worker == beat


def test_dockerfile_installs_cjk_fonts_and_pango():
    packages = apt_packages_installed()
    assert {"fonts-noto-cjk", "libpango-1.0-0", "libpangoft2-1.0-0"} <= packages


def test_dockerfile_installs_requirements_txt():
    assert any(
        re.search(r"\bpip install\b.*-r\s+requirements\.txt\b", run) for run in dockerfile_runs()
    )


def test_dockerfile_command_serves_the_wsgi_application_with_gunicorn():
    commands = [
        args for keyword, args in dockerfile_instructions() if keyword in ("CMD", "ENTRYPOINT")
    ]
    assert commands, "Dockerfile has neither CMD nor ENTRYPOINT"
    words = []
    for args in commands:
        words += json.loads(args) if args.startswith("[") else shlex.split(args)
    assert "gunicorn" in words
    assert "zhenxingdai.wsgi:application" in words


def test_dockerfile_bakes_no_secret_key_into_the_image():
    for keyword, args in dockerfile_instructions():
        if keyword in ("ENV", "ARG"):
            assert "SECRET_KEY" not in args
