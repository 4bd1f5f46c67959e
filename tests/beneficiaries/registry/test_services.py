import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from stdnum.cn import ric, uscc

from beneficiaries.divisions.services import division_create
from beneficiaries.models import (
    Borrower,
    DrivenHousehold,
    Enterprise,
    Household,
    Industry,
    Position,
)
from beneficiaries.registry.services import (
    borrower_create,
    borrower_update,
    borrowers_refresh_categories,
    driven_household_link,
    enterprise_create,
    household_create,
    position_save,
)
from divisions.models import Division

TODAY = datetime.date(2025, 6, 1)


def resident_id(birth: str, sequence: int) -> str:
    first17 = f"530822{birth}{sequence:03d}"
    return first17 + ric.calc_check_digit(first17 + "0")


def credit_code(sequence: int) -> str:
    base = f"93530822MA6K{sequence:05d}"
    return base + uscc.calc_check_digit(base + "0")


@pytest.fixture
def place(cast):
    """A village with one group in each of the cast's two townships."""
    groups = {}
    for township in (cast.township_a, cast.township_b):
        village = division_create(
            actor=cast.county, parent=township, code=township.code + "001", name="碧溪村"
        )
        groups[township.pk] = division_create(
            actor=cast.county, parent=village, code=village.code + "001", name="一组"
        )
    return groups


def new_household(actor, group, sequence=1, **extra):
    return household_create(
        actor=actor,
        head_name="李四",
        head_id_number=resident_id("19800101", sequence),
        village_group=group,
        **extra,
    )


def new_borrower(actor, household, sequence=1, **extra):
    fields = {
        "name": "李四",
        "id_number": resident_id("19800101", sequence),
        "phone": "13812345678",
        "industry": Industry.objects.get(name="生猪"),
        "today": TODAY,
    }
    fields.update(extra)
    return borrower_create(actor=actor, household=household, **fields)


def test_a_household_takes_its_township_from_its_village_group(cast, place):
    household = new_household(cast.township_officer_a, place[cast.township_a.pk])
    assert household.township == cast.township_a
    assert household.village.name == "碧溪村"


def test_a_township_officer_cannot_register_a_household_in_another_township(cast, place):
    with pytest.raises(ValidationError) as error:
        new_household(cast.township_officer_a, place[cast.township_b.pk])
    assert "village_group" in error.value.message_dict
    assert not Household.objects.exists()


def test_a_household_must_sit_in_a_village_group(cast, place):
    village = Division.objects.get(code=cast.township_a.code + "001")
    with pytest.raises(ValidationError) as error:
        new_household(cast.county, village)
    assert "village_group" in error.value.message_dict


def test_an_account_number_needs_holder_and_bank(cast, place):
    with pytest.raises(ValidationError) as error:
        new_household(cast.county, place[cast.township_a.pk], account_number="6217001234567893")
    assert "account_holder" in error.value.message_dict


def test_a_borrower_gets_gender_birth_date_and_township_from_id_and_household(cast, place):
    household = new_household(cast.county, place[cast.township_a.pk])
    borrower = new_borrower(cast.county, household, sequence=2)
    assert borrower.birth_date == datetime.date(1980, 1, 1)
    assert borrower.gender == Borrower.Gender.FEMALE
    assert borrower.township == cast.township_a


def test_a_borrower_with_a_committee_position_is_a_village_committee_member(cast, place):
    household = new_household(cast.county, place[cast.township_a.pk])
    borrower = new_borrower(
        cast.county,
        household,
        positions=[{"title": "committee_director", "started_on": datetime.date(2021, 3, 1)}],
    )
    assert borrower.category == Borrower.Category.VILLAGE_COMMITTEE
    assert borrower.category_on(datetime.date(2020, 12, 31)) == Borrower.Category.INDUSTRY_LEADER


def test_a_committee_position_outranks_a_group_position(cast, place):
    household = new_household(cast.county, place[cast.township_a.pk])
    borrower = new_borrower(
        cast.county,
        household,
        positions=[
            {"title": "group_leader", "started_on": datetime.date(2018, 3, 1)},
            {"title": "committee_member", "started_on": datetime.date(2021, 3, 1)},
        ],
    )
    assert borrower.category_on(datetime.date(2019, 1, 1)) == Borrower.Category.GROUP_CADRE
    assert borrower.category_on(TODAY) == Borrower.Category.VILLAGE_COMMITTEE


