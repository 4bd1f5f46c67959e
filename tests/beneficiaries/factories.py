"""Test data for the registry, built through the services as a user would.

Plain functions rather than factory_boy classes: every write must pass the
services' checks (township, validation, history), and these functions say
so by calling them with ``actor=``.
"""

import datetime
import itertools
from types import SimpleNamespace

from stdnum.cn import ric

from beneficiaries.divisions.services import division_create
from beneficiaries.models import Borrower, Household, Industry, Position
from beneficiaries.registry import services
from divisions.models import Division

_serials = itertools.count(1)


def resident_id(serial: int | None = None, *, birth: str = "19850612", area: str = "530822"):
    """A valid 18-character resident ID number (Mojiang's area code by default).

    ``serial`` gives the sequence code; its last digit sets the gender (odd:
    male). Without one, each call returns a new number.
    """
    if serial is None:
        serial = next(_serials)
    # A thousand sequence codes per birth date; move on a year after that.
    year = int(birth[:4]) + serial // 1000
    base = f"{area}{year}{birth[4:]}{serial % 1000:03d}"
    return base + ric.calc_check_digit(base + "0")


def wrong_check_character(number: str) -> str:
    """The same number with a check character that does not match."""
    right = number[-1]
    return number[:-1] + ("1" if right != "1" else "2")


def mobile(serial: int) -> str:
    return f"1390000{serial % 10000:04d}"


def village_group(actor, township: Division, *, village: str = "碧溪村", number: int = 1):
    """Village number ``number`` of the township with its first group, created
    once and reused."""
    village_code = f"{township.code}{number:03d}"
    existing = Division.objects.filter(code=village_code + "001").first()
    if existing is not None:
        return existing
    division = Division.objects.filter(code=village_code).first() or division_create(
        actor=actor, parent=township, code=village_code, name=village
    )
    return division_create(
        actor=actor, parent=division, code=village_code + "001", name="第一村民小组"
    )


def industry_kind(name: str = "生猪", sector: str = "养殖业") -> Industry:
    """A kind of industry. The migration loads them, but a transactional test
    (the browser's) runs on a flushed database, so create what is missing."""
    parent, _ = Industry.objects.get_or_create(name=sector, parent=None)
    kind, _ = Industry.objects.get_or_create(
        name=name, parent=parent, defaults={"farming": Industry.Farming.HUSBANDRY}
    )
    return kind


def household(actor, group: Division, *, head_name: str = "李国华", **fields):
    fields.setdefault("head_id_number", resident_id(birth="19700302"))
    return services.household_create(
        actor=actor, village_group=group, head_name=head_name, **fields
    )


def borrower(actor, group: Division, *, name: str = "张建国", household_=None, **fields):
    """A borrower in a new household headed by the borrower, unless
    ``household_`` is given."""
    serial = next(_serials)
    fields.setdefault("id_number", resident_id(serial))
    fields.setdefault("phone", mobile(serial))
    if "industry" not in fields:
        fields["industry"] = industry_kind()
    if household_ is None:
        household_ = household(actor, group, head_name=name, head_id_number=fields["id_number"])
    return services.borrower_create(actor=actor, household=household_, name=name, **fields)


def small_registry(cast):
    """Three borrowers in two townships, differing in every filterable way.

    * 张建国, 联珠镇 碧溪村: village committee member (a position in force),
      Party member, pigs, ordinary household.
    * 李秀英, 联珠镇 新华村: reserve cadre, tea, household lifted out of poverty.
    * 王小明, 通关镇 坝心村: industry leader, Party member, pigs, monitored.
    """
    county = cast.county
    group_a1 = village_group(county, cast.township_a, village="碧溪村", number=1)
    group_a2 = village_group(county, cast.township_a, village="新华村", number=2)
    group_b = village_group(county, cast.township_b, village="坝心村", number=1)
    pigs = industry_kind("生猪", "养殖业")
    tea = industry_kind("茶叶", "种植业")
    zhang = borrower(
        county,
        group_a1,
        name="张建国",
        party_member=True,
        industry=pigs,
        positions=[
            {
                "title": Position.Title.COMMITTEE_DIRECTOR,
                "started_on": datetime.date(2021, 3, 1),
                "ended_on": None,
            }
        ],
    )
    li_household = household(
        county, group_a2, head_name="李德福", poverty_status=Household.PovertyStatus.LIFTED
    )
    li = borrower(
        county,
        group_a2,
        name="李秀英",
        household_=li_household,
        industry=tea,
        base_category=Borrower.Category.RESERVE_CADRE,
    )
    wang_household = household(
        county, group_b, head_name="王小明", poverty_status=Household.PovertyStatus.MONITORED
    )
    wang = borrower(
        county, group_b, name="王小明", household_=wang_household, party_member=True, industry=pigs
    )
    return SimpleNamespace(
        group_a1=group_a1,
        group_a2=group_a2,
        group_b=group_b,
        pigs=pigs,
        tea=tea,
        zhang=zhang,
        li=li,
        wang=wang,
    )
