import shutil
import subprocess
from pathlib import Path

import pytest
from django.utils import translation

from accounts.navigation import ACTIONS
from accounts.roles import Role

CATALOG = Path(__file__).resolve().parent.parent / "locale" / "zh_Hans" / "LC_MESSAGES"


@pytest.mark.skipif(not shutil.which("msgfmt"), reason="needs GNU gettext (msgfmt)")
def test_every_message_has_a_chinese_translation():
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(CATALOG / "django.po")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "translated message" in result.stderr
    assert "untranslated" not in result.stderr
    assert "fuzzy" not in result.stderr


def test_the_compiled_catalog_is_not_older_than_its_source():
    mo, po = CATALOG / "django.mo", CATALOG / "django.po"
    assert mo.exists(), "run `make` to compile translations"
    assert mo.stat().st_mtime >= po.stat().st_mtime, "run `make` to recompile translations"


def test_roles_and_menus_read_in_chinese_and_in_english():
    with translation.override("zh-hans"):
        assert str(Role.COUNTY.label) == "县委组织部（项目办）"
        assert str(ACTIONS[0].title) == "行政区划"
    with translation.override("en"):
        assert str(Role.COUNTY.label) == "County programme office"
        assert str(ACTIONS[0].title) == "Divisions"
