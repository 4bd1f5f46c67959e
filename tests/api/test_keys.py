"""The county office's page for the co-op's API keys, and
``manage.py issue_api_token``."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from loans.keys.services import api_key_check, api_key_issue
from loans.models import ApiKey
from tests.api.conftest import client_with, other_county_key

pytestmark = pytest.mark.django_db

LIST = reverse("coop_keys:list")
ISSUE = reverse("coop_keys:issue")


@pytest.fixture
def county(client, cast):
    client.force_login(cast.county)
    return client


def test_the_page_lists_coop_accounts_and_their_keys(county, cast, coop):
    used, key = api_key_issue(actor=cast.county, user=cast.coop, coop=coop)
    client_with(key).get("/api/v1/loans/")
    api_key_issue(actor=cast.county, user=cast.coop, coop=coop)
    page = county.get(LIST)
    assert page.status_code == 200
    html = page.content.decode()
    assert "coop" in html
    assert html.count("…</td>") == 2  # two prefixes
    assert used.prefix in html
    assert "从未使用" in html  # the second key was never used
    assert "township-officer-a" not in html  # only co-op accounts
    assert key not in html


def test_issuing_shows_the_key_once_and_the_key_works(county, cast, coop):
    page = county.post(ISSUE, {"user": cast.coop.pk, "coop": coop.pk})
    assert page.status_code == 200
    assert "no-cache" in page["Cache-Control"] or "no-store" in page["Cache-Control"]
    key = page.context["key"]
    assert key in page.content.decode()
    assert "只显示这一次" in page.content.decode()
    api_key = ApiKey.objects.get()
    assert (api_key.user, api_key.coop, api_key.created_by) == (cast.coop, coop, cast.county)
    assert client_with(key).get("/api/v1/loans/").status_code == 200
    assert key not in county.get(LIST).content.decode()


def test_a_key_is_issued_only_to_a_coop_account(county, cast, coop):
    page = county.post(ISSUE, {"user": cast.finance.pk, "coop": coop.pk})
    assert page.status_code == 400
    assert page.context["form"].errors["user"]
    assert not ApiKey.objects.exists()


def test_revoking_asks_first_then_shuts_the_key_out(county, cast, coop):
    api_key, key = api_key_issue(actor=cast.county, user=cast.coop, coop=coop)
    url = reverse("coop_keys:revoke", args=[api_key.pk])
    confirm = county.get(url)
    assert confirm.status_code == 200 and api_key.prefix in confirm.content.decode()
    api_key.refresh_from_db()
    assert api_key.revoked_at is None
    assert county.post(url).url == LIST
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert client_with(key).get("/api/v1/loans/").status_code == 401
    listed = county.get(LIST).content.decode()
    assert "使用中" not in listed  # the only key now shows when it was revoked
    assert reverse("coop_keys:revoke", args=[api_key.pk]) not in listed


@pytest.mark.parametrize("who", ["township_officer_a", "finance", "auditor", "coop"])
def test_only_the_county_office_manages_keys(client, cast, coop, who):
    api_key, _key = api_key_issue(actor=cast.county, user=cast.coop, coop=coop)
    client.force_login(getattr(cast, who))
    assert client.get(LIST).status_code == 403
    assert client.post(ISSUE, {"user": cast.coop.pk, "coop": coop.pk}).status_code == 403
    assert client.post(reverse("coop_keys:revoke", args=[api_key.pk])).status_code == 403
    assert ApiKey.objects.count() == 1
    api_key.refresh_from_db()
    assert api_key.revoked_at is None


def test_an_anonymous_visitor_is_sent_to_log_in(client, db):
    assert client.get(LIST).url.startswith(reverse("login"))


# manage.py issue_api_token ---------------------------------------------------------


def test_the_command_prints_a_working_key(cast, coop):
    out, err = io.StringIO(), io.StringIO()
    call_command("issue_api_token", "coop", stdout=out, stderr=err)
    key = out.getvalue().strip()
    api_key = api_key_check(key)
    assert api_key is not None and api_key.user == cast.coop and api_key.coop == coop
    assert api_key.prefix in err.getvalue()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["nobody-here"], "no account"),
        (["finance-officer"], ""),
        (["coop", "--coop", "nowhere"], "no co-op"),
    ],
)
def test_the_command_refuses_what_it_cannot_do(cast, coop, arguments, message):
    with pytest.raises(CommandError) as refused:
        call_command("issue_api_token", *arguments, stdout=io.StringIO())
    assert message in str(refused.value)
    assert not ApiKey.objects.exists()


def test_the_command_needs_the_coop_named_when_there_are_several(cast, coop):
    other_county_key(cast)  # 铜仁's co-op, whose key is the first row
    ApiKey.objects.all().delete()
    with pytest.raises(CommandError):
        call_command("issue_api_token", "coop", stdout=io.StringIO())
    call_command("issue_api_token", "coop", "--coop", "tongren", stdout=io.StringIO())
    assert ApiKey.objects.get().coop.code == "tongren"
