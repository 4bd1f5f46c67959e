"""A co-op serves one or more counties and each of its keys reaches some of
them (DOMAIN.md section 7): a key never reaches another county's records, a
county office issues keys for its own county only and sees and revokes only
the keys that reach it; ``credit_coop`` says which counties a co-op serves."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.roles import Role
from accounts.services import user_create
from demo.loan_book import loan_book_create
from divisions.models import Division
from divisions.services import divisions_load
from loans.keys.services import api_key_check, api_key_issue, credit_coop_save
from loans.models import ApiKey, CreditCoop, Loan
from tests.api.conftest import client_with
from tests.conftest import PASSWORD
from tests.loans.applications.test_flow import contract, released
from tests.loans.conftest import groups, people, programme, programme_for  # noqa: F401
from tests.reports.conftest import NINGER

pytestmark = pytest.mark.django_db

LOANS = "/api/v1/loans/"


@pytest.fixture
def two(cast):
    """One 联社 lending in 墨江 and 宁洱, two loans in each, and 宁洱's office."""
    mojiang = cast.county_division
    ninger = divisions_load(counties=[NINGER]).county
    office = user_create(
        username="ninger-county", password=PASSWORD, role=Role.COUNTY, county=ninger
    )
    coop = credit_coop_save(code="puer-rcu", name="普洱联社", counties=[mojiang, ninger])
    for actor, county, first in ((cast.county, mojiang, 0), (office, ninger, 500)):
        township = Division.objects.townships().filter(parent=county).order_by("code").first()
        loan_book_create(
            actor=actor,
            township=township,
            programme=programme_for(county),
            coop=coop,
            count=2,
            first_index=first,
        )
    return mojiang, ninger, office, coop


def contracts(key) -> set[str]:
    response = client_with(key).get(LOANS)
    assert response.status_code == 200, response.content
    return {row["contract_no"] for row in response.json()["results"]}


def test_a_key_reaches_the_counties_it_was_issued_for_and_no_other(cast, two):
    mojiang, ninger, _office, coop = two
    both = api_key_issue(actor=None, user=cast.coop, coop=coop)[1]
    assert contracts(both) == {"BK-0000000", "BK-0000001", "BK-0000500", "BK-0000501"}
    mojiang_only = api_key_issue(actor=None, user=cast.coop, coop=coop, counties=[mojiang])[1]
    assert contracts(mojiang_only) == {"BK-0000000", "BK-0000001"}
    assert client_with(mojiang_only).get(LOANS + "BK-0000500/").status_code == 404
    assert client_with(both).get(LOANS + "BK-0000500/").status_code == 200


def test_a_county_office_issues_keys_for_its_own_county_alone(client, cast, two):
    mojiang, ninger, office, coop = two
    client.force_login(cast.county)
    page = client.post(reverse("coop_keys:issue"), {"user": cast.coop.pk, "coop": coop.pk})
    assert page.status_code == 200
    api_key = api_key_check(page.context["key"])
    assert list(api_key.counties.all()) == [mojiang]
    assert contracts(page.context["key"]) == {"BK-0000000", "BK-0000001"}
    # Even named outright, 宁洱 is not 墨江's office's to give.
    with pytest.raises(ValidationError) as refused:
        api_key_issue(actor=cast.county, user=cast.coop, coop=coop, counties=[ninger])
    assert "counties" in refused.value.message_dict
    assert ApiKey.objects.count() == 1


def test_a_county_office_cannot_issue_for_another_countys_coop_or_account(client, cast, two):
    mojiang, ninger, office, _coop = two
    mojiang_only = credit_coop_save(code="mojiang-rcc", name="墨江联社", counties=[mojiang])
    client.force_login(office)
    # 墨江's co-op and 墨江's service account are not choices for 宁洱.
    page = client.post(reverse("coop_keys:issue"), {"user": cast.coop.pk, "coop": mojiang_only.pk})
    assert page.status_code == 400
    assert set(page.context["form"].errors) == {"user", "coop"}
    with pytest.raises(ValidationError) as refused:
        api_key_issue(actor=office, user=cast.coop, coop=mojiang_only)
    assert "user" in refused.value.message_dict
    ninger_account = user_create(
        username="ninger-coop", password=None, role=Role.COOP, county=ninger
    )
    with pytest.raises(ValidationError) as refused:
        api_key_issue(actor=office, user=ninger_account, coop=mojiang_only)
    assert refused.value.message_dict["coop"] == ["墨江联社不服务您所在的县。"]
    assert not ApiKey.objects.exists()


