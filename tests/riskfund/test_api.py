"""The co-op's compensation claims over the API (DOMAIN.md section 8):
POST /api/v1/compensation-claims/ files a claim once by its claim id (201,
then 200 for the same claim, 409 for the id with other content, 400 with
the field and code of what is wrong); GET lists and reads the co-op's own
claims, in the counties its key reaches, in the API's error envelope.

The loan is section 8's: 50,000 at 4.35 % for a year from 2025-03-20,
10,000 repaid, every settlement's interest collected to maturity, claimed
91 days overdue on 2026-06-19: principal 40,000.00, compensation 32,000.00,
bank 8,000.00; with the principal-plus-interest loss, 91 days of interest
unpaid: 439.83, loss 40,439.83, compensation 32,351.86, bank 8,087.97.
"""

import datetime
import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from accounts.roles import Role
from accounts.services import user_create
from loans.keys.services import api_key_issue, credit_coop_save
from riskfund.models import Claim
from riskfund.services import claim_check, fund_save
from tests.api.conftest import (  # noqa: F401 (fixtures)
    client_with,
    codes,
    fresh_throttle,
    key,
    other_county_key,
)
from tests.riskfund.conftest import CLAIM_DAY, MATURITY, deposit, overdue_loan

URL = "/api/v1/compensation-claims/"
D = datetime.date


@pytest.fixture
def api(key):  # noqa: F811 (fixture)
    return client_with(key)


@pytest.fixture
def loan(cast, programme, people, coop, fund):
    """Section 8's loan, lent while the fund held 20,000 (leverage 10)."""
    deposit(cast, fund, "20000.00", voucher="D-0")
    return overdue_loan(cast, programme, people, coop)


CLAIMED_ON = CLAIM_DAY.isoformat()  # 2026-06-19


def claim(claim_id="C-1", contract_no="MJ-2025-0001", claimed_on=CLAIMED_ON, **extra):
    body = {"claim_id": claim_id, "contract_no": contract_no, "claimed_on": claimed_on}
    body.update(extra)
    return body


def post(api, body):
    return api.post(URL, body, format="json")


def figures(body: dict) -> dict:
    """The body without its filing time (checked apart)."""
    assert body.pop("filed_at")
    return body


def expected(loan, **changed) -> dict:
    body = {
        "claim_id": "C-1",
        "contract_no": "MJ-2025-0001",
        "township_code": loan.township.code,
        "fund": "墨江县振兴贷风险补偿金",
        "claimed_on": "2026-06-19",
        "days_overdue": 91,
        "loss_basis": "principal",
        "principal_outstanding": "40000.00",
        "unpaid_days": 0,
        "interest_unpaid": "0.00",
        "loss": "40000.00",
        "fund_share": "0.8000",
        "compensation": "32000.00",
        "bank_share": "8000.00",
        "state": "filed",
        "comment": "",
        "paid_on": None,
    }
    body.update(changed)
    return body


# Filing ------------------------------------------------------------------------------


def test_a_claim_is_filed_with_the_loss_computed_by_the_system(api, cast, loan):
    response = post(api, claim())
    assert response.status_code == 201, response.content
    assert figures(response.json()) == expected(loan)
    stored = Claim.objects.get()
    assert (stored.coop.code, stored.loan, stored.filed_by) == (
        loan.coop.code,
        loan,
        cast.coop,
    )


def test_the_principal_and_interest_loss(api, cast, fund, loan):
    fund_save(
        actor=cast.county,
        fund=fund,
        programmes=list(fund.programmes.all()),
        loss_basis="principal_interest",
    )
    response = post(api, claim())
    assert response.status_code == 201, response.content
    assert figures(response.json()) == expected(
        loan,
        loss_basis="principal_interest",
        unpaid_days=91,
        interest_unpaid="439.83",
        loss="40439.83",
        compensation="32351.86",
        bank_share="8087.97",
    )


def test_the_same_claim_posted_again_is_200_and_counted_once(api, loan):
    first = post(api, claim())
    again = post(api, claim(claim_id=" C-1 "))  # the id is trimmed, as it was stored
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Claim.objects.count() == 1
    assert Claim.history.count() == 1


