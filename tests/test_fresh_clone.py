"""The README's first command from a fresh clone of HEAD, as a newcomer runs
it: no var/ left over from earlier runs, `make demo` migrates, seeds and
serves, the login page renders and the county's home page loads
(scripts/demo-check.sh). In CI (CI=true) the clone installs a virtualenv of
its own, as a newcomer's does; elsewhere the project's virtualenv is linked
into the clone to save the install. HEAD is what is checked: commit before
relying on it locally."""

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.skipif(
        shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout"
    ),
    # Five minutes of its own (an install and the whole demo): started first.
    pytest.mark.first,
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_make_demo_serves_from_a_fresh_clone(tmp_path):
    venv = Path(sys.prefix)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "MEDIA_ROOT", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(DEMO_PORT=str(free_port()), TMPDIR=str(tmp_path))
    if os.environ.get("CI") != "true":
        env["DEMO_VENV"] = str(venv)
    # Output to a file, not a pipe, and the check in a session of its own:
    # on a timeout the whole session is killed and what it printed is shown,
    # and no process left behind can keep the test waiting for a pipe's end.
    output = tmp_path / "demo-check.log"
    with output.open("w") as sink:
        check = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "demo-check.sh")],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = check.wait(timeout=600)
        except subprocess.TimeoutExpired:
            os.killpg(check.pid, signal.SIGKILL)
            check.wait()
            pytest.fail("the demo check took more than 600 s:\n" + output.read_text())
    printed = output.read_text()
    assert returncode == 0, printed
    assert "/healthz answers 200" in printed
    assert "logged in as county, home page served" in printed
    assert "the demo stopped" in printed
