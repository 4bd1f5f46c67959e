"""The Mojiang registry of the demo: villages and village groups under the
county's fifteen real townships, the programme's 680 borrower households
and the more than 10,000 households they lead (seed 000).

Two steps. ``demo_plan()`` invents everything from a fixed seed and a fixed
reference date without touching the database, so the same plan comes out
of every call. ``demo_registry_seed()`` writes what of the plan is missing,
through the registry's services (the driven households in bulk, see
``_seed_driven_households``), and so can be run again: a second run finds
every record by its natural key (division code, ID number, credit code)
and changes nothing. Records that someone has edited since are left as
they are.

The figures the plan holds (checked by tests/demo/test_demo_figures.py):

* 680 borrower households: 300 with a village "two committees" member
  (quota 100,000 yuan), 300 with a village group cadre (50,000), together
  600 = 88.2 %, and 80 of industry leaders (55) or reserve cadres (25),
  50,000 each. The largest total the quotas allow is 49 million yuan, room
  for the programme's "over 40 million".
* 360 households in animal husbandry, 320 in planting (by the industry
  kind's ``farming``), including 林下种养殖 and 文化旅游 kinds.
* Seven households hold two cadres (husband and wife): quotas are per
  household, so they still count once.
* Over 10,000 driven households, about 15 per borrower household, and a
  few more led by the enterprises and co-operatives behind some borrowers.
"""

import datetime
import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from simple_history.utils import bulk_create_with_history
from stdnum import luhn
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
from beneficiaries.registry.services import borrower_create, enterprise_create, household_create
from divisions.models import Division

from . import data
from .data import REFERENCE_DATE

SEED = 530822
COUNTY_CODE = "530822"
CHANGE_REASON = "seed_demo"

COMMITTEE = Borrower.Category.VILLAGE_COMMITTEE
GROUP_CADRE = Borrower.Category.GROUP_CADRE
INDUSTRY_LEADER = Borrower.Category.INDUSTRY_LEADER
RESERVE_CADRE = Borrower.Category.RESERVE_CADRE
Title = Position.Title
Benefit = DrivenHousehold.Benefit
Poverty = Household.PovertyStatus

# How many borrower households of each category the programme reports.
HOUSEHOLDS_BY_CATEGORY = (
    (COMMITTEE, 300),
    (GROUP_CADRE, 300),
    (INDUSTRY_LEADER, 55),
    (RESERVE_CADRE, 25),
)
QUOTA_BY_CATEGORY = {COMMITTEE: Decimal("100000.00")}
DEFAULT_QUOTA = Decimal("50000.00")
COUPLES_IN_COMMITTEE_HOUSEHOLDS = 4
COUPLES_IN_GROUP_CADRE_HOUSEHOLDS = 3
COMMITTEE_BORROWERS_PER_VILLAGE = 5
DRIVEN_PER_HOUSEHOLD = (9, 22)  # about 15.5 on average
DRIVEN_PER_ENTERPRISE = (12, 30)

# The post a cadre's wife or husband holds in the household's own group,
# first free one of these.
SPOUSE_TITLES = (
    Title.GROUP_DEPUTY_LEADER,
    Title.PARTY_GROUP_LEADER,
    Title.GROUP_LEADER,
    Title.GROUP_BRANCH_SECRETARY,
)
GROUP_TITLE_WEIGHTS = (
    (Title.GROUP_LEADER, 50),
    (Title.GROUP_DEPUTY_LEADER, 20),
    (Title.GROUP_BRANCH_SECRETARY, 15),
    (Title.PARTY_GROUP_LEADER, 15),
)
# These titles are Party posts: whoever holds one is a Party member.
PARTY_TITLES = {Title.BRANCH_SECRETARY, Title.GROUP_BRANCH_SECRETARY, Title.PARTY_GROUP_LEADER}

