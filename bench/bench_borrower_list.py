"""The borrower list page with 100,000 borrowers, against the hand-written
SQL of the same page.

Two pages, as a county officer sees them: one township's third page
(``?township=<id>&page=3``) and a name search (``?q=<name>``). The
baseline for each is one SQL query returning the same 50 rows (same
filter, ORDER BY, LIMIT and OFFSET) plus its COUNT, timed in the same run
in alternating rounds (median of five rounds of five). The bench first
checks that the page's selector and the baseline return the same rows, so
the two measure the same work. It also prints how many queries a page
takes, which must not grow with the number of rows.

The borrowers are inserted with bulk_create (no history, no validation:
what is measured is reading them), in 15 townships × 4 villages × 5 groups,
one household each.
"""

import datetime
import os
import random
import statistics
from collections import Counter

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from stdnum.cn import ric

from accounts.roles import Role
from accounts.services import user_create
from bench.harness import Figure, timed
from beneficiaries.divisions.services import division_create
from beneficiaries.models import Borrower, Household, Industry
from beneficiaries.registry import selectors
from beneficiaries.registry.views import PAGE_SIZE
from demo import data
from divisions.models import Division
from divisions.services import divisions_load

BORROWERS = int(os.environ.get("BENCH_BORROWERS", "100000"))
VILLAGES_PER_TOWNSHIP = 4
GROUPS_PER_VILLAGE = 5
PAGE = 3
BATCH = 5000

COLUMNS = """
    SELECT b.id, b.name, b.id_number, b.phone, b.party_member, b.category, b.created_at,
           t.name, t.code, h.poverty_status, g.name, g.code, v.name, i.name
      FROM beneficiaries_borrower b
      JOIN beneficiaries_division t ON t.id = b.township_id
      JOIN beneficiaries_household h ON h.id = b.household_id
      JOIN beneficiaries_division g ON g.id = h.village_group_id
      JOIN beneficiaries_division v ON v.id = g.parent_id
      JOIN beneficiaries_industry i ON i.id = b.industry_id
"""
# The list's default order (beneficiaries.filters.DEFAULT_ORDER).
ORDER = " ORDER BY t.code, g.code, b.name, b.id LIMIT %s OFFSET %s"


def _name_contains() -> str:
    """The SQL of Django's ``icontains`` on each engine."""
    if connection.vendor == "postgresql":
        return "UPPER(b.name::text) LIKE UPPER(%s)"
    return "b.name LIKE %s ESCAPE '\\'"