def test_ending_a_position_returns_the_borrower_to_the_base_category(cast, place):
    household = new_household(cast.county, place[cast.township_a.pk])
    borrower = new_borrower(
        cast.county,
        household,
        base_category=Borrower.Category.RESERVE_CADRE,
        positions=[{"title": "group_leader", "started_on": datetime.date(2018, 3, 1)}],
    )
    position = borrower.positions.get()
    position_save(
        actor=cast.county,
        borrower=borrower,
        position=position,
        ended_on=datetime.date(2024, 2, 29),
        today=TODAY,
    )
    borrower.refresh_from_db()
    assert borrower.category == Borrower.Category.RESERVE_CADRE
    assert borrower.category_on(datetime.date(2024, 2, 29)) == Borrower.Category.GROUP_CADRE


def test_every_error_of_a_bad_registration_is_reported_and_nothing_saved(cast, place):
    household = new_household(cast.county, place[cast.township_a.pk])
    with pytest.raises(ValidationError) as error:
        new_borrower(
            cast.county,
            household,
            id_number="53082219800101001",
            phone="12345678901",
            industry=Industry.objects.get(name="养殖业"),
            positions=[
                {
                    "title": "group_leader",
                    "started_on": datetime.date(2021, 3, 1),
                    "ended_on": datetime.date(2020, 3, 1),
                }
            ],
        )
    errors = error.value.message_dict
    assert set(errors) == {"id_number", "phone", "industry", "positions"}
    assert not Borrower.objects.exists()
    assert not Position.objects.exists()


def test_a_resident_id_number_is_registered_once(cast, place):
    household = new_household(cast.county, place[cast.township_a.pk])
    new_borrower(cast.county, household, sequence=1)
    with pytest.raises(ValidationError) as error:
        new_borrower(cast.county, household, sequence=1, phone="13912345678")
    assert "id_number" in error.value.message_dict
    assert Borrower.objects.count() == 1


def test_a_borrower_must_be_an_adult(cast, place):
    household = new_household(cast.county, place[cast.township_a.pk])
    young = datetime.date.today().year - 10
    with pytest.raises(ValidationError) as error:
        new_borrower(cast.county, household, id_number=resident_id(f"{young}0101", 5))
    assert "id_number" in error.value.message_dict


def test_a_scale_needs_a_unit(cast, place):
    household = new_household(cast.county, place[cast.township_a.pk])
    with pytest.raises(ValidationError) as error:
        new_borrower(cast.county, household, scale=Decimal("200"))
    assert "scale_unit" in error.value.message_dict


def test_a_township_officer_cannot_move_a_borrower_to_another_township(cast, place):
    home = new_household(cast.county, place[cast.township_a.pk], sequence=1)
    away = new_household(cast.county, place[cast.township_b.pk], sequence=2)
    borrower = new_borrower(cast.township_officer_a, home, sequence=3)
    with pytest.raises(ValidationError):
        borrower_update(actor=cast.township_officer_a, borrower=borrower, household=away)
    borrower.refresh_from_db()
    assert borrower.household == home


def test_changes_are_recorded_with_the_user_who_made_them(cast, place):
    household = new_household(cast.county, place[cast.township_a.pk])
    borrower = new_borrower(cast.county, household)
    borrower_update(actor=cast.township_officer_a, borrower=borrower, phone="13900001111")
    latest, first = borrower.history.all()[:2]
    assert (first.history_user, first.history_type) == (cast.county, "+")
    assert (latest.history_user, latest.history_type) == (cast.township_officer_a, "~")
    changed = latest.diff_against(first).changed_fields
    assert "phone" in changed


