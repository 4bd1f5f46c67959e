"""The demo's smaller counties beside Mojiang (DOMAIN.md section 7): 宁洱 with
a 振兴贷 of its own and 景东 lending under 普洱市's city-wide programme, a few
hundred loans each, so that the city and province offices have counties to
compare.

Each book is generated from a seed of its own (the county's code), the same
every time, and written in bulk as the benchmark books are (demo/loan_book.py),
not step by step through the services as Mojiang's is: the applications are
released, the loans lent in the first half of 2025, their quarterly interest
posted by the co-op up to ``today`` (a few days late now and then), some
principal repaid, and a few one-year loans left unpaid past maturity; each
village committee borrower leads a few of the county's other households. Each
county's office then computes its subsidy year 2025 through the subsidy
service, with its own four eyes still to come. A county that has loans
already is left as it is, so a second run changes nothing.
"""

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone
from stdnum import luhn
from stdnum.cn import ric

from beneficiaries.divisions.services import division_create
from beneficiaries.models import Borrower, DrivenHousehold, Household, Industry, Position
from common.history import history_record_bulk
from divisions.models import Division
from loans.keys.services import credit_coop_save
from loans.ledger.interest import expected_schedule
from loans.ledger.services import loan_status_record
from loans.models import (
    Application,
    LedgerEntry,
    Loan,
    Programme,
    ProgrammeCountyBudget,
    ProgrammeQuota,
)
from subsidies.models import SubsidyRun
from subsidies.runs.services import subsidy_run_start

from .loans import PROGRAMME_NAME, REGION_CODE, YEAR, _clock
from .subsidies import _in_process

CITY_PROGRAMME = "普洱市乡村振兴贷"
CITY_REGION = "530800"
# 普洱市's programme: the part of each county that lends in it.
CITY_PARTS = {"530823": Decimal("30000000.00")}
RATE = Decimal("0.034500")
COMMITTEE = Borrower.Category.VILLAGE_COMMITTEE
OTHER_CATEGORIES = (
    Borrower.Category.GROUP_CADRE,
    Borrower.Category.INDUSTRY_LEADER,
    Borrower.Category.RESERVE_CADRE,
)
# A borrower's category without a position in force; the cadres' positions.
BASE_CATEGORIES = (Borrower.Category.INDUSTRY_LEADER, Borrower.Category.RESERVE_CADRE)
POSITION_TITLES = {
    COMMITTEE: Position.Title.COMMITTEE_MEMBER,
    Borrower.Category.GROUP_CADRE: Position.Title.GROUP_LEADER,
}
ELECTED_ON = datetime.date(2021, 3, 1)
QUOTAS = {COMMITTEE: Decimal("100000.00")}
OTHER_QUOTA = Decimal("50000.00")
AMOUNTS = (20_000, 30_000, 40_000, 50_000)
COMMITTEE_AMOUNTS = (50_000, 60_000, 80_000, 100_000)
TERMS = (12, 24, 24, 36)
SURNAMES = "李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "明华建国平文军强伟芳秀英兰玉珍春梅海云林山清福贵荣德"
INDUSTRIES = ("生猪", "茶叶", "咖啡", "肉牛", "核桃")
COMPUTED_AT = datetime.datetime(2026, 1, 6, 10, 0)
RUN_DAY = datetime.date(2026, 1, 6)
POSTED_AT = datetime.time(18, 0)
DEMO_REASON = "demo: the county's book"


@dataclass(frozen=True)
class SmallCounty:
    code: str
    loans: int
    programme: str  # "county": a 振兴贷 of its own; "city": 普洱市's
    coop: str
    contract_prefix: str


SMALL_COUNTIES = (
    SmallCounty("530821", 240, "county", "宁洱哈尼族彝族自治县农村信用合作联社", "宁信振兴2025-"),
    SmallCounty("530823", 180, "city", "景东彝族自治县农村信用合作联社", "景信振兴2025-"),
)
COUNTY_CODES = tuple(county.code for county in SMALL_COUNTIES)


