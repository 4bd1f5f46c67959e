"""A county officer naming another county's programme or township in a form
or a filter (DOMAIN.md section 7; issue #16, bad input): it is not one of
the choices offered, the request is refused or the filter left out, and
nothing is written."""

import re

import pytest
from django.urls import reverse

from divisions.models import Division
from divisions.services import divisions_load
from loans.models import Application, PublicNotice
from tests.loans.conftest import pig_industry, programme_for

NINGER = "530821"


def choices(html: str, name: str) -> set[str]:
    """The option values of the page's select named ``name``."""
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no select named {name}"
    return set(re.findall(r'<option value="([^"]*)"', select.group(1)))


@pytest.fixture
def ninger_programme(cast):
    return programme_for(divisions_load(counties=[NINGER]).county)


def test_the_forms_offer_only_the_users_counties_programmes(
    client, cast, programme, ninger_programme
):
    client.force_login(cast.county)
    for name in ("applications:list", "applications:create", "notices:create", "loans:list"):
        offered = choices(client.get(reverse(name)).content.decode(), "programme")
        assert str(programme.pk) in offered, name
        assert str(ninger_programme.pk) not in offered, name
    ninger_townships = Division.objects.townships().filter(parent__code=NINGER)
    for name in ("applications:list", "loans:list"):
        offered = choices(client.get(reverse(name)).content.decode(), "township")
        assert str(cast.township_a.pk) in offered, name
        assert not offered & {str(pk) for pk in ninger_townships.values_list("pk", flat=True)}


def test_another_countys_programme_in_a_filter_is_left_out(client, cast, ninger_programme):
    client.force_login(cast.county)
    for name in ("applications:list", "loans:list"):
        response = client.get(reverse(name), {"programme": ninger_programme.pk})
        assert response.status_code == 200, name


def test_an_application_for_another_countys_programme_writes_nothing(
    client, cast, people, ninger_programme
):
    borrower = people.borrower()
    client.force_login(cast.county)
    before = Application.objects.count()
    response = client.post(
        reverse("applications:create"),
        {
            "programme": ninger_programme.pk,
            "borrower": borrower.pk,
            "amount": "50000",
            "term_months": "24",
            "industry": pig_industry().pk,
            "purpose": "扩大生猪养殖规模",
        },
    )
    # The hidden choice fell out of scope: back to the first step.
    assert response.status_code == 302
    assert response.url == reverse("applications:create")
    assert Application.objects.count() == before


def test_a_notice_of_another_countys_programme_is_a_field_error(client, cast, ninger_programme):
    client.force_login(cast.county)
    response = client.post(
        reverse("notices:create"),
        {"programme": ninger_programme.pk, "starts_on": "2025-03-01"},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 400
    assert "programme" in response.context["form"].errors
    assert not PublicNotice.objects.exists()
