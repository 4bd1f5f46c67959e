"""A loan's page as the county officer meets it, in Chromium: the list with
its status tabs, then the expected schedule beside the posted ledger."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from beneficiaries.divisions.services import division_create
from beneficiaries.models import Industry
from beneficiaries.registry.services import borrower_create
from loans.applications.services import application_transition
from loans.ledger.services import loan_create, loan_statuses_record
from loans.models import Application, Programme
from loans.notices.services import notice_publish, notices_release_due
from tests.browser.conftest import log_in, save_screenshot
from tests.conftest import PASSWORD
from tests.loans.applications.test_flow import submit
from tests.loans.conftest import TODAY, People, mojiang_coop, resident_id
from tests.loans.ledger.test_selectors import WORKED_PERIODS, post_interest, repay, reverse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

D = datetime.date


def borrower(cast, people, name: str, township, sequence: int):
    return borrower_create(
        actor=cast.county,
        household=people.household(township),
        name=name,
        id_number=resident_id(500 + sequence),
        phone="13812345678",
        industry=Industry.objects.get(name="生猪"),
        positions=[{"title": "committee_member", "started_on": D(2021, 3, 1)}],
        today=TODAY,
    )


def lend(cast, programme, coop, people, *, name, township, number, principal, start, end):
    """A borrower, their application taken to release, and the contract."""
    applicant = borrower(cast, people, name, township, number)
    application = submit(cast.county, programme, applicant, amount=principal)
    officer = cast.township_officer_a if township == cast.township_a else cast.township_officer_b
    for actor, state in (
        (officer, Application.State.VILLAGE_RECOMMENDED),
        (officer, Application.State.TOWNSHIP_REVIEWED),
        (cast.county, Application.State.COUNTY_APPROVED),
    ):
        application = application_transition(
            actor=actor, application=application, to_state=state, today=TODAY
        )
    notice = notice_publish(actor=cast.county, programme=programme, starts_on=TODAY)
    notices_release_due(actor=cast.county, today=notice.ends_on + datetime.timedelta(days=1))
    application.refresh_from_db()
    return loan_create(
        actor=cast.county,
        application=application,
        coop=coop,
        contract_no=f"MJ-{start.year}-{number:04d}",
        principal=Decimal(principal),
        annual_rate=Decimal("0.034500"),
        disbursed_on=start,
        maturity_on=end,
    )


@pytest.fixture
def people(cast) -> People:
    """Makes households and borrowers in a village group of each township
    (the loans tests' fixture of that name lives in tests/loans/)."""
    groups = {}
    for township in (cast.township_a, cast.township_b):
        village = division_create(
            actor=cast.county, parent=township, code=township.code + "001", name="碧溪村"
        )
        groups[township.pk] = division_create(
            actor=cast.county, parent=village, code=village.code + "001", name="一组"
        )
    return People(cast, groups)


@pytest.fixture
def loans(cast, people):
    """The worked example with two quarters posted and 40,000 repaid (now
    past maturity: overdue), a loan repaid in full, and two running loans,
    one of them in another township."""
    programme = Programme.objects.get(name="振兴贷", year=2025, region_code="530822")
    coop = mojiang_coop()
    worked = lend(
        cast, programme, coop, people, name="李国华", township=cast.township_a, number=1,
        principal="100000.00", start=D(2024, 1, 10), end=D(2025, 1, 10),
    )  # fmt: skip
    post_interest(cast, coop, worked, "MJRCC-I-0001", WORKED_PERIODS[0], "680.42")
    post_interest(cast, coop, worked, "MJRCC-I-0002", WORKED_PERIODS[1], "881.67")
    repay(cast, coop, worked, "MJRCC-P-0001", D(2024, 6, 21), "40000.00")
    repaid = lend(
        cast, programme, coop, people, name="王秀兰", township=cast.township_a, number=2,
        principal="50000.00", start=D(2024, 3, 20), end=D(2026, 3, 20),
    )  # fmt: skip
    repay(cast, coop, repaid, "MJRCC-P-0002", D(2026, 3, 20), "50000.00")
    flagged = lend(
        cast, programme, coop, people, name="张建军", township=cast.township_a, number=3,
        principal="80000.00", start=D(2025, 7, 15), end=D(2028, 7, 15),
    )  # fmt: skip
    # On time and right; wrong and reversed, then corrected late; 2.50 over.
    post_interest(cast, coop, flagged, "MJRCC-I-0101", QUARTERS[0], "521.33")
    post_interest(cast, coop, flagged, "MJRCC-I-0102", QUARTERS[1], "710.00")
    reverse(cast, coop, "MJRCC-R-0102", "MJRCC-I-0102", paid_on=D(2025, 12, 22), reason="金额有误")
    post_interest(
        cast, coop, flagged, "MJRCC-I-0103", QUARTERS[1], "697.67", paid_on=D(2025, 12, 22)
    )
    post_interest(cast, coop, flagged, "MJRCC-I-0104", QUARTERS[2], "692.50")
    lend(
        cast, programme, coop, people, name="赵丽", township=cast.township_b, number=4,
        principal="50000.00", start=D(2025, 12, 20), end=D(2028, 12, 20),
    )  # fmt: skip
    loan_statuses_record(today=timezone.localdate())
    return worked


# The first quarters of 80,000 at 3.45 % from 2025-07-15: 521.33, 697.67, 690.00.
QUARTERS = [
    (D(2025, 7, 15), D(2025, 9, 20)),
    (D(2025, 9, 21), D(2025, 12, 20)),
    (D(2025, 12, 21), D(2026, 3, 20)),
]


def box(locator):
    result = locator.bounding_box()
    assert result is not None
    return result


def test_the_county_officer_reads_a_loans_schedule_beside_its_ledger(page, cast, loans):
    log_in(page, cast.county.username, PASSWORD)
    page.wait_for_url("**/")
    page.goto("/loans/")
    expect(page.locator("h1")).to_have_text("贷款")
    rows = page.locator("table.loan-table tbody tr")
    expect(rows).to_have_count(4)
    expect(page.get_by_test_id("result-summary")).to_contain_text("共 4 笔贷款")
    save_screenshot(page, "loan-list")

    # The overdue tab holds the worked example, its badge in red.
    tabs = page.get_by_test_id("status-tabs")
    expect(tabs.locator('[data-status="overdue"] .count')).to_have_text("1")
    expect(tabs.locator('[data-status="repaid"] .count')).to_have_text("1")
    tabs.locator('[data-status="overdue"]').click()
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row.locator("td.balance")).to_have_text("60,000.00")
    expect(row.locator("td.interest")).to_have_text("1,562.09")
    badge = row.locator(".status-badge")
    expect(badge).to_have_text("逾期")
    expect(badge).to_have_css("color", "rgb(179, 38, 30)")

    # Narrow the search within the tab, then open the loan.
    page.get_by_label("搜索", exact=True).fill("李国华")
    page.get_by_role("button", name="搜索").click()
    expect(rows).to_have_count(1)
    page.get_by_role("link", name="MJ-2024-0001").click()
    expect(page.locator("h1")).to_contain_text("贷款合同 MJ-2024-0001")
    expect(page.get_by_test_id("position")).to_contain_text("60,000.00")

    schedule = page.get_by_test_id("schedule")
    ledger = page.get_by_test_id("ledger")
    # Side by side: the ledger starts to the right of the schedule, level with it.
    left, right = box(schedule), box(ledger)
    assert right["x"] >= left["x"] + left["width"]
    assert abs(right["y"] - left["y"]) < 2
    # The expected settlements: the first two quarters of the worked example,
    # then 60,000 after the repayment on 21 June.
    expected = schedule.locator("tbody td.expected")
    expect(expected).to_have_text(["680.42", "881.67", "529.00", "523.25", "115.00"])
    posted = ledger.locator("tbody tr.entry")
    expect(posted).to_have_count(2)
    expect(posted.nth(0).locator("td")).to_have_text(
        ["MJRCC-I-0001", "2024-03-20", "680.42", "0.00", ""]
    )
    expect(posted.nth(1).locator("td")).to_have_text(
        ["MJRCC-I-0002", "2024-06-20", "881.67", "0.00", ""]
    )
    missing = ledger.locator("tbody tr.gap.state-missing")
    expect(missing).to_have_count(3)
    # Row for row: each period sits level with what was posted for it.
    for period in (1, 3, 5):
        expected_row = schedule.locator(f'tbody tr[data-period="{period}"]')
        posted_row = ledger.locator(f'tbody tr[data-period="{period}"]').first
        assert abs(box(expected_row)["y"] - box(posted_row)["y"]) < 2, period
    expect(missing.first.locator("td")).to_have_css("background-color", "rgb(255, 244, 214)")
    expect(page.get_by_test_id("expected-total")).to_have_text("2,729.34")
    expect(page.get_by_test_id("posted-total")).to_have_text("1,562.09")

    history = page.get_by_test_id("balance-history").locator("tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(1).locator("td")).to_have_text(
        ["2024-06-21", "偿还本金", "-40,000.00", "60,000.00"]
    )
    expect(page.get_by_test_id("balance-chart")).to_be_visible()
    save_screenshot(page, "loan-detail")

    # On a narrow screen the ledger comes under the schedule.
    page.set_viewport_size({"width": 760, "height": 900})
    left, right = box(schedule), box(ledger)
    assert right["y"] >= left["y"] + left["height"]
    save_screenshot(page, "loan-detail-narrow")