def _copy_programme(shipped: Programme, **changes) -> Programme:
    """The shipped 振兴贷 2025 set up again for another region."""
    existing = Programme.objects.filter(
        name=changes.get("name", shipped.name),
        year=shipped.year,
        region_code=changes["region_code"],
    ).first()
    if existing:
        return existing
    fields = {
        field.name: getattr(shipped, field.name)
        for field in Programme._meta.concrete_fields
        if field.name not in ("id",)
    }
    parts = changes.pop("parts", {})
    fields.update(changes)
    programme = Programme.objects.create(**fields)
    ProgrammeCountyBudget.objects.bulk_create(
        ProgrammeCountyBudget(programme=programme, county=county, amount=parts[county.code])
        for county in Division.objects.filter(code__in=parts)
    )
    ProgrammeQuota.objects.bulk_create(
        ProgrammeQuota(programme=programme, category=quota.category, amount=quota.amount)
        for quota in shipped.quotas.all()
    )
    return programme


def programmes_seed() -> dict[str, Programme]:
    """宁洱's own 振兴贷 2025 and 普洱市's city-wide programme, as copies of
    Mojiang's as shipped (quotas, terms, rate ceiling, subsidy rule): 宁洱's
    with a budget of its own, the city's with a part for 景东, the county
    that lends in it (its budget is the sum of its counties' parts)."""
    shipped = Programme.objects.get(name=PROGRAMME_NAME, year=YEAR, region_code=REGION_CODE)
    ninger = Division.objects.get(code="530821")
    return {
        "county": _copy_programme(
            shipped,
            region_code=ninger.code,
            region_name=ninger.name,
            budget=Decimal("15000000.00"),
        ),
        "city": _copy_programme(
            shipped,
            name=CITY_PROGRAMME,
            region_code=CITY_REGION,
            region_name="普洱市",
            description="普洱市统筹、各县（区）实施的乡村振兴贷款，市县乡三级管理。",
            budget=CITY_PARTS["530823"],
            parts=CITY_PARTS,
        ),
    }


def _id_number(rng: random.Random, county_code: str, serial: int) -> str:
    birth = datetime.date(1965, 1, 1) + datetime.timedelta(days=rng.randrange(365 * 30))
    base = "%s%s%03d" % (county_code, birth.strftime("%Y%m%d"), serial % 1000)
    return base + ric.calc_check_digit(base + "0")


def _account(rng: random.Random) -> str:
    body = "6217" + "%011d" % rng.randrange(10**11)
    return body + luhn.calc_check_digit(body)


def _villages(actor, county: Division) -> list[tuple[Division, Division]]:
    """Two villages of two groups in each of the county's first four
    townships: (township, group) pairs."""
    places = []
    for township in Division.objects.townships().filter(parent=county).order_by("code")[:4]:
        for number, name in ((1, "中心村"), (2, "新寨村")):
            village = division_create(
                actor=actor, parent=township, code=f"{township.code}{number:03d}", name=name
            )
            for group_number in (1, 2):
                group = division_create(
                    actor=actor,
                    parent=village,
                    code=f"{village.code}{group_number:03d}",
                    name=f"{'一二'[group_number - 1]}组",
                )
                places.append((township, group))
    return places


