"""The county programme report: its figures on a small loan book built
through the services, the PDF and the workbook read back, and a number of
queries that does not grow with the number of loans.

The book (振兴贷 2025, as of 2026-01-31 unless a test says otherwise):

* L1, township a, household H1 (a village committee member), 80,000 for
  pigs from 2025-03-20; 20,000 repaid on 2025-10-10, a 5,000 repayment
  posted by mistake and reversed, 10,000 repaid on 2026-03-10 (after the
  as-of date). Leads households D1 and D2.
* L4, township a, household H1 again (a second borrower, a group leader),
  20,000 for purple rice (planting) from 2025-05-10: one household, two
  loans, husbandry and planting.
* L2, township b, household H2 (a group leader), 50,000 for tea from
  2025-06-10; an interest posting reversed and posted again. Leads D2
  (shared with L1) and D3.
* L3, township a, household H3 (an industry leader, no position), 30,000
  for tea from 2025-04-01; the co-operative behind the borrower leads D4.
* L5, township b, a committee member, disbursed 2026-02-01: after the
  as-of date, never counted; leads D5.

Expected figures are worked out here from the book and from the project's
own per-loan reading (``loan_position``) and the stored subsidy lines, not
from the report's aggregation.
"""

import datetime
from decimal import Decimal
from io import BytesIO

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from beneficiaries.models import Borrower, Enterprise, Industry
from beneficiaries.registry.services import driven_household_link, enterprise_create
from common.money import ZERO, percent, yuan
from loans.applications.services import application_transition
from loans.ledger.interest import expected_schedule
from loans.ledger.position import loan_position
from loans.ledger.services import ledger_post_interest, ledger_post_repayment, ledger_post_reversal
from loans.models import Application, Loan
from loans.notices.services import notice_publish, notices_release_due
from reports.builders import no_progress
from reports.county import county_figures, county_pdf, county_xlsx
from reports.models import Report
from riskfund.services import fund_save
from subsidies.models import SubsidyLine
from subsidies.payout.services import payment_batch_issue, payment_line_record
from subsidies.runs.services import subsidy_run_approve, subsidy_run_start, subsidy_run_submit
from tests.beneficiaries.registry.test_services import credit_code
from tests.loans import conftest as loans_fixtures
from tests.loans.applications.test_flow import contract, submit
from tests.pdf import pdf_text
from tests.riskfund.conftest import deposit
from tests.subsidies import conftest as subsidies_fixtures

programme = loans_fixtures.programme
coop = loans_fixtures.coop
groups = loans_fixtures.groups
people = loans_fixtures.people
lend = subsidies_fixtures.lend
launch_at_once = subsidies_fixtures.launch_at_once

D = datetime.date
AS_OF = D(2026, 1, 31)
NOTICE_DAY = loans_fixtures.TODAY
State = Application.State


def industry(name: str) -> Industry:
    return Industry.objects.get(name=name)


