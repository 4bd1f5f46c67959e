"""The borrower statement PDF: its figures read back with pdftotext against
the database, what it must never print, who may download it, the log.

The cast (tests/subsidies/conftest.py ``lend``): MJ-2025-0001 lent to a
borrower of township a, 100,000 at 3.45 % from 2025-03-20, its 2025
interest posted at the bank's figures (9.58 + 881.67 + 881.67 + 872.08 =
2,645.00, all subsidised); then a repayment of 5,000 reversed as a mistake,
a repayment of 20,000 and the 2026 first-quarter interest. The 2025 run is
approved and the line paid; the 2026 run is only computed. MJ-2025-0002 is
another borrower's, in township b.
"""

import datetime
import re
import subprocess
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import PersonalDataExport
from beneficiaries.models import Borrower
from common.masking import mask_phone, mask_resident_id
from common.money import yuan
from loans.ledger.interest import expected_schedule
from loans.ledger.services import ledger_post_interest, ledger_post_repayment, ledger_post_reversal
from loans.models import LedgerEntry
from reports import statement_views
from reports.statement import statement_pdf
from subsidies.models import SubsidyLine, SubsidyRun
from subsidies.payout.services import payment_batch_issue, payment_line_record
from subsidies.runs.services import subsidy_run_approve, subsidy_run_start, subsidy_run_submit
from tests.pdf import pdf_text
from tests.subsidies import conftest as subsidy_fixtures
from tests.subsidies.conftest import AFTER_2025

# The subsidy tests' cast and lending (a loan through the services with its
# interest posted), and their autouse hook that computes runs at once.
programme = subsidy_fixtures.programme
coop = subsidy_fixtures.coop
groups = subsidy_fixtures.groups
people = subsidy_fixtures.people
lend = subsidy_fixtures.lend
launch_at_once = subsidy_fixtures.launch_at_once

D = datetime.date
TODAY = D(2027, 1, 10)
VOUCHER = "PZ-2026-0107"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(statement_views, "_today", lambda: TODAY)


def run_for(cast, programme, year: int, today: datetime.date) -> SubsidyRun:
    run = subsidy_run_start(actor=cast.county, programme=programme, year=year, today=today)
    run.refresh_from_db()
    assert run.state == SubsidyRun.State.COMPUTED, run.error
    return run


@pytest.fixture
def loans(cast, lend):
    return lend(), lend(township=cast.township_b, principal="50000.00")


@pytest.fixture
def booked(cast, programme, coop, loans):
    """The first loan's later postings and both years' runs."""
    loan = loans[0]
    approved = run_for(cast, programme, 2025, AFTER_2025)
    subsidy_run_submit(actor=cast.county, run=approved)
    subsidy_run_approve(actor=cast.finance, run=approved)
    payment_batch_issue(actor=cast.finance, run=approved)
    payment_line_record(
        actor=cast.finance,
        line=approved.lines.get(loan=loan),
        paid=True,
        voucher_no=VOUCHER,
        paid_on=D(2026, 1, 20),
        today=D(2026, 1, 21),
    )

    post = {"actor": cast.coop, "coop": coop, "loan": loan}
    ledger_post_repayment(**post, txn_id="P-MISTAKE", paid_on=D(2025, 12, 22), amount=Decimal(5000))
    ledger_post_reversal(
        actor=cast.coop,
        coop=coop,
        txn_id="R-MISTAKE",
        reverses_txn_id="P-MISTAKE",
        reason="重复记账",
        paid_on=D(2025, 12, 23),
    )
    ledger_post_repayment(
        **post, txn_id="P-2025-12", paid_on=D(2025, 12, 28), amount=Decimal(20000)
    )
    period = expected_schedule(
        principal=loan.principal,
        rate=loan.annual_rate,
        basis=programme.day_count_basis,
        disbursed_on=loan.disbursed_on,
        ends_on=D(2026, 3, 21),
        repayments=[(D(2025, 12, 28), Decimal(20000))],
    )[-1]
    assert (period.start, period.end) == (D(2025, 12, 21), D(2026, 3, 20))
    ledger_post_interest(
        **post,
        txn_id="I-2026-03",
        period_start=period.start,
        period_end=period.end,
        due_on=period.end,
        paid_on=period.end,
        amount=period.interest,
    )
    run_for(cast, programme, 2026, D(2026, 12, 21))
    return loan