@pytest.mark.parametrize(
    "changed",
    [
        {"claimed_on": (CLAIM_DAY + datetime.timedelta(days=1)).isoformat()},
        {"contract_no": "MJ-2025-0002"},
    ],
)
def test_the_claim_id_with_other_content_is_409_and_changes_nothing(
    api, cast, programme, people, coop, loan, changed
):
    overdue_loan(cast, programme, people, coop, number="MJ-2025-0002")
    assert post(api, claim()).status_code == 201
    response = post(api, claim(**changed))
    assert response.status_code == 409, response.content
    assert codes(response) == [(None, "claim_id", "claim_id_conflict")]
    assert "MJ-2025-0001" in response.json()["errors"][0]["message"]
    assert "index" not in response.json()["errors"][0]
    stored = Claim.objects.get()
    assert (stored.loan, stored.claimed_on, Claim.history.count()) == (loan, CLAIM_DAY, 1)


@pytest.mark.parametrize(
    "body, errors",
    [
        (claim(contract_no="MJ-2025-9999"), [("contract_no", "unknown_contract")]),
        (
            claim(claimed_on=(MATURITY + datetime.timedelta(days=89)).isoformat()),
            [("claimed_on", "not_overdue_enough")],
        ),
        (claim(claimed_on="2030-01-01"), [("claimed_on", "claim_date_in_future")]),
        (claim(claimed_on="19/06/2026"), [("claimed_on", "invalid")]),
        (claim(claimed_on="2026-02-30"), [("claimed_on", "invalid")]),
        (claim(claimed_on=20260619), [("claimed_on", "invalid")]),
        (claim(claim_id=1), [("claim_id", "invalid")]),
        (claim(claim_id="  "), [("claim_id", "blank")]),
        (claim(claim_id="C" * 65), [("claim_id", "max_length")]),
        (claim(contract_no=None), [("contract_no", "null")]),
        (
            {},
            [("claim_id", "required"), ("contract_no", "required"), ("claimed_on", "required")],
        ),
    ],
)
def test_a_bad_claim_is_400_with_the_field_and_code(api, loan, body, errors):
    response = post(api, body)
    assert response.status_code == 400, response.content
    assert [(field, code) for _index, field, code in codes(response)] == errors
    assert all(error["message"] for error in response.json()["errors"])
    assert not Claim.objects.exists()


def test_the_message_says_the_days_in_the_requests_language(api, loan):
    early = claim(claimed_on=(MATURITY + datetime.timedelta(days=89)).isoformat())
    message = post(api, early).json()["errors"][0]["message"]
    assert "89" in message and "90" in message
    english = api.post(URL, early, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert "89 days overdue; a claim needs at least 90" in english.json()["errors"][0]["message"]


def test_a_loan_claimed_once_is_refused_under_another_claim_id(api, loan):
    assert post(api, claim()).status_code == 201
    response = post(api, claim(claim_id="C-2"))
    assert response.status_code == 400
    assert codes(response) == [(None, "contract_no", "loan_already_claimed")]
    assert Claim.objects.count() == 1


def test_a_rejected_claim_may_be_filed_again_under_a_new_claim_id(api, cast, loan):
    post(api, claim())
    claim_check(actor=cast.county, claim=Claim.objects.get(), accept=False, comment="材料不全")
    assert post(api, claim()).status_code == 200  # the rejected one, unchanged
    assert post(api, claim()).json()["state"] == "rejected"
    response = post(api, claim(claim_id="C-2"))
    assert response.status_code == 201, response.content
    assert response.json()["state"] == "filed"


def test_a_loan_no_fund_covers_is_refused(api, cast, programme, people, coop):
    overdue_loan(cast, programme, people, coop)
    response = post(api, claim())
    assert codes(response) == [(None, "contract_no", "not_covered")]
    assert response.status_code == 400


def test_a_written_off_loan_is_refused(api, loan):
    type(loan).objects.filter(pk=loan.pk).update(written_off_on=D(2026, 6, 1))
    response = post(api, claim())
    assert codes(response) == [(None, "contract_no", "loan_written_off")]


# Who may -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_no_key_is_401_and_a_wrong_key_401(cast, loan, method):
    for client, code in (
        (client_with(None), "not_authenticated"),
        (client_with("nonsense.key"), "invalid_token"),
    ):
        response = getattr(client, method)(URL, claim(), format="json")
        assert response.status_code == 401, response.content
        assert codes(response) == [(None, None, code)]
    assert client_with(None).get(URL + "C-1/").status_code == 401
    assert not Claim.objects.exists()


def test_a_key_whose_account_is_no_longer_a_coop_account_is_403(api, cast, loan):
    cast.coop.groups.set([Group.objects.get(name=Role.FINANCE)])
    for response in (post(api, claim()), api.get(URL), api.get(URL + "C-1/")):
        assert response.status_code == 403
        assert codes(response) == [(None, None, "not_a_coop_account")]
    assert not Claim.objects.exists()


def test_another_countys_coop_neither_sees_nor_claims(api, cast, loan):
    assert post(api, claim()).status_code == 201
    other = client_with(other_county_key(cast))
    assert other.get(URL + "C-1/").status_code == 404
    assert other.get(URL).json()["results"] == []
    assert other.get(URL, {"claim_id": "C-1"}).json()["results"] == []
    response = post(other, claim(claim_id="T-1"))
    assert response.status_code == 400
    assert codes(response) == [(None, "contract_no", "unknown_contract")]
    assert Claim.objects.count() == 1


def test_another_coop_of_the_county_neither_sees_nor_claims(api, cast, loan):
    assert post(api, claim()).status_code == 201
    rival = credit_coop_save(code="mojiang-rcb", name="墨江农商行", counties=[cast.county_division])
    account = user_create(
        username="coop-rcb", password=None, role=Role.COOP, county=cast.county_division
    )
    other = client_with(api_key_issue(actor=cast.county, user=account, coop=rival)[1])
    assert other.get(URL + "C-1/").status_code == 404
    assert other.get(URL).json()["results"] == []
    # Its own claim id "C-1" is its own: the loan is not its loan.
    response = post(other, claim())
    assert codes(response) == [(None, "contract_no", "unknown_contract")]
    assert Claim.objects.count() == 1


# Reading -------------------------------------------------------------------------------


@pytest.fixture
def two_claims(api, cast, programme, people, coop, loan):
    """C-1 on section 8's loan, checked by the county; PC/2026/2 on a
    second loan like it, filed."""
    overdue_loan(cast, programme, people, coop, number="MJ-2025-0002")
    post(api, claim())
    post(api, claim(claim_id="PC/2026/2", contract_no="MJ-2025-0002"))
    claim_check(actor=cast.county, claim=Claim.objects.get(claim_id="C-1"), accept=True)


def claim_ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["claim_id"] for row in response.json()["results"]]


