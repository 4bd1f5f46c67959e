"""POST /api/v1/loans/ (once per contract number), GET the list and one loan."""

import pytest

from loans.models import Loan
from tests.api.conftest import (
    CONTRACT,
    client_with,
    codes,
    other_county_key,
    quarter_rows,
    repayment_row,
)
from tests.loans.applications.test_flow import contract, released, submit

pytestmark = pytest.mark.django_db

URL = "/api/v1/loans/"


def contract_body(for_application, **extra) -> dict:
    body = {
        "application": for_application.pk,
        "contract_no": CONTRACT,
        "principal": "100000.00",
        "annual_rate": "0.034500",
        "disbursed_on": "2025-03-20",
        "maturity_on": "2027-03-20",
    }
    body.update(extra)
    return body


def test_posting_a_contract_records_the_loan(api, cast, application):
    response = api.post(URL, contract_body(application), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["contract_no"] == CONTRACT
    assert body["application"] == application.pk
    assert body["principal"] == "100000.00"
    assert body["annual_rate"] == "0.034500"
    assert (body["disbursed_on"], body["maturity_on"]) == ("2025-03-20", "2027-03-20")
    assert body["status"] == "active"
    assert body["balance"] == "100000.00"
    assert (body["principal_repaid"], body["interest_paid"]) == ("0.00", "0.00")
    assert body["township_code"] == "530822101"
    loan = Loan.objects.get()
    assert loan.history.get().history_user == cast.coop


def test_the_same_contract_posted_again_is_200_with_the_same_body(api, application):
    first = api.post(URL, contract_body(application), format="json")
    again = api.post(URL, contract_body(application, principal="100000.0"), format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Loan.objects.count() == 1
    assert Loan.history.count() == 1


def test_the_same_contract_with_different_content_is_409_and_changes_nothing(api, application):
    api.post(URL, contract_body(application), format="json")
    response = api.post(
        URL, contract_body(application, principal="90000.00", annual_rate="0.040000"), format="json"
    )
    assert response.status_code == 409
    assert codes(response) == [
        (None, "principal", "contract_conflict"),
        (None, "annual_rate", "contract_conflict"),
    ]
    assert "100000.00" in response.json()["errors"][0]["message"]
    loan = Loan.objects.get()
    assert loan.principal == 100000 and Loan.history.count() == 1


def test_an_application_that_is_already_lent_is_409(api, application):
    api.post(URL, contract_body(application), format="json")
    response = api.post(URL, contract_body(application, contract_no="MJ-2025-0002"), format="json")
    assert response.status_code == 409
    assert codes(response) == [(None, "application", "application_already_lent")]


def test_an_unknown_application_or_one_of_another_county_is_refused(cast, api, application):
    response = api.post(URL, contract_body(application, application=999999), format="json")
    assert response.status_code == 400
    assert codes(response) == [(None, "application", "unknown_application")]
    key = other_county_key(cast)
    response = client_with(key).post(URL, contract_body(application), format="json")
    assert codes(response) == [(None, "application", "unknown_application")]
    assert not Loan.objects.exists()


def test_an_application_not_yet_released_cannot_be_lent(api, cast, programme, people):
    application = submit(cast.county, programme, people.borrower())
    response = api.post(URL, contract_body(application), format="json")
    assert response.status_code == 400
    assert codes(response) == [(None, "application", "application_not_released")]


def test_every_broken_term_of_a_contract_is_listed(api, application):
    response = api.post(
        URL,
        contract_body(
            application, principal="100000.01", annual_rate="0.050000", maturity_on="2031-03-20"
        ),
        format="json",
    )
    assert response.status_code == 400
    assert sorted(codes(response)) == [
        (None, "annual_rate", "rate_above_ceiling"),
        (None, "maturity_on", "maturity_outside_term"),
        (None, "principal", "principal_above_approved"),
    ]
    assert not Loan.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"principal": 100000}, "principal", "invalid"),
        ({"principal": "1e5"}, "principal", "invalid"),
        ({"principal": "0.00"}, "principal", "amount_not_positive"),
        ({"annual_rate": "0.0345"}, None, None),
        ({"annual_rate": "1.000000"}, "annual_rate", "max_value"),
        ({"disbursed_on": "2025-3-20"}, "disbursed_on", "invalid"),
        ({"application": "1"}, "application", "invalid"),
        ({"contract_no": ""}, "contract_no", "blank"),
        ({"contract_no": "x" * 41}, "contract_no", "max_length"),
    ],
)
def test_a_malformed_field_is_named_with_its_code(api, application, change, field, code):
    response = api.post(URL, contract_body(application, **change), format="json")
    if field is None:
        assert response.status_code == 201
        assert response.json()["annual_rate"] == "0.034500"
        return
    assert response.status_code == 400
    assert codes(response) == [(None, field, code)]