BENEFIT_WEIGHTS = {
    "husbandry": (
        (Benefit.WAGES, 35),
        (Benefit.DIVIDEND, 30),
        (Benefit.TECHNICAL_HELP, 25),
        (Benefit.LAND_RENT, 10),
    ),
    "planting": (
        (Benefit.LAND_RENT, 30),
        (Benefit.WAGES, 30),
        (Benefit.DIVIDEND, 20),
        (Benefit.TECHNICAL_HELP, 20),
    ),
}
CREDIT_CODE_PREFIX = {"cooperative": "93", "leading_company": "91", "family_farm": "92"}


# The plan: plain data, no database.


@dataclass(frozen=True)
class Person:
    name: str
    id_number: str


@dataclass(frozen=True)
class GroupPlan:
    code: str
    name: str


@dataclass(frozen=True)
class VillagePlan:
    code: str
    name: str
    township_code: str
    groups: tuple[GroupPlan, ...]

    @property
    def place_name(self) -> str:
        """The name without 村 or 社区, as it appears in enterprise names."""
        return self.name.removesuffix("社区").removesuffix("村")


@dataclass(frozen=True)
class PositionPlan:
    title: str
    started_on: datetime.date
    ended_on: datetime.date | None = None


@dataclass
class BorrowerPlan:
    person: Person
    phone: str
    party_member: bool
    base_category: str
    industry: tuple[str, str]  # (sector, kind)
    entity_description: str
    scale: Decimal
    scale_unit: str
    positions: tuple[PositionPlan, ...] = ()
    enterprise_code: str | None = None


@dataclass(frozen=True)
class HouseholdPlan:
    head: Person
    group_code: str
    member_count: int
    poverty_status: str
    account_holder: str = ""
    account_number: str = ""
    bank_name: str = ""


@dataclass(frozen=True)
class DrivenPlan:
    household: HouseholdPlan
    benefit: str
    yearly_amount: Decimal
    since: datetime.date


@dataclass
class BorrowerHouseholdPlan:
    household: HouseholdPlan
    village: VillagePlan
    category: str  # the household's: the highest of its borrowers'
    farming: str
    borrowers: list[BorrowerPlan]
    driven: list[DrivenPlan] = field(default_factory=list)


@dataclass
class EnterprisePlan:
    credit_code: str
    name: str
    kind: str
    legal_representative: str
    phone: str
    village: VillagePlan
    industry: tuple[str, str]
    scale: Decimal
    scale_unit: str
    account_number: str
    bank_name: str
    driven: list[DrivenPlan] = field(default_factory=list)


@dataclass
class DemoPlan:
    villages: list[VillagePlan]
    borrower_households: list[BorrowerHouseholdPlan]
    enterprises: list[EnterprisePlan]

    def borrowers(self) -> list[BorrowerPlan]:
        return [b for household in self.borrower_households for b in household.borrowers]

    def driven(self) -> list[tuple[BorrowerPlan | EnterprisePlan, DrivenPlan]]:
        """Each driven household with its leader: the head borrower of a
        borrower household, or an enterprise."""
        pairs: list[tuple[BorrowerPlan | EnterprisePlan, DrivenPlan]] = [
            (household.borrowers[0], link)
            for household in self.borrower_households
            for link in household.driven
        ]
        pairs += [(firm, link) for firm in self.enterprises for link in firm.driven]
        return pairs

    def id_numbers(self) -> list[str]:
        """Every invented resident ID, in plan order: borrowers (the first of
        each household is its head), then the heads of driven households."""
        return [b.person.id_number for b in self.borrowers()] + [
            link.household.head.id_number for _leader, link in self.driven()
        ]

    def maximum_quota(self) -> Decimal:
        return sum(
            (QUOTA_BY_CATEGORY.get(h.category, DEFAULT_QUOTA) for h in self.borrower_households),
            Decimal("0.00"),
        )


def _years_before(day: datetime.date, years: int) -> datetime.date:
    return day.replace(year=day.year - years)  # the reference date is 1 January