class Desk:
    """The county and the co-op at work: a loan through the services, from
    the application to the contract, and the co-op's postings."""

    def __init__(self, cast, programme, coop):
        self.cast, self.programme, self.coop = cast, programme, coop

    def lend(self, borrower, number, principal, disbursed_on, kind) -> Loan:
        """The loan, with its quarterly interest posted at the bank's
        figure until 2025-12-21."""
        cast = self.cast
        officer = (
            cast.township_officer_a
            if borrower.township_id == cast.township_a.pk
            else cast.township_officer_b
        )
        application = submit(
            cast.county, self.programme, borrower, amount=principal, industry=industry(kind)
        )
        for actor, state in (
            (officer, State.VILLAGE_RECOMMENDED),
            (officer, State.TOWNSHIP_REVIEWED),
            (cast.county, State.COUNTY_APPROVED),
        ):
            application = application_transition(
                actor=actor, application=application, to_state=state, today=NOTICE_DAY
            )
        notice = notice_publish(actor=cast.county, programme=self.programme, starts_on=NOTICE_DAY)
        notices_release_due(actor=cast.county, today=notice.ends_on + datetime.timedelta(days=1))
        application.refresh_from_db()
        loan = contract(
            cast,
            application,
            self.coop,
            contract_no=number,
            principal=Decimal(principal),
            disbursed_on=disbursed_on,
            maturity_on=disbursed_on.replace(year=disbursed_on.year + 2),
        )
        for period in bank_schedule(loan):
            self.interest(loan, "%s-%s" % (number, period.end), period, period.interest)
        return loan

    def interest(self, loan, txn_id, period, amount):
        return ledger_post_interest(
            actor=self.cast.coop,
            coop=self.coop,
            loan=loan,
            txn_id=txn_id,
            period_start=period.start,
            period_end=period.end,
            due_on=period.end,
            paid_on=period.end,
            amount=amount,
        )

    def repay(self, loan, txn_id, amount, paid_on):
        return ledger_post_repayment(
            actor=self.cast.coop,
            coop=self.coop,
            loan=loan,
            txn_id=txn_id,
            paid_on=paid_on,
            amount=Decimal(amount),
        )

    def reverse(self, txn_id, reverses_txn_id, paid_on):
        return ledger_post_reversal(
            actor=self.cast.coop,
            coop=self.coop,
            txn_id=txn_id,
            reverses_txn_id=reverses_txn_id,
            reason="posted in error",
            paid_on=paid_on,
        )


def bank_schedule(loan):
    return expected_schedule(
        principal=loan.principal,
        rate=loan.annual_rate,
        basis=360,
        disbursed_on=loan.disbursed_on,
        ends_on=D(2025, 12, 21),
    )


@pytest.fixture
def book(cast, programme, people, coop):
    desk = Desk(cast, programme, coop)
    committee = people.borrower(township=cast.township_a)
    spouse = people.borrower(household=committee.household, title="group_leader")
    cadre = people.borrower(township=cast.township_b, title="group_leader")
    leader = people.borrower(township=cast.township_a, title=None)
    late = people.borrower(township=cast.township_b)
    assert leader.category == Borrower.Category.INDUSTRY_LEADER

    l1 = desk.lend(committee, "L1", "80000.00", D(2025, 3, 20), "生猪")
    l4 = desk.lend(spouse, "L4", "20000.00", D(2025, 5, 10), "紫米")
    l3 = desk.lend(leader, "L3", "30000.00", D(2025, 4, 1), "茶叶")
    l2 = desk.lend(cadre, "L2", "50000.00", D(2025, 6, 10), "茶叶")
    l5 = desk.lend(late, "L5", "100000.00", D(2026, 2, 1), "生猪")

    # L2's second settlement taken back, posted 100 yuan too high and
    # taken back again, then posted right.
    second = bank_schedule(l2)[1]
    desk.reverse("L2-R1", "L2-%s" % second.end, D(2025, 10, 1))
    desk.interest(l2, "L2-WRONG", second, second.interest + Decimal("100.00"))
    desk.reverse("L2-R2", "L2-WRONG", D(2025, 10, 2))
    desk.interest(l2, "L2-RIGHT", second, second.interest)
    # L1: 20,000 repaid; 5,000 posted twice by mistake and reversed; 10,000
    # repaid after the as-of date.
    desk.repay(l1, "L1-P1", "20000.00", D(2025, 10, 10))
    desk.repay(l1, "L1-P2", "5000.00", D(2025, 11, 1))
    desk.reverse("L1-R1", "L1-P2", D(2025, 11, 2))
    desk.repay(l1, "L1-P3", "10000.00", D(2026, 3, 10))

    # Driven households: D2 is led by two borrowers; D4 by the co-operative
    # behind the industry leader; D5 by the borrower of the uncounted L5.
    driven = [people.household(cast.township_a) for _ in range(5)]
    links = [(committee, driven[0]), (committee, driven[1]), (cadre, driven[1])]
    links += [(cadre, driven[2]), (late, driven[4])]
    for borrower, household in links:
        driven_household_link(
            actor=cast.county, borrower=borrower, household=household, benefit="wages"
        )
    cooperative = enterprise_create(
        actor=cast.county,
        name="碧溪茶叶专业合作社",
        kind=Enterprise.Kind.COOPERATIVE,
        credit_code=credit_code(1),
        legal_representative="李四",
        village=committee.household.village_group.parent,
        industry=industry("茶叶"),
    )
    Borrower.objects.filter(pk=leader.pk).update(enterprise=cooperative)
    driven_household_link(
        actor=cast.county, enterprise=cooperative, household=driven[3], benefit="dividend"
    )
    return {"L1": l1, "L2": l2, "L3": l3, "L4": l4, "L5": l5}


