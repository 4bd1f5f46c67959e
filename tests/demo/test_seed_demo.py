import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.roles import role_of
from demo.generator import SeedResult
from demo.services import DEMO_LOGINS, DEMO_PASSWORD
from divisions.models import Division


@pytest.fixture(autouse=True)
def without_the_registry(monkeypatch):
    """These tests are about logins and divisions; the registry's 10,000-odd
    rows are seeded and checked once in test_demo_figures.py."""
    monkeypatch.setattr("demo.services.demo_registry_seed", lambda **kwargs: SeedResult())


def test_every_printed_demo_login_reaches_its_roles_home_page(client, db, capsys):
    call_command("seed_demo")
    printed = capsys.readouterr().out
    assert DEMO_PASSWORD in printed
    for login in DEMO_LOGINS:
        assert login.username in printed
        client.post(reverse("login"), {"username": login.username, "password": DEMO_PASSWORD})
        response = client.get(reverse("home"))
        assert response.status_code == 200, login.username
        assert response.context["user"].username == login.username
        assert role_of(response.context["user"]) == login.role
        client.post(reverse("logout"))


def test_seeding_twice_changes_nothing(db):
    call_command("seed_demo")
    users = list(get_user_model().objects.order_by("pk").values_list("pk", "username", "password"))
    divisions = list(Division.objects.order_by("pk").values_list("pk", "code", "name"))
    call_command("seed_demo")
    assert (
        list(get_user_model().objects.order_by("pk").values_list("pk", "username", "password"))
        == users
    )
    assert list(Division.objects.order_by("pk").values_list("pk", "code", "name")) == divisions


def test_the_demo_township_officers_are_bound_to_real_mojiang_townships(db):
    call_command("seed_demo")
    officer = get_user_model().objects.get(username="township")
    assert officer.profile.township.name == "联珠镇"
    assert officer.profile.township.parent.code == "530822"


def test_seeding_refuses_production_unless_told(db, settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo")
    assert not get_user_model().objects.exists()
