import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from beneficiaries.industries.services import industry_save, industry_usage
from beneficiaries.models import Industry
from tests.beneficiaries import factories


def industry(name: str) -> Industry:
    return Industry.objects.get(name=name)


@pytest.mark.parametrize("role", ["township_officer_a", "coop", "finance", "auditor"])
def test_it_refuses_anyone_but_the_county_office(cast, role):
    actor = getattr(cast, role)
    with pytest.raises(PermissionDenied):
        industry_save(actor=actor, name="渔业")
    with pytest.raises(PermissionDenied):
        industry_save(actor=actor, industry=industry("生猪"), name="猪", parent=industry("养殖业"))
    assert not Industry.objects.filter(name__in=["渔业", "猪"]).exists()


def test_a_kind_cannot_sit_under_a_kind(cast):
    with pytest.raises(ValidationError) as caught:
        industry_save(actor=cast.county, name="黑猪", parent=industry("生猪"), farming="husbandry")
    assert list(caught.value.message_dict) == ["parent"]
    assert not Industry.objects.filter(name="黑猪").exists()


def test_a_sector_with_kinds_cannot_go_under_another_sector(cast):
    with pytest.raises(ValidationError) as caught:
        industry_save(
            actor=cast.county,
            industry=industry("文化旅游"),
            name="文化旅游",
            parent=industry("种植业"),
        )
    assert "文化旅游" in caught.value.message_dict["parent"][0]
    assert industry("文化旅游").parent is None


def test_an_industry_cannot_be_its_own_sector(cast):
    sector = industry_save(actor=cast.county, name="渔业")
    with pytest.raises(ValidationError):
        industry_save(actor=cast.county, industry=sector, name="渔业", parent=sector)


def test_a_kind_in_use_may_not_become_a_sector_either(cast):
    factories.small_registry(cast)
    with pytest.raises(ValidationError) as caught:
        industry_save(actor=cast.county, industry=industry("茶叶"), name="茶叶", parent=None)
    assert "parent" in caught.value.message_dict
    assert industry("茶叶").parent == industry("种植业")


def test_usage_counts_the_records_that_protect_an_industry(cast):
    factories.small_registry(cast)
    usage = industry_usage(industry("生猪"))
    assert sum(usage.values()) == 2
    assert industry_usage(industry("紫米")) == {}


def test_a_sector_keeps_farming_other(cast):
    sector = industry_save(actor=cast.county, name="渔业", farming="husbandry")
    assert sector.farming == Industry.Farming.OTHER


def test_a_blank_name_is_a_field_error(cast):
    with pytest.raises(ValidationError) as caught:
        industry_save(actor=cast.county, name="  ", parent=industry("养殖业"))
    assert "name" in caught.value.message_dict