@pytest.fixture
def paid_run(cast, programme, book):
    """The 2025 run approved; L1's line paid on 2026-01-20, L2's on
    2026-02-15 (after the as-of date), the others issued, unpaid."""
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=D(2026, 1, 5))
    subsidy_run_submit(actor=cast.county, run=run)
    run = subsidy_run_approve(actor=cast.finance, run=run)
    payment_batch_issue(actor=cast.finance, run=run)
    for loan, paid_on in ((book["L1"], D(2026, 1, 20)), (book["L2"], D(2026, 2, 15))):
        payment_line_record(
            actor=cast.finance,
            line=run.lines.get(loan=loan),
            paid=True,
            voucher_no="PZ-%s" % loan.contract_no,
            paid_on=paid_on,
            today=D(2026, 3, 1),
        )
    return run


def counted(book, *names):
    return [book[name] for name in names]


def expected_interest(loans, on) -> Decimal:
    return sum((loan_position(loan, on=on).interest_paid for loan in loans), ZERO)


def counts(row) -> tuple:
    """Households, loans and principal of a row."""
    return (row.figures.households, row.figures.loans, row.figures.principal)


def row_named(rows, label):
    (row,) = [row for row in rows if str(row.label) == label]
    return row


def test_the_totals_count_what_was_lent_and_posted_by_the_as_of_date(book, paid_run):
    figures = county_figures(county=book["L1"].county, programme=book["L1"].programme, as_of=AS_OF)
    loans = counted(book, "L1", "L2", "L3", "L4")
    lines = SubsidyLine.objects.filter(run=paid_run)
    assert not lines.filter(loan=book["L5"]).exists()
    total = figures.total
    assert (total.households, total.loans) == (3, 4)
    assert total.principal == Decimal("180000.00")
    # 20,000 repaid; the reversed 5,000 and the 10,000 of March 2026 are not.
    assert total.balance == Decimal("160000.00")
    assert total.interest_paid == expected_interest(loans, AS_OF)
    assert total.subsidy_due == sum((line.amount_due for line in lines), ZERO) > 0
    assert total.subsidy_paid == lines.get(loan=book["L1"]).amount_due
    assert total.driven_households == 4


def test_the_reversed_interest_posting_is_not_counted(book):
    figures = county_figures(county=book["L2"].county, programme=book["L2"].programme, as_of=AS_OF)
    l2 = row_named(figures.by_township, "通关镇").figures
    bank_figures = [period.interest for period in bank_schedule(book["L2"])]
    assert l2.interest_paid == sum(bank_figures, ZERO)
    assert l2.interest_paid == loan_position(book["L2"], on=AS_OF).interest_paid


def test_an_earlier_date_cuts_off_later_loans_postings_and_subsidy(book, paid_run):
    on = D(2025, 5, 31)
    figures = county_figures(county=book["L1"].county, programme=book["L1"].programme, as_of=on)
    loans = counted(book, "L1", "L3", "L4")
    assert (figures.total.households, figures.total.loans) == (2, 3)
    assert figures.total.principal == Decimal("130000.00")
    assert figures.total.balance == Decimal("130000.00")
    assert figures.total.interest_paid == expected_interest(loans, on)
    # The 2025 subsidy year ends on 2025-12-20: nothing is due before.
    before_year_end = county_figures(
        county=book["L1"].county, programme=book["L1"].programme, as_of=D(2025, 12, 19)
    )
    assert before_year_end.total.subsidy_due == ZERO
    assert before_year_end.total.subsidy_paid == ZERO
    assert before_year_end.total.balance == Decimal("160000.00")


