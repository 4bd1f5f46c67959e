"""The subsidy payout list (贴息资金拨付明细表) of an approved run, as PDF and
xlsx, read back (``pdftotext``, openpyxl) and checked against the database.

The run: six loans lent through the services with their 2025 interest
posted at the bank's figures (tests/subsidies/conftest.py ``lend``), four
in 联珠镇 and two in 通关镇; one of 联珠镇's has no interest posted, so
nothing to pay, and is not listed. The county officer 钱提交 submits it, the
finance officer 赵审批 approves it.
"""

import datetime
import io
import os
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Count, Sum
from django.utils import timezone
from openpyxl import load_workbook

from beneficiaries.models import Borrower
from common.masking import mask_resident_id
from common.money import amount_in_words
from demo.loan_book import loan_book_create
from reports.builders import no_progress
from reports.models import Report
from reports.payout_list import payout_pdf, payout_rows, payout_xlsx
from subsidies.models import SubsidyLine, SubsidyRun
from subsidies.runs.services import subsidy_run_approve, subsidy_run_start, subsidy_run_submit
from tests.subsidies import conftest as subsidy_fixtures
from tests.subsidies.conftest import AFTER_2025

programme = subsidy_fixtures.programme
coop = subsidy_fixtures.coop
groups = subsidy_fixtures.groups
people = subsidy_fixtures.people
lend = subsidy_fixtures.lend
launch_at_once = subsidy_fixtures.launch_at_once

State = SubsidyRun.State
LONG_ID = re.compile(r"\d{17}[\dXx]")
PHONE = re.compile(r"1\d{10}")


def money(value) -> str:
    return f"{Decimal(value):,.2f}"


def named(user, name):
    user.first_name = name
    user.save(update_fields=["first_name"])


def computed_run(cast, programme) -> SubsidyRun:
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=AFTER_2025)
    run.refresh_from_db()
    assert run.state == State.COMPUTED, run.error
    return run


def approve(cast, run) -> SubsidyRun:
    subsidy_run_submit(actor=cast.county, run=run)
    return subsidy_run_approve(actor=cast.finance, run=run)


@pytest.fixture
def loans(cast, lend):
    made = []
    for name, principal, township, settled in (
        ("张三", "100000.00", cast.township_a, True),
        ("李四", "80000.00", cast.township_a, True),
        ("王五", "60000.00", cast.township_a, True),
        ("周零", "40000.00", cast.township_a, False),
        ("赵六", "50000.00", cast.township_b, True),
        ("孙七", "30000.00", cast.township_b, True),
    ):
        loan = lend(
            principal=principal,
            township=township,
            settled_until=datetime.date(2025, 12, 21) if settled else datetime.date(2025, 3, 20),
        )
        Borrower.objects.filter(pk=loan.application.borrower_id).update(name=name)
        made.append(loan)
    return made


@pytest.fixture
def run(cast, programme, loans) -> SubsidyRun:
    named(cast.county, "钱提交")
    named(cast.finance, "赵审批")
    return approve(cast, computed_run(cast, programme))


def report_of(run, cast, *, township=None, format=Report.Format.PDF) -> Report:
    return Report(
        county=cast.county_division,
        kind=Report.Kind.PAYOUT,
        format=format,
        run=run,
        township=township,
        requested_by=cast.finance,
        requested_at=timezone.now(),
        state=Report.State.RUNNING,
    )


def pdf_pages(content: bytes, tmp_path) -> list[str]:
    """The text of each page (pdftotext separates pages with a form feed)."""
    path = tmp_path / "list.pdf"
    path.write_bytes(content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return text.split("\f")[:-1]


def page_count(content: bytes, tmp_path) -> int:
    path = tmp_path / "count.pdf"
    path.write_bytes(content)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True)
    return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))


def listed(run, township=None):
    lines = SubsidyLine.objects.filter(run=run, amount_due__gt=0)
    if township is not None:
        lines = lines.filter(township=township)
    return lines.select_related(
        "township",
        "loan__application__borrower",
        "loan__application__household__village_group__parent",
    )


def compact(text: str) -> str:
    """pdftotext -layout spaces CJK text as it likes."""
    return re.sub(r"\s+", "", text)


