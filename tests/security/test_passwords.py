"""Django's password validators: at least ten characters, not a common
password, not all digits, not like the account's name; applied where an
account is created (accounts.services.user_create) and where a password is
changed (the admin)."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.roles import Role
from accounts.services import user_create
from tests.conftest import PASSWORD

VALIDATORS = "django.contrib.auth.password_validation."
GOOD = "hani-terraces-2025"
WEAK = {
    "short": "Tg7#kq2!z",  # nine characters
    "common": "password123",
    "numeric": "2025103098",
    "like the name": "lizhongming88",
}


def test_all_four_validators_are_on_with_ten_characters_at_least():
    by_name = {v["NAME"].removeprefix(VALIDATORS): v for v in settings.AUTH_PASSWORD_VALIDATORS}
    assert set(by_name) == {
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    }
    assert by_name["MinimumLengthValidator"]["OPTIONS"]["min_length"] == 10


@pytest.mark.parametrize("kind", list(WEAK))
def test_an_account_is_not_created_with_a_weak_password(mojiang, kind):
    with pytest.raises(ValidationError) as refused:
        user_create(
            username="lizhongming",
            password=WEAK[kind],
            role=Role.COUNTY,
            county=mojiang,
            full_name="李忠明",
            email="lizhongming@example.cn",
        )
    assert "password" in refused.value.message_dict
    assert not get_user_model().objects.filter(username="lizhongming").exists()


def test_a_good_password_creates_an_account_that_logs_in(client, mojiang):
    user_create(username="lizhongming", password=GOOD, role=Role.COUNTY, county=mojiang)
    response = client.post(reverse("login"), {"username": "lizhongming", "password": GOOD})
    assert response.status_code == 302


def test_a_service_account_without_a_password_needs_none(mojiang):
    user = user_create(username="coop-system", password=None, role=Role.COOP, county=mojiang)
    assert not user.has_usable_password()


@pytest.fixture
def admin_client(client, db):
    admin = get_user_model().objects.create_superuser("root", password=PASSWORD)
    client.force_login(admin)
    return client, admin


@pytest.mark.parametrize("kind", ["short", "common", "numeric"])
def test_changing_ones_password_refuses_a_weak_one(admin_client, kind):
    client, admin = admin_client
    response = client.post(
        reverse("admin:password_change"),
        {"old_password": PASSWORD, "new_password1": WEAK[kind], "new_password2": WEAK[kind]},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]
    admin.refresh_from_db()
    assert admin.check_password(PASSWORD)


def test_changing_ones_password_to_a_good_one_works(admin_client):
    client, admin = admin_client
    response = client.post(
        reverse("admin:password_change"),
        {"old_password": PASSWORD, "new_password1": GOOD, "new_password2": GOOD},
    )
    assert response.status_code == 302
    admin.refresh_from_db()
    assert admin.check_password(GOOD)


def test_setting_an_officers_password_in_the_admin_refuses_a_weak_one(admin_client, cast):
    client, _admin = admin_client
    url = reverse("admin:auth_user_password_change", args=[cast.county.pk])
    weak = "county-officer"  # the account's own name
    response = client.post(url, {"password1": weak, "password2": weak})
    assert response.status_code == 200
    assert response.context["form"].errors
    cast.county.refresh_from_db()
    assert cast.county.check_password(PASSWORD)