def test_the_figures_by_township_category_industry_and_farming(book, paid_run):
    figures = county_figures(county=book["L1"].county, programme=book["L1"].programme, as_of=AS_OF)
    lines = {line.loan_id: line for line in SubsidyLine.objects.filter(run=paid_run)}

    townships = [row.label for row in figures.by_township]
    assert townships[:2] == ["联珠镇", "通关镇"] and len(townships) == 15
    a = row_named(figures.by_township, "联珠镇")
    b = row_named(figures.by_township, "通关镇")
    assert counts(a) == (2, 3, Decimal("130000.00"))
    assert counts(b) == (1, 1, Decimal("50000.00"))
    assert a.figures.balance == Decimal("110000.00")
    assert a.figures.subsidy_due == sum(lines[book[n].pk].amount_due for n in ("L1", "L3", "L4"))
    assert (a.figures.driven_households, b.figures.driven_households) == (3, 2)
    assert (a.household_share, b.household_share) == (Decimal("66.7"), Decimal("33.3"))
    assert row_named(figures.by_township, "新安镇").figures.loans == 0

    by_category = {str(row.label): row for row in figures.by_category}
    committee = by_category[str(Borrower.Category.VILLAGE_COMMITTEE.label)]
    cadre = by_category[str(Borrower.Category.GROUP_CADRE.label)]
    leader = by_category[str(Borrower.Category.INDUSTRY_LEADER.label)]
    reserve = by_category[str(Borrower.Category.RESERVE_CADRE.label)]
    # H1 has a committee member and a group leader: it counts once, as the
    # higher category, with both its loans.
    assert counts(committee) == (1, 2, Decimal("100000.00"))
    assert counts(cadre) == (1, 1, Decimal("50000.00"))
    assert (leader.figures.households, leader.figures.driven_households) == (1, 1)
    assert reserve.figures.loans == 0
    cadres = [row for row in figures.by_category if row.subtotal]
    assert len(cadres) == 1
    assert (cadres[0].figures.households, cadres[0].household_share) == (2, Decimal("66.7"))
    assert [committee.household_share, cadre.household_share] == [Decimal("33.3")] * 2

    by_industry = {row.label: row for row in figures.by_industry}
    assert set(by_industry) == {"生猪", "紫米", "茶叶"}
    assert by_industry["茶叶"].figures.households == 2
    assert by_industry["茶叶"].group == "种植业"
    assert by_industry["生猪"].group == "养殖业"

    husbandry, planting = figures.by_farming
    # H1 borrowed for pigs and for purple rice: in both rows, once in the total.
    assert counts(husbandry) == (1, 1, Decimal("80000.00"))
    assert counts(planting) == (3, 3, Decimal("100000.00"))
    assert husbandry.household_share == Decimal("33.3")
    assert planting.household_share == Decimal("100.0")


def test_a_township_report_counts_that_township_only(cast, book, paid_run):
    figures = county_figures(
        county=cast.county_division,
        programme=book["L1"].programme,
        as_of=AS_OF,
        township=cast.township_a,
    )
    loans = counted(book, "L1", "L3", "L4")
    assert [row.label for row in figures.by_township] == ["联珠镇"]
    assert (figures.total.households, figures.total.loans) == (2, 3)
    assert figures.total.principal == Decimal("130000.00")
    assert figures.total.interest_paid == expected_interest(loans, AS_OF)
    assert figures.total.subsidy_paid == paid_run.lines.get(loan=book["L1"]).amount_due
    assert figures.total.driven_households == 3
    assert [row.figures.households for row in figures.by_farming] == [1, 2]


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [
        (600, 680, "88.2"),
        (1, 16, "6.3"),  # 6.25: half-up, not to even
        (1, 2000, "0.1"),  # 0.05
        (3, 8, "37.5"),
        (0, 0, "0.0"),
        (Decimal("22950000.00"), Decimal("43205000.00"), "53.1"),
    ],
)
def test_percentages_are_rounded_half_up_to_a_tenth(part, whole, expected):
    assert percent(part, whole) == Decimal(expected)


