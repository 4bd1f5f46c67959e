"""The demo's smaller counties (demo/counties.py): 宁洱 under a 振兴贷 of its
own and 景东 under 普洱市's city-wide programme, each book the same on every
seed, its records consistent with the rules the services keep, its 2025
year computed by its own office; what the city office then compares."""

import datetime
from collections import Counter
from decimal import Decimal

import pytest

from accounts.roles import Role
from accounts.services import user_create
from beneficiaries.models import Borrower, DrivenHousehold, Household, Position
from common.identifiers import validate_resident_id
from demo.counties import CITY_PROGRAMME, SMALL_COUNTIES, small_counties_seed
from divisions.models import Division
from divisions.services import divisions_load
from loans.models import Application, LedgerEntry, Loan, LoanStatusChange
from reports import league
from subsidies.models import SubsidyLine, SubsidyRun
from tests.conftest import PASSWORD

TODAY = datetime.date(2026, 11, 23)
CODES = [county.code for county in SMALL_COUNTIES]


@pytest.fixture
def seeded(cast, monkeypatch):
    monkeypatch.setattr("subsidies.runs.services._after_commit", lambda callback: callback())
    divisions_load(counties=CODES)
    offices = {
        code: user_create(
            username=f"office-{code}",
            password=PASSWORD,
            role=Role.COUNTY,
            county=Division.objects.get(code=code),
        )
        for code in CODES
    }
    created = small_counties_seed(offices=offices, coop_user=cast.coop, today=TODAY)
    return offices, created


def book(code: str):
    loans = Loan.objects.filter(county__code=code).order_by("contract_no")
    return [
        (loan.contract_no, loan.principal, loan.disbursed_on, loan.maturity_on, loan.status)
        for loan in loans
    ]


def test_each_county_gets_its_book_and_a_computed_year(seeded):
    _offices, created = seeded
    assert created == {"loans": 420, "subsidy runs": 2}
    for spec in SMALL_COUNTIES:
        county = Division.objects.get(code=spec.code)
        loans = Loan.objects.filter(county=county)
        assert loans.count() == spec.loans
        run = SubsidyRun.objects.get(county=county)
        assert run.state == SubsidyRun.State.COMPUTED, run.error
        assert run.line_count == spec.loans == SubsidyLine.objects.filter(run=run).count()
        assert run.total_due > 0 and run.flagged_count < spec.loans // 5
        assert run.programme.covers(county)
    ninger = Loan.objects.filter(county__code="530821").values_list("programme__region_code")
    assert set(ninger) == {("530821",)}
    jingdong = Loan.objects.filter(county__code="530823").values_list("programme__name")
    assert set(jingdong) == {(CITY_PROGRAMME,)}


def test_the_records_keep_the_rules_the_services_keep(seeded):
    for spec in SMALL_COUNTIES:
        borrowers = Borrower.objects.filter(county__code=spec.code).prefetch_related("positions")
        for borrower in borrowers:
            validate_resident_id(borrower.id_number)  # the rule the forms and the API keep
            assert borrower.id_number.startswith(spec.code)
            assert borrower.category == borrower.category_on(TODAY), borrower.name
            assert borrower.township_id == borrower.household.township_id
        for link in DrivenHousehold.objects.filter(county__code=spec.code).select_related(
            "household", "borrower"
        ):
            assert link.household.township_id == link.borrower.township_id
            assert link.household_id != link.borrower.household_id
        for loan in Loan.objects.filter(county__code=spec.code).select_related("application"):
            application = loan.application
            assert loan.principal == application.amount <= application.quota
            assert loan.township_id == application.township_id == application.household.township_id
        assert Household.objects.filter(county__code=spec.code).count() == spec.loans


def test_postings_are_recorded_on_their_day_and_statuses_on_theirs(seeded):
    entries = LedgerEntry.objects.filter(county__code__in=CODES)
    assert entries.count() > 1000
    for entry in entries.filter(kind=LedgerEntry.Kind.INTEREST)[:300]:
        assert entry.paid_on <= TODAY and entry.posted_at.date() == entry.paid_on
    changes = LoanStatusChange.objects.filter(loan__county__code__in=CODES).select_related("loan")
    statuses = Counter(change.to_status for change in changes)
    assert statuses[Loan.Status.OVERDUE] > 0 and statuses[Loan.Status.REPAID] > 0
    for change in changes:
        if change.to_status == Loan.Status.OVERDUE:
            assert change.on == change.loan.maturity_on + datetime.timedelta(days=1)
        else:
            assert change.on == change.loan.maturity_on


def test_every_record_of_the_books_has_its_history_row_by_whom_and_when(seeded, cast):
    offices, _created = seeded
    office_of = {Division.objects.get(code=code).pk: office for code, office in offices.items()}
    for model in (Household, Borrower, Position, DrivenHousehold, Application, Loan, LedgerEntry):
        rows = model.objects.filter(**{COUNTY_OF[model]: CODES})
        history = model.history.filter(**{COUNTY_OF[model]: CODES})
        created = history.filter(history_type="+")
        assert rows.count() > 0, model
        assert created.count() == rows.count(), model
        assert set(created.values_list("history_change_reason", flat=True)) == {
            "demo: the county's book"
        }
        # After that, only a loan changes: its status, on the daily task's day.
        changed = history.exclude(history_type="+")
        if model is Loan:
            changes = LoanStatusChange.objects.filter(loan__county__code__in=CODES)
            assert set(changed.values_list("history_type", flat=True)) == {"~"}
            assert changed.count() == changes.count() > 0
        else:
            assert not changed.exists(), model
    # The county office entered the registry and the loans; the co-op posted
    # the ledger, each entry's history stamped when it was posted.
    loans = Loan.history.filter(county__code__in=CODES, history_type="+").values_list(
        "county", "history_user"
    )
    assert all(user == office_of[county].pk for county, user in loans)
    entries = LedgerEntry.history.filter(county__code__in=CODES)
    assert set(entries.values_list("history_user", flat=True)) == {cast.coop.pk}
    for entry in entries[:200]:
        assert entry.history_date == entry.posted_at


# The lookup from each model (and its history) to its county's code.
COUNTY_OF = {
    Household: "county__code__in",
    Borrower: "county__code__in",
    Position: "borrower__county__code__in",
    DrivenHousehold: "county__code__in",
    Application: "county__code__in",
    Loan: "county__code__in",
    LedgerEntry: "county__code__in",
}


def test_a_second_seed_adds_nothing_and_changes_nothing(seeded):
    offices, _created = seeded
    first = {code: book(code) for code in CODES}
    again = small_counties_seed(offices=offices, coop_user=None, today=TODAY)
    assert again == {"loans": 0, "subsidy runs": 0}
    assert {code: book(code) for code in CODES} == first


def test_the_city_compares_the_small_counties_with_their_own_figures(seeded, cast):
    rows = {row.county.code: row for row in league.county_league(user=cast.city, today=TODAY)}
    for spec in SMALL_COUNTIES:
        row = rows[spec.code]
        loans = Loan.objects.filter(county__code=spec.code)
        assert row.loans == spec.loans
        assert row.principal == sum((loan.principal for loan in loans), Decimal("0.00"))
        run = SubsidyRun.objects.get(county__code=spec.code)
        assert row.subsidy_due == run.total_due and row.exceptions == run.flagged_count
        assert row.driven_households == (
            DrivenHousehold.objects.filter(county__code=spec.code)
            .values("household")
            .distinct()
            .count()
        )
