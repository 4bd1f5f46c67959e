"""The home page's dashboard, role by role, against figures worked by hand.

The cast's four loans of 振兴贷 2025, as of 2026-03-01 (basis 360, 3.45 %
unless said), are those of tests/subsidies/runs/test_pages.py plus an overdue
one:

* A, 联珠镇 (township a): 100,000 from 2024-01-10, repaid on its maturity
  2025-01-10; interest 3,507.51; subsidy 2025: 191.67.
* B, 联珠镇: 80,000 from 2025-01-15 to 2027-01-15; interest 2,611.33;
  subsidy 2025: 1,901.33.
* C, 通关镇 (township b): 72,000 at 3.5 % from 2025-01-15; interest
  1,743.00; subsidy 2025: 1,743.00.
* D, 通关镇: 50,000 from 2025-01-20, matured 2026-01-20; 10,000 repaid on
  2025-06-20, 20,000 repaid on 2025-07-20 and reversed, 5,000 repaid after
  the day shown (2026-04-01): 40,000 owed on 2026-03-01, so overdue. No
  interest posted: subsidy 0.

So the county has 4 households and loans, 302,000.00 lent, 192,000.00
owed, 1 loan overdue owing 40,000.00, 7,861.84 of interest paid, and the
run of 2025 owes 2,093.00 in 联珠镇 and 1,743.00 in 通关镇 (3,836.00). Besides
the loans, an application is submitted in 联珠镇 and one rejected in 通关镇.
"""

import datetime
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from loans.applications.services import application_transition
from loans.ledger.position import loan_position
from loans.models import Application, Loan, Programme
from reports import dashboard
from reports.templatetags import dashboard_tags
from riskfund.services import fund_save
from subsidies.models import SubsidyLine, SubsidyRun
from subsidies.payout.services import payment_batch_issue, payment_line_record
from subsidies.runs.services import (
    subsidy_run_approve,
    subsidy_run_compute,
    subsidy_run_start,
    subsidy_run_submit,
)
from tests.loans.applications.test_flow import contract, submit
from tests.loans.conftest import TODAY as APPLIED_ON
from tests.loans.conftest import coop, groups, people, programme  # noqa: F401
from tests.loans.ledger.test_pages import text
from tests.loans.ledger.test_selectors import release, repay
from tests.loans.ledger.test_selectors import reverse as reverse_entry
from tests.riskfund.conftest import deposit
from tests.subsidies.conftest import launch_at_once, lend  # noqa: F401
from tests.subsidies.runs.test_pages import build_year

D = datetime.date
TODAY = D(2026, 3, 1)
State = SubsidyRun.State


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(dashboard_tags, "_today", lambda: TODAY)


@pytest.fixture
def loans(cast, programme, people, coop):  # noqa: F811
    built = build_year(cast, programme, people, coop)
    d = contract(
        cast,
        release(cast, programme, people, township=cast.township_b),
        coop,
        contract_no="MJ-2025-0004",
        principal=Decimal("50000.00"),
        disbursed_on=D(2025, 1, 20),
        maturity_on=D(2026, 1, 20),
    )
    repay(cast, coop, d, "D-P-1", D(2025, 6, 20), "10000.00")
    repay(cast, coop, d, "D-P-2", D(2025, 7, 20), "20000.00")
    reverse_entry(cast, coop, "D-R-2", "D-P-2", D(2025, 7, 21))
    repay(cast, coop, d, "D-P-3", D(2026, 4, 1), "5000.00")
    # Two applications that never became loans.
    submit(cast.county, programme, people.borrower())
    rejected = submit(cast.county, programme, people.borrower(township=cast.township_b))
    application_transition(
        actor=cast.township_officer_b,
        application=rejected,
        to_state=Application.State.REJECTED,
        today=APPLIED_ON,
        comment="材料不全",
    )
    return SimpleNamespace(a=built.a, b=built.b, c=built.c, d=d)