def report_for(cast, programme, *, township=None, fmt=Report.Format.PDF):
    return Report(
        county=cast.county_division,
        kind=Report.Kind.COUNTY,
        format=fmt,
        programme=programme,
        as_of=AS_OF,
        township=township,
        requested_by=cast.county,
        requested_at=timezone.now(),
    )


def test_the_pdf_shows_the_totals_and_what_it_was_generated_from(
    cast, programme, book, paid_run, tmp_path
):
    built = county_pdf(report_for(cast, programme), no_progress)
    assert built.content.startswith(b"%PDF") and built.row_count == 4
    text = pdf_text(built.content)
    lines = SubsidyLine.objects.filter(run=paid_run)
    due = sum((line.amount_due for line in lines), ZERO)
    interest = expected_interest(counted(book, "L1", "L2", "L3", "L4"), AS_OF)
    for figure in ("180,000.00", "160,000.00", yuan(interest), yuan(due)):
        assert figure in text
    assert yuan(lines.get(loan=book["L1"]).amount_due) in text
    # The township table: 联珠镇 with 2 households and 3 loans of 130,000.
    assert any(line.split()[:4] == ["联珠镇", "2", "3", "130,000.00"] for line in text.splitlines())
    assert "墨江哈尼族自治县" in text and "振兴贷" in text
    assert "county-officer" in text
    assert "2026年1月31日" in text and "66.7%" in text


def test_a_township_pdf_names_the_township(cast, programme, book, tmp_path):
    built = county_pdf(report_for(cast, programme, township=cast.township_b), no_progress)
    text = pdf_text(built.content)
    assert built.row_count == 1
    assert "墨江哈尼族自治县通关镇" in text
    assert "50,000.00" in text and "180,000.00" not in text and "联珠镇" not in text


def test_the_workbook_has_a_sheet_per_table_with_exact_figures(cast, programme, book, paid_run):
    built = county_xlsx(report_for(cast, programme, fmt=Report.Format.XLSX), no_progress)
    assert built.row_count == 4
    book_ = load_workbook(BytesIO(built.content))
    summary, townships, categories, industries, farming = book_.worksheets
    assert "振兴贷" in summary["A1"].value and "county-officer" in summary["A2"].value
    assert [summary.cell(row=r, column=2).value for r in range(5, 7)] == [3, 4]
    assert Decimal(str(summary["B7"].value)) == Decimal("180000.00")
    assert summary["B7"].number_format.endswith("0.00")

    header = [cell.value for cell in townships[4]]
    assert len(header) == 11 and header[0]
    assert townships.freeze_panes == "B5"
    first = [cell.value for cell in townships[5]]
    assert first[:4] == ["联珠镇", 2, 3, 130000]
    assert Decimal(str(townships.cell(row=5, column=5).value)) == Decimal("110000.00")
    total = [cell.value for cell in townships[townships.max_row]]
    assert total[1:4] == [3, 4, 180000]
    interest = expected_interest(counted(book, "L1", "L2", "L3", "L4"), AS_OF)
    assert Decimal(str(total[5])) == interest
    assert townships.cell(row=townships.max_row, column=6).number_format.endswith("0.00")
    assert townships.max_row == 4 + 15 + 1

    shares = {row[0].value: row[9].value for row in categories.iter_rows(min_row=5)}
    assert sorted(v for v in shares.values() if v is not None) == [0, 33.3, 33.3, 33.3, 66.7]
    assert [row[1].value for row in industries.iter_rows(min_row=5)][:3] == ["生猪", "紫米", "茶叶"]
    assert [row[1].value for row in farming.iter_rows(min_row=5)] == [1, 3, 3]