def as_user(client, user):
    client.force_login(user)
    return client


def statement_url(loan) -> str:
    return reverse("reports:statement", args=[loan.application.borrower_id])


def line_with(text: str, needle: str) -> str:
    """The one line of the PDF's text holding ``needle``."""
    found = [line for line in text.splitlines() if needle in line]
    assert len(found) == 1, (needle, found)
    return found[0]


def numbers_in(line: str) -> list[str]:
    return re.findall(r"-?\d[\d,]*\.\d\d", line)


@pytest.fixture
def statement(client, cast, booked) -> str:
    response = as_user(client, cast.county).get(statement_url(booked))
    assert response.status_code == 200
    return pdf_text(response.content)


# --- Figures ---------------------------------------------------------------------


def test_every_posting_shows_its_amount_and_the_running_balance(statement, booked):
    entries = LedgerEntry.objects.filter(
        loan=booked, kind__in=[LedgerEntry.Kind.INTEREST, LedgerEntry.Kind.PRINCIPAL]
    ).order_by("paid_on", "pk")
    reversed_ids = set(
        LedgerEntry.objects.filter(loan=booked, kind=LedgerEntry.Kind.REVERSAL).values_list(
            "reverses_id", flat=True
        )
    )
    balance = booked.principal
    in_force = 0
    for entry in entries:
        line = line_with(statement, entry.txn_id)
        if entry.pk in reversed_ids:
            # Shown struck through, with no balance of its own.
            assert numbers_in(line) == [yuan(entry.amount)], line
            assert "—" in line
            assert "重复记账" in re.sub(r"\s", "", statement)  # the reason, wrapped or not
            continue
        in_force += 1
        if entry.kind == LedgerEntry.Kind.PRINCIPAL:
            balance -= entry.amount
        assert numbers_in(line) == [yuan(entry.amount), yuan(balance)], line
    assert in_force == 6
    assert balance == Decimal("80000.00")


def test_the_loan_totals_add_up_the_entries_in_force(statement, booked):
    interest = sum(
        LedgerEntry.objects.filter(
            loan=booked, kind=LedgerEntry.Kind.INTEREST, reversed_by__isnull=True
        ).values_list("amount", flat=True)
    )
    assert interest == Decimal("2645.00") + LedgerEntry.objects.get(txn_id="I-2026-03").amount
    totals = [line for line in statement.splitlines() if yuan(interest) in line]
    # The summary (principal, balance, interest, subsidy due and paid) and
    # the loan's total row (interest, principal repaid, balance).
    assert [numbers_in(line) for line in totals] == [
        ["100,000.00", "80,000.00", yuan(interest), "2,645.00", "2,645.00"],
        [yuan(interest), "20,000.00", "80,000.00"],
    ]


def test_each_year_shows_the_subsidy_of_its_line(statement, booked):
    lines = SubsidyLine.objects.filter(loan=booked).select_related("run").order_by("run__year")
    approved, computed = lines
    assert approved.run.state == SubsidyRun.State.APPROVED
    assert approved.payment == SubsidyLine.Payment.PAID
    assert approved.subsidy == Decimal("2645.00")
    assert computed.run.state == SubsidyRun.State.COMPUTED

    rows = [line for line in statement.splitlines() if re.match(r"\s*20(25|26)\s", line)]
    assert len(rows) == 2, rows
    for row, line in zip(rows, lines, strict=True):
        assert row.split()[0] == str(line.run.year)
        shown = [line.reported_interest, line.eligible_interest, line.subsidy]
        shown += [line.adjustment] if line.adjustment else []  # no adjustment: a dash
        shown.append(line.amount_due)
        assert numbers_in(row) == [yuan(amount) for amount in shown], row
    assert "2026-01-20" in rows[0] and VOUCHER in rows[0]
    assert VOUCHER not in rows[1]