def test_the_ledger_shows_reversals_late_payments_and_differences(page, cast, loans):
    log_in(page, cast.county.username, PASSWORD)
    page.wait_for_url("**/")
    page.goto("/loans/")
    page.get_by_role("link", name="MJ-2025-0003").click()
    ledger = page.get_by_test_id("ledger")
    expect(ledger.locator('tr[data-txn="MJRCC-I-0102"] del')).to_have_count(2)
    reversal = ledger.locator('tr.reversal-line[data-txn="MJRCC-R-0102"]')
    expect(reversal).to_contain_text("冲正")
    expect(reversal).to_contain_text("金额有误")
    corrected = ledger.locator('tr[data-txn="MJRCC-I-0103"]')
    expect(corrected.locator(".flag.late")).to_have_text("逾期缴付")
    expect(corrected.locator("td.diff")).to_have_text("0.00")
    over = ledger.locator('tr[data-txn="MJRCC-I-0104"]')
    expect(over.locator("td.diff")).to_have_text("+2.50")
    expect(over.locator("td.diff")).to_have_css("color", "rgb(179, 38, 30)")
    expect(over.locator(".flag.off")).to_have_text("超出容差")
    # Period 2 spans its three ledger lines on the schedule side, level with them.
    schedule = page.get_by_test_id("schedule")
    second = schedule.locator('tbody tr[data-period="2"]')
    assert abs(box(second)["y"] - box(ledger.locator('tr[data-txn="MJRCC-I-0102"]'))["y"]) < 2
    third = schedule.locator('tbody tr[data-period="3"]')
    assert abs(box(third)["y"] - box(over)["y"]) < 2
    save_screenshot(page, "loan-detail-flags")
