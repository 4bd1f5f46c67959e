"""A city's programme that its counties run (DOMAIN.md section 7, issue #16
item 3): 普洱市 sets up one programme with a budget for each county under it;
each county approves within its own part and runs its own subsidy year; a
county office reads the city's programme but cannot change it, and the city
cannot set up a county's programme nor give a budget to a county of another
city."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts.roles import Role
from accounts.services import user_create
from demo.loan_book import loan_book_create
from divisions.models import Division
from divisions.services import divisions_load
from loans.applications.services import budget_of, programme_budget_used
from loans.models import Programme, ProgrammeCountyBudget
from loans.programmes.services import programme_copy_to_year, programme_save
from subsidies.models import SubsidyRun
from subsidies.runs.services import subsidy_run_start
from tests.conftest import PASSWORD
from tests.loans.applications.test_flow import approve, submit
from tests.loans.conftest import coop_serving, programme_for

NINGER = "530821"
QUOTAS = [
    {"category": "village_committee", "amount": Decimal("100000.00")},
    {"category": "group_cadre", "amount": Decimal("50000.00")},
]


def city_fields(**overrides):
    values = {
        "name": "普洱市乡村振兴贷",
        "year": 2025,
        "region_code": "530800",
        "region_name": "普洱市",
        "rate_ceiling": Decimal("0.0435"),
        "min_term_months": 6,
        "max_term_months": 36,
    }
    values.update(overrides)
    return values


@pytest.fixture
def ninger(cast):
    county = divisions_load(counties=[NINGER]).county
    office = user_create(
        username="ninger-county", password=PASSWORD, role=Role.COUNTY, county=county
    )
    return county, office


@pytest.fixture
def city_programme(cast, ninger):
    ninger_county, _office = ninger
    return programme_save(
        actor=cast.city,
        quotas=QUOTAS,
        county_budgets=[
            {"county": cast.county_division, "amount": Decimal("150000.00")},
            {"county": ninger_county, "amount": Decimal("500000.00")},
        ],
        **city_fields(),
    )


def test_the_city_sets_up_a_programme_with_a_budget_per_county(cast, ninger, city_programme):
    ninger_county, _office = ninger
    parts = {
        part.county.code: part.amount
        for part in city_programme.county_budgets.select_related("county")
    }
    assert parts == {"530822": Decimal("150000.00"), NINGER: Decimal("500000.00")}
    # The programme's budget is the sum of its counties' parts.
    assert city_programme.budget == Decimal("650000.00")
    assert city_programme.is_above_county
    assert city_programme.covers(cast.county_division) and city_programme.covers(ninger_county)
    # Each part's history names the city office.
    assert {h.history_user for h in ProgrammeCountyBudget.history.all()} == {cast.city}
    # Each county's part is what its approvals are checked against.
    assert budget_of(city_programme, cast.county_division) == (
        Decimal("150000.00"),
        cast.county_division,
    )


def test_a_county_approves_within_its_own_part(cast, people, city_programme):
    approve(cast, submit(cast.county, city_programme, people.borrower(), amount="100000.00"))
    second = submit(cast.county, city_programme, people.borrower(), amount="100000.00")
    with pytest.raises(ValidationError) as refused:
        approve(cast, second)
    message = refused.value.message_dict["amount"][0]
    # 墨江 has 50,000 of its 150,000 left, though the programme has 550,000.
    assert "50,000.00" in message and "墨江" in message
    second.refresh_from_db()
    assert second.state == "township_reviewed"


def test_another_countys_loans_do_not_use_this_countys_part(cast, ninger, people, city_programme):
    ninger_county, ninger_office = ninger
    township = Division.objects.townships().filter(parent=ninger_county).first()
    loans = loan_book_create(
        actor=ninger_office,
        township=township,
        programme=city_programme,
        coop=coop_serving(ninger_county, code="rcc-530821"),
        count=4,
    )
    lent = sum(loan.principal for loan in loans)
    assert programme_budget_used(programme=city_programme, county=ninger_county) == lent
    assert programme_budget_used(programme=city_programme, county=cast.county_division) == 0
    assert programme_budget_used(programme=city_programme) == lent
    # 墨江's whole part is still there.
    approve(cast, submit(cast.county, city_programme, people.borrower(), amount="100000.00"))
    # 宁洱's part cannot go below what it has lent.
    with pytest.raises(ValidationError) as refused:
        programme_save(
            actor=cast.city,
            programme=city_programme,
            quotas=QUOTAS,
            county_budgets=[
                {"county": cast.county_division, "amount": Decimal("150000.00")},
                {"county": ninger_county, "amount": lent - Decimal("0.01")},
            ],
        )
    assert "宁洱" in refused.value.message_dict["county_budgets"][0]
    # Nor be taken away.
    with pytest.raises(ValidationError) as refused:
        programme_save(
            actor=cast.city,
            programme=city_programme,
            quotas=QUOTAS,
            county_budgets=[{"county": cast.county_division, "amount": Decimal("150000.00")}],
        )
    assert "宁洱" in refused.value.message_dict["county_budgets"][0]
    assert city_programme.county_budgets.count() == 2


def test_a_county_without_a_part_may_not_approve(cast, ninger, people):
    ninger_county, _office = ninger
    programme = programme_save(
        actor=cast.city,
        quotas=QUOTAS,
        county_budgets=[{"county": ninger_county, "amount": Decimal("500000.00")}],
        **city_fields(),
    )
    application = submit(cast.county, programme, people.borrower(), amount="50000.00")
    with pytest.raises(ValidationError) as refused:
        approve(cast, application)
    assert "墨江" in refused.value.message_dict["amount"][0]


@pytest.mark.parametrize(
    ("county_budgets", "expected"),
    [
        pytest.param([], "至少给该地区下的一个县", id="none"),
        pytest.param([("530822", "0")], "必须大于 0 元", id="zero"),
        pytest.param([("530822", "5"), ("530822", "6")], "不止一项预算", id="twice"),
        pytest.param([("530102", "5")], "不是普洱市下属的县", id="other-city"),
    ],
)
def test_bad_county_budgets_are_refused_and_nothing_is_saved(
    cast, ninger, county_budgets, expected
):
    divisions_load(counties=["530102"])  # 五华区, 昆明市
    budgets = [
        {"county": Division.objects.get(code=code), "amount": Decimal(amount)}
        for code, amount in county_budgets
    ]
    with pytest.raises(ValidationError) as refused:
        programme_save(actor=cast.city, quotas=QUOTAS, county_budgets=budgets, **city_fields())
    assert expected in " ".join(refused.value.message_dict["county_budgets"])
    assert not Programme.objects.filter(region_code="530800").exists()
    assert not ProgrammeCountyBudget.objects.exists()


def test_each_office_sets_up_its_own_regions_programmes_only(cast, programme, city_programme):
    # The city may not set up a county's programme, nor another city's.
    for code in ("530822", "530100"):
        with pytest.raises(ValidationError) as refused:
            programme_save(
                actor=cast.city,
                quotas=QUOTAS,
                county_budgets=[],
                **city_fields(region_code=code, name="另一个"),
            )
        assert "530800" in refused.value.message_dict["region_code"][0]
    # The county may not set up the city's, nor change or copy it.
    with pytest.raises(ValidationError) as refused:
        programme_save(actor=cast.county, quotas=QUOTAS, **city_fields(name="县里的"))
    assert "530822" in refused.value.message_dict["region_code"][0]
    with pytest.raises(PermissionDenied):
        programme_save(actor=cast.county, programme=city_programme, quotas=QUOTAS)
    with pytest.raises(PermissionDenied):
        programme_copy_to_year(actor=cast.county, programme=city_programme)
    # Nor the city the county's.
    with pytest.raises(PermissionDenied):
        programme_save(actor=cast.city, programme=programme, quotas=QUOTAS)
    city_programme.refresh_from_db()
    assert city_programme.budget == Decimal("650000.00")


def test_a_copy_to_the_next_year_keeps_the_county_parts(cast, city_programme):
    copy = programme_copy_to_year(actor=cast.city, programme=city_programme)
    assert copy.year == 2026 and not copy.is_active
    assert sorted(copy.county_budgets.values_list("amount", flat=True)) == [
        Decimal("150000.00"),
        Decimal("500000.00"),
    ]


def test_each_county_runs_its_own_subsidy_year_of_the_city_programme(
    cast, ninger, city_programme, monkeypatch
):
    monkeypatch.setattr("subsidies.runs.services._after_commit", lambda callback: callback())
    ninger_county, ninger_office = ninger
    for county, office, first_index in (
        (cast.county_division, cast.county, 0),
        (ninger_county, ninger_office, 500),
    ):
        loan_book_create(
            actor=office,
            township=Division.objects.townships().filter(parent=county).first(),
            programme=city_programme,
            coop=coop_serving(county, code=f"rcc-{county.code}"),
            count=3,
            first_index=first_index,
        )
    today = datetime.date(2026, 1, 10)
    runs = [
        subsidy_run_start(actor=office, programme=city_programme, year=2025, today=today)
        for office in (cast.county, ninger_office)
    ]
    runs = [SubsidyRun.objects.get(pk=run.pk) for run in runs]
    assert [run.county for run in runs] == [cast.county_division, ninger_county]
    for run in runs:
        assert run.state == SubsidyRun.State.COMPUTED, run.error
        assert run.line_count == 3
        assert set(run.lines.values_list("loan__county", flat=True)) == {run.county_id}


# --- The pages ------------------------------------------------------------------


def test_the_city_form_has_a_budget_per_county_instead_of_one(cast, ninger, client):
    client.force_login(cast.city)
    page = client.get(reverse("programmes:create"))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="county-budget-form"' in html
    assert 'name="counties-county_530822"' in html and 'name="counties-county_530821"' in html
    assert 'name="budget"' not in html
    assert 'value="530800"' in html  # the region code starts as the city's own


def _form_body(**overrides):
    body = {
        "name": "普洱市乡村振兴贷",
        "year": "2025",
        "region_code": "530800",
        "region_name": "普洱市",
        "is_active": "on",
        "min_term_months": "6",
        "max_term_months": "36",
        "rate_ceiling": "4.35",
        "day_count_basis": "360",
        "subsidy_ratio": "1",
        "rate_cap_mode": "contract",
        "subsidy_year": "settlement",
        "grace_days": "0",
        "overdue_treatment": "exclude_days",
        "notice_days": "10",
        "reconciliation_tolerance": "1.00",
        "quotas-TOTAL_FORMS": "1",
        "quotas-INITIAL_FORMS": "0",
        "quotas-0-category": "village_committee",
        "quotas-0-amount": "100000",
        "counties-county_530822": "2000000",
        "counties-county_530821": "",
    }
    body.update(overrides)
    return body


def test_the_city_saves_its_programme_from_the_form(cast, ninger, client):
    client.force_login(cast.city)
    response = client.post(reverse("programmes:create"), _form_body())
    assert response.status_code == 302, response.content.decode()[:2000]
    programme = Programme.objects.get(region_code="530800")
    assert programme.budget == Decimal("2000000.00")
    assert list(programme.county_budgets.values_list("county__code", "amount")) == [
        ("530822", Decimal("2000000.00"))
    ]
    # The city's detail page shows each county's part; 墨江's office sees
    # its own part and no edit button.
    page = client.get(reverse("programmes:detail", args=[programme.pk])).content.decode()
    assert 'data-testid="county-budgets"' in page and "2,000,000.00" in page
    client.force_login(cast.county)
    page = client.get(reverse("programmes:detail", args=[programme.pk])).content.decode()
    assert 'data-testid="county-part"' in page
    assert reverse("programmes:edit", args=[programme.pk]) not in page
    assert client.get(reverse("programmes:edit", args=[programme.pk])).status_code == 403


def test_a_bad_county_budget_on_the_form_is_shown_in_chinese_and_nothing_saved(
    cast, ninger, client
):
    client.force_login(cast.city)
    response = client.post(
        reverse("programmes:create"),
        _form_body(**{"counties-county_530822": "-5"}),
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="error-counties-county_530822"' in html
    assert "必须大于 0 元" in html
    response = client.post(
        reverse("programmes:create"),
        _form_body(**{"counties-county_530822": ""}),
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 400
    assert 'data-testid="county-budget-errors"' in response.content.decode()
    assert not Programme.objects.filter(region_code="530800").exists()


def test_another_countys_programme_is_not_found(cast, client):
    """宁洱's own programme is nothing of 墨江's: a 404, as a record of another county."""
    ninger_county = divisions_load(counties=[NINGER]).county
    other = programme_for(ninger_county)
    client.force_login(cast.county)
    assert client.get(reverse("programmes:detail", args=[other.pk])).status_code == 404
    assert client.get(reverse("programmes:edit", args=[other.pk])).status_code == 404
    assert client.post(reverse("programmes:copy", args=[other.pk])).status_code == 404
    client.force_login(cast.city)
    assert client.get(reverse("programmes:detail", args=[other.pk])).status_code == 200
