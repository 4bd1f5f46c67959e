"""The offices above the county (DOMAIN.md section 7, issue #16 item 3): two
counties of 普洱市 with loan books of their own and a computed subsidy year
each; the city and province offices compare them in one table, each row the
county's own dashboard, and drill into one county's dashboard; nobody else
sees either page, and a county outside the office is a 404."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from accounts.roles import Role, counties_of, within_county
from accounts.services import user_create
from demo.loan_book import loan_book_create
from divisions.models import Division
from divisions.services import divisions_load
from loans.models import CreditCoop
from reports import dashboard, league
from reports.county import county_figures
from subsidies.models import SubsidyRun
from tests.conftest import PASSWORD
from tests.reports.conftest import TODAY


@pytest.fixture
def dashboard_today(monkeypatch):
    monkeypatch.setattr("reports.templatetags.dashboard_tags._today", lambda: TODAY)
    monkeypatch.setattr("reports.league_views.timezone.localdate", lambda: TODAY)


def test_an_office_sees_every_county_under_it_and_nothing_else(cast, counties):
    mojiang, ninger = counties
    assert set(counties_of(cast.city)) == {mojiang.pk, ninger.pk}
    # The province: every county of 云南 loaded, here the same two.
    assert set(counties_of(cast.province)) == {mojiang.pk, ninger.pk}
    other_city = divisions_load(counties=["530102"]).county.parent  # 昆明市
    kunming = user_create(username="kunming", password=PASSWORD, role=Role.CITY, office=other_city)
    assert mojiang.pk not in counties_of(kunming) and ninger.pk not in counties_of(kunming)
    narrowed = within_county(cast.city, ninger.pk)
    assert counties_of(narrowed) == (ninger.pk,) and counties_of(cast.city) != (ninger.pk,)
    with pytest.raises(PermissionDenied):
        within_county(kunming, mojiang.pk)


def test_an_office_account_needs_a_division_of_its_level(mojiang):
    county = Division.objects.get(code="530822")
    with pytest.raises(ValidationError) as refused:
        user_create(username="x", password=PASSWORD, role=Role.CITY, office=county.parent.parent)
    assert "office" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        user_create(username="x", password=PASSWORD, role=Role.PROVINCE)
    assert "office" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        user_create(
            username="x", password=PASSWORD, role=Role.CITY, office=county.parent, county=county
        )
    assert "office" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        user_create(username="x", password=PASSWORD, role=Role.COUNTY, office=county.parent)
    assert "office" in refused.value.message_dict


def test_each_row_is_the_countys_own_dashboard(cast, counties):
    """The league table's figures against each county's dashboard and county
    report, computed separately with that county's own account."""
    for office in (cast.city, cast.province):
        rows = {row.county: row for row in league.county_league(user=office, today=TODAY)}
        assert set(rows) == set(counties)
        for county, (county_office, programme) in counties.items():
            row = rows[county]
            own = dashboard.loan_figures(user=county_office, programme=programme, today=TODAY)
            subsidy = dashboard.subsidy_figures(user=county_office, programme=programme)
            report = county_figures(programme, TODAY, county=county).total
            assert (row.households, row.loans) == (own.households, own.loans)
            assert (row.principal, row.balance) == (own.principal, own.balance)
            assert (row.overdue_loans, row.interest_paid) == (own.overdue_loans, own.interest_paid)
            assert row.subsidy_due == subsidy.due == subsidy.latest_due > 0
            assert row.driven_households == report.driven_households == 3
            run = SubsidyRun.objects.get(county=county)
            assert row.exceptions == run.flagged_count > 0
            assert row.subsidy_paid == Decimal("0.00")  # computed, not yet paid
    # Figures written out: 12 and 7 loans of 50,000 each.
    mojiang, ninger = counties
    rows = {row.county: row for row in league.county_league(user=cast.city, today=TODAY)}
    assert rows[mojiang].principal == Decimal("600000.00")
    assert rows[ninger].principal == Decimal("350000.00")
    assert rows[ninger].loans == rows[ninger].households == 7


def test_one_programme_only_counts_its_own_loans(cast, counties):
    mojiang, ninger = counties
    _office, ninger_programme = counties[ninger]
    rows = {
        row.county: row
        for row in league.county_league(user=cast.city, today=TODAY, programme=ninger_programme)
    }
    assert rows[ninger].loans == 7 and rows[ninger].subsidy_due > 0
    assert rows[mojiang].loans == 0 and rows[mojiang].subsidy_due == Decimal("0.00")
    programmes = league.league_programmes(user=cast.city)
    assert set(programmes) == {programme for _office, programme in counties.values()}


def test_the_total_row_sums_the_counties(cast, counties):
    rows = league.county_league(user=cast.city, today=TODAY)
    total = league.league_total(rows, cast.city.profile.office)
    assert total.loans == 19 and total.principal == Decimal("950000.00")
    assert total.subsidy_due == sum(row.subsidy_due for row in rows)
    assert total.overdue_rate is None or total.overdue_rate >= 0


