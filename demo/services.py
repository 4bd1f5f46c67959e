"""The Mojiang demo: divisions, one login per role, the registry of
borrowers and the households they lead (demo/generator.py), their
applications, loans and ledgers (demo/loans.py), the risk-compensation fund
covering them, with its deposits and the co-op's claims (demo/riskfund.py),
and the subsidy year 2025 computed, approved and paid (demo/subsidies.py).

Everything here goes through the domain services (the driven households in
bulk, validated the same way) and is safe to run again: a second run finds
what the first made and changes nothing.
"""

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts.roles import Role, township_of
from accounts.services import user_create
from divisions.models import Division
from divisions.services import divisions_load
from loans.keys.services import credit_coop_save

from .counties import COUNTY_CODES, small_counties_seed
from .generator import demo_plan, demo_registry_seed
from .loans import COOP_CODE, demo_loans_seed
from .riskfund import demo_fund_seed, demo_riskfund_seed
from .subsidies import demo_subsidies_seed

MOJIANG = "530822"
DEMO_PASSWORD = "zhenxingdai-demo"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: Role
    township_code: str | None = None
    county_code: str = MOJIANG  # 墨江哈尼族自治县
    office_code: str | None = None  # a city's or a province's, for their offices

    @property
    def division_code(self) -> str:
        """The division the login works in, as the seed_demo list shows it."""
        return self.township_code or self.office_code or self.county_code


DEMO_LOGINS = (
    DemoLogin("county", Role.COUNTY),
    DemoLogin("township", Role.TOWNSHIP, "530822101"),  # 联珠镇, the county seat
    DemoLogin("township2", Role.TOWNSHIP, "530822102"),  # 通关镇
    DemoLogin("coop", Role.COOP),
    DemoLogin("finance", Role.FINANCE),
    DemoLogin("auditor", Role.AUDITOR),
    # The smaller counties' offices, and the offices above them.
    DemoLogin("county2", Role.COUNTY, county_code="530821"),  # 宁洱
    DemoLogin("county3", Role.COUNTY, county_code="530823"),  # 景东
    DemoLogin("city", Role.CITY, office_code="5308"),  # 普洱市
    DemoLogin("province", Role.PROVINCE, office_code="53"),  # 云南省
)


@transaction.atomic
def demo_users_create() -> list[tuple[DemoLogin, bool]]:
    """Create the demo logins that do not exist yet; return each with "created"."""
    existing = set(
        get_user_model()
        .objects.filter(username__in=[login.username for login in DEMO_LOGINS])
        .values_list("username", flat=True)
    )
    results = []
    for login in DEMO_LOGINS:
        created = login.username not in existing
        if created:
            township = (
                Division.objects.get(code=login.township_code) if login.township_code else None
            )
            office = Division.objects.get(code=login.office_code) if login.office_code else None
            user_create(
                username=login.username,
                password=DEMO_PASSWORD,
                role=login.role,
                township=township,
                county=(
                    None if township or office else Division.objects.get(code=login.county_code)
                ),
                office=office,
            )
        results.append((login, created))
    return results


def demo_seed(*, today: datetime.date | None = None, others: bool = True) -> dict:
    """Load the whole demo, its loans' story cut off at ``today`` (by default
    the current date): a later run adds what has fallen due since.
    ``others=False`` leaves out the smaller counties beside Mojiang (their
    divisions are loaded all the same), for tests of Mojiang's story alone."""
    today = today or timezone.localdate()
    divisions = divisions_load(counties=[MOJIANG, *COUNTY_CODES])
    credit_coop_save(
        code=COOP_CODE,
        name="墨江哈尼族自治县农村信用合作联社",
        counties=[division for division in divisions.counties if division.code == MOJIANG],
    )
    logins = demo_users_create()
    users = {
        user.username: user
        for user in get_user_model().objects.filter(
            username__in=[login.username for login in DEMO_LOGINS]
        )
    }
    # Mojiang's logins by role (the other counties' offices are apart).
    by_role = {
        login.role: users[login.username]
        for login in DEMO_LOGINS
        if login.county_code == MOJIANG and login.office_code is None
    }
    plan = demo_plan()
    registry = demo_registry_seed(actor=by_role[Role.COUNTY], plan=plan)
    officers = {
        township_of(users[login.username]).code: users[login.username]
        for login in DEMO_LOGINS
        if login.role == Role.TOWNSHIP
    }
    # The fund is there before the county approves the applications it
    # covers: each approval passes its leverage check as a real one does.
    fund = demo_fund_seed(county=by_role[Role.COUNTY], finance=by_role[Role.FINANCE], today=today)
    loans = demo_loans_seed(
        county=by_role[Role.COUNTY],
        coop_user=by_role[Role.COOP],
        township_officers=officers,
        today=today,
        registry=plan,
    )
    # The claims write a loan off from their date: before the subsidy years.
    riskfund = fund + demo_riskfund_seed(
        county=by_role[Role.COUNTY],
        coop_user=by_role[Role.COOP],
        finance=by_role[Role.FINANCE],
        today=today,
    )
    subsidies = demo_subsidies_seed(
        county=by_role[Role.COUNTY],
        finance=by_role[Role.FINANCE],
        township_officers=officers,
        today=today,
    )
    created_others = {}
    if others:
        created_others = small_counties_seed(
            offices={
                login.county_code: users[login.username]
                for login in DEMO_LOGINS
                if login.role == Role.COUNTY and login.county_code != MOJIANG
            },
            coop_user=by_role[Role.COOP],
            today=today,
        )
    return {
        "divisions": divisions,
        "others": created_others,
        "logins": logins,
        "registry": registry,
        "loans": loans,
        "riskfund": riskfund,
        "subsidies": subsidies,
        "today": today,
    }
