"""The Mojiang demo reproduces the programme's figures (seed 000).

The demo is seeded once for the whole module, inside a transaction that is
rolled back at the end, so the other test modules start from an empty
database; each test runs in a savepoint of its own on top of it.
"""

import datetime
import re
from collections import Counter
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from beneficiaries.models import (
    Borrower,
    DrivenHousehold,
    Enterprise,
    Household,
    Industry,
    Position,
)
from common.identifiers import (
    resident_id_birth_date,
    resident_id_is_male,
    validate_credit_code,
    validate_mobile,
    validate_resident_id,
)
from demo.data import REFERENCE_DATE
from demo.generator import demo_plan
from demo.services import demo_seed
from divisions.models import Division

COMMITTEE = Borrower.Category.VILLAGE_COMMITTEE
GROUP_CADRE = Borrower.Category.GROUP_CADRE


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    # The loans are seeded and checked in book/test_loans.py; leave them out
    # here so that the registry's figures cost one registry seeding only.
    with (
        django_db_blocker.unblock(),
        transaction.atomic(),
        mock.patch("demo.services.demo_loans_seed", return_value=None),
    ):
        result = demo_seed(others=False)
        yield result
        transaction.set_rollback(True)


@pytest.fixture
def registry(seeded, db):
    return seeded["registry"]


def borrower_households():
    return Household.objects.filter(borrowers__isnull=False).distinct()