def _organisation_code_check(body: str) -> str:
    """GB 11714 check character of the 8-character organisation code inside
    a credit code (stdnum checks only the credit code's own character)."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(char, 36) * weight for char, weight in zip(body, weights, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


class _PlanBuilder:
    """Draws the demo from one ``random.Random``; the order of the draws is
    part of the plan, so change it only knowing that the demo changes."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used_ids: set[str] = set()
        self.used_phones: set[str] = set()
        self.used_codes: set[str] = set()
        self.surnames = [name for name, _ in data.SURNAMES]
        self.surname_weights = [weight for _, weight in data.SURNAMES]

    # People and their numbers

    def person(self, *, male: bool, ages: tuple[int, int]) -> Person:
        """A person aged ``ages`` (inclusive) on the reference date, with a
        resident ID of Mojiang whose 17th digit matches the gender."""
        youngest, oldest = ages
        born_last = _years_before(REFERENCE_DATE, youngest)
        born_first = _years_before(REFERENCE_DATE, oldest + 1) + datetime.timedelta(days=1)
        while True:
            birth_date = born_first + datetime.timedelta(
                days=self.rng.randrange((born_last - born_first).days + 1)
            )
            sequence = "%02d%s" % (
                self.rng.randrange(100),
                self.rng.choice("13579" if male else "02468"),
            )
            base = COUNTY_CODE + birth_date.strftime("%Y%m%d") + sequence
            if base not in self.used_ids:
                break
        self.used_ids.add(base)
        # calc_check_digit reads an 18-character number and ignores its last.
        id_number = base + ric.calc_check_digit(base + "0")
        surname = self.rng.choices(self.surnames, self.surname_weights)[0]
        given = self.rng.choice(data.MALE_GIVEN_NAMES if male else data.FEMALE_GIVEN_NAMES)
        return Person(name=surname + given, id_number=id_number)

    def phone(self) -> str:
        while True:
            number = self.rng.choice(data.MOBILE_PREFIXES) + "%08d" % self.rng.randrange(10**8)
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def bank(self) -> str:
        names, weights = zip(*data.BANKS, strict=True)
        return self.rng.choices(names, weights)[0]

    def account_number(self) -> str:
        """A 19-digit rural credit co-op card, or now and then a passbook
        number, which carries no Luhn digit (the page warns about it)."""
        if self.rng.random() < 0.85:
            body = "6217" + "%014d" % self.rng.randrange(10**14)
            return body + luhn.calc_check_digit(body)
        return "1" + "%016d" % self.rng.randrange(10**16)

    def credit_code(self, kind: str) -> str:
        alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
        while True:
            body = "MA" + "".join(self.rng.choice(alphabet) for _ in range(6))
            base = CREDIT_CODE_PREFIX[kind] + COUNTY_CODE + body + _organisation_code_check(body)
            code = base + uscc.calc_check_digit(base)
            if code not in self.used_codes:
                self.used_codes.add(code)
                return code

    # Divisions

    def villages(self) -> list[VillagePlan]:
        stems = list(data.VILLAGE_STEMS)
        self.rng.shuffle(stems)
        villages = []
        for township_code, _name in data.TOWNSHIPS:
            communities = data.COMMUNITIES.get(township_code, ())
            count = self.rng.randint(8, 12) - len(communities)
            # Statistical codes number residents' committees from 001 and
            # village committees from 201.
            names = [(f"{number:03d}", name) for number, name in enumerate(communities, start=1)]
            names += [(f"{200 + number:03d}", stems.pop() + "村") for number in range(1, count + 1)]
            for suffix, name in names:
                code = township_code + suffix
                villages.append(
                    VillagePlan(code, name, township_code, self.groups(code, name.endswith("社区")))
                )
        return villages

    def groups(self, village_code: str, community: bool) -> tuple[GroupPlan, ...]:
        count = self.rng.randint(5, 10)
        if community or self.rng.random() < 0.45:
            names = [number + "组" for number in data.GROUP_NUMBERS[:count]]
        else:
            names = [stem + "组" for stem in self.rng.sample(data.GROUP_STEMS, count)]
        return tuple(
            GroupPlan(f"{village_code}{number:03d}", name)
            for number, name in enumerate(names, start=1)
        )

    # Borrower households

    def borrower_households(self, villages: list[VillagePlan]) -> list[BorrowerHouseholdPlan]:
        rng = self.rng
        categories = [c for c, count in HOUSEHOLDS_BY_CATEGORY for _ in range(count)]
        rng.shuffle(categories)
        tables = (("husbandry", data.HUSBANDRY_KINDS), ("planting", data.PLANTING_KINDS))
        kinds = [
            (kind, farming) for farming, table in tables for kind in table for _ in range(kind[1])
        ]
        rng.shuffle(kinds)
        committee_indices = [i for i, c in enumerate(categories) if c == COMMITTEE]
        group_indices = [i for i, c in enumerate(categories) if c == GROUP_CADRE]
        couples = set(rng.sample(committee_indices, COUPLES_IN_COMMITTEE_HOUSEHOLDS))
        couples |= set(rng.sample(group_indices, COUPLES_IN_GROUP_CADRE_HOUSEHOLDS))
        committee_seats: Counter[str] = Counter()  # village code → committee borrowers
        secretaries: set[str] = set()  # villages whose branch secretary borrows
        group_titles: dict[str, set[str]] = {}  # group code → titles taken

        households = []
        for index, (category, (kind, farming)) in enumerate(zip(categories, kinds, strict=True)):
            if category == GROUP_CADRE:
                village, group, title = self._free_group_post(villages, group_titles)
                positions = [PositionPlan(title, data.ELECTION_2021)]
                male, ages = rng.random() < 0.9, (30, 58)
                party = title in PARTY_TITLES or rng.random() < 0.65
            elif category == COMMITTEE:
                village = rng.choice(villages)
                while committee_seats[village.code] >= COMMITTEE_BORROWERS_PER_VILLAGE:
                    village = rng.choice(villages)
                committee_seats[village.code] += 1
                group = rng.choice(village.groups)
                if village.code not in secretaries and rng.random() < 0.35:
                    # Since 2021 the secretary is usually also the director (一肩挑).
                    secretaries.add(village.code)
                    titles = [Title.BRANCH_SECRETARY, Title.COMMITTEE_DIRECTOR]
                else:
                    titles = [Title.COMMITTEE_MEMBER]
                positions = [PositionPlan(title, data.ELECTION_2021) for title in titles]
                male, ages = rng.random() < 0.85, (30, 58)
                party = Title.BRANCH_SECRETARY in titles or rng.random() < 0.9
            else:
                village = rng.choice(villages)
                group = rng.choice(village.groups)
                positions = []
                if category == RESERVE_CADRE:
                    male, ages, party = rng.random() < 0.8, (25, 38), rng.random() < 0.6
                else:
                    male, ages, party = rng.random() < 0.85, (28, 55), rng.random() < 0.35
            positions = self._with_history(category, positions)
            head = self.person(male=male, ages=ages)
            borrower = self.borrower(head, party, category, kind, positions)
            borrowers = [borrower]
            if index in couples:
                spouse = self.spouse(head, male, group, group_titles, borrower)
                if spouse is not None:
                    borrowers.append(spouse)
            household = HouseholdPlan(
                head=head,
                group_code=group.code,
                member_count=rng.randint(2, 7),
                poverty_status=Poverty.LIFTED if rng.random() < 0.15 else Poverty.GENERAL,
                account_holder=head.name,
                account_number=self.account_number(),
                bank_name=self.bank(),
            )
            plan = BorrowerHouseholdPlan(household, village, category, farming, borrowers)
            plan.driven = self.driven(plan.village, villages, farming, DRIVEN_PER_HOUSEHOLD)
            households.append(plan)
        return households

    def _free_group_post(self, villages, group_titles):
        """A village group with a cadre post no borrower holds yet, and the post."""
        while True:
            village = self.rng.choice(villages)
            group = self.rng.choice(village.groups)
            taken = group_titles.setdefault(group.code, set())
            free = [(title, weight) for title, weight in GROUP_TITLE_WEIGHTS if title not in taken]
            if free:
                titles, weights = zip(*free, strict=True)
                title = self.rng.choices(titles, weights)[0]
                taken.add(title)
                return village, group, title

    def _with_history(self, category: str, positions: list[PositionPlan]) -> tuple:
        """Give a few cadres the post they held in the 2018 term, and a few
        reserve cadres a group post that ended at the 2021 election, so the
        pages show a category that changed over time."""
        earlier = None
        if category in (COMMITTEE, GROUP_CADRE) and self.rng.random() < 0.06:
            earlier = Title.GROUP_LEADER if category == COMMITTEE else Title.GROUP_DEPUTY_LEADER
        elif category == RESERVE_CADRE and self.rng.random() < 0.2:
            earlier = Title.GROUP_DEPUTY_LEADER
        if earlier is not None:
            positions = [
                *positions,
                PositionPlan(earlier, data.ELECTION_2018, data.TERM_2018_END),
            ]
        return tuple(positions)

    def borrower(self, person, party, category, kind, positions) -> BorrowerPlan:
        industry, _count, entities, (low, high), unit = kind
        scale = self.rng.randint(low, high)
        if high >= 1000:
            scale = round(scale, -1)
        return BorrowerPlan(
            person=person,
            phone=self.phone(),
            party_member=party,
            base_category=category if category not in (COMMITTEE, GROUP_CADRE) else INDUSTRY_LEADER,
            industry=industry,
            entity_description=self.rng.choice(entities),
            scale=Decimal(scale),
            scale_unit=unit,
            positions=positions,
        )

    def spouse(self, head, male, group, group_titles, partner) -> BorrowerPlan | None:
        """The head's wife (or husband), also a cadre of the household's own
        group, in the same industry: one household, one quota."""
        taken = group_titles.setdefault(group.code, set())
        free = [title for title in SPOUSE_TITLES if title not in taken]
        if not free:
            return None
        title = free[0]
        taken.add(title)
        head_age = REFERENCE_DATE.year - int(head.id_number[6:10]) - 1  # born before 1 January
        ages = (max(25, head_age - 6), min(58, head_age + 4))
        person = self.person(male=not male, ages=ages)
        return BorrowerPlan(
            person=person,
            phone=self.phone(),
            party_member=title in PARTY_TITLES or self.rng.random() < 0.6,
            base_category=INDUSTRY_LEADER,
            industry=partner.industry,
            entity_description=partner.entity_description,
            scale=partner.scale,
            scale_unit=partner.scale_unit,
            positions=(PositionPlan(title, data.ELECTION_2021),),
        )

    # Driven households

    def driven(self, village, villages, farming, per_leader) -> list[DrivenPlan]:
        """Households led by a borrower or an enterprise of ``village``:
        most in the same village, some elsewhere in the township."""
        rng = self.rng
        neighbours = [v for v in villages if v.township_code == village.township_code]
        links = []
        for _ in range(rng.randint(*per_leader)):
            home = village if rng.random() < 0.75 else rng.choice(neighbours)
            male = rng.random() < 0.85
            head = self.person(male=male, ages=(25, 58))
            draw = rng.random()
            if draw < 0.5:
                poverty = Poverty.LIFTED
            elif draw < 0.6:
                poverty = Poverty.MONITORED
            else:
                poverty = Poverty.GENERAL
            household = HouseholdPlan(
                head=head,
                group_code=rng.choice(home.groups).code,
                member_count=rng.randint(1, 6),
                poverty_status=poverty,
            )
            benefits, weights = zip(*BENEFIT_WEIGHTS[farming], strict=True)
            benefit = rng.choices(benefits, weights)[0]
            links.append(
                DrivenPlan(
                    household=household,
                    benefit=benefit,
                    yearly_amount=self.benefit_amount(benefit),
                    since=datetime.date(rng.randint(2021, 2024), rng.randint(1, 12), 1),
                )
            )
        return links

    def benefit_amount(self, benefit: str) -> Decimal:
        rng = self.rng
        if benefit == Benefit.TECHNICAL_HELP:
            return Decimal("0.00")
        if benefit == Benefit.WAGES:
            return Decimal(rng.randint(20, 60) * 100).quantize(Decimal("0.01"))
        if benefit == Benefit.LAND_RENT:
            return Decimal(rng.randint(30, 250) * 10).quantize(Decimal("0.01"))
        return Decimal(rng.randint(300_00, 3000_00)) / 100  # dividend, to the fen

    # Enterprises

    def enterprises(self, households, villages) -> list[EnterprisePlan]:
        """Co-operatives, companies and family farms run by a borrower; a
        co-operative also stands behind up to two other borrowers of the
        township in its industry, its members."""
        rng = self.rng
        plans = []
        for industry, kind, pattern in data.ENTERPRISES:
            candidates = [
                h
                for h in households
                if h.borrowers[0].industry == industry and h.borrowers[0].enterprise_code is None
            ]
            founder_household = rng.choice(candidates)
            founder = founder_household.borrowers[0]
            village = founder_household.village
            code = self.credit_code(kind)
            members = [
                h.borrowers[0]
                for h in candidates
                if h is not founder_household and h.village.township_code == village.township_code
            ][: 2 if kind == "cooperative" else 0]
            for borrower in (founder, *members):
                borrower.enterprise_code = code
            farming = founder_household.farming
            plans.append(
                EnterprisePlan(
                    credit_code=code,
                    name=pattern.format(place=village.place_name, person=founder.person.name),
                    kind=kind,
                    legal_representative=founder.person.name,
                    phone=founder.phone,
                    village=village,
                    industry=industry,
                    scale=founder.scale * rng.randint(2, 4),
                    scale_unit=founder.scale_unit,
                    account_number="%017d" % rng.randrange(10**16, 10**17),
                    bank_name=data.BANKS[0][0],
                    driven=self.driven(village, villages, farming, DRIVEN_PER_ENTERPRISE),
                )
            )
        return plans