def test_only_approved_years_count_in_the_subsidy_totals(statement, booked):
    approved = SubsidyLine.objects.get(loan=booked, run__year=2025)
    provisional = SubsidyLine.objects.get(loan=booked, run__year=2026)
    assert provisional.subsidy > 0
    # The summary: loans, principal, balance, interest paid, subsidy due, paid.
    summary = [line for line in statement.splitlines() if re.match(r"\s*1\s+[\d,]+\.\d\d", line)]
    assert len(summary) == 1, summary
    assert numbers_in(summary[0])[-2:] == [yuan(approved.amount_due), yuan(approved.amount_due)]


def test_the_statement_names_the_borrower_with_a_masked_id_only(statement, booked):
    borrower = booked.application.borrower
    household = borrower.household
    assert borrower.name in statement
    assert mask_resident_id(borrower.id_number) in statement
    digits = re.sub(r"\s", "", statement)
    for secret in (borrower.id_number, household.head_id_number, borrower.phone):
        assert secret not in digits
    assert mask_phone(borrower.phone) not in statement
    assert not re.search(r"\d{17}[\dX]", digits)
    assert not re.search(r"1[3-9]\d{9}", digits)
    assert booked.contract_no in statement
    assert borrower.township.name in statement


def test_it_leaves_out_other_borrowers_loans(statement, loans):
    assert loans[1].contract_no not in statement


def test_it_names_the_households_other_borrowers_without_their_loans(client, cast, people, loans):
    loan = loans[0]
    other = people.borrower(household=loan.application.household)
    Borrower.objects.filter(pk=other.pk).update(name="王五")
    response = as_user(client, cast.county).get(statement_url(loan))
    text = pdf_text(response.content)
    assert re.search(r"王五\S*\s*0", text), text
    assert mask_resident_id(other.id_number) not in text


def test_page_one_renders_as_an_image(cast, booked, tmp_path):
    pdf = tmp_path / "statement.pdf"
    pdf.write_bytes(statement_pdf(booked.application.borrower, user=cast.county, today=TODAY))
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", pdf, tmp_path / "page"], check=True
    )
    (image,) = tmp_path.glob("page*.png")
    assert image.stat().st_size > 10_000
    pages = re.findall(r"第\s*(\d+)\s*页\s*共\s*(\d+)\s*页", pdf_text(pdf.read_bytes()))
    assert pages == [("1", "2"), ("2", "2")]


# --- Who may download it ------------------------------------------------------------

ACCESS = {
    "county": 200,
    "township_officer_a": 200,  # the borrower's own township
    "township_officer_b": 404,
    "finance": 200,
    "auditor": 200,
    "coop": 403,  # as on the borrower page: the co-op has no borrower permission
}


@pytest.mark.parametrize(("who", "status"), ACCESS.items())
def test_it_is_open_to_whoever_may_see_the_borrower_page(client, cast, loans, who, status):
    user = getattr(cast, who)
    response = as_user(client, user).get(statement_url(loans[0]))
    assert response.status_code == status
    page = client.get(reverse("borrowers:detail", args=[loans[0].application.borrower_id]))
    assert page.status_code == status
    if status == 200:
        assert response["Content-Type"] == "application/pdf"
        assert statement_url(loans[0]) in page.content.decode()
    assert PersonalDataExport.objects.filter(user=user).count() == (status == 200)


def test_it_sends_anonymous_users_to_log_in(client, loans):
    response = client.get(statement_url(loans[0]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_user_without_a_role_is_refused(client, loans, roleless_user):
    assert as_user(client, roleless_user).get(statement_url(loans[0])).status_code == 403


def test_a_download_is_logged_once_and_named_for_the_borrower(client, cast, loans):
    borrower = loans[0].application.borrower
    response = as_user(client, cast.township_officer_a).get(statement_url(loans[0]))
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="statement-%d.pdf"' % borrower.pk)
    assert "filename*=UTF-8''" in disposition
    assert "%E6%9D%8E%E5%9B%9B" in disposition  # 李四
    (log,) = PersonalDataExport.objects.all()
    assert (log.user, log.what, log.row_count) == (
        cast.township_officer_a,
        "borrower statement",
        1,
    )
