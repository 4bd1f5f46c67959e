"""The backup and restore scripts the README gives, tried once: a backup of
the test database (pg_dump) and the stored files, restored (pg_restore) into
a new database and directory, holds the same rows and files; restoring
again over it replaces rather than duplicates."""

import subprocess
import uuid
from pathlib import Path

import psycopg2
import pytest

from tests import workers
from tests.workers import ROOT

TABLES = ("auth_user", "auth_group", "beneficiaries_division", "django_migrations")


def counts(url: str) -> dict[str, int]:
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        result = {}
        for table in TABLES:
            cursor.execute(f"SELECT count(*) FROM {table}")
            result[table] = cursor.fetchone()[0]
        return result


def run(script: str, *args, env: dict) -> str:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / script), *map(str, args)],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_into_a_new_database_with_the_same_rows_and_files(cast, tmp_path):
    source = workers.test_database_url()
    media = tmp_path / "media"
    (media / "reports").mkdir(parents=True)
    (media / "reports" / "county.pdf").write_bytes(b"%PDF-1.7 stored report")

    out = run("backup.sh", tmp_path / "backups", env={"DATABASE_URL": source, "MEDIA_ROOT": media})
    dump, tarball = (Path(line) for line in out.split())
    assert dump.stat().st_size > 10_000
    assert oct(dump.stat().st_mode & 0o777) == "0o600", "the dump holds personal data"

    name = f"zxd_restore_{uuid.uuid4().hex[:8]}"
    restored_media = tmp_path / "restored-media"
    admin = psycopg2.connect(source)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    target = source.rsplit("/", 1)[0] + "/" + name
    try:
        env = {"DATABASE_URL": target, "MEDIA_ROOT": restored_media}
        run("restore.sh", dump, tarball, env=env)
        expected = counts(source)
        assert expected["auth_user"] >= 6  # the cast
        assert counts(target) == expected
        assert (restored_media / "reports" / "county.pdf").read_bytes() == (
            b"%PDF-1.7 stored report"
        )
        # Again over the restored copy: replaced, not doubled.
        run("restore.sh", dump, env=env)
        assert counts(target) == expected
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
