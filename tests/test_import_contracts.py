"""The direction of imports (pyproject.toml, [tool.importlinter]) holds on
the tree, and each contract breaks when someone adds the import it forbids:
shown on a copy of the code with one line added."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [
    "zhenxingdai",
    "demo",
    "reports",
    "subsidies",
    "riskfund",
    "loans",
    "beneficiaries",
    "accounts",
    "divisions",
    "common",
]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_the_tree_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken", "explained"),
    [
        # accounts sits above divisions: the division tree may not know who uses it.
        (
            "divisions/models.py",
            "from accounts import roles",
            "Apps import only the apps below them",
            "divisions is not allowed to import accounts",
        ),
        # loans below subsidies.
        (
            "loans/ledger/services.py",
            "from subsidies.models import SubsidyLine",
            "Apps import only the apps below them",
            "loans is not allowed to import subsidies",
        ),
        # The circle the launcher removed: a service importing its tasks.
        (
            "reports/services.py",
            "from reports import tasks",
            "Services queue tasks by name",
            "reports.services is not allowed to import reports.tasks",
        ),
        # Two sub-domains of one app leaning on each other: programmes
        # already use applications (a programme's budget used).
        (
            "loans/applications/services.py",
            "from loans.programmes import services as programme_services",
            "No circles between the packages inside an app",
            "allowed in loans",
        ),
        # The rule itself must not reach for the database.
        (
            "subsidies/calculation.py",
            "from django.db import models",
            "The subsidy rule stands alone",
            "subsidies.calculation is not allowed to import django",
        ),
    ],
)
def test_an_added_import_breaks_its_contract(tmp_path, module, line, broken, explained):
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "migrations", "templates", "static"),
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    assert lint_imports(tmp_path).returncode == 0  # the copy is as good as the tree

    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(tmp_path)

    assert result.returncode == 1
    assert broken in result.stdout
    assert "BROKEN" in result.stdout
    assert explained in " ".join(result.stdout.split())
