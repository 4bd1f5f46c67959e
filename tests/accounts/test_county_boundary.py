"""The county is the boundary of people's data (DOMAIN.md section 7): two
counties of 普洱市 in one database, each with its own office; neither sees,
reaches or writes the other's records, and every record carries its county."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts.roles import Role, counties_of, may_act_in_township
from accounts.scoping import divisions_for
from accounts.services import user_create
from beneficiaries.divisions.services import division_create
from beneficiaries.models import Borrower, Household, Industry
from beneficiaries.registry.services import household_create
from divisions.models import Division
from divisions.services import divisions_load
from tests.conftest import PASSWORD

NINGER = "530821"  # 宁洱哈尼族彝族自治县, beside Mojiang in 普洱市


@pytest.fixture
def two_counties(cast):
    ninger = divisions_load(counties=[NINGER]).county
    office = user_create(
        username="ninger-county", password=PASSWORD, role=Role.COUNTY, county=ninger
    )
    township = Division.objects.townships().filter(parent=ninger).order_by("code").first()
    return ninger, office, township


def _group(actor, township, code_suffix="001"):
    village = division_create(
        actor=actor, parent=township, code=township.code + code_suffix, name="新村"
    )
    return division_create(actor=actor, parent=village, code=village.code + "001", name="一组")


def test_each_account_is_bound_to_its_county(cast, two_counties):
    ninger, office, _township = two_counties
    assert counties_of(office) == (ninger.pk,)
    assert counties_of(cast.county) == (cast.county_division.pk,)
    # A township officer's county is their township's.
    assert counties_of(cast.township_officer_a) == (cast.county_division.pk,)


def test_a_county_wide_account_needs_a_county(mojiang):
    with pytest.raises(ValidationError) as refused:
        user_create(username="x", password=PASSWORD, role=Role.FINANCE)
    assert "county" in refused.value.message_dict
    township = Division.objects.townships().first()
    with pytest.raises(ValidationError) as refused:
        user_create(username="x", password=PASSWORD, role=Role.FINANCE, county=township)
    assert "county" in refused.value.message_dict


def test_a_household_carries_its_county_and_only_its_county_sees_it(cast, two_counties):
    ninger, office, township = two_counties
    group = _group(office, township)
    household = household_create(
        actor=office, head_name="宁洱户", head_id_number="530821198001010012", village_group=group
    )
    assert household.county_id == ninger.pk and household.township_id == township.pk
    assert list(Household.objects.for_user(office)) == [household]
    assert not Household.objects.for_user(cast.county).filter(pk=household.pk).exists()
    assert not Household.objects.for_user(cast.township_officer_a).filter(pk=household.pk).exists()


def test_a_county_office_cannot_register_in_another_county(cast, two_counties):
    _ninger, office, township = two_counties
    group = _group(office, township)
    assert not may_act_in_township(cast.county, township.pk)
    assert may_act_in_township(office, township.pk)
    with pytest.raises(ValidationError) as refused:
        household_create(
            actor=cast.county,
            head_name="越界户",
            head_id_number="530821198001010032",
            village_group=group,
        )
    assert "village_group" in refused.value.message_dict
    assert not Household.objects.filter(head_name="越界户").exists()


def test_divisions_stop_at_the_county(cast, two_counties):
    ninger, office, township = two_counties
    mine = set(divisions_for(cast.county).values_list("code", flat=True))
    assert "530822" in mine and "5308" in mine and "53" in mine
    assert NINGER not in mine and township.code not in mine
    theirs = set(divisions_for(office).values_list("code", flat=True))
    assert NINGER in theirs and "530822" not in theirs


def test_another_countys_township_page_is_a_404(client, cast, two_counties):
    _ninger, _office, township = two_counties
    client.force_login(cast.county)
    response = client.get(reverse("divisions:township", args=[township.pk]))
    assert response.status_code == 404


def test_a_borrower_of_another_county_is_a_404(client, cast, two_counties):
    from beneficiaries.registry.services import borrower_create

    ninger, office, township = two_counties
    group = _group(office, township)
    household = household_create(
        actor=office, head_name="宁洱户", head_id_number="530821198001010012", village_group=group
    )
    borrower = borrower_create(
        actor=office,
        household=household,
        name="宁洱户",
        id_number="530821198001010012",
        phone="13900000001",
        base_category=Borrower.Category.INDUSTRY_LEADER,
        industry=Industry.objects.filter(parent__isnull=False).first(),
    )
    assert borrower.county_id == ninger.pk
    client.force_login(cast.county)
    assert client.get(reverse("borrowers:detail", args=[borrower.pk])).status_code == 404
    client.force_login(office)
    assert client.get(reverse("borrowers:detail", args=[borrower.pk])).status_code == 200


def test_an_export_is_logged_in_the_exporters_county(rf, cast, roleless_user):
    from accounts.services import personal_data_export_log

    request = rf.get("/")
    request.user = cast.auditor
    logged = personal_data_export_log(request=request, what="borrowers", row_count=3)
    assert logged.county_id == cast.county_division.pk
    request.user = roleless_user
    with pytest.raises(PermissionDenied):
        personal_data_export_log(request=request, what="borrowers", row_count=3)