def age_on(day: datetime.date, birth_date: datetime.date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def registry_counts() -> dict[str, int]:
    """Rows of every registry table and its history."""
    models = [Division, Household, Borrower, Position, Enterprise, DrivenHousehold]
    counts = {model.__name__: model.objects.count() for model in models}
    for model in models[1:]:
        counts[model.__name__ + " history"] = model.history.count()
    return counts


def test_every_township_has_villages_and_every_village_groups(registry):
    townships = Division.objects.townships().filter(parent__code="530822")
    assert townships.count() == 15
    for township in townships:
        villages = list(township.children.all())
        assert 8 <= len(villages) <= 12, township.name
        for village in villages:
            assert village.level == Division.Level.VILLAGE
            assert re.fullmatch(township.code + r"\d{3}", village.code)
            assert village.name.endswith(("村", "社区"))
            groups = list(village.children.all())
            assert 5 <= len(groups) <= 10, village.name
            assert all(re.fullmatch(village.code + r"\d{3}", g.code) for g in groups)
            assert len({g.name for g in groups}) == len(groups)


def test_680_households_borrow_and_a_few_hold_two_borrowers(registry):
    assert borrower_households().count() == 680
    per_household = Counter(Borrower.objects.values_list("household", flat=True))
    couples = [pk for pk, count in per_household.items() if count == 2]
    assert 3 <= len(couples) <= 10
    assert Borrower.objects.count() == 680 + len(couples)
    for household in Household.objects.filter(pk__in=couples):
        genders = {b.gender for b in household.borrowers.all()}
        categories = {b.category for b in household.borrowers.all()}
        assert genders == {Borrower.Gender.MALE, Borrower.Gender.FEMALE}
        assert categories <= {COMMITTEE, GROUP_CADRE}


def test_600_households_88_2_percent_hold_cadres_and_80_are_leaders_or_reserves(registry):
    cadre = borrower_households().filter(borrowers__category__in=[COMMITTEE, GROUP_CADRE])
    assert cadre.count() == 600
    assert round(100 * cadre.count() / borrower_households().count(), 1) == 88.2
    others = borrower_households().exclude(pk__in=cadre.values("pk"))
    assert others.count() == 80
    assert set(
        Borrower.objects.filter(household__in=others).values_list("category", flat=True)
    ) == {
        Borrower.Category.INDUSTRY_LEADER,
        Borrower.Category.RESERVE_CADRE,
    }
    # Cadres in office since the 2021 election; a few with the post of the term before.
    ended = Position.objects.filter(ended_on__isnull=False)
    assert 5 <= ended.count() <= 60
    assert all(p.ended_on < datetime.date(2021, 3, 1) for p in ended)


def test_the_quotas_allow_over_40_million_yuan(registry):
    committee = borrower_households().filter(borrowers__category=COMMITTEE).count()
    others = borrower_households().count() - committee
    assert Decimal("100000") * committee + Decimal("50000") * others > Decimal("40000000")


def test_360_households_farm_animals_and_320_plant(registry):
    by_farming = {
        farming: borrower_households().filter(borrowers__industry__farming=farming).count()
        for farming in Industry.Farming
    }
    assert by_farming == {
        Industry.Farming.HUSBANDRY: 360,
        Industry.Farming.PLANTING: 320,
        Industry.Farming.OTHER: 0,
    }
    kinds = Counter(Borrower.objects.values_list("industry__name", flat=True))
    assert kinds.most_common(2)[0][0] in ("生猪", "茶叶")
    sectors = set(Borrower.objects.values_list("industry__parent__name", flat=True))
    assert sectors == {"养殖业", "种植业", "林下种养殖", "文化旅游"}
    pigs = Borrower.objects.filter(industry__name="生猪")
    assert all(50 <= b.scale <= 500 and b.scale_unit == "头" for b in pigs)


def test_every_borrower_and_household_has_a_valid_mojiang_id_of_a_working_age_adult(registry):
    numbers = list(Borrower.objects.values_list("id_number", flat=True))
    numbers += list(Household.objects.values_list("head_id_number", flat=True))
    assert len(numbers) > 10_000
    for number in numbers:
        validate_resident_id(number)
        assert number.startswith("530822")
        assert 18 <= age_on(REFERENCE_DATE, resident_id_birth_date(number)) <= 60, number
    for borrower in Borrower.objects.all():
        assert (borrower.gender == Borrower.Gender.MALE) == resident_id_is_male(borrower.id_number)


def test_id_numbers_and_phones_are_unique_and_valid(registry):
    ids = list(Borrower.objects.values_list("id_number", flat=True))
    heads = list(Household.objects.values_list("head_id_number", flat=True))
    phones = list(Borrower.objects.values_list("phone", flat=True))
    assert len(set(ids)) == len(ids)
    assert len(set(heads)) == len(heads)
    assert len(set(phones)) == len(phones)
    for phone in phones:
        validate_mobile(phone)
    # A borrower who is a head of household is the head of their own household.
    heads_of = dict(Household.objects.values_list("head_id_number", "pk"))
    for id_number, household in Borrower.objects.values_list("id_number", "household"):
        assert heads_of.get(id_number, household) == household


def test_each_stored_category_is_the_one_in_force_on_the_reference_date(registry):
    for borrower in Borrower.objects.prefetch_related("positions"):
        assert borrower.category == borrower.category_on(REFERENCE_DATE), borrower.name


def test_over_10000_driven_households_are_led_within_their_township(registry):
    assert DrivenHousehold.objects.values("household").distinct().count() > 10_000
    assert DrivenHousehold.objects.filter(borrower__isnull=False).count() > 10_000
    assert DrivenHousehold.objects.filter(enterprise__isnull=False).exists()
    assert set(Household.objects.values_list("poverty_status", flat=True)) == set(
        Household.PovertyStatus
    )
    links = DrivenHousehold.objects.select_related("borrower", "enterprise", "household")
    for link in links:
        leader = link.borrower or link.enterprise
        assert link.household.township_id == leader.township_id
        if link.benefit == DrivenHousehold.Benefit.TECHNICAL_HELP:
            assert link.yearly_amount == Decimal("0.00")
        else:
            assert Decimal("300") <= link.yearly_amount <= Decimal("6000")
        assert link.yearly_amount.as_tuple().exponent == -2


def test_borrower_households_have_an_account_and_enterprises_a_valid_credit_code(registry):
    for household in borrower_households():
        assert household.account_holder == household.head_name
        assert household.bank_name in ("墨江县农村信用合作联社", "云南省农村信用社")
        assert household.account_number.isdigit()
        if household.account_number.startswith("6217"):
            assert len(household.account_number) == 19
            assert household.account_warning is None
    enterprises = list(Enterprise.objects.all())
    assert len(enterprises) >= 5
    for enterprise in enterprises:
        validate_credit_code(enterprise.credit_code)
        assert enterprise.credit_code[2:8] == "530822"
        assert enterprise.representatives.exists()


def test_the_history_names_the_demo_county_officer(registry):
    county = get_user_model().objects.get(username="county")
    for model in (Household, Borrower, Position, Enterprise, DrivenHousehold):
        authors = set(model.history.values_list("history_user", flat=True))
        assert authors == {county.pk}, model.__name__


def test_the_plan_is_deterministic_and_built_without_the_database(
    registry, django_assert_num_queries
):
    with django_assert_num_queries(0):
        first = demo_plan()
        second = demo_plan()
    assert first.id_numbers() == second.id_numbers()
    assert len(set(first.id_numbers())) == len(first.id_numbers())
    # What was seeded is what the plan says.
    seeded = set(Borrower.objects.values_list("id_number", flat=True))
    seeded |= set(Household.objects.values_list("head_id_number", flat=True))
    assert seeded == set(first.id_numbers())


def test_seeding_again_changes_nothing(registry):
    before = registry_counts()
    assert before["DrivenHousehold"] > 10_000
    assert sum(registry.created.values()) > 10_000
    again = demo_seed(others=False)["registry"]
    assert sum(again.created.values()) == 0
    assert registry_counts() == before
