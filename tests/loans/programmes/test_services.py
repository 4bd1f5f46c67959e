import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from loans.models import LprRate, Programme, ProgrammeQuota
from loans.programmes.services import lpr_rate_save, programme_copy_to_year, programme_save

QUOTAS = [{"category": "village_committee", "amount": Decimal("100000.00")}]
NOT_COUNTY = ["township_officer_a", "coop", "finance", "auditor"]


def fields(**overrides):
    values = {
        "name": "精扶贷",
        "year": 2027,
        "region_code": "530822",
        "region_name": "墨江哈尼族自治县",
        "rate_ceiling": Decimal("0.0435"),
        "budget": Decimal("1000000.00"),
    }
    values.update(overrides)
    return values


def test_it_creates_a_programme_with_defaults_for_the_subsidy_rule(cast):
    programme = programme_save(actor=cast.county, quotas=QUOTAS, **fields())
    assert programme.day_count_basis == 360
    assert programme.subsidy_ratio == Decimal("1.0000")
    assert programme.subsidy_year == Programme.SubsidyYear.SETTLEMENT
    assert programme.notice_days == 10
    assert programme.quota_for("village_committee") == Decimal("100000.00")


@pytest.mark.parametrize("role", NOT_COUNTY)
def test_it_refuses_anyone_but_the_county_office(cast, programme, role):
    actor = getattr(cast, role)
    with pytest.raises(PermissionDenied):
        programme_save(actor=actor, quotas=QUOTAS, **fields())
    with pytest.raises(PermissionDenied):
        programme_save(actor=actor, programme=programme, quotas=QUOTAS, budget=Decimal("1"))
    with pytest.raises(PermissionDenied):
        programme_copy_to_year(actor=actor, programme=programme, year=2030)
    with pytest.raises(PermissionDenied):
        lpr_rate_save(
            actor=actor, effective_on=datetime.date(2026, 1, 20), one_year_rate=Decimal("0.03")
        )
    assert not Programme.objects.filter(year__in=[2027, 2030]).exists()


def test_it_reports_every_mistake_at_once_by_field(cast):
    with pytest.raises(ValidationError) as caught:
        programme_save(
            actor=cast.county,
            quotas=[
                {"category": "group_cadre", "amount": Decimal("0")},
                {"category": "group_cadre", "amount": Decimal("5")},
            ],
            **fields(
                budget=Decimal("0"),
                min_term_months=12,
                max_term_months=6,
                subsidy_ratio=Decimal("1.2"),
                rate_cap_mode="fixed",
                rate_cap=None,
            ),
        )
    errors = caught.value.message_dict
    assert set(errors) == {"budget", "max_term_months", "subsidy_ratio", "rate_cap", "quotas"}
    assert len(errors["quotas"]) == 2  # zero amount, category twice
    assert not Programme.objects.filter(year=2027).exists()


def test_a_programme_needs_a_quota(cast):
    with pytest.raises(ValidationError) as caught:
        programme_save(actor=cast.county, quotas=[], **fields())
    assert "quotas" in caught.value.message_dict


def test_a_duplicate_programme_is_an_error_on_the_name(cast, programme):
    with pytest.raises(ValidationError) as caught:
        programme_save(
            actor=cast.county,
            quotas=QUOTAS,
            **fields(name="振兴贷", year=2025, region_code="530822"),
        )
    assert list(caught.value.message_dict) == ["name"]


def test_a_failed_change_leaves_programme_and_quotas_as_they_were(cast, programme):
    quotas_before = list(programme.quotas.values_list("category", "amount"))
    with pytest.raises(ValidationError):
        programme_save(
            actor=cast.county,
            programme=programme,
            quotas=[{"category": "poor_household", "amount": Decimal("-1")}],
            budget=Decimal("99"),
        )
    programme.refresh_from_db()
    assert programme.budget == Decimal("45000000.00")
    assert list(programme.quotas.values_list("category", "amount")) == quotas_before


def test_a_cap_rate_is_kept_only_for_a_fixed_cap(cast, programme):
    programme_save(
        actor=cast.county,
        programme=programme,
        quotas=QUOTAS,
        rate_cap_mode="lpr",
        rate_cap=Decimal("0.0345"),
    )
    programme.refresh_from_db()
    assert programme.rate_cap_mode == "lpr" and programme.rate_cap is None


def test_it_changes_only_the_quotas_that_differ(cast, programme):
    kept = programme.quotas.get(category="group_cadre")

    def save(committee_amount):
        programme_save(
            actor=cast.county,
            programme=programme,
            quotas=[
                {"category": "village_committee", "amount": Decimal(committee_amount)},
                {"category": "group_cadre", "amount": kept.amount},
            ],
        )

    save("110000.00")
    before = ProgrammeQuota.history.filter(id=kept.pk).count()
    save("120000.00")
    assert ProgrammeQuota.history.filter(id=kept.pk).count() == before
    assert programme.quota_for("village_committee") == Decimal("120000.00")
    assert set(programme.quotas.values_list("category", flat=True)) == {
        "village_committee",
        "group_cadre",
    }


def test_it_rejects_an_unknown_field_as_a_programming_error(cast, programme):
    with pytest.raises(TypeError):
        programme_save(actor=cast.county, programme=programme, quotas=QUOTAS, created_at=None)


def test_a_copy_is_inactive_with_the_same_quotas(cast, programme):
    copy = programme_copy_to_year(actor=cast.county, programme=programme, year=2030)
    assert (copy.name, copy.year, copy.is_active) == ("振兴贷", 2030, False)
    assert copy.quota_for("village_committee") == programme.quota_for("village_committee")
    assert copy.history.latest().history_change_reason


def test_a_copy_to_a_year_that_exists_is_refused(cast, programme):
    with pytest.raises(ValidationError) as caught:
        programme_copy_to_year(actor=cast.county, programme=programme)
    assert list(caught.value.message_dict) == ["year"]


def test_an_lpr_date_is_recorded_once(cast):
    with pytest.raises(ValidationError) as caught:
        lpr_rate_save(
            actor=cast.county,
            effective_on=datetime.date(2024, 10, 21),
            one_year_rate=Decimal("0.0300"),
        )
    assert list(caught.value.message_dict) == ["effective_on"]
    assert LprRate.objects.filter(effective_on="2024-10-21").count() == 1


def test_the_lpr_in_force_follows_an_added_rate(cast):
    lpr_rate_save(
        actor=cast.county, effective_on=datetime.date(2026, 1, 20), one_year_rate=Decimal("0.0290")
    )
    assert LprRate.in_force_on(datetime.date(2026, 2, 1)).one_year_rate == Decimal("0.029000")