def test_the_number_of_queries_does_not_grow_with_the_loans(cast, programme, lend):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            county_figures(county=cast.county_division, programme=programme, as_of=AS_OF)
        return len(captured)

    for _ in range(2):
        lend()
    with_two = queries()
    for number in range(18):
        lend(township=cast.township_b if number % 2 else None)
    assert Loan.objects.count() == 20
    assert queries() == with_two


# --- The risk-compensation fund ------------------------------------------------------


@pytest.fixture
def fund(cast, programme, book):
    """A fund set up after the loans: 10,000 deposited in 2025, 5,000 and
    12.34 of interest in January 2026, and one more deposit after the as-of
    date, which the report leaves out."""
    fund = fund_save(actor=cast.county, name="墨江县振兴贷风险补偿金", programmes=[programme])
    deposit(cast, fund, "10000.00", voucher="D-1", on=D(2025, 12, 1))
    deposit(cast, fund, "5000.00", voucher="D-2", on=D(2026, 1, 10))
    deposit(cast, fund, "12.34", voucher="I-1", on=D(2026, 1, 20), kind="interest")
    deposit(cast, fund, "99999.00", voucher="D-3", on=D(2026, 2, 5))
    return fund


# Covered principal owed on 31 January: L1 60,000, L2 50,000, L3 30,000,
# L4 20,000. Limit: 10 × 15,012.34 = 150,123.40; 160,000 ÷ 150,123.40 =
# 106.5789… %, half-up 106.58 %.
FUND_FIGURES = [
    ("期初余额", "10,000.00"),
    ("存入", "5,000.00"),
    ("专户利息", "12.34"),
    ("代偿支出", "0.00"),
    ("追偿回款", "0.00"),
    ("期末余额", "15,012.34"),
    ("覆盖贷款余额", "160,000.00"),
    ("上限（放大倍数 × 余额）", "150,123.40"),
    ("放大倍数使用率", "106.58 %"),
    ("不良率", "0.00 %"),
]


def test_the_pdf_has_the_funds_figures_to_the_as_of_date(cast, programme, book, fund):
    text = pdf_text(county_pdf(report_for(cast, programme), no_progress).content)
    assert "6. 风险补偿金" in text
    assert "墨江县振兴贷风险补偿金，2026-01-01 至 2026-01-31" in text
    lines = [" ".join(line.split()) for line in text.splitlines()]
    for label, figure in FUND_FIGURES:
        assert f"{label} {figure}" in lines, label
    assert "99,999.00" not in text


def test_a_township_report_and_a_county_without_a_fund_leave_the_section_out(cast, programme, book):
    county = county_pdf(report_for(cast, programme), no_progress)
    assert "风险补偿金" not in pdf_text(county.content)
    fund_save(actor=cast.county, name="墨江县振兴贷风险补偿金", programmes=[programme])
    township = county_pdf(report_for(cast, programme, township=cast.township_a), no_progress)
    assert "风险补偿金" not in pdf_text(township.content)


def test_the_workbook_has_a_fund_sheet_with_numbers(cast, programme, book, fund):
    built = county_xlsx(report_for(cast, programme, fmt=Report.Format.XLSX), no_progress)
    sheet = load_workbook(BytesIO(built.content)).worksheets[-1]
    assert sheet.title == "风险补偿金"
    values = {row[0].value: row[1] for row in sheet.iter_rows(min_row=5)}
    assert Decimal(str(values["期末余额"].value)) == Decimal("15012.34")
    assert values["期末余额"].number_format == "#,##0.00"
    assert Decimal(str(values["覆盖贷款余额"].value)) == Decimal("160000.00")
    used = values["放大倍数使用率"]
    assert round(Decimal(str(used.value)), 6) == Decimal("1.065790")
    assert used.number_format == "0.00%"
    assert values["累计已代偿笔数"].value == 0