def demo_plan() -> DemoPlan:
    """Invent the Mojiang registry. Pure: the database is not read, and every
    call returns the same plan."""
    builder = _PlanBuilder(random.Random(SEED))
    villages = builder.villages()
    households = builder.borrower_households(villages)
    enterprises = builder.enterprises(households, villages)
    return DemoPlan(villages=villages, borrower_households=households, enterprises=enterprises)


# Writing the plan.


@dataclass
class SeedResult:
    """How many records of each kind this run created (0 everywhere on a
    second run)."""

    created: Counter = field(default_factory=Counter)


# Validation of the rows inserted in bulk: every field's validators and the
# model's clean(), but not the checks that cost a query per row (with them
# the whole seed took 43 s on SQLite instead of 17 s): the foreign keys
# point at rows just loaded or created, and the database enforces the
# unique and check constraints on insert, inside the seed's one
# transaction, so a violation still leaves nothing behind.
BULK_CLEAN = {"validate_unique": False, "validate_constraints": False}


class MissingTownshipsError(RuntimeError):
    pass


def demo_registry_seed(*, actor, plan: DemoPlan | None = None) -> SeedResult:
    """Write whatever of the plan is missing, as ``actor`` (the county
    officer: villages are the county's to add). All or nothing."""
    plan = plan or demo_plan()
    result = SeedResult()
    with transaction.atomic():
        divisions = _seed_divisions(plan, actor, result)
        industries = {
            (kind.parent.name, kind.name): kind
            for kind in Industry.objects.filter(parent__isnull=False).select_related("parent")
        }
        enterprises = _seed_enterprises(plan, actor, industries, divisions, result)
        _seed_borrowers(plan, actor, industries, enterprises, divisions, result)
        _seed_driven_households(plan, actor, divisions, enterprises, result)
    return result