@pytest.fixture
def run(cast, programme, loans) -> SubsidyRun:  # noqa: F811
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=TODAY)
    run.refresh_from_db()
    assert run.state == State.COMPUTED
    return run


def home(client, user):
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return response


def body_of(response) -> str:
    return response.content.decode()


def figure(response, name: str) -> str:
    """The big number of a headline figure (its unit left out)."""
    match = re.search(
        rf'data-figure="{name}"><span class="dash-number">(.*?)</span>', body_of(response), re.S
    )
    assert match, name
    return text(match.group(1))


def note(response, name: str) -> str:
    match = re.search(rf'data-figure="{name}">(.*?)</(?:dd|span)>', body_of(response), re.S)
    assert match, name
    return text(match.group(1))


def rows_of(response, testid: str) -> list[list[str]]:
    """Body rows of the table marked ``data-testid=testid``, row headers included."""
    table = re.search(
        rf'<(?:table|section)[^>]*data-testid="{testid}"[^>]*>(.*?)</(?:table|section)>',
        body_of(response),
        re.S,
    )
    assert table, testid
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(1), re.S)
    if body is None:
        return []
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)
    return [[text(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)] for row in rows]


def dashboard_html(response) -> str:
    match = re.search(
        r'<section class="dashboard".*?</section>\s*(?=<h2 class="home-section)',
        body_of(response),
        re.S,
    )
    assert match
    return match.group(0)


# --- The selectors ---------------------------------------------------------------------


def test_the_loan_figures_are_those_worked_by_hand(cast, programme, loans):  # noqa: F811
    figures = dashboard.loan_figures(user=cast.county, programme=programme, today=TODAY)
    assert (figures.households, figures.loans) == (4, 4)
    assert figures.principal == Decimal("302000.00")
    assert figures.balance == Decimal("192000.00")
    assert figures.interest_paid == Decimal("7861.84")
    assert (figures.overdue_loans, figures.overdue_balance) == (1, Decimal("40000.00"))
    months = [(m.month, m.loans, m.principal) for m in figures.by_month]
    assert len(months) == 13  # 2024-01 .. 2025-01, the empty months too
    assert months[0] == (D(2024, 1, 1), 1, Decimal("100000.00"))
    assert months[5] == (D(2024, 6, 1), 0, Decimal("0.00"))
    assert months[-1] == (D(2025, 1, 1), 3, Decimal("202000.00"))


def test_the_balance_is_the_sum_of_each_loans_position(cast, programme, loans):  # noqa: F811
    positions = [loan_position(loan, on=TODAY) for loan in Loan.objects.all()]
    figures = dashboard.loan_figures(user=cast.county, programme=programme, today=TODAY)
    assert figures.balance == sum(p.balance for p in positions)
    assert figures.interest_paid == sum(p.interest_paid for p in positions)
    assert figures.overdue_loans == sum(p.status == Loan.Status.OVERDUE for p in positions)


def test_a_loan_is_overdue_only_after_its_maturity(cast, programme, loans):  # noqa: F811
    before = dashboard.loan_figures(user=cast.county, programme=programme, today=D(2026, 1, 20))
    after = dashboard.loan_figures(user=cast.county, programme=programme, today=D(2026, 1, 21))
    assert (before.overdue_loans, after.overdue_loans) == (0, 1)
    # Before the repayment of 2025-06-20 the whole 50,000 of D was owed.
    early = dashboard.loan_figures(user=cast.county, programme=programme, today=D(2025, 6, 19))
    assert early.balance == Decimal("202000.00")  # B, C and D; A was repaid


def test_a_township_officer_counts_their_own_township_only(cast, programme, loans):  # noqa: F811
    a = dashboard.loan_figures(user=cast.township_officer_a, programme=programme, today=TODAY)
    b = dashboard.loan_figures(user=cast.township_officer_b, programme=programme, today=TODAY)
    assert (a.loans, a.principal, a.balance, a.overdue_loans) == (
        2,
        Decimal("180000.00"),
        Decimal("80000.00"),
        0,
    )
    assert (b.loans, b.principal, b.balance, b.overdue_balance) == (
        2,
        Decimal("122000.00"),
        Decimal("112000.00"),
        Decimal("40000.00"),
    )


