"""A Redis server of the test's own, to stop and start again, and the Celery
app (and Django's settings) pointed at it for the duration of a test.

The shared Redis (6379) is never touched: other tests use it. The server
keeps nothing on disk and listens on a free port of 127.0.0.1.
"""

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from kombu import pools

from tests.services import IN_CI
from zhenxingdai.celery import app as celery_app

ENVIRONMENT = ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "needs the redis-server binary (apt-get install redis-server)"
        if IN_CI:
            pytest.fail(f"CI=true and the test {reason}", pytrace=False)
        pytest.skip(reason)
    return binary


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    def __init__(self, directory: Path):
        self.binary = redis_server_binary()
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def answers(self) -> bool:
        try:
            return redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def start(self, timeout: float = 10.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
        ]
        log = (self.directory / "redis.log").open("a")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "redis-server did not start:\n" + (self.directory / "redis.log").read_text()
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop it as a crash or an operator would: at once, connections cut."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
        assert not self.answers()


def forget_broker_connections() -> None:
    """Drop the app's pooled broker connections and its result backend, so
    that the next use connects to the URL now configured."""
    # kombu keeps the pools in a registry keyed by connection: closing the
    # app's pool alone would leave a closed pool there for the next test on
    # the same URL ("Acquire on closed pool"). Close and forget them all.
    pools.reset()
    celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    consumer = getattr(celery_app._backend, "result_consumer", None)
    if consumer is not None and hasattr(consumer, "subscribed_to"):
        # Results still referenced (a task whose launch failed) would
        # unsubscribe through this connection when collected, in a later
        # test and from a server long gone: close it, and forget them.
        consumer.subscribed_to.clear()
        if consumer._pubsub is not None:
            consumer._pubsub.close()
            consumer._pubsub = None
    celery_app._backend_cache = None
    vars(celery_app._local).pop("backend", None)
    control = celery_app.__dict__.get("control")
    if control is not None:
        # The mailbox (ping, broadcast) keeps the producer pool it first used.
        control.mailbox.__dict__.pop("producer_pool", None)


@contextmanager
def celery_on(url: str, settings):
    """The Celery app and Django's settings (``settings`` is pytest-django's
    fixture) on the broker and result backend at ``url``, tasks queued.
    Celery reads CELERY_BROKER_URL and CELERY_RESULT_BACKEND from the
    environment before its configuration, so those change too."""
    environment = {name: os.environ.get(name) for name in ENVIRONMENT}
    os.environ.update(dict.fromkeys(ENVIRONMENT, url))
    conf = celery_app.conf
    saved = {
        name: conf[name]
        for name in ("broker_url", "result_backend", "task_always_eager", "task_default_queue")
    }
    settings.CELERY_BROKER_URL = url
    settings.CELERY_RESULT_BACKEND = url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    conf.broker_url = url
    conf.result_backend = url
    conf.task_always_eager = False
    forget_broker_connections()
    try:
        yield
    finally:
        for name, value in environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for name, value in saved.items():
            conf[name] = value
        forget_broker_connections()
