"""The consolidated report of an office above the county (issue #16 item 3):
two counties of 普洱市 with loan books of their own and a computed subsidy
year each (``tests/reports/conftest.py``); the city adds them up by county (each row the
county's own dashboard), by programme and by borrower category (as the
county report counts categories), as PDF and xlsx generated in the
background; nobody but the office over the counties asks for it, sees it or
downloads it, and a refusal writes nothing."""

import datetime
import io
import re
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse
from django.utils import translation
from openpyxl import load_workbook

from accounts.roles import Role, within_county
from accounts.services import user_create
from beneficiaries.models import Borrower, Position
from demo.loan_book import loan_book_create
from divisions.models import Division
from divisions.services import divisions_load
from loans.models import CreditCoop, Loan
from reports import consolidated, dashboard, league
from reports.consolidated import consolidated_figures
from reports.county import county_figures
from reports.models import Report
from reports.services import report_request
from tests.conftest import PASSWORD
from tests.loans.conftest import programme_for
from tests.pdf import pdf_text
from tests.reports.conftest import TODAY

Kind = Report.Kind
Format = Report.Format
KUNMING_COUNTY = "530102"  # 五华区, under 昆明市: another city
MONEY = ("principal", "balance", "interest_paid", "subsidy_due", "subsidy_paid")
ADDED_UP = ("loans", "overdue_loans", "exceptions", *MONEY, "overdue_balance")


def stored(report: Report) -> bytes:
    report.refresh_from_db()
    with report.file.open("rb") as handle:
        return handle.read()


def ask(actor, format=Format.PDF, **kwargs):
    return report_request(
        actor=actor,
        kind=Kind.CONSOLIDATED,
        format=format,
        as_of=kwargs.pop("as_of", TODAY),
        **kwargs,
    )


@pytest.fixture
def categories(counties):
    """Mojiang's first borrowers as cadres: three members of the two
    committees, one group leader, one whose group post ended before the
    loans (their base category counts), and one reserve cadre."""
    mojiang = next(county for county in counties if county.code == "530822")
    borrowers = list(Borrower.objects.filter(county=mojiang).order_by("pk"))
    started = datetime.date(2021, 3, 1)
    for borrower in borrowers[:3]:
        Position.objects.create(borrower=borrower, title="committee_member", started_on=started)
    Position.objects.create(borrower=borrowers[3], title="group_leader", started_on=started)
    Position.objects.create(
        borrower=borrowers[4],
        title="group_leader",
        started_on=started,
        ended_on=datetime.date(2023, 1, 1),
    )
    Borrower.objects.filter(pk=borrowers[5].pk).update(base_category="reserve_cadre")
    return mojiang


@pytest.fixture
def kunming(db):
    """Another city's office, with a county and a programme of its own."""
    county = divisions_load(counties=[KUNMING_COUNTY]).county
    office = user_create(
        username="kunming", password=PASSWORD, role=Role.CITY, office=county.parent
    )
    return office, programme_for(county)


# --- The figures -----------------------------------------------------------------


def test_each_county_is_its_own_dashboard_and_the_counties_add_up_to_the_totals(
    cast,
    counties,
    categories,
):
    figures = consolidated_figures(user=cast.city, as_of=TODAY)
    assert [line.code for line in figures.by_county] == sorted(c.code for c in counties)
    for county, (county_office, programme) in counties.items():
        line = next(line for line in figures.by_county if line.code == county.code)
        own = dashboard.loan_figures(user=county_office, programme=programme, today=TODAY)
        subsidy = dashboard.subsidy_figures(user=county_office, programme=programme)
        assert (line.households, line.loans) == (own.households, own.loans)
        assert (line.principal, line.balance) == (own.principal, own.balance)
        assert (line.interest_paid, line.overdue_loans) == (own.interest_paid, own.overdue_loans)
        assert line.subsidy_due == subsidy.due > 0
        assert line.driven_households == 3
    # The league table's rows, the same day: what the page shows.
    rows = league.county_league(user=cast.city, today=TODAY)
    assert [(line.principal, line.subsidy_due) for line in figures.by_county] == [
        (row.principal, row.subsidy_due) for row in rows
    ]
    total = figures.total
    assert (total.loans, total.principal) == (19, Decimal("950000.00"))
    for name in (*ADDED_UP, "households", "driven_households"):
        assert getattr(total, name) == sum(getattr(line, name) for line in figures.by_county), name
    # Every figure is a Decimal to the fen, never a float.
    assert all(isinstance(getattr(total, name), Decimal) for name in MONEY)
    assert total.subsidy_due.as_tuple().exponent == -2


