import datetime
from decimal import Decimal

import pytest
from stdnum.cn import ric

from beneficiaries.divisions.services import division_create
from beneficiaries.models import Industry
from beneficiaries.registry.services import borrower_create, household_create
from divisions.models import Division
from loans.keys.services import credit_coop_save
from loans.models import CreditCoop, Programme
from loans.programmes.services import PROGRAMME_FIELDS

TODAY = datetime.date(2025, 3, 1)


def resident_id(sequence: int, birth: str = "19800101") -> str:
    first17 = f"530822{birth}{sequence:03d}"
    return first17 + ric.calc_check_digit(first17 + "0")


@pytest.fixture
def programme(db) -> Programme:
    """振兴贷 2025 for Mojiang, as shipped: 100,000 for committee members,
    50,000 for group cadres, 6 to 36 months, ceiling 4.35 %."""
    return Programme.objects.get(name="振兴贷", year=2025, region_code="530822")


@pytest.fixture
def coop(mojiang) -> CreditCoop:
    """墨江's co-op, as shipped, serving 墨江 (the county loaded for the test)."""
    return coop_serving(mojiang)


def mojiang_coop() -> CreditCoop:
    """The shipped co-op serving 墨江, for tests that loaded 墨江 already."""
    return coop_serving(Division.objects.get(code="530822"))


def programme_for(county: Division) -> Programme:
    """振兴贷 2025 as shipped for Mojiang, set up again for ``county``."""
    shipped = Programme.objects.get(name="振兴贷", year=2025, region_code="530822")
    if county.code == shipped.region_code:
        return shipped
    fields = {name: getattr(shipped, name) for name in PROGRAMME_FIELDS}
    fields.update(region_code=county.code, region_name=county.name)
    programme = Programme.objects.create(**fields)
    for quota in shipped.quotas.all():
        programme.quotas.create(category=quota.category, amount=quota.amount)
    return programme


def coop_serving(*counties, code="mojiang-rcc") -> CreditCoop:
    coop = CreditCoop.objects.filter(code=code).first()
    name = coop.name if coop else f"{counties[0].name}农村信用合作联社"
    return credit_coop_save(code=code, name=name, counties=counties)


@pytest.fixture
def groups(cast):
    """One village group in each of the cast's two townships."""
    result = {}
    for township in (cast.township_a, cast.township_b):
        village = division_create(
            actor=cast.county, parent=township, code=township.code + "001", name="碧溪村"
        )
        result[township.pk] = division_create(
            actor=cast.county, parent=village, code=village.code + "001", name="一组"
        )
    return result


class People:
    """Makes households and borrowers with valid, distinct ID numbers."""

    def __init__(self, cast, groups):
        self.cast = cast
        self.groups = groups
        self.sequence = 0

    def _next(self) -> int:
        self.sequence += 1
        return self.sequence

    def household(self, township=None):
        township = township or self.cast.township_a
        return household_create(
            actor=self.cast.county,
            head_name="李四",
            head_id_number=resident_id(self._next()),
            village_group=self.groups[township.pk],
            member_count=4,
            account_holder="李四",
            account_number="6217001234567893",
            bank_name="墨江哈尼族自治县农村信用合作联社",
        )

    def borrower(self, *, household=None, title="committee_member", township=None):
        household = household or self.household(township)
        positions = [{"title": title, "started_on": datetime.date(2021, 3, 1)}] if title else []
        return borrower_create(
            actor=self.cast.county,
            household=household,
            name="李四",
            id_number=resident_id(self._next()),
            phone="13812345678",
            industry=Industry.objects.get(name="生猪"),
            positions=positions,
            today=TODAY,
        )


@pytest.fixture
def people(cast, groups) -> People:
    return People(cast, groups)


def pig_industry():
    return Industry.objects.get(name="生猪")


AMOUNT = Decimal("100000.00")