def lines_with(text: str, figure: str) -> list[str]:
    return [line for line in text.splitlines() if figure in line]


def line_of_text(text: str, contract_no: str) -> str:
    found = [line for line in text.splitlines() if contract_no in line]
    assert len(found) == 1, (contract_no, found)
    return found[0]


def test_every_line_to_pay_is_listed_with_its_figures(cast, run, loans, tmp_path):
    built = payout_pdf(report_of(run, cast), no_progress)
    text = "\n".join(pdf_pages(built.content, tmp_path))

    lines = list(listed(run))
    assert built.row_count == len(lines) == 5
    for line in lines:
        borrower = line.loan.application.borrower
        row = line_of_text(text, line.loan.contract_no)
        for shown in (
            line.township.name,
            line.loan.application.household.village_group.parent.name,
            borrower.name,
            mask_resident_id(borrower.id_number),
            money(line.loan.principal),
            money(line.reported_interest),
            money(line.amount_due),
        ):
            assert shown in row, (shown, row)
    nothing_due = run.lines.get(loan=loans[3])
    assert nothing_due.amount_due == 0
    assert nothing_due.loan.contract_no not in text
    assert "周零" not in text


def test_rows_go_by_township_code_then_village_then_name(cast, run):
    rows = payout_rows(run)
    # One village per township here: within it, by name.
    assert cast.township_a.code < cast.township_b.code
    assert [(row.township, row.name) for row in rows] == [
        (cast.township_a.name, name) for name in sorted(["张三", "李四", "王五"])
    ] + [(cast.township_b.name, name) for name in sorted(["赵六", "孙七"])]


def test_subtotals_by_township_and_one_grand_total_at_the_end(cast, run, tmp_path):
    text = "\n".join(pdf_pages(payout_pdf(report_of(run, cast), no_progress).content, tmp_path))

    by_township = (
        listed(run)
        .values("township__name")
        .annotate(
            count=Count("pk"),
            principal=Sum("loan__principal"),
            interest=Sum("reported_interest"),
            due=Sum("amount_due"),
        )
    )
    assert len(by_township) == 2
    for township in by_township:
        subtotal = [
            line
            for line in text.splitlines()
            if township["township__name"] in line and money(township["due"]) in line
        ]
        assert len(subtotal) == 1, (township, subtotal)
        assert money(township["principal"]) in subtotal[0]
        assert money(township["interest"]) in subtotal[0]
        assert str(township["count"]) in subtotal[0]

    total = listed(run).aggregate(
        principal=Sum("loan__principal"), interest=Sum("reported_interest"), due=Sum("amount_due")
    )
    (total_line,) = lines_with(text, money(total["due"]))
    assert money(total["principal"]) in total_line
    assert money(total["interest"]) in total_line
    assert len(lines_with(text, money(total["principal"]))) == 1
    # After every row: the last township's last row comes before it.
    last = max(text.index(line.loan.contract_no) for line in listed(run))
    assert text.index(total_line) > last
    assert amount_in_words(total["due"]) in text


def test_the_list_says_what_it_is_who_approved_it_and_where_to_sign(cast, run, tmp_path):
    report = report_of(run, cast)
    content = payout_pdf(report, no_progress).content
    pages = pdf_pages(content, tmp_path)
    text = "\n".join(pages)

    assert len(pages) == page_count(content, tmp_path) == 1
    assert "第1页共1页" in compact(pages[0])
    assert "云南省普洱市墨江哈尼族自治县" in text and "振兴贷" in text and "2025" in text
    assert "ZXD2025-%04d" % run.pk in text
    approval = run.transitions.get(to_state=State.APPROVED)
    submission = run.transitions.get(to_state=State.SUBMITTED)
    assert "赵审批" in text and "钱提交" in text
    for moment in (approval.at, submission.at, report.requested_at):
        assert timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") in text
    for office in (
        ("Organisation", "组织部"),
        ("Co-operative", "信用社"),
        ("Finance", "财政局"),
    ):
        assert any(word in text for word in office), office
    signature_words = (("Handled by", "经办人"), ("Checked by", "审核人"), ("Head:", "负责人"))
    for words in signature_words:
        assert sum(text.count(word) for word in words) == 3, words