def test_programme_and_category_rows_add_up_to_the_totals(cast, counties, categories):
    figures = consolidated_figures(user=cast.city, as_of=TODAY)
    programmes = {programme for _office, programme in counties.values()}
    assert len(figures.by_programme) == len(programmes) == 2
    for lines in (figures.by_programme, figures.by_category):
        for name in (*ADDED_UP, "households"):
            total = getattr(figures.total, name)
            assert sum(getattr(line, name) for line in lines) == total, name
        assert all(line.driven_households is None for line in lines)
    by_label = {line.label: line for line in figures.by_category}
    assert by_label[str(Borrower.Category.VILLAGE_COMMITTEE.label)].households == 3
    assert by_label[str(Borrower.Category.GROUP_CADRE.label)].households == 1
    assert by_label[str(Borrower.Category.RESERVE_CADRE.label)].households == 1
    # The rest (the ended post's borrower among them) are industry leaders.
    assert by_label[str(Borrower.Category.INDUSTRY_LEADER.label)].households == 14


def test_the_categories_are_the_county_reports(cast, counties, categories):
    """One county, one programme: the category rows are the county
    report's, which works them out loan by loan in Python."""
    mojiang = categories
    _office, programme = counties[mojiang]
    narrowed = within_county(cast.city, mojiang.pk)
    mine = consolidated_figures(user=narrowed, as_of=TODAY, programme=programme).by_category
    theirs = {
        str(row.label): row.figures
        for row in county_figures(programme, TODAY, county=mojiang).by_category
        if not row.subtotal
    }
    assert [line.label for line in mine] == list(theirs)
    for line in mine:
        report = theirs[line.label]
        assert (line.households, line.loans) == (report.households, report.loans), line.label
        assert (line.principal, line.balance) == (report.principal, report.balance), line.label
        assert line.interest_paid == report.interest_paid, line.label


def test_one_programme_and_a_day_before_the_year_is_over(cast, counties):
    mojiang, ninger = counties
    _office, ninger_programme = counties[ninger]
    one = consolidated_figures(user=cast.city, as_of=TODAY, programme=ninger_programme)
    assert [line.loans for line in one.by_county] == [7, 0]  # 宁洱 (530821), 墨江
    assert [line.label.split()[0] for line in one.by_programme] == [ninger_programme.name]
    # The loans were disbursed on 2024-12-21; subsidy year 2025 is over on
    # 20 December 2025: the day before, the runs' lines do not count yet.
    before = consolidated_figures(user=cast.city, as_of=datetime.date(2025, 12, 19))
    assert before.total.loans == 19 and before.total.subsidy_due == Decimal("0.00")
    assert before.total.interest_paid < one.total.interest_paid + before.total.interest_paid
    rows = league.county_league(user=cast.city, today=datetime.date(2025, 12, 19))
    assert [row.subsidy_due for row in rows] == [Decimal("0.00")] * 2
    on_the_day = consolidated_figures(user=cast.city, as_of=datetime.date(2025, 12, 20))
    assert on_the_day.total.subsidy_due > 0


def test_the_query_count_does_not_grow_with_the_loans(
    cast,
    counties,
    django_user_model,
):
    def fresh_city():  # the account as a task loads it: nothing cached
        return django_user_model.objects.get(pk=cast.city.pk)

    with CaptureQueriesContext(connection) as before:
        consolidated_figures(user=fresh_city(), as_of=TODAY)
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
        figures = consolidated_figures(user=fresh_city(), as_of=TODAY)
    # The role, the profile, the counties; the league's four sums with the
    # counties; two sums and the programmes; two sums by category.
    assert len(after) == len(before) <= 15
    assert figures.total.loans == 49


# --- The files, in the background ---------------------------------------------------


