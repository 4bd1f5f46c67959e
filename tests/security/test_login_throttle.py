"""Login throttling (django-axes): five wrong passwords for one username from
one address lock that pair out for the cool-off, with the reason on the
login page; other addresses, other users and the co-op's API key are not
affected; a correct password before the limit clears the count."""

import datetime

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from loans.keys.services import api_key_issue
from tests.conftest import PASSWORD
from tests.loans.conftest import mojiang_coop

LIMIT = 5
COOL_OFF = datetime.timedelta(minutes=15)
WRONG = "not-the-password"


def attempt(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def logged_in(client: Client) -> bool:
    return client.get(reverse("home")).status_code == 200


def test_the_limit_is_five_failures_with_a_fifteen_minute_cool_off():
    assert settings.AXES_FAILURE_LIMIT == LIMIT
    assert settings.AXES_COOLOFF_TIME == COOL_OFF
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_four_wrong_passwords_leave_the_login_open(client, cast):
    for _ in range(LIMIT - 1):
        response = attempt(client, cast.county.username, WRONG)
        assert response.status_code == 200
        assert 'data-testid="lockout"' not in response.content.decode()
    response = attempt(client, cast.county.username, PASSWORD)
    assert response.status_code == 302
    assert logged_in(client)


def test_the_fifth_wrong_password_locks_out_even_the_right_one(client, cast):
    for _ in range(LIMIT - 1):
        attempt(client, cast.county.username, WRONG)
    locked = attempt(client, cast.county.username, WRONG)
    assert locked.status_code == 429
    # The login page again, with the reason, not a bare error page.
    body = locked.content.decode()
    assert 'data-testid="lockout"' in body
    assert 'name="password"' in body
    assert "15" in body.split('data-testid="lockout"')[1].split("</div>")[0]

    right = attempt(client, cast.county.username, PASSWORD)
    assert right.status_code == 429
    assert not logged_in(client)
    record = AccessAttempt.objects.get(username=cast.county.username)
    assert record.failures_since_start >= LIMIT
    # The record of the attempts keeps no password, wrong or right.
    assert WRONG not in record.post_data and PASSWORD not in record.post_data


def test_the_lockout_page_speaks_the_visitors_language(client, cast):
    for _ in range(LIMIT):
        response = attempt(client, cast.county.username, WRONG)
    # The login page in Chinese by default ...
    assert response.headers["Content-Language"] == "zh-hans"
    assert "登录" in response.content.decode()
    # ... and the message through gettext, here in English.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = attempt(client, cast.county.username, WRONG)
    assert response.headers["Content-Language"] == "en"
    assert "Logging in is blocked for 15 minutes" in response.content.decode()


def test_the_lockout_is_per_username_and_address(client, cast):
    for _ in range(LIMIT):
        attempt(client, cast.county.username, WRONG, ip="10.0.0.1")

    elsewhere = Client()
    assert attempt(elsewhere, cast.county.username, PASSWORD, ip="10.0.0.2").status_code == 302
    assert logged_in(elsewhere)

    colleague = Client()
    assert attempt(colleague, cast.finance.username, PASSWORD, ip="10.0.0.1").status_code == 302
    assert logged_in(colleague)


def test_the_lockout_ends_after_the_cool_off(client, cast):
    for _ in range(LIMIT):
        attempt(client, cast.county.username, WRONG)
    assert attempt(client, cast.county.username, PASSWORD).status_code == 429

    # Sixteen minutes pass since the last attempt.
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=16))
    assert attempt(client, cast.county.username, PASSWORD).status_code == 302
    assert logged_in(client)


def test_a_successful_login_clears_the_count(client, cast):
    for _ in range(LIMIT - 1):
        attempt(client, cast.county.username, WRONG)
    assert attempt(client, cast.county.username, PASSWORD).status_code == 302
    assert not AccessAttempt.objects.filter(username=cast.county.username).exists()

    client.post(reverse("logout"))
    for _ in range(LIMIT - 1):
        assert attempt(client, cast.county.username, WRONG).status_code == 200
    assert attempt(client, cast.county.username, PASSWORD).status_code == 302


def test_a_forged_forwarded_for_header_does_not_escape_the_lockout(client, cast):
    # Outside production (no proxy) the header is ignored altogether.
    for n in range(LIMIT):
        client.post(
            reverse("login"),
            {"username": cast.county.username, "password": WRONG},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR="192.0.2.%d" % n,
        )
    assert attempt(client, cast.county.username, PASSWORD, ip="10.0.0.1").status_code == 429


def test_behind_the_proxy_failures_count_against_the_address_it_saw(rf):
    from accounts.login import proxied_client_ip

    request = rf.get("/", HTTP_X_FORWARDED_FOR="192.0.2.7, 203.0.113.9", REMOTE_ADDR="10.1.1.1")
    assert proxied_client_ip(request) == "203.0.113.9"
    assert proxied_client_ip(rf.get("/", REMOTE_ADDR="10.1.1.1")) == "10.1.1.1"


@pytest.mark.parametrize("admin_site", [False, True])
def test_the_admin_login_is_throttled_too(client, cast, admin_site):
    url = reverse("admin:login") if admin_site else reverse("login")
    for _ in range(LIMIT):
        response = client.post(url, {"username": cast.county.username, "password": WRONG})
    assert response.status_code == 429
    assert 'data-testid="lockout"' in response.content.decode()


def test_the_co_op_api_key_works_while_its_account_name_is_locked_out(client, cast):
    coop = mojiang_coop()
    key = api_key_issue(actor=cast.county, user=cast.coop, coop=coop)[1]
    for _ in range(LIMIT):
        attempt(client, cast.coop.username, WRONG, ip="127.0.0.1")
    assert AccessAttempt.objects.filter(username=cast.coop.username).exists()

    response = client.get(
        "/api/v1/applications/", HTTP_AUTHORIZATION="Token " + key, REMOTE_ADDR="127.0.0.1"
    )
    assert response.status_code == 200