def test_applications_are_counted_by_state_in_the_users_scope(cast, programme, loans):  # noqa: F811
    def counts(user):
        return {
            c.state: c.count
            for c in dashboard.applications_by_state(user=user, programme=programme)
            if c.count
        }

    assert counts(cast.county) == {"released": 4, "submitted": 1, "rejected": 1}
    assert counts(cast.township_officer_a) == {"released": 2, "submitted": 1}
    assert counts(cast.township_officer_b) == {"released": 2, "rejected": 1}


def test_the_programme_shown_is_the_latest_active_one_with_applications(cast, loans):
    programmes = dashboard.dashboard_programmes(user=cast.county)
    chosen = dashboard.default_programme(programmes)
    assert (chosen.name, chosen.year) == ("振兴贷", 2025)
    assert Programme.objects.filter(is_active=True, year=2026).exists()
    other = Programme.objects.get(name="振兴贷", year=2024)
    assert dashboard.chosen_programme(programmes, str(other.pk)) == other
    assert dashboard.chosen_programme(programmes, "nonsense") == chosen


def test_with_no_application_anywhere_the_latest_active_programme_is_shown(cast):
    chosen = dashboard.default_programme(dashboard.dashboard_programmes(user=cast.county))
    assert (chosen.name, chosen.year, chosen.is_active) == ("振兴贷", 2026, True)
    assert dashboard.default_programme([]) is None


# --- The county's page ----------------------------------------------------------------------


def test_the_county_sees_the_programme_at_a_glance(client, cast, programme, run):  # noqa: F811
    response = home(client, cast.county)
    assert f"{programme} " in text(dashboard_html(response))
    assert figure(response, "households") == "4"
    assert note(response, "principal-yuan").startswith("302,000.00")
    assert figure(response, "principal") == "30.20"  # 万元
    assert figure(response, "balance") == "19.20"
    assert note(response, "balance-yuan").startswith("192,000.00")
    assert figure(response, "overdue") == "1"
    assert "4.00 万元" in note(response, "overdue-balance")
    assert figure(response, "subsidy-due") == "0.38"  # 3,836.00 yuan
    link = re.search(r'href="([^"]*)" data-testid="overdue-link"', body_of(response)).group(1)
    assert link == reverse("loans:list") + f"?status=overdue&amp;programme={programme.pk}"


def test_the_county_charts_carry_their_figures_in_tables(client, cast, run):
    response = home(client, cast.county)
    html = dashboard_html(response)
    assert html.count("<svg") == 3
    states = [row[1] for row in rows_of(response, "table-applications")]
    # In the workflow's order: submitted .. in notice, released, rejected, withdrawn.
    assert states == ["1", "0", "0", "0", "0", "4", "1", "0"]
    months = rows_of(response, "table-disbursement")
    assert months[0] == ["2024-01", "1", "100,000.00"]
    assert months[1] == ["2024-02", "0", "0.00"]
    assert months[-1] == ["2025-01", "3", "202,000.00"]
    assert rows_of(response, "table-subsidy") == [
        ["联珠镇", "2", "2,093.00"],
        ["通关镇", "2", "1,743.00"],
    ]
    # The township names are drawn as text in the chart too.
    chart = re.search(r'data-testid="chart-subsidy".*?</svg>', html, re.S).group(0)
    assert "联珠镇" in chart and "通关镇" in chart


def test_the_latest_run_is_shown_with_its_totals_and_link(client, cast, run):
    response = home(client, cast.county)
    assert note(response, "run-lines") == "4"
    assert note(response, "run-due").startswith("3,836.00")
    assert reverse("subsidies:run", args=[run.pk]) in body_of(response)
    assert 'data-testid="run-state"' in dashboard_html(response)