def _seed_divisions(plan: DemoPlan, actor, result: SeedResult) -> dict[str, Division]:
    """Create the missing villages and groups; return every division of the
    plan by code, townships and villages included."""
    townships = {d.code: d for d in Division.objects.townships().filter(parent__code=COUNTY_CODE)}
    missing = [code for code, _name in data.TOWNSHIPS if code not in townships]
    if missing:
        raise MissingTownshipsError(
            "Load the townships of %s first (divisions_load): %s missing."
            % (COUNTY_CODE, ", ".join(missing))
        )
    divisions = dict(townships)
    divisions.update(
        (d.code, d)
        for d in Division.objects.filter(
            code__startswith=COUNTY_CODE,
            level__in=[Division.Level.VILLAGE, Division.Level.GROUP],
        ).select_related("parent")
    )
    for village in plan.villages:
        if village.code not in divisions:
            divisions[village.code] = division_create(
                actor=actor,
                parent=divisions[village.township_code],
                code=village.code,
                name=village.name,
            )
            result.created["villages"] += 1
        for group in village.groups:
            if group.code not in divisions:
                divisions[group.code] = division_create(
                    actor=actor, parent=divisions[village.code], code=group.code, name=group.name
                )
                result.created["village groups"] += 1
    return divisions


def _seed_enterprises(plan, actor, industries, divisions, result) -> dict[str, Enterprise]:
    existing = {
        e.credit_code: e
        for e in Enterprise.objects.filter(
            credit_code__in=[enterprise.credit_code for enterprise in plan.enterprises]
        )
    }
    for enterprise in plan.enterprises:
        if enterprise.credit_code in existing:
            continue
        existing[enterprise.credit_code] = enterprise_create(
            actor=actor,
            reason=CHANGE_REASON,
            name=enterprise.name,
            kind=enterprise.kind,
            credit_code=enterprise.credit_code,
            legal_representative=enterprise.legal_representative,
            phone=enterprise.phone,
            village=divisions[enterprise.village.code],
            industry=industries[enterprise.industry],
            scale=enterprise.scale,
            scale_unit=enterprise.scale_unit,
            account_holder=enterprise.name,
            account_number=enterprise.account_number,
            bank_name=enterprise.bank_name,
        )
        result.created["enterprises"] += 1
    return existing