def _book(*, actor, coop_user, county: Division, spec: SmallCounty, programme, today) -> int:
    rng = random.Random(int(spec.code))
    coop = credit_coop_save(code=f"rcc-{spec.code}", name=spec.coop, counties=[county])
    places = _villages(actor, county)
    industries = {
        industry.name: industry for industry in Industry.objects.filter(name__in=INDUSTRIES)
    }
    households, borrowers = [], []
    for index in range(spec.loans):
        township, group = places[index % len(places)]
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        id_number = _id_number(rng, spec.code, index)
        category = COMMITTEE if index % 4 == 0 else rng.choice(OTHER_CATEGORIES)
        base = category if category in BASE_CATEGORIES else rng.choice(BASE_CATEGORIES)
        households.append(
            Household(
                head_name=name,
                head_id_number=id_number,
                village_group=group,
                township=township,
                county=county,
                member_count=rng.randint(2, 7),
                account_holder=name,
                account_number=_account(rng),
                bank_name=spec.coop,
            )
        )
        borrowers.append(
            Borrower(
                name=name,
                id_number=id_number,
                birth_date=ric.get_birth_date(id_number),
                gender=Borrower.Gender.MALE if int(id_number[16]) % 2 else Borrower.Gender.FEMALE,
                phone="13%d%08d" % (rng.randint(5, 9), rng.randrange(10**8)),
                township=township,
                county=county,
                category=category,
                base_category=base,
                industry=industries[rng.choice(INDUSTRIES)],
            )
        )
    households = _recorded(Household.objects.bulk_create(households), actor)
    for household, borrower in zip(households, borrowers, strict=True):
        borrower.household = household
    borrowers = _recorded(Borrower.objects.bulk_create(borrowers), actor)
    # The cadres' positions, in force since the 2021 elections: the category
    # stored is the one they give (Borrower.category_on).
    positions = Position.objects.bulk_create(
        Position(borrower=borrower, title=POSITION_TITLES[borrower.category], started_on=ELECTED_ON)
        for borrower in borrowers
        if borrower.category in POSITION_TITLES
    )
    _recorded(positions, actor)
    _recorded(DrivenHousehold.objects.bulk_create(_driven(rng, borrowers, households)), actor)

    now = timezone.now()
    applications, loans = [], []
    for borrower in borrowers:
        amounts = COMMITTEE_AMOUNTS if borrower.category == COMMITTEE else AMOUNTS
        amount = Decimal(rng.choice(amounts))
        term = rng.choice(TERMS)
        applications.append(
            Application(
                programme=programme,
                borrower=borrower,
                household=borrower.household,
                township=borrower.township,
                county=county,
                amount=amount,
                term_months=term,
                industry=borrower.industry,
                purpose=f"发展{borrower.industry.name}产业",
                quota=QUOTAS.get(borrower.category, OTHER_QUOTA),
                state=Application.State.RELEASED,
                released_at=now,
            )
        )
    applications = _recorded(Application.objects.bulk_create(applications), actor)
    for index, application in enumerate(applications):
        disbursed = datetime.date(2025, 1, 6) + datetime.timedelta(days=rng.randrange(170))
        maturity = _months_after(disbursed, application.term_months)
        loans.append(
            Loan(
                application=application,
                coop=coop,
                contract_no=f"{spec.contract_prefix}{index + 1:04d}",
                principal=application.amount,
                annual_rate=RATE,
                disbursed_on=disbursed,
                maturity_on=maturity,
                programme=programme,
                township=application.township,
                county=county,
            )
        )
    loans = _recorded(Loan.objects.bulk_create(loans), actor)
    # Each posting is recorded on the evening of the day it was paid, as the
    # co-op's daily sync would: a run sees what was posted by its day.
    by_day: dict[datetime.date, list[LedgerEntry]] = {}
    for entry in _ledger(rng, loans, coop, coop_user, programme, today):
        by_day.setdefault(entry.paid_on, []).append(entry)
    for day, entries in sorted(by_day.items()):
        with _clock(datetime.datetime.combine(day, POSTED_AT)):
            _recorded(LedgerEntry.objects.bulk_create(entries), coop_user)
    # Each change of status on its day, as the daily task records it: repaid
    # on the day of the last repayment, overdue the day after maturity.
    for loan in loans:
        for day in (loan.maturity_on, loan.maturity_on + datetime.timedelta(days=1)):
            if day <= today:
                loan_status_record(loan, on=day)
    return len(loans)


def _recorded(rows: list, actor) -> list:
    """The rows just written in bulk, each with its history row ("+", by
    ``actor``, at the clock's time), as a save through a service leaves."""
    if rows:
        model = type(rows[0])
        history_record_bulk(
            model.objects.filter(pk__in=[row.pk for row in rows]),
            history_type="+",
            user=actor,
            reason=DEMO_REASON,
        )
    return rows


