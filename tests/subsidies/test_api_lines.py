"""GET /api/v1/subsidy-lines/: a co-op reads the lines of approved runs for
its own loans, nothing of a run still being computed, checked or approved,
nothing of another co-op's loans; filtered by year and programme, paged by
cursor, in the API's error envelope.

The loans are those of tests/subsidies/payout/test_services.py: 100,000 at 3.45 %
from 2025-03-20, whose 2025 interest is 9.58 + 881.67 + 881.67 + 872.08 =
2,645.00, all of it subsidised (no quota or rate cap below the contract).
"""

import datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache

from accounts.roles import Role
from accounts.services import user_create
from loans.keys.services import api_key_issue, credit_coop_save
from loans.models import CreditCoop
from subsidies.models import SubsidyRun
from subsidies.payout.services import payment_batch_issue, payment_batch_record
from subsidies.runs.services import subsidy_run_start, subsidy_run_submit
from tests.api.conftest import client_with
from tests.subsidies.conftest import AFTER_2025
from tests.subsidies.payout.test_services import approved_run

URL = "/api/v1/subsidy-lines/"
State = SubsidyRun.State


@pytest.fixture(autouse=True)
def fresh_throttle():
    """Request counts live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api(cast, coop):
    """A client with a key of the cast's co-op service account."""
    return client_with(api_key_issue(actor=cast.county, user=cast.coop, coop=coop)[1])


@pytest.fixture
def other_coop(mojiang) -> CreditCoop:
    return credit_coop_save(code="mojiang-rcb", name="墨江农村商业银行", counties=[mojiang])


@pytest.fixture
def other_api(cast, other_coop):
    user = user_create(
        username="coop-rcb", password=None, role=Role.COOP, county=cast.county_division
    )
    return client_with(api_key_issue(actor=cast.county, user=user, coop=other_coop)[1])


@pytest.fixture
def loans(cast, programme, people, coop, other_coop, lend):
    """Two loans of the co-op in township a, one of the other co-op in b."""
    ours = [lend(), lend()]
    theirs = lend(township=cast.township_b, lender=other_coop, contract_no="RCB-0001")
    return ours, theirs


def contracts(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [line["contract_no"] for line in response.json()["results"]]


def test_the_coop_reads_its_lines_of_an_approved_run(api, cast, programme, loans):
    run = approved_run(cast, programme)
    response = api.get(URL)

    assert contracts(response) == ["MJ-2025-0001", "MJ-2025-0002"]
    first = response.json()["results"][0]
    assert first == {
        "id": run.lines.get(loan=loans[0][0]).pk,
        "contract_no": "MJ-2025-0001",
        "year": 2025,
        "programme": programme.pk,
        "reported_interest": "2645.00",
        "expected_interest": "2645.00",
        "eligible_interest": "2645.00",
        "subsidy": "2645.00",
        "adjustment": "0.00",
        "amount_due": "2645.00",
        "payment_status": "pending",
        "paid_on": None,
        "voucher_no": "",
    }


def test_payment_shows_once_recorded_and_a_paid_run_stays_visible(api, cast, programme, loans):
    run = approved_run(cast, programme)
    batch = payment_batch_issue(actor=cast.finance, run=run)
    assert {line["payment_status"] for line in api.get(URL).json()["results"]} == {"issued"}
    payment_batch_record(
        actor=cast.finance,
        batch=batch,
        voucher_no="YH20260203",
        paid_on=datetime.date(2026, 2, 3),
        today=datetime.date(2026, 2, 10),
    )
    run.refresh_from_db()
    assert run.state == State.PAID

    results = api.get(URL).json()["results"]
    assert [(r["payment_status"], r["paid_on"], r["voucher_no"]) for r in results] == [
        ("paid", "2026-02-03", "YH20260203"),
        ("paid", "2026-02-03", "YH20260203"),
    ]


def test_a_run_not_yet_approved_is_not_served(api, cast, programme, loans):
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=AFTER_2025)
    run.refresh_from_db()
    assert run.state == State.COMPUTED and run.lines.count() == 3
    assert contracts(api.get(URL)) == []
    subsidy_run_submit(actor=cast.county, run=run)
    assert contracts(api.get(URL)) == []


def test_each_coop_sees_its_own_loans_only(api, other_api, cast, programme, loans):
    approved_run(cast, programme)
    assert contracts(api.get(URL)) == ["MJ-2025-0001", "MJ-2025-0002"]
    assert contracts(other_api.get(URL)) == ["RCB-0001"]


def test_the_year_and_programme_filter_the_lines(api, cast, programme, loans):
    approved_run(cast, programme)
    assert len(contracts(api.get(URL, {"year": 2025}))) == 2
    assert contracts(api.get(URL, {"year": 2024})) == []
    assert len(contracts(api.get(URL, {"programme": programme.pk, "year": 2025}))) == 2
    assert contracts(api.get(URL, {"programme": programme.pk + 1000})) == []


def test_a_bad_filter_is_400_in_the_error_envelope(api, cast, programme, loans):
    approved_run(cast, programme)
    for params, field in (({"year": "last"}, "year"), ({"programme": 0}, "programme")):
        response = api.get(URL, params)
        assert response.status_code == 400
        assert [error["field"] for error in response.json()["errors"]] == [field]
    assert api.get(URL, {"year": ""}).status_code == 400


def test_pages_follow_the_cursor(api, cast, programme, loans):
    approved_run(cast, programme)
    first = api.get(URL, {"page_size": 1}).json()
    assert [line["contract_no"] for line in first["results"]] == ["MJ-2025-0001"]
    assert first["previous"] is None
    second = api.get(first["next"]).json()
    assert [line["contract_no"] for line in second["results"]] == ["MJ-2025-0002"]
    assert second["next"] is None
    assert api.get(URL, {"cursor": "nonsense"}).status_code == 404


def test_the_endpoint_needs_a_key_and_the_permission(api, cast, programme, loans):
    approved_run(cast, programme)
    assert client_with(None).get(URL).status_code == 401
    permission = Permission.objects.get(codename="view_subsidyline")
    Group.objects.get(name=Role.COOP).permissions.remove(permission)
    response = api.get(URL)
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "missing_permission"


def test_staff_logged_in_to_the_site_are_not_served(client, cast, programme, loans):
    approved_run(cast, programme)
    client.force_login(cast.finance)
    assert client.get(URL).status_code == 401
