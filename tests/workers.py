"""A real Celery worker in a child process, for tests that need one.

The worker listens on a queue of its own, so tasks from other runs or from
a stale worker never mix with the test's. It reads the same settings as the
tests; on PostgreSQL it is pointed at the test database, so a test that
commits rows (``transactional_db``) can hand their ids to a task.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.db import connection

from zhenxingdai.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / "var" / "test-workers"


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    queue: str
    name: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 10.0) -> str:
        """The log once it holds ``text``: the worker stores a result before it
        logs the task's success, so the line can lag behind the result."""
        deadline = time.monotonic() + timeout
        log = self.log()
        while text not in log and time.monotonic() < deadline:
            time.sleep(0.1)
            log = self.log()
        return log

    def kill(self) -> None:
        """Kill the worker as a crash would: no warm shutdown, no acks sent."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def test_database_url() -> str | None:
    """The URL of the database the tests run on, for a child process."""
    if connection.vendor != "postgresql":
        return None
    params = connection.settings_dict
    user = params.get("USER") or ""
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    host = params.get("HOST") or "127.0.0.1"
    port = f":{params['PORT']}" if params.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{params['NAME']}"


def start_worker(
    *, startup_timeout: float = 60.0, queue: str | None = None, settings: dict | None = None
) -> WorkerProcess:
    """A worker on ``queue`` (a new one by default), with extra settings
    given as environment variables (``CELERY_VISIBILITY_TIMEOUT``...)."""
    queue = queue or f"test-{uuid.uuid4().hex[:10]}"
    name = f"{uuid.uuid4().hex[:6]}-{queue}@localhost"
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{name}.log"
    env = dict(os.environ)
    # Tasks the worker sends itself (a chord's body) stay on its queue.
    env["CELERY_TASK_DEFAULT_QUEUE"] = queue
    env.update(settings or {})
    database_url = test_database_url()
    if database_url:
        env["DATABASE_URL"] = database_url
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "zhenxingdai",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-Q",
        queue,
        "-n",
        name,
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    worker = WorkerProcess(process=process, queue=queue, name=name, log_path=log_path)
    deadline = time.monotonic() + startup_timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the worker exited with {process.returncode}:\n{worker.log()}")
            if celery_app.control.ping(destination=[name], timeout=0.5):
                return worker
    except BaseException:
        worker.stop()  # a ping that raised would leave the worker running
        raise
    worker.stop()
    raise RuntimeError(f"the worker did not answer within {startup_timeout} s:\n{worker.log()}")


def wait_for(condition, timeout: float, message: str):
    """``condition()``'s first true value, asked every 0.2 s, or fail with
    ``message`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(message)