def _seed_borrowers(plan, actor, industries, enterprises, divisions, result) -> None:
    """Borrower households one by one through the services: 680 of them are
    quick enough, and the services are what the pages use."""
    head_ids = [h.household.head.id_number for h in plan.borrower_households]
    households = {
        h.head_id_number: h for h in Household.objects.filter(head_id_number__in=head_ids)
    }
    borrower_ids = set(
        Borrower.objects.filter(
            id_number__in=[b.person.id_number for b in plan.borrowers()]
        ).values_list("id_number", flat=True)
    )
    for household_plan in plan.borrower_households:
        planned = household_plan.household
        household = households.get(planned.head.id_number)
        if household is None:
            household = household_create(
                actor=actor,
                reason=CHANGE_REASON,
                head_name=planned.head.name,
                head_id_number=planned.head.id_number,
                village_group=divisions[planned.group_code],
                member_count=planned.member_count,
                poverty_status=planned.poverty_status,
                account_holder=planned.account_holder,
                account_number=planned.account_number,
                bank_name=planned.bank_name,
            )
            result.created["borrower households"] += 1
        for borrower in household_plan.borrowers:
            if borrower.person.id_number in borrower_ids:
                continue
            borrower_create(
                actor=actor,
                household=household,
                positions=[
                    {"title": p.title, "started_on": p.started_on, "ended_on": p.ended_on}
                    for p in borrower.positions
                ],
                today=REFERENCE_DATE,
                reason=CHANGE_REASON,
                name=borrower.person.name,
                id_number=borrower.person.id_number,
                phone=borrower.phone,
                party_member=borrower.party_member,
                base_category=borrower.base_category,
                industry=industries[borrower.industry],
                entity_description=borrower.entity_description,
                scale=borrower.scale,
                scale_unit=borrower.scale_unit,
                enterprise=enterprises[borrower.enterprise_code]
                if borrower.enterprise_code
                else None,
            )
            result.created["borrowers"] += 1
            result.created["positions"] += len(borrower.positions)