def test_the_query_count_does_not_grow_with_the_loans(cast, counties, django_user_model):
    def fresh_city():  # the account as a request loads it: nothing cached
        return django_user_model.objects.get(pk=cast.city.pk)

    with CaptureQueriesContext(connection) as before:
        league.county_league(user=fresh_city(), today=TODAY)
    mojiang = cast.county_division
    county_office, programme = counties[mojiang]
    township = Division.objects.townships().filter(parent=mojiang).order_by("code")[1]
    loan_book_create(
        actor=county_office,
        township=township,
        programme=programme,
        coop=CreditCoop.objects.get(code="coop-530822"),
        count=30,
        first_index=5000,
    )
    with CaptureQueriesContext(connection) as after:
        rows = league.county_league(user=fresh_city(), today=TODAY)
    # The role, the profile with its office, its counties, then the four sums.
    assert len(after) == len(before) <= 10
    assert sum(row.loans for row in rows) == 49


def test_the_page_sorts_exports_and_links_each_county(client, cast, counties, dashboard_today):
    mojiang, ninger = counties
    client.force_login(cast.city)
    url = reverse("reports:league")
    page = client.get(url, {"sort": "principal", "order": "desc"})
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index('data-county="530822"') < html.index('data-county="530821"')
    assert reverse("reports:county-dashboard", args=["530821"]) in html
    assert 'aria-sort="descending"' in html and "600,000.00" in html and "950,000.00" in html
    ascending = client.get(url, {"sort": "principal", "order": "asc"}).content.decode()
    assert ascending.index('data-county="530821"') < ascending.index('data-county="530822"')
    # An unknown column sorts by the county's code.
    fallback = client.get(url, {"sort": "no-such-column"}).content.decode()
    assert fallback.index('data-county="530821"') < fallback.index('data-county="530822"')

    xlsx = client.get(url, {"sort": "principal", "order": "desc", "export": "xlsx"})
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[1] == tuple(str(heading) for _key, heading in league.COLUMNS)
    assert [row[0] for row in values[2:]] == [mojiang.name, ninger.name, "普洱市"]
    assert [row[2] for row in values[2:]] == [12, 7, 19]
    assert values[2][3] == 600000.0 and values[4][3] == 950000.0

    exported = client.get(url, {"export": "csv"})
    text = exported.content.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert [row[0] for row in table[1:]] == [ninger.name, mojiang.name, "普洱市"]
    assert table[1][3] == "350000.00" and table[3][3] == "950000.00"


def test_the_drill_down_is_one_countys_dashboard_without_links(
    client, cast, counties, dashboard_today
):
    mojiang, ninger = counties
    client.force_login(cast.province)
    page = client.get(reverse("reports:county-dashboard", args=[ninger.code]))
    assert page.status_code == 200
    html = page.content.decode()
    assert ninger.name in html and 'data-testid="dashboard"' in html
    assert '<dd class="dash-note" data-figure="principal-yuan">350,000.00' in html
    assert reverse("loans:list") not in html and reverse("subsidies:runs") not in html
    # Mojiang's figures are not mixed in.
    assert "600,000.00" not in html and "950,000.00" not in html


def test_only_the_offices_over_a_county_see_it(client, cast, counties):
    mojiang, _ninger = counties
    for user in (cast.county, cast.finance, cast.auditor, cast.township_officer_a):
        client.force_login(user)
        assert client.get(reverse("reports:league")).status_code == 403
        assert (
            client.get(reverse("reports:county-dashboard", args=[mojiang.code])).status_code == 403
        )
    other_city = divisions_load(counties=["530102"]).county.parent  # 昆明市
    kunming = user_create(username="kunming", password=PASSWORD, role=Role.CITY, office=other_city)
    client.force_login(kunming)
    page = client.get(reverse("reports:league"))
    assert page.status_code == 200
    assert mojiang.name not in page.content.decode()
    assert client.get(reverse("reports:county-dashboard", args=[mojiang.code])).status_code == 404
    assert client.get(reverse("reports:county-dashboard", args=["999999"])).status_code == 404
    client.force_login(cast.city)
    # A township's code is not a county.
    township = Division.objects.townships().filter(parent=mojiang).first()
    assert client.get(reverse("reports:county-dashboard", args=[township.code])).status_code == 404


def test_an_office_changes_nothing(cast, counties):
    """The offices read: no permission to add, change, approve or export,
    but for setting up the programmes of their own region and, for a city,
    the risk-compensation fund it keeps for its counties."""
    own_programmes = {
        f"{action}_{model}"
        for action in ("add", "change")
        for model in ("programme", "programmequota")
    }
    own_fund = {"add_fund", "change_fund"}
    for office, own in ((cast.city, own_programmes | own_fund), (cast.province, own_programmes)):
        assert not any(
            permission.split(".")[1].startswith(("add_", "change_", "delete_", "approve_"))
            for permission in office.get_all_permissions()
            if permission.split(".")[1] not in own
        ), office
        assert not office.has_perm("beneficiaries.view_personal_data")
        assert not office.has_perm("reports.request_report")