def _driven(rng, borrowers, households):
    """Each village committee borrower leads three to eight other households
    of their township, each with one benefit."""
    by_township: dict[int, list[Household]] = {}
    for household in households:
        by_township.setdefault(household.township_id, []).append(household)
    for borrower in borrowers:
        if borrower.category != COMMITTEE:
            continue
        others = [h for h in by_township[borrower.township_id] if h.pk != borrower.household_id]
        for household in rng.sample(others, rng.randint(3, 8)):
            benefit = rng.choice(DrivenHousehold.Benefit.values)
            yield DrivenHousehold(
                borrower=borrower,
                household=household,
                county_id=household.county_id,
                benefit=benefit,
                yearly_amount=Decimal(rng.randrange(800, 6000, 100)),
                since=datetime.date(2025, 3, 1),
            )


def _months_after(day: datetime.date, months: int) -> datetime.date:
    month = day.month - 1 + months
    return day.replace(year=day.year + month // 12, month=month % 12 + 1, day=min(day.day, 28))


def _ledger(rng, loans, coop, poster, programme, today):
    """Quarterly interest up to ``today``; one loan in five repays a part of
    its principal after a year; one-year loans repay at maturity, except
    one in eight, which is left overdue."""
    for loan in loans:
        overdue = loan.application.term_months == 12 and rng.random() < 0.125
        repaid_at = loan.maturity_on if loan.application.term_months == 12 and not overdue else None
        ends_on = min(today, repaid_at or today)
        schedule = expected_schedule(
            principal=loan.principal,
            rate=loan.annual_rate,
            basis=programme.day_count_basis,
            disbursed_on=loan.disbursed_on,
            ends_on=ends_on,
        )
        for period in schedule:
            if period.end > today or (overdue and period.end >= loan.maturity_on):
                break
            # One posting in forty is paid late, by three or twelve days.
            late = datetime.timedelta(days=rng.choice((3, 12)) if rng.random() < 0.025 else 0)
            yield LedgerEntry(
                coop=coop,
                txn_id=f"{loan.contract_no}-I{period.end:%Y%m%d}",
                loan=loan,
                county_id=loan.county_id,
                kind=LedgerEntry.Kind.INTEREST,
                amount=period.interest,
                period_start=period.start,
                period_end=period.end,
                due_on=period.end,
                paid_on=min(period.end + late, today),
                posted_by=poster,
            )
        if repaid_at and repaid_at <= today:
            yield LedgerEntry(
                coop=coop,
                txn_id=f"{loan.contract_no}-P{repaid_at:%Y%m%d}",
                loan=loan,
                county_id=loan.county_id,
                kind=LedgerEntry.Kind.PRINCIPAL,
                amount=loan.principal,
                paid_on=repaid_at,
                posted_by=poster,
            )


def small_counties_seed(*, offices: dict[str, object], coop_user, today: datetime.date) -> dict:
    """The small counties' programmes, books and computed 2025 runs; what was
    created, by kind."""
    created = {"loans": 0, "subsidy runs": 0}
    programmes = programmes_seed()
    for spec in SMALL_COUNTIES:
        county = Division.objects.get(code=spec.code)
        programme = programmes[spec.programme]
        office = offices[spec.code]
        if not Loan.objects.filter(county=county).exists():
            created["loans"] += _book(
                actor=office,
                coop_user=coop_user,
                county=county,
                spec=spec,
                programme=programme,
                today=today,
            )
        has_run = SubsidyRun.objects.filter(programme=programme, county=county, year=YEAR)
        if today > RUN_DAY and not has_run.exists():
            with _in_process(), _clock(COMPUTED_AT):
                subsidy_run_start(actor=office, programme=programme, year=YEAR, today=RUN_DAY)
            created["subsidy runs"] += 1
    return created