def test_the_auditor_sees_the_county_figures(client, cast, run):
    county, auditor = home(client, cast.county), home(client, cast.auditor)
    for name in ("households", "principal", "balance", "overdue", "subsidy-due"):
        assert figure(auditor, name) == figure(county, name)
    assert rows_of(auditor, "table-subsidy") == rows_of(county, "table-subsidy")


def test_another_programme_can_be_chosen(client, cast, run):
    other = Programme.objects.get(name="振兴贷", year=2024)
    client.force_login(cast.county)
    response = client.get(reverse("home"), {"programme": other.pk})
    assert figure(response, "households") == "0"
    assert figure(response, "balance") == "0.00"
    assert f'<option value="{other.pk}" selected>' in body_of(response)
    assert 'data-testid="chart-subsidy"' not in body_of(response)


def test_a_run_with_no_results_yet_is_named_without_figures(client, cast, programme, loans):  # noqa: F811
    response = home(client, cast.county)
    assert 'data-testid="latest-run"' in body_of(response)
    assert 'data-testid="chart-subsidy"' not in body_of(response)
    assert figure(response, "subsidy-due") == "—"


# --- Township isolation -------------------------------------------------------------


def test_a_township_officer_sees_their_own_township_only(client, cast, run):
    response = home(client, cast.township_officer_a)
    html = body_of(response)
    assert figure(response, "households") == "2"
    assert note(response, "principal-yuan").startswith("180,000.00")
    assert note(response, "balance-yuan").startswith("80,000.00")
    assert figure(response, "overdue") == "0"
    assert note(response, "run-lines") == "2"
    assert note(response, "run-due").startswith("2,093.00")
    # The subsidy by village, not by township.
    assert rows_of(response, "table-subsidy") == [["碧溪村", "2", "2,093.00"]]
    assert [row[1] for row in rows_of(response, "table-applications")] == [
        "1", "0", "0", "0", "0", "2", "0", "0"
    ]  # fmt: skip
    # Nothing of 通关镇: not its name, nor its figures, nor the county's.
    assert "通关镇" not in html
    for other in ("1,743.00", "72,000.00", "122,000.00", "112,000.00", "3,836.00", "302,000.00"):
        assert other not in html, other


def test_the_other_township_officer_sees_theirs(client, cast, run):
    response = home(client, cast.township_officer_b)
    html = body_of(response)
    assert figure(response, "overdue") == "1"
    assert note(response, "balance-yuan").startswith("112,000.00")
    assert rows_of(response, "table-subsidy") == [["碧溪村", "2", "1,743.00"]]
    assert "联珠镇" not in html
    for other in ("2,093.00", "1,901.33", "80,000.00", "180,000.00", "3,836.00"):
        assert other not in html, other


# --- The finance bureau -------------------------------------------------------------------


def test_finance_sees_the_runs_awaiting_approval_and_payment(client, cast, run):
    response = home(client, cast.finance)
    assert rows_of(response, "awaiting-approval") == []
    assert rows_of(response, "awaiting-payment") == []

    subsidy_run_submit(actor=cast.county, run=run)
    response = home(client, cast.finance)
    [row] = rows_of(response, "awaiting-approval")
    assert row[1:2] == ["2025"] and row[3] == "4" and row[5] == "3,836.00"
    assert reverse("subsidies:run", args=[run.pk]) in body_of(response)

    subsidy_run_approve(actor=cast.finance, run=run)
    payment_batch_issue(actor=cast.finance, run=run)
    lines = {line.loan_id: line for line in SubsidyLine.objects.filter(run=run)}
    a, b = (
        Loan.objects.get(contract_no="MJ-2024-0001"),
        Loan.objects.get(contract_no="MJ-2025-0002"),
    )
    payment_line_record(
        actor=cast.finance, line=lines[a.pk], paid=False, note="账户已销户", today=TODAY
    )
    payment_line_record(
        actor=cast.finance,
        line=lines[b.pk],
        paid=True,
        voucher_no="PZ-2026-001",
        paid_on=TODAY,
        today=TODAY,
    )
    response = home(client, cast.finance)
    assert rows_of(response, "awaiting-approval") == []
    [row] = rows_of(response, "awaiting-payment")
    # Due, paid, still to pay (A failed, C at the bank; D had nothing due), lines, failed.
    assert row[3:6] == ["3,836.00", "1,901.33", "1,934.67"]
    assert row[6].startswith("2") and row[7] == "1"
    assert reverse("subsidies:payout", args=[run.pk]) in body_of(response)


