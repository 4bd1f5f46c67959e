"""The reports' fixtures: stored files in a directory of the test's own,
generation started at once, and two counties of 普洱市 with loan books of
their own and a computed subsidy year each (``counties``, for the offices'
league table and consolidated report)."""

import datetime

import pytest

from accounts.roles import Role
from accounts.services import user_create
from beneficiaries.models import DrivenHousehold, Household
from demo.loan_book import loan_book_create
from divisions.models import Division
from divisions.services import divisions_load
from loans.keys.services import credit_coop_save
from subsidies.models import SubsidyRun
from subsidies.runs.services import subsidy_run_start
from tests.conftest import PASSWORD
from tests.loans.conftest import programme_for
from tests.subsidies.conftest import (  # noqa: F401  (fixtures)
    AFTER_2025,
    coop,
    groups,
    launch_at_once,
    lend,
    people,
    programme,
)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Stored report files go to a directory of the test's own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture(autouse=True)
def report_launch_at_once(monkeypatch, request):
    """As for subsidy runs: the generation a request queues on commit is
    started at once in tests whose transaction never commits."""
    if "transactional_db" not in request.fixturenames:
        monkeypatch.setattr("reports.services._after_commit", lambda callback: callback())


NINGER = "530821"  # 宁洱哈尼族彝族自治县, beside Mojiang in 普洱市
TODAY = datetime.date(2026, 1, 10)  # after subsidy year 2025


def _book(county_office, county: Division, count: int, first_index: int):
    """``count`` loans in the county's first township, a computed 2025 run,
    and one driven household led by each of the first three borrowers."""
    township = Division.objects.townships().filter(parent=county).order_by("code").first()
    county_programme = programme_for(county)
    county_coop = credit_coop_save(
        code=f"coop-{county.code}", name=f"{county.name}农村信用合作联社", counties=[county]
    )
    loans = loan_book_create(
        actor=county_office,
        township=township,
        programme=county_programme,
        coop=county_coop,
        count=count,
        first_index=first_index,
    )
    households = list(Household.objects.filter(county=county).order_by("pk"))
    for loan, driven in zip(loans[:3], households[-3:], strict=True):
        DrivenHousehold.objects.create(
            borrower=loan.application.borrower,
            household=driven,
            benefit=DrivenHousehold.Benefit.WAGES,
        )
    run = subsidy_run_start(actor=county_office, programme=county_programme, year=2025, today=TODAY)
    run.refresh_from_db()
    assert run.state == SubsidyRun.State.COMPUTED, run.error
    return county_programme


@pytest.fixture
def counties(cast, monkeypatch):
    monkeypatch.setattr("subsidies.runs.services._after_commit", lambda callback: callback())
    mojiang = cast.county_division
    ninger = divisions_load(counties=[NINGER]).county
    ninger_office = user_create(
        username="ninger-county", password=PASSWORD, role=Role.COUNTY, county=ninger
    )
    mojiang_programme = _book(cast.county, mojiang, 12, first_index=0)
    ninger_programme = _book(ninger_office, ninger, 7, first_index=1000)
    return {
        mojiang: (cast.county, mojiang_programme),
        ninger: (ninger_office, ninger_programme),
    }