def _seed_driven_households(plan, actor, divisions, enterprises, result) -> None:
    """The driven households and their links, in bulk.

    Through the services one by one (household_create, then
    driven_household_link), the 10,000-odd households and links took about
    100 s on SQLite, 10 ms each: too slow for ``make demo``. So each
    instance is validated with
    ``full_clean()`` and inserted with simple-history's
    ``bulk_create_with_history``, which still writes a history row per
    record with the county officer as its author.
    """
    pairs = plan.driven()
    household_pks = dict(Household.objects.values_list("head_id_number", "pk"))
    new_households = []
    for _leader, link in pairs:
        planned = link.household
        if planned.head.id_number in household_pks:
            continue
        group = divisions[planned.group_code]
        household = Household(
            head_name=planned.head.name,
            head_id_number=planned.head.id_number,
            village_group=group,
            member_count=planned.member_count,
            poverty_status=planned.poverty_status,
        )
        # What Household.save() would set.
        household.township_id = group.parent.parent_id
        household.county_id = group.parent.parent.parent_id
        household.full_clean(**BULK_CLEAN, exclude=["village_group", "township", "county"])
        new_households.append(household)
    bulk_create_with_history(
        new_households,
        Household,
        batch_size=500,
        default_user=actor,
        default_change_reason=CHANGE_REASON,
    )
    result.created["driven households"] += len(new_households)
    household_pks.update((h.head_id_number, h.pk) for h in new_households)

    borrower_pks = dict(
        Borrower.objects.filter(
            id_number__in=[h.borrowers[0].person.id_number for h in plan.borrower_households]
        ).values_list("id_number", "pk")
    )
    existing = set(
        DrivenHousehold.objects.values_list(
            "borrower_id", "enterprise_id", "household_id", "benefit"
        )
    )
    county_of_household = dict(
        Household.objects.filter(pk__in=household_pks.values()).values_list("pk", "county_id")
    )
    new_links = []
    for leader, link in pairs:
        if isinstance(leader, EnterprisePlan):
            borrower_pk, enterprise_pk = None, enterprises[leader.credit_code].pk
        else:
            borrower_pk, enterprise_pk = borrower_pks[leader.person.id_number], None
        household_pk = household_pks[link.household.head.id_number]
        if (borrower_pk, enterprise_pk, household_pk, link.benefit) in existing:
            continue
        driven = DrivenHousehold(
            borrower_id=borrower_pk,
            enterprise_id=enterprise_pk,
            household_id=household_pk,
            county_id=county_of_household[household_pk],
            benefit=link.benefit,
            yearly_amount=link.yearly_amount,
            since=link.since,
        )
        driven.full_clean(**BULK_CLEAN, exclude=["borrower", "enterprise", "household", "county"])
        new_links.append(driven)
    bulk_create_with_history(
        new_links,
        DrivenHousehold,
        batch_size=500,
        default_user=actor,
        default_change_reason=CHANGE_REASON,
    )
    result.created["driven household links"] += len(new_links)