def test_identifiers_are_masked_and_phones_left_out(cast, run, tmp_path):
    text = "\n".join(pdf_pages(payout_pdf(report_of(run, cast), no_progress).content, tmp_path))
    assert not LONG_ID.search(text)
    assert not PHONE.search(text)
    for line in listed(run):
        assert line.loan.application.borrower.id_number not in text
        assert line.loan.application.borrower.phone not in text


def test_a_townships_list_has_its_lines_only(cast, run, tmp_path):
    built = payout_pdf(report_of(run, cast, township=cast.township_b), no_progress)
    text = "\n".join(pdf_pages(built.content, tmp_path))

    own = listed(run, cast.township_b)
    assert built.row_count == own.count() == 2
    for line in listed(run):
        assert (line.loan.contract_no in text) == (line.township == cast.township_b)
    assert len(lines_with(text, money(own.aggregate(due=Sum("amount_due"))["due"]))) == 2
    assert cast.township_a.name not in text


def test_adjustments_get_their_own_columns_and_the_paid_column_adds_them(cast, run, tmp_path):
    line = listed(run).get(loan__application__borrower__name="李四")
    # As if an earlier year's recomputation had been carried into this run.
    SubsidyLine.objects.filter(pk=line.pk).update(
        adjustment=Decimal("-19.95"), amount_due=line.subsidy - Decimal("19.95")
    )
    line.refresh_from_db()
    text = "\n".join(pdf_pages(payout_pdf(report_of(run, cast), no_progress).content, tmp_path))

    row = line_of_text(text, line.loan.contract_no)
    assert money(line.subsidy) in row and "-19.95" in row and money(line.amount_due) in row
    total = listed(run).aggregate(subsidy=Sum("subsidy"), due=Sum("amount_due"))
    assert total["subsidy"] - total["due"] == Decimal("19.95")
    (total_line,) = lines_with(text, money(total["due"]))
    assert money(total["subsidy"]) in total_line and "-19.95" in total_line


def test_only_an_approved_or_paid_run_has_a_payout_list(cast, programme, loans):
    run = computed_run(cast, programme)
    with pytest.raises(ValidationError) as error:
        payout_pdf(report_of(run, cast), no_progress)
    assert "approved" in error.value.messages[0] or "审批" in error.value.messages[0]
    subsidy_run_submit(actor=cast.county, run=run)
    run.refresh_from_db()
    for build in (payout_pdf, payout_xlsx):
        with pytest.raises(ValidationError):
            build(report_of(run, cast), no_progress)


def test_progress_is_reported_through_the_layout(cast, run):
    calls = []
    payout_pdf(report_of(run, cast), lambda percent, stage: calls.append((percent, stage)))
    percents = [percent for percent, _stage in calls]
    assert percents == sorted(percents) and percents[-1] == 100 and len(calls) >= 4
    assert all(stage for _percent, stage in calls)
    # Between the start of the layout (10 %) and the writing (85 %): each page laid out.
    assert any(10 < percent < 85 for percent in percents), calls


def test_the_spreadsheet_has_the_same_rows_subtotals_and_one_grand_total(cast, run):
    built = payout_xlsx(report_of(run, cast, format=Report.Format.XLSX), no_progress)
    sheet = load_workbook(io.BytesIO(built.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    header_index = next(
        i for i, row in enumerate(rows) if row[5] in ("Contract number", "合同编号")
    )
    assert sheet.freeze_panes == "A%d" % (header_index + 2)
    body = rows[header_index + 1 :]
    contracts = {line.loan.contract_no: line for line in listed(run)}
    assert built.row_count == len(contracts) == 5

    data = [row for row in body if row[5] in contracts]
    assert len(data) == 5
    for row in data:
        line = contracts[row[5]]
        assert row[3] == line.loan.application.borrower.name
        assert row[4] == mask_resident_id(line.loan.application.borrower.id_number)
        assert [Decimal(str(value)).quantize(Decimal("0.01")) for value in row[6:9]] == [
            line.loan.principal,
            line.reported_interest,
            line.amount_due,
        ]
        assert isinstance(row[8], (int, float, Decimal))

    due = listed(run).aggregate(due=Sum("amount_due"))["due"]
    for township in (cast.township_a, cast.township_b):
        township_due = listed(run, township).aggregate(due=Sum("amount_due"))["due"]
        subtotal = [row for row in body if row[1] and township.name in row[1] and row[5] is None]
        assert len(subtotal) == 1
        assert Decimal(str(subtotal[0][8])).quantize(Decimal("0.01")) == township_due
    totals = [
        row
        for row in body
        if isinstance(row[8], (int, float, Decimal))
        and Decimal(str(row[8])).quantize(Decimal("0.01")) == due
    ]
    assert len(totals) == 1 and totals[0] is body[-2]
    everything = " ".join(str(value) for row in rows for value in row if value is not None)
    assert not LONG_ID.search(everything) and not PHONE.search(everything)
    assert "赵审批" in everything and "钱提交" in everything


def test_page_one_renders_to_an_image(cast, run, tmp_path):
    content = payout_pdf(report_of(run, cast), no_progress).content
    (tmp_path / "list.pdf").write_bytes(content)
    if os.environ.get("REPORTS_KEEP_PDF"):
        Path(os.environ["REPORTS_KEEP_PDF"]).write_bytes(content)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "list.pdf", "page"],
        check=True,
        cwd=tmp_path,
    )
    (image,) = tmp_path.glob("page*.png")
    assert image.stat().st_size > 20_000