def test_the_list_pages_by_cursor_and_filters_by_state_and_claim_id(api, two_claims):
    first = api.get(URL, {"page_size": 1})
    assert claim_ids(first) == ["C-1"]
    assert claim_ids(api.get(first.json()["next"])) == ["PC/2026/2"]
    assert claim_ids(api.get(URL)) == ["C-1", "PC/2026/2"]
    assert claim_ids(api.get(URL, {"state": "checked"})) == ["C-1"]
    assert claim_ids(api.get(URL, {"state": "filed"})) == ["PC/2026/2"]
    assert claim_ids(api.get(URL, {"state": "paid"})) == []
    assert claim_ids(api.get(URL, {"claim_id": "PC/2026/2"})) == ["PC/2026/2"]
    assert claim_ids(api.get(URL, {"claim_id": "C-9"})) == []


@pytest.mark.parametrize(
    "query, field, code",
    [
        ({"state": "open"}, "state", "invalid_choice"),
        ({"state": ""}, "state", "blank"),
        ({"page_size": "0"}, "page_size", "invalid"),
        ({"claim_id": "C" * 65}, "claim_id", "max_length"),
    ],
)
def test_a_bad_query_is_400(api, two_claims, query, field, code):
    response = api.get(URL, query)
    assert response.status_code == 400
    assert codes(response) == [(None, field, code)]


def test_one_claim_by_its_claim_id(api, loan, two_claims):
    response = api.get(URL + "C-1/")
    assert response.status_code == 200
    assert figures(response.json()) == expected(loan, state="checked")
    second = api.get(URL + "PC/2026/2/")
    assert (second.status_code, second.json()["contract_no"]) == (200, "MJ-2025-0002")
    missing = api.get(URL + "C-9/")
    assert missing.status_code == 404
    assert codes(missing) == [(None, None, "not_found")]
    assert api.post(URL + "C-1/", {}, format="json").status_code == 405


def test_a_nul_character_in_the_claim_id_is_refused_not_a_server_error(api, two_claims):
    """PostgreSQL refuses text with NUL: never a 500."""
    assert api.get(URL + "C%00-1/").status_code == 404
    response = api.get(URL, {"claim_id": "C\x00-1"})
    assert response.status_code == 400
    assert codes(response) == [(None, "claim_id", "null_characters_not_allowed")]
    response = post(api, claim(claim_id="C\x00-1"))
    assert codes(response) == [(None, "claim_id", "null_characters_not_allowed")]


# At once ---------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_claim_posted_twice_at_once_is_filed_once(key, loan):  # noqa: F811
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def send():
        try:
            barrier.wait(timeout=10)
            statuses.append(post(client_with(key), claim()).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200, 201]
    assert Claim.objects.count() == 1
