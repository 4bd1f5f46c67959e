import re

import pytest
from django.urls import reverse

from accounts.navigation import ACTIONS, Action
from accounts.roles import Role
from tests.conftest import PASSWORD

ROLE_USERS = {
    Role.COUNTY: "county",
    Role.TOWNSHIP: "township_officer_a",
    Role.COOP: "coop",
    Role.FINANCE: "finance",
    Role.AUDITOR: "auditor",
    Role.CITY: "city",
    Role.PROVINCE: "province",
}


def test_anonymous_visitors_are_sent_to_the_login_page(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_login_page_is_in_chinese_by_default(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "zh-hans"
    body = response.content.decode()
    assert "登录" in body
    assert "振兴贷" in body


def test_english_can_be_chosen_in_the_page(client, db):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/login/"})
    assert response.status_code == 302
    body = client.get(reverse("login")).content.decode()
    assert "Log in" in body
    assert "登录" not in body


def test_a_wrong_password_gets_a_chinese_error_and_no_session(client, cast):
    response = client.post(reverse("login"), {"username": "county-officer", "password": "wrong"})
    assert response.status_code == 200
    assert "请输入一个正确的" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("role", list(Role))
def test_each_role_logs_in_to_a_home_page_that_lists_what_it_can_do(client, cast, role):
    user = getattr(cast, ROLE_USERS[role])
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")

    page = client.get(reverse("home"))
    body = page.content.decode()
    assert page.status_code == 200
    assert str(role.label) in body
    titles = set(re.findall(r"<h2>(?:<a [^>]*>)?([^<]+)(?:</a>)?</h2>", body))
    assert titles == {str(action.title) for action in ACTIONS if role in action.roles}


def test_every_part_is_built_and_linked(client, cast):
    client.force_login(cast.county)
    body = client.get(reverse("home")).content.decode()
    assert [a.title for a in ACTIONS if not a.url_name] == []
    assert 'data-testid="not-built"' not in body


def test_a_part_not_built_says_so_instead_of_linking(client, cast, monkeypatch):
    unbuilt = Action(
        title="Risk-compensation fund",
        description="Shares of defaulted principal the fund absorbs.",
        roles=frozenset({Role.COUNTY}),
    )
    monkeypatch.setattr("accounts.navigation.ACTIONS", (*ACTIONS, unbuilt))
    client.force_login(cast.county)
    body = client.get(reverse("home")).content.decode()
    assert body.count('data-testid="not-built"') == 1
    assert "Risk-compensation fund" in body


def test_the_township_officer_sees_their_township_in_the_header(client, cast):
    client.force_login(cast.township_officer_b)
    body = client.get(reverse("home")).content.decode()
    assert "通关镇" in body
    assert "联珠镇" not in body


def test_an_account_without_a_role_is_told_to_ask_for_one(client, roleless_user):
    client.force_login(roleless_user)
    body = client.get(reverse("home")).content.decode()
    assert 'data-testid="no-role"' in body
    assert 'class="action-card' not in body


def test_logout_is_a_post_and_ends_the_session(client, cast):
    client.force_login(cast.finance)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302