def demo_registry_figures() -> dict[str, int | Decimal]:
    """The programme's headline figures as the database holds them now, for
    ``seed_demo`` to print (categories as stored, i.e. in force on the day
    of each borrower's last change), of Mojiang alone."""
    mojiang = {"county__code": COUNTY_CODE}
    borrower_households = Household.objects.filter(borrowers__isnull=False, **mojiang).distinct()
    committee = borrower_households.filter(borrowers__category=COMMITTEE).count()
    cadre = borrower_households.filter(borrowers__category__in=[COMMITTEE, GROUP_CADRE]).count()
    total = borrower_households.count()
    return {
        "villages": Division.objects.filter(
            level=Division.Level.VILLAGE, code__startswith=COUNTY_CODE
        ).count(),
        "village groups": Division.objects.filter(
            level=Division.Level.GROUP, code__startswith=COUNTY_CODE
        ).count(),
        "borrower households": total,
        "borrowers": Borrower.objects.filter(**mojiang).count(),
        "village committee households": committee,
        "village group cadre households": cadre - committee,
        "other households": total - cadre,
        "husbandry households": borrower_households.filter(
            borrowers__industry__farming=Industry.Farming.HUSBANDRY
        ).count(),
        "planting households": borrower_households.filter(
            borrowers__industry__farming=Industry.Farming.PLANTING
        ).count(),
        "enterprises": Enterprise.objects.filter(**mojiang).count(),
        "driven households": DrivenHousehold.objects.filter(**mojiang)
        .values("household")
        .distinct()
        .count(),
        "maximum quota": QUOTA_BY_CATEGORY[COMMITTEE] * committee
        + DEFAULT_QUOTA * (total - committee),
    }
