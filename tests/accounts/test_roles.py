import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from accounts.roles import ROLE_PERMISSIONS, Role, role_of, township_of
from accounts.services import user_create
from divisions.models import Division


@pytest.mark.django_db
def test_migrations_create_one_group_per_role_with_its_declared_permissions():
    for role in Role:
        group = Group.objects.get(name=role.value)
        granted = {
            f"{perm.content_type.app_label}.{perm.codename}"
            for perm in group.permissions.select_related("content_type")
        }
        assert granted == ROLE_PERMISSIONS[role]


@pytest.mark.django_db
def test_only_the_county_may_change_divisions(cast):
    assert cast.county.has_perm("divisions.change_division")
    for user in (cast.township_officer_a, cast.coop, cast.finance, cast.auditor):
        assert user.has_perm("divisions.view_division")
        assert not user.has_perm("divisions.change_division")


def test_role_of_reads_the_users_role_group(cast):
    assert role_of(cast.county) is Role.COUNTY
    assert role_of(cast.township_officer_b) is Role.TOWNSHIP
    assert role_of(cast.auditor) is Role.AUDITOR


def test_township_of_is_the_binding_for_township_officers_only(cast):
    assert township_of(cast.township_officer_a) == cast.township_a
    assert township_of(cast.township_officer_b) == cast.township_b
    assert township_of(cast.county) is None
    assert township_of(cast.finance) is None


def test_an_account_without_a_role_has_no_role(roleless_user):
    assert role_of(roleless_user) is None


def test_a_township_officer_needs_a_township(mojiang):
    with pytest.raises(ValidationError) as error:
        user_create(username="t", password="x-long-password", role=Role.TOWNSHIP)
    assert "township" in error.value.message_dict


def test_a_township_officer_must_be_bound_to_a_township_not_the_county(mojiang):
    with pytest.raises(ValidationError) as error:
        user_create(username="t", password="x-long-password", role=Role.TOWNSHIP, township=mojiang)
    assert "township" in error.value.message_dict


def test_county_wide_roles_refuse_a_township(mojiang):
    township = Division.objects.townships().first()
    for role in (Role.COUNTY, Role.COOP, Role.FINANCE, Role.AUDITOR):
        with pytest.raises(ValidationError):
            user_create(
                username=f"u-{role}", password="x-long-password", role=role, township=township
            )


def test_a_refused_account_is_not_saved(mojiang, django_user_model):
    with pytest.raises(ValidationError):
        user_create(username="t", password="x-long-password", role=Role.TOWNSHIP)
    assert not django_user_model.objects.filter(username="t").exists()


def test_a_service_account_without_password_cannot_log_in_with_one(mojiang):
    user = user_create(username="coop-api", password=None, role=Role.COOP, county=mojiang)
    assert not user.has_usable_password()