def test_finance_sees_the_county_headline_figures_without_charts(client, cast, run):
    response = home(client, cast.finance)
    assert figure(response, "households") == "4"
    assert note(response, "balance-yuan").startswith("192,000.00")
    assert figure(response, "subsidy-due") == "0.38"
    assert "<svg" not in body_of(response)


# --- Who sees no dashboard --------------------------------------------------------------


def test_the_coops_home_is_unchanged(client, cast, run):
    html = body_of(home(client, cast.coop))
    assert 'data-testid="dashboard"' not in html
    assert "home-section-title" not in html
    assert "3,836.00" not in html


def test_an_account_without_a_role_sees_no_dashboard(client, roleless_user):
    html = body_of(home(client, roleless_user))
    assert 'data-testid="no-role"' in html
    assert 'data-testid="dashboard"' not in html


def test_a_visitor_is_sent_to_log_in(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 302


# --- Queries ------------------------------------------------------------------------


def queries_for(client, user) -> int:
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("home")).status_code == 200
    return len(queries)


def test_the_number_of_queries_does_not_grow_with_the_loans(client, cast, programme, lend):  # noqa: F811
    after_2025 = D(2026, 1, 5)
    for township in (cast.township_a, cast.township_b):
        lend(township=township, settled_until=D(2025, 6, 21))
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=after_2025)
    few = {
        user.username: queries_for(client, user)
        for user in (cast.county, cast.township_officer_a, cast.finance)
    }
    for index in range(18):
        township = cast.township_a if index % 2 else cast.township_b
        lend(township=township, settled_until=D(2025, 6, 21))
    run.refresh_from_db()
    subsidy_run_compute(actor=cast.county, run=run)
    assert SubsidyLine.objects.filter(run=run).count() == 20
    many = {
        user.username: queries_for(client, user)
        for user in (cast.county, cast.township_officer_a, cast.finance)
    }
    assert many == few


# --- The risk-compensation fund ----------------------------------------------------


@pytest.fixture
def fund(cast, programme, run):  # noqa: F811
    """A fund set up after the loans, holding 10,000: leverage 10 allows
    100,000 of covered principal, and 192,000 is owed."""
    fund = fund_save(actor=cast.county, name="墨江县振兴贷风险补偿金", programmes=[programme])
    deposit(cast, fund, "10000.00")
    return fund


def test_the_county_sees_the_funds_balance_and_limits(client, cast, fund):
    response = home(client, cast.county)
    assert figure(response, "fund-balance") == "1.00"  # 万元
    assert note(response, "fund-leverage") == "放大倍数使用率 192.00 %"
    assert "0.00 %" in note(response, "fund-npl") and "5.00 %" in note(response, "fund-npl")
    html = body_of(response)
    assert 'class="dash-figure alert" data-testid="fund-figure"' in html  # past 90 % of the limit
    link = re.search(r'href="([^"]*)" data-testid="fund-link"', html).group(1)
    assert link == reverse("riskfund:detail", args=[fund.pk])


def test_finance_sees_the_fund_and_a_township_officer_does_not(client, cast, fund):
    assert figure(home(client, cast.finance), "fund-balance") == "1.00"
    assert 'data-testid="fund-figure"' not in body_of(home(client, cast.township_officer_a))


def test_without_a_fund_no_fund_figure_is_shown(client, cast, run):
    assert 'data-testid="fund-figure"' not in body_of(home(client, cast.county))