def test_stored_categories_follow_positions_over_time(cast, place):
    household = new_household(cast.county, place[cast.township_a.pk])
    borrower = new_borrower(
        cast.county,
        household,
        positions=[
            {
                "title": "group_leader",
                "started_on": datetime.date(2021, 3, 1),
                "ended_on": datetime.date(2025, 12, 31),
            }
        ],
    )
    assert borrower.category == Borrower.Category.GROUP_CADRE
    assert borrowers_refresh_categories(today=datetime.date(2026, 1, 1)) == 1
    borrower.refresh_from_db()
    assert borrower.category == Borrower.Category.INDUSTRY_LEADER
    assert borrowers_refresh_categories(today=datetime.date(2026, 1, 1)) == 0


def test_a_position_ending_before_it_starts_is_refused_by_the_database_too(cast, place):
    household = new_household(cast.county, place[cast.township_a.pk])
    borrower = new_borrower(
        cast.county,
        household,
        positions=[{"title": "group_leader", "started_on": datetime.date(2021, 3, 1)}],
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Position.objects.filter(borrower=borrower).update(ended_on=datetime.date(2020, 1, 1))


def test_a_driven_household_is_led_by_exactly_one_borrower_or_enterprise(cast, place):
    group = place[cast.township_a.pk]
    borrower = new_borrower(cast.county, new_household(cast.county, group, 1), 1)
    driven = new_household(cast.county, group, 2, poverty_status="lifted")
    link = driven_household_link(
        actor=cast.county,
        borrower=borrower,
        household=driven,
        benefit="wages",
        yearly_amount=Decimal("3600.00"),
    )
    assert list(borrower.driven_households.all()) == [link]
    with pytest.raises(ValidationError):
        driven_household_link(actor=cast.county, household=driven, benefit="dividend")
    with pytest.raises(ValidationError):
        driven_household_link(
            actor=cast.county, borrower=borrower, household=driven, benefit="wages"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        DrivenHousehold.objects.create(household=driven, benefit="dividend")


def test_an_enterprise_needs_a_valid_credit_code(cast, place):
    village = Division.objects.get(code=cast.township_a.code + "001")
    fields = {
        "name": "墨江县碧溪生猪养殖专业合作社",
        "kind": Enterprise.Kind.COOPERATIVE,
        "legal_representative": "李四",
        "village": village,
        "industry": Industry.objects.get(name="生猪"),
    }
    enterprise = enterprise_create(actor=cast.county, credit_code=credit_code(1), **fields)
    assert enterprise.township == cast.township_a
    bad = credit_code(2)[:-1] + ("0" if credit_code(2)[-1] != "0" else "1")
    with pytest.raises(ValidationError) as error:
        enterprise_create(actor=cast.county, credit_code=bad, **fields)
    assert "credit_code" in error.value.message_dict


def test_only_the_county_adds_villages_and_groups(cast):
    with pytest.raises(PermissionDenied):
        division_create(
            actor=cast.township_officer_a, parent=cast.township_a, code="530822101009", name="x"
        )
    village = division_create(
        actor=cast.county, parent=cast.township_a, code="530822101009", name="新村"
    )
    assert village.level == Division.Level.VILLAGE
    with pytest.raises(ValidationError) as error:
        division_create(actor=cast.county, parent=village, code="530822102009001", name="一组")
    assert "code" in error.value.message_dict


def test_the_daily_task_refreshes_categories(cast, place):
    from beneficiaries.tasks import refresh_categories

    household = new_household(cast.county, place[cast.township_a.pk])
    borrower = new_borrower(
        cast.county,
        household,
        positions=[
            {
                "title": "group_leader",
                "started_on": datetime.date(2021, 3, 1),
                "ended_on": datetime.date(2022, 3, 1),
            }
        ],
    )
    Borrower.objects.filter(pk=borrower.pk).update(category=Borrower.Category.GROUP_CADRE)
    assert refresh_categories.delay().get() == 1
    borrower.refresh_from_db()
    assert borrower.category == Borrower.Category.INDUSTRY_LEADER


def test_moving_a_household_moves_its_borrowers_township(cast, place):
    from beneficiaries.registry.services import household_update

    household = new_household(cast.county, place[cast.township_a.pk])
    first = new_borrower(cast.county, household, sequence=2)
    second = new_borrower(cast.county, household, sequence=3, phone="13900001111")
    household_update(
        actor=cast.county, household=household, village_group=place[cast.township_b.pk]
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.township == second.township == cast.township_b