def test_a_long_list_repeats_its_header_and_totals_once_on_the_last_page(
    cast, programme, coop, tmp_path
):
    for number, township in enumerate((cast.township_a, cast.township_b)):
        loan_book_create(
            actor=cast.county,
            township=township,
            programme=programme,
            coop=coop,
            count=60,
            first_index=number * 60,
        )
    run = approve(cast, computed_run(cast, programme))
    content = payout_pdf(report_of(run, cast), no_progress).content
    pages = pdf_pages(content, tmp_path)
    total = page_count(content, tmp_path)

    assert len(pages) == total >= 3
    due = money(listed(run).aggregate(due=Sum("amount_due"))["due"])
    for number, page in enumerate(pages, start=1):
        assert "第%d页共%d页" % (number, total) in compact(page)
        if number < total:  # the last may hold only the total and the signatures
            assert "合同编号" in page  # the table's header, on every page
        assert (due in page) == (number == total), number
    text = "\n".join(pages)
    assert len(lines_with(text, due)) == 1
    assert all(line.loan.contract_no in text for line in listed(run))
    assert not LONG_ID.search(text) and not PHONE.search(text)


@pytest.mark.parametrize(
    "amount, words",
    [
        ("3967.49", "叁仟玖佰陆拾柒元肆角玖分"),
        ("100000.00", "壹拾万元整"),
        ("1002.05", "壹仟零贰元零伍分"),
        ("10010000.10", "壹仟零壹万元壹角"),
        ("100001000.00", "壹亿零壹仟元整"),
        ("0.07", "柒分"),
        ("0.00", "零元整"),
    ],
)
def test_amounts_in_words(amount, words):
    assert amount_in_words(Decimal(amount)) == words


def test_an_enterprises_loan_is_listed_under_the_enterprise(cast, programme, lend):
    """As in tests/subsidies/payout/test_services.py: no shipped programme lends to
    enterprises, so a loan is turned into an enterprise's by hand."""
    from beneficiaries.models import Enterprise, Industry
    from beneficiaries.registry.services import enterprise_create
    from divisions.models import Division
    from loans.models import Application
    from tests.beneficiaries.registry.test_services import credit_code

    loan = lend()
    village = Division.objects.get(code=cast.township_a.code + "001")
    enterprise = enterprise_create(
        actor=cast.county,
        name="墨江县碧溪生猪养殖专业合作社",
        kind=Enterprise.Kind.COOPERATIVE,
        credit_code=credit_code(1),
        legal_representative="李四",
        village=village,
        industry=Industry.objects.get(name="生猪"),
    )
    Application.objects.filter(pk=loan.application_id).update(
        borrower=None, household=None, enterprise=enterprise
    )
    run = approve(cast, computed_run(cast, programme))

    (row,) = payout_rows(run)
    assert (row.name, row.village, row.masked_id, row.contract_no) == (
        enterprise.name,
        village.name,
        mask_resident_id(enterprise.credit_code),
        loan.contract_no,
    )
    assert row.amount_due == run.lines.get().amount_due > 0