def test_a_missing_field_is_required(api, application):
    body = contract_body(application)
    del body["maturity_on"]
    response = api.post(URL, body, format="json")
    assert codes(response) == [(None, "maturity_on", "required")]


def test_the_loan_reads_back_with_its_balance_and_totals(api, loan):
    api.post("/api/v1/interest-payments/", quarter_rows(2), format="json")
    api.post("/api/v1/repayments/", repayment_row(amount="40000.00"), format="json")
    response = api.get(URL + CONTRACT + "/")
    assert response.status_code == 200
    body = response.json()
    assert body["interest_paid"] == "1601.01"  # 800.00 + 801.01
    assert body["principal_repaid"] == "40000.00"
    assert body["balance"] == "60000.00"
    assert body["status"] == "active"


def test_a_loan_repaid_in_full_reads_as_repaid(api, loan):
    api.post("/api/v1/repayments/", repayment_row(amount="100000.00"), format="json")
    body = api.get(URL + CONTRACT + "/").json()
    assert (body["balance"], body["status"]) == ("0.00", "repaid")
    assert api.get(URL, {"status": "repaid"}).json()["results"][0]["contract_no"] == CONTRACT
    assert api.get(URL, {"status": "active"}).json()["results"] == []


def test_an_unknown_contract_or_another_coops_loan_is_404(cast, api, loan):
    response = api.get(URL + "MJ-404/")
    assert response.status_code == 404
    assert codes(response) == [(None, None, "not_found")]
    key = other_county_key(cast)
    assert client_with(key).get(URL + CONTRACT + "/").status_code == 404
    assert client_with(key).get(URL).json()["results"] == []


def test_a_contract_number_with_a_nul_is_404_not_an_error(api, loan):
    response = api.get(URL + "MJ%00/")
    assert response.status_code == 404
    assert codes(response) == [(None, None, "not_found")]


def test_a_contract_number_with_a_slash_reads_back(api, cast, coop, application):
    contract(cast, application, coop, contract_no="MJ/2025/7")
    assert api.get(URL + "MJ/2025/7/").json()["contract_no"] == "MJ/2025/7"


def test_posting_to_a_loan_makes_it_show_as_updated(api, loan):
    since = api.get(URL).json()["results"][0]["updated_at"]
    api.post("/api/v1/interest-payments/", quarter_rows(1), format="json")
    changed = api.get(URL, {"updated_since": since}).json()["results"]
    assert [item["contract_no"] for item in changed] == [CONTRACT]
    assert changed[0]["updated_at"] > since


def test_the_list_pages_by_change(api, cast, programme, people, coop, loan):
    contract(cast, released(cast, programme, people), coop, contract_no="MJ-2025-0002")
    page = api.get(URL, {"page_size": 1}).json()
    assert [item["contract_no"] for item in page["results"]] == [CONTRACT]
    assert [item["contract_no"] for item in api.get(page["next"]).json()["results"]] == [
        "MJ-2025-0002"
    ]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"updated_since": ""}, 400),
        ({"status": ""}, 400),
        ({"page_size": "0"}, 400),
        ({"page_size": "1001"}, 400),
        ({"page_size": "null"}, 400),
        # Far-off offsets and dates near year 1 are valid ISO 8601 that
        # PostgreSQL or UTC cannot hold as given: answered, never a 500.
        ({"updated_since": "0100-01-15T00:03:00+18:01"}, 200),
        ({"updated_since": "0001-01-01T00:00:00+01:00"}, 400),
    ],
)
def test_a_query_parameter_is_checked_before_it_is_used(api, loan, query, status):
    response = api.get(URL, query)
    assert response.status_code == status
    if status == 400:
        assert codes(response)[0][1] == next(iter(query))