def _groups(actor) -> list[Division]:
    groups = []
    for township in Division.objects.townships().order_by("code"):
        for v in range(1, VILLAGES_PER_TOWNSHIP + 1):
            village = division_create(
                actor=actor,
                parent=township,
                code="%s%03d" % (township.code, 200 + v),
                name=data.VILLAGE_STEMS[len(groups) // GROUPS_PER_VILLAGE] + "村",
            )
            for g in range(1, GROUPS_PER_VILLAGE + 1):
                groups.append(
                    division_create(
                        actor=actor,
                        parent=village,
                        code="%s%03d" % (village.code, g),
                        name=data.GROUP_NUMBERS[g - 1] + "组",
                    )
                )
    return groups


def _fill(actor, count: int) -> None:
    """``count`` borrowers, each the head of a household of their own."""
    rng = random.Random(530822)
    groups = _groups(actor)
    kinds = list(Industry.objects.filter(parent__isnull=False))
    surnames, weights = zip(*data.SURNAMES, strict=True)
    first_birth_date = datetime.date(1966, 1, 2)
    households, borrowers = [], []
    for index in range(count):
        male = rng.random() < 0.8
        # A distinct (birth date, sequence) for each index keeps IDs unique.
        birth_date = first_birth_date + datetime.timedelta(days=index % 12000)
        base = "530822%s%02d%s" % (
            birth_date.strftime("%Y%m%d"),
            index // 12000,
            rng.choice("13579" if male else "02468"),
        )
        id_number = base + ric.calc_check_digit(base + "0")
        name = rng.choices(surnames, weights)[0] + rng.choice(
            data.MALE_GIVEN_NAMES if male else data.FEMALE_GIVEN_NAMES
        )
        group = groups[index % len(groups)]
        households.append(
            Household(
                head_name=name,
                head_id_number=id_number,
                village_group=group,
                township_id=group.parent.parent_id,
                county_id=group.parent.parent.parent_id,
                member_count=rng.randint(1, 7),
                poverty_status=rng.choice(Household.PovertyStatus.values),
            )
        )
        category = rng.choice(Borrower.Category.values[:4])
        borrowers.append(
            Borrower(
                name=name,
                id_number=id_number,
                gender=Borrower.Gender.MALE if male else Borrower.Gender.FEMALE,
                birth_date=birth_date,
                phone="13%09d" % index,
                township_id=group.parent.parent_id,
                county_id=group.parent.parent.parent_id,
                party_member=rng.random() < 0.6,
                base_category=Borrower.Category.INDUSTRY_LEADER,
                category=category,
                industry=rng.choice(kinds),
            )
        )
    Household.objects.bulk_create(households, batch_size=BATCH)
    for borrower, household in zip(borrowers, households, strict=True):
        borrower.household_id = household.pk
    Borrower.objects.bulk_create(borrowers, batch_size=BATCH)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics for the tables just filled


def _raw_page(where: str, params: list, offset: int) -> tuple[list, int]:
    with connection.cursor() as cursor:
        cursor.execute(COLUMNS + " WHERE " + where + ORDER, [*params, PAGE_SIZE, offset])
        rows = cursor.fetchall()
        cursor.execute("SELECT COUNT(*) FROM beneficiaries_borrower b WHERE " + where, params)
        (total,) = cursor.fetchone()
    return rows, total


def _interleaved(baseline, measured, rounds: int = 5) -> tuple[float, float]:
    """Medians of both, timed in alternating rounds so that a burst of load
    on this shared machine falls on both sides rather than on one."""
    baselines, measures = [], []
    for _ in range(rounds):
        baselines.append(timed(baseline, repeat=5))
        measures.append(timed(measured, repeat=5))
    return statistics.median(baselines), statistics.median(measures)


def run() -> list[Figure]:
    county = divisions_load(counties=["530822"]).county
    user = user_create(
        username="bench-county", password="bench-password-1", role=Role.COUNTY, county=county
    )
    _fill(user, BORROWERS)
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    url = reverse("borrowers:list")

    township = Division.objects.get(code="530822105")  # 团田镇
    name = Counter(Borrower.objects.values_list("name", flat=True)).most_common(1)[0][0]
    cases = [
        (
            "borrower list: township, page %d" % PAGE,
            {"township": str(township.pk), "page": str(PAGE)},
            "b.township_id = %s",
            [township.pk],
            (PAGE - 1) * PAGE_SIZE,
        ),
        (
            "borrower list: search by name",
            {"q": name},
            _name_contains(),
            ["%" + name + "%"],
            0,
        ),
    ]
    print(
        "%d borrowers; township %s holds %d; %d are called %s"
        % (
            Borrower.objects.count(),
            township.name,
            Borrower.objects.filter(township=township).count(),
            Borrower.objects.filter(name__contains=name).count(),
            name,
        )
    )

    figures = []
    for label, params, where, sql_params, offset in cases:
        # Same rows, or the comparison means nothing.
        selected = selectors.borrower_list(user=user, params=params).qs
        expected = [b.pk for b in selected[offset : offset + PAGE_SIZE]]
        rows, total = _raw_page(where, sql_params, offset)
        assert [row[0] for row in rows] == expected, label
        assert total == selected.count(), label
        assert len(rows) == min(PAGE_SIZE, total - offset) > 0, label

        def page(params=params):
            response = client.get(url, params)
            assert response.status_code == 200

        def raw(where=where, sql_params=sql_params, offset=offset):
            _raw_page(where, sql_params, offset)

        with CaptureQueriesContext(connection) as queries:
            page()
        print("%s: %d queries per page" % (label, len(queries)))
        baseline, seconds = _interleaved(raw, page)
        figures.append(Figure(label, seconds, "raw SQL of the page + COUNT", baseline))
    return figures