def test_the_pdf_shows_the_totals_and_each_county(cast, counties):
    report = ask(cast.city)
    report.refresh_from_db()
    assert (report.state, report.progress) == (Report.State.DONE, 100), report.error
    assert (report.office, report.county, report.programme) == (
        cast.city.profile.office,
        None,
        None,
    )
    assert report.file.name.endswith(".pdf") and report.row_count == 2
    text = pdf_text(stored(report))
    assert "普洱市各项目工作情况汇总表" in text
    assert "截至2026年1月10日" in text
    for county in counties:
        assert county.name in text
    assert "950,000.00" in text and "600,000.00" in text and "350,000.00" in text
    assert "二、分县（区）情况" in text and "三、分项目情况" in text
    assert "四、分借款人类别情况" in text and "致富带头人" in text
    # No person: neither a borrower's name nor a phone number.
    assert "户主" not in text and not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", text)


def test_the_pdf_draws_the_counties_and_the_categories(cast, counties, categories):
    report = ask(cast.city)
    report.refresh_from_db()
    assert report.state == Report.State.DONE, report.error
    text = pdf_text(stored(report))
    for title in ("各县发放本金与贷款余额", "各县应拨与已拨贴息", "借款户类别构成"):
        assert title in text
    # Each county is named in the tables and in both bar charts.
    for county in counties:
        assert text.count(county.name) >= 3, county.name
    with translation.override("zh-hans"):
        charts = consolidated.consolidated_charts(consolidated_figures(user=cast.city, as_of=TODAY))
    # Each bar chart names every county on its axis, each series in its
    # legend; the ring names every category the table lists.
    for name, series in (
        ("counties", ("已发放本金", "贷款余额")),
        ("subsidy", ("应补贴息", "已拨贴息")),
    ):
        for label in [county.name for county in counties] + list(series):
            assert f">{label}</text>" in charts[name], (name, label)
    figures = consolidated_figures(user=cast.city, as_of=TODAY)
    for line in figures.by_category:
        assert str(line.label) in charts["categories"]


def test_the_xlsx_reads_back_with_the_same_figures(cast, counties):
    mojiang, ninger = counties
    _office, programme = counties[mojiang]
    report = ask(cast.city, format=Format.XLSX, programme=programme)
    report.refresh_from_db()
    assert report.state == Report.State.DONE, report.error
    book = load_workbook(io.BytesIO(stored(report)))
    assert book.sheetnames == ["汇总", "按县（区）", "按项目", "按类别"]
    assert book["汇总"]["A1"].value == "普洱市振兴贷工作情况汇总表"
    rows = list(book["按县（区）"].iter_rows(min_row=4, values_only=True))
    assert rows[0][:4] == ("县", "借款户数", "贷款笔数", "发放本金（元）")
    assert [row[0] for row in rows[1:]] == [ninger.name, mojiang.name, "合计"]
    assert [row[2] for row in rows[1:]] == [0, 12, 12]
    assert [row[3] for row in rows[1:]] == [0, 600000, 600000]
    summary = dict(book["汇总"].iter_rows(min_row=5, values_only=True))
    figures = consolidated_figures(user=cast.city, as_of=TODAY, programme=programme)
    assert Decimal(str(summary["应补贴息（元）"])) == figures.total.subsidy_due > 0


def test_asking_again_regenerates_the_same_row(cast, counties):
    first = ask(cast.city)
    again = ask(cast.province)
    other_day = ask(cast.city, as_of=datetime.date(2025, 12, 31))
    assert again.pk != first.pk  # the province's own report
    assert ask(cast.city).pk == first.pk != other_day.pk
    first.refresh_from_db()
    assert first.generation == 2 and first.state == Report.State.DONE


def test_the_date_must_not_be_in_the_future(cast, counties):
    with pytest.raises(ValidationError) as refused:
        ask(cast.city, as_of=datetime.date.today() + datetime.timedelta(days=2))
    assert "as_of" in refused.value.message_dict
    assert not Report.objects.exists()


# --- The pages and who may use them -----------------------------------------------


