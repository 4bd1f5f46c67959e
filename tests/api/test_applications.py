"""GET /api/v1/applications/: released applications of the co-op's county."""

import datetime

import pytest
from django.utils import timezone

from accounts.models import PersonalDataExport
from loans.models import Application
from tests.api.conftest import client_with, codes, other_county_key
from tests.loans.applications.test_flow import released, submit

pytestmark = pytest.mark.django_db

URL = "/api/v1/applications/"


def test_the_coop_reads_a_released_application_with_the_whole_id_number(api, application):
    response = api.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None and len(body["results"]) == 1
    item = body["results"][0]
    borrower = application.borrower
    assert item["id"] == application.pk
    assert item["programme"] == application.programme_id
    assert (item["programme_name"], item["programme_year"]) == ("振兴贷", 2025)
    assert item["applicant_type"] == "borrower"
    assert item["borrower_name"] == borrower.name
    assert item["id_number"] == borrower.id_number and "*" not in item["id_number"]
    assert item["phone"] == "13812345678"
    assert (item["township_code"], item["village"]) == ("530822101", "碧溪村")
    assert item["village_code"] == "530822101001"
    assert item["category"] == "village_committee"
    assert item["industry"] == "生猪"
    assert item["amount"] == "100000.00"
    assert item["term_months"] == 24
    assert datetime.datetime.fromisoformat(item["released_at"]) == application.released_at
    assert item["updated_at"].endswith("+08:00")
    assert item["contract_no"] is None


def test_the_contract_number_appears_once_the_loan_is_posted(api, loan):
    assert api.get(URL).json()["results"][0]["contract_no"] == "MJ-2025-0001"


def test_applications_not_yet_released_are_not_served(api, cast, programme, people):
    submit(cast.county, programme, people.borrower())
    assert Application.objects.count() == 1
    assert api.get(URL).json()["results"] == []


def test_a_coop_of_another_county_sees_none_of_them(cast, application):
    key = other_county_key(cast)
    assert client_with(key).get(URL).json()["results"] == []


def test_updated_since_returns_what_changed_at_or_after_it(api, application):
    since = application.updated_at.isoformat()
    assert len(api.get(URL, {"updated_since": since}).json()["results"]) == 1
    later = (application.updated_at + datetime.timedelta(seconds=1)).isoformat()
    assert api.get(URL, {"updated_since": later}).json()["results"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [({"updated_since": "yesterday"}, "updated_since"), ({"state": "submitted"}, "state")],
)
def test_a_bad_filter_is_a_400_naming_it(api, application, query, field):
    response = api.get(URL, query)
    assert response.status_code == 400
    assert [error_field for _, error_field, _ in codes(response)] == [field]


def test_state_released_is_accepted(api, application):
    assert len(api.get(URL, {"state": "released"}).json()["results"]) == 1


def test_pages_follow_the_order_of_change(api, cast, programme, people, application):
    second = released(cast, programme, people)
    first_page = api.get(URL, {"page_size": 1}).json()
    assert [item["id"] for item in first_page["results"]] == [application.pk]
    assert first_page["next"]
    second_page = api.get(first_page["next"]).json()
    assert [item["id"] for item in second_page["results"]] == [second.pk]
    assert second_page["next"] is None


def test_an_invalid_cursor_is_a_404_in_the_envelope(api, application):
    response = api.get(URL, {"cursor": "not-a-cursor"})
    assert response.status_code == 404
    assert codes(response) == [(None, None, "not_found")]


def test_each_page_served_is_logged_as_an_export_of_personal_data(api, cast, application):
    before = timezone.now()
    api.get(URL, {"state": "released"})
    log = PersonalDataExport.objects.get()
    assert log.user == cast.coop
    assert log.row_count == 1
    assert log.what == "api: applications"
    assert "state=released" in log.filters
    assert log.ip_address == "127.0.0.1"
    assert log.exported_at >= before


def test_only_the_coop_account_reads_them(cast, coop, application):
    assert client_with(None).get(URL).status_code == 401