def test_a_county_sees_and_revokes_only_the_keys_that_reach_it(client, cast, two):
    mojiang, ninger, office, coop = two
    mojiang_key, _ = api_key_issue(actor=cast.county, user=cast.coop, coop=coop)
    client.force_login(office)
    listed = client.get(reverse("coop_keys:list")).content.decode()
    assert mojiang_key.prefix not in listed
    revoke = reverse("coop_keys:revoke", args=[mojiang_key.pk])
    assert client.get(revoke).status_code == 404
    assert client.post(revoke).status_code == 404
    mojiang_key.refresh_from_db()
    assert mojiang_key.revoked_at is None
    # A key issued on the server into both counties shows on both pages.
    both, _ = api_key_issue(actor=None, user=cast.coop, coop=coop)
    listed = client.get(reverse("coop_keys:list")).content.decode()
    assert both.prefix in listed and "宁洱哈尼族彝族自治县、墨江哈尼族自治县" in listed  # by code


def test_a_loan_is_refused_from_a_coop_that_does_not_lend_in_its_county(
    cast,
    two,
    programme,  # noqa: F811 (fixture)
    people,  # noqa: F811 (fixture)
):
    _mojiang, ninger, _office, _coop = two
    elsewhere = credit_coop_save(code="ninger-rcc", name="宁洱联社", counties=[ninger])
    application = released(cast, programme, people)
    with pytest.raises(ValidationError) as refused:
        contract(cast, application, elsewhere, contract_no="MJ-2025-0009")
    assert refused.value.message_dict["coop"] == ["宁洱联社不在墨江哈尼族自治县放贷。"]
    assert not Loan.objects.filter(contract_no="MJ-2025-0009").exists()


def test_credit_coop_creates_updates_and_refuses_an_unknown_county(cast, two):
    mojiang, ninger, _office, coop = two
    out = io.StringIO()
    call_command(
        "credit_coop", "jingdong-rcc", "--name", "景东联社", "--county", mojiang.code, stdout=out
    )
    created = CreditCoop.objects.get(code="jingdong-rcc")
    assert list(created.counties.all()) == [mojiang] and "景东联社" in out.getvalue()
    call_command("credit_coop", "jingdong-rcc", "--county", mojiang.code, stdout=io.StringIO())
    assert CreditCoop.objects.filter(code="jingdong-rcc").count() == 1
    with pytest.raises(CommandError, match="999999"):
        call_command("credit_coop", "jingdong-rcc", "--county", "999999", stdout=io.StringIO())
    assert list(created.counties.all()) == [mojiang]
    # Shrinking what a co-op serves shrinks its keys too.
    both, key = api_key_issue(actor=None, user=cast.coop, coop=coop)
    call_command("credit_coop", coop.code, "--county", mojiang.code, stdout=io.StringIO())
    assert list(both.counties.all()) == [mojiang]
    assert contracts(key) == {"BK-0000000", "BK-0000001"}


def test_issue_api_token_names_the_coop_and_its_counties(cast, two):
    mojiang, ninger, _office, coop = two
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "issue_api_token",
        "coop",
        "--coop",
        coop.code,
        "--county",
        ninger.code,
        stdout=out,
        stderr=err,
    )
    assert "普洱联社" in err.getvalue() and ninger.name in err.getvalue()
    assert contracts(out.getvalue().strip()) == {"BK-0000500", "BK-0000501"}
    for county, message in (("999999", "no county"), ("530823", "no county")):
        with pytest.raises(CommandError, match=message):
            call_command("issue_api_token", "coop", "--coop", coop.code, "--county", county)
    jingdong = divisions_load(counties=["530823"]).county
    with pytest.raises(CommandError, match="普洱联社不服务景东"):
        call_command("issue_api_token", "coop", "--coop", coop.code, "--county", jingdong.code)
    assert ApiKey.objects.count() == 1