def test_the_league_page_asks_for_it_and_its_page_shows_progress_and_the_file(
    client,
    cast,
    counties,
):
    client.force_login(cast.city)
    page = client.get(reverse("reports:league"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="consolidated-form"' in html
    assert 'value="consolidated:pdf"' in html and 'value="consolidated:xlsx"' in html
    response = client.post(
        reverse("reports:office-request"), {"report": "consolidated:xlsx", "as_of": "2026-01-10"}
    )
    assert response.status_code == 302
    pk = resolve(response.url).kwargs["pk"]
    assert response.url == reverse("reports:office-report", args=[pk])
    detail = client.get(response.url).content.decode()
    assert reverse("reports:office-download", args=[pk]) in detail
    assert reverse("reports:office-request") in detail  # generate again
    progress = client.get(reverse("reports:office-progress", args=[pk])).json()
    assert (progress["percent"], progress["finished"]) == (100, True)
    download = client.get(reverse("reports:office-download", args=[pk]))
    assert download.status_code == 200
    assert "filename*=utf-8''" in download["Content-Disposition"]
    b"".join(download.streaming_content)
    listed = client.get(reverse("reports:league")).content.decode()
    assert f'data-testid="consolidated-{pk}"' in listed


def test_a_bad_request_changes_nothing_and_says_why(client, cast, counties, kunming):
    _kunming_office, kunming_programme = kunming
    client.force_login(cast.city)
    response = client.post(
        reverse("reports:office-request"),
        {"report": "consolidated:pdf", "as_of": "2026-01-10", "programme": kunming_programme.pk},
    )
    assert response.status_code == 400
    assert "programme" in response.context["form"].errors
    # A county's report is not the office's to ask for.
    response = client.post(
        reverse("reports:office-request"), {"report": "county:pdf", "as_of": "2026-01-10"}
    )
    assert response.status_code == 400 and "kind" in response.context["form"].errors
    with pytest.raises(ValidationError) as refused:
        ask(cast.city, programme=kunming_programme)
    assert "programme" in refused.value.message_dict
    assert not Report.objects.exists()


def test_no_county_role_may_ask_for_it(client, cast, counties):
    for user in (cast.county, cast.finance, cast.auditor, cast.township_officer_a, cast.coop):
        with pytest.raises(PermissionDenied):
            ask(user)
        client.force_login(user)
        body = {"report": "consolidated:pdf", "as_of": "2026-01-10"}
        assert client.post(reverse("reports:office-request"), body).status_code == 403
        # Through the county's own form: not a choice there.
        response = client.post(reverse("reports:request"), body)
        assert response.status_code in (400, 403)
        if response.status_code == 400:
            assert "kind" in response.context["form"].errors
    assert not Report.objects.exists()


def test_only_its_own_office_sees_a_report(client, cast, counties, kunming):
    report = ask(cast.city)
    names = ("reports:office-report", "reports:office-progress", "reports:office-download")
    kunming_office, _programme = kunming
    for user, expected in (
        (cast.city, 200),
        (kunming_office, 404),  # another city
        (cast.province, 404),  # the province has reports of its own
        (cast.county, 403),
        (cast.finance, 403),
        (cast.auditor, 403),
        (cast.township_officer_a, 403),
    ):
        client.force_login(user)
        for name in names:
            response = client.get(reverse(name, args=[report.pk]))
            assert response.status_code == expected, (user.username, name)
            if response.streaming:
                b"".join(response.streaming_content)
        # Nor among the county's reports, for anyone.
        assert client.get(reverse("reports:detail", args=[report.pk])).status_code in (403, 404)
    client.logout()
    assert client.get(reverse("reports:office-report", args=[report.pk])).status_code == 302


def test_a_county_officer_cannot_name_another_countys_programme(
    client,
    cast,
    counties,
):
    """The county report's form offers the user's own programmes only."""
    mojiang, ninger = counties
    _office, ninger_programme = counties[ninger]
    client.force_login(cast.county)
    response = client.post(
        reverse("reports:request"),
        {"report": "county:pdf", "programme": ninger_programme.pk, "as_of": "2026-01-10"},
    )
    assert response.status_code == 400
    assert "programme" in response.context["form"].errors
    assert not Report.objects.exists()
    assert Loan.objects.filter(county=ninger).count() == 7
