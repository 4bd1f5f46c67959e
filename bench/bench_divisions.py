"""The division list page against the hand-written SQL of the same rows.

What it shows: the cost of Django's request, ORM and template layers on a
small page, so that later pages have a reference for their own overhead.
"""

from django.db import connection
from django.test import Client

from accounts.roles import Role
from accounts.services import user_create
from bench.harness import Figure, timed
from divisions.services import divisions_load

RAW_SQL = """
    SELECT t.code, t.name,
           COUNT(DISTINCT v.id) AS villages,
           COUNT(DISTINCT g.id) AS groups
      FROM beneficiaries_division t
      LEFT JOIN beneficiaries_division v ON v.parent_id = t.id
      LEFT JOIN beneficiaries_division g ON g.parent_id = v.id
     WHERE t.level = 'township'
     GROUP BY t.id, t.code, t.name
     ORDER BY t.code
"""


def run() -> list[Figure]:
    county = divisions_load(counties=["530822"]).county
    user = user_create(
        username="bench-county", password="bench-password-1", role=Role.COUNTY, county=county
    )
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)

    def page():
        response = client.get("/divisions/")
        assert response.status_code == 200

    def raw():
        with connection.cursor() as cursor:
            cursor.execute(RAW_SQL)
            assert len(cursor.fetchall()) == 15

    baseline = timed(raw, repeat=21)
    seconds = timed(page, repeat=21)
    return [Figure("division list page (15 townships)", seconds, "raw SQL of the rows", baseline)]
