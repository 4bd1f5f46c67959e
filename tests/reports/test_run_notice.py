"""The public notice (公示) of a subsidy run, read back with ``pdftotext``:
name, village and amount of the people the run pays, and nothing that
identifies them further; the notice period; where to object.

The run is the payout list's (tests/reports/test_payout_list.py): five
loans to pay in two townships, one with nothing to pay.
"""

import datetime
import os
import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone

from common.masking import mask_phone, mask_resident_id
from reports.builders import no_progress
from reports.models import Report
from reports.run_notice import run_notice_pdf
from subsidies.models import SubsidyRun
from subsidies.runs.services import subsidy_run_submit
from tests.reports import test_payout_list as payout
from tests.reports.test_payout_list import (
    LONG_ID,
    PHONE,
    approve,
    compact,
    computed_run,
    lines_with,
    listed,
    money,
    pdf_pages,
)

programme = payout.programme
coop = payout.coop
groups = payout.groups
people = payout.people
lend = payout.lend
launch_at_once = payout.launch_at_once
loans = payout.loans

State = SubsidyRun.State
POSTED_ON = datetime.date(2026, 2, 10)


def notice_of(run, cast, *, township=None, as_of=POSTED_ON) -> Report:
    return Report(
        county=cast.county_division,
        kind=Report.Kind.RUN_NOTICE,
        format=Report.Format.PDF,
        run=run,
        township=township,
        as_of=as_of,
        requested_by=cast.county,
        requested_at=timezone.now(),
        state=Report.State.RUNNING,
    )


@pytest.fixture
def submitted(cast, programme, loans) -> SubsidyRun:
    run = computed_run(cast, programme)
    return subsidy_run_submit(actor=cast.county, run=run)


def test_the_notice_lists_name_village_and_amount_of_everyone_paid(cast, submitted, tmp_path):
    built = run_notice_pdf(notice_of(submitted, cast), no_progress)
    text = "\n".join(pdf_pages(built.content, tmp_path))

    lines = list(listed(submitted))
    assert built.row_count == len(lines) == 5
    for line in lines:
        borrower = line.loan.application.borrower
        (row,) = [row for row in text.splitlines() if borrower.name in row]
        assert line.loan.application.household.village_group.parent.name in row
        assert money(line.amount_due) in row
    assert "周零" not in text  # nothing to pay: not listed

    for township in (cast.township_a, cast.township_b):
        due = listed(submitted, township).aggregate(due=Sum("amount_due"))["due"]
        assert len([row for row in lines_with(text, money(due)) if township.name in row]) == 1
    total = listed(submitted).aggregate(due=Sum("amount_due"))["due"]
    assert len(lines_with(text, money(total))) == 1


def test_the_notice_shows_no_identifier_contract_or_phone(cast, submitted, tmp_path):
    text = "\n".join(
        pdf_pages(run_notice_pdf(notice_of(submitted, cast), no_progress).content, tmp_path)
    )

    assert not LONG_ID.search(text) and not PHONE.search(text)
    assert "*" not in text  # not even masked
    for line in listed(submitted):
        borrower = line.loan.application.borrower
        assert line.loan.contract_no not in text
        assert mask_resident_id(borrower.id_number) not in text
        assert mask_phone(borrower.phone) not in text
        assert money(line.loan.principal) not in text


def test_the_notice_period_runs_the_programmes_notice_days_from_its_date(
    cast, programme, submitted, tmp_path
):
    assert programme.notice_days == 10
    text = compact(
        "\n".join(
            pdf_pages(run_notice_pdf(notice_of(submitted, cast), no_progress).content, tmp_path)
        )
    )
    assert "公示期：2026年2月10日至2026年2月19日" in text
    assert "振兴贷办公室2026年2月10日" in text  # the issuer, dated the first day

    unset = notice_of(submitted, cast, as_of=None)
    asked_on = timezone.localdate(unset.requested_at)
    text = compact("\n".join(pdf_pages(run_notice_pdf(unset, no_progress).content, tmp_path)))
    last = asked_on + datetime.timedelta(days=9)
    assert "公示期：%s至%s" % (chinese_date(asked_on), chinese_date(last)) in text


def chinese_date(day: datetime.date) -> str:
    return "%d年%d月%d日" % (day.year, day.month, day.day)


def test_the_notice_says_where_to_object(cast, submitted, tmp_path):
    built = run_notice_pdf(notice_of(submitted, cast), no_progress)
    text = compact("\n".join(pdf_pages(built.content, tmp_path)))
    assert any(word in text for word in ("OrganisationDepartment", "组织部"))
    assert any(word in text for word in ("people'sgovernment", "人民政府"))
    assert "云南省普洱市墨江哈尼族自治县振兴贷办公室" in text
    assert "第1页共1页" in text
    if os.environ.get("REPORTS_KEEP_PDF"):
        Path(os.environ["REPORTS_KEEP_PDF"]).write_bytes(built.content)


def test_a_townships_notice_lists_its_people_only(cast, submitted, tmp_path):
    built = run_notice_pdf(notice_of(submitted, cast, township=cast.township_b), no_progress)
    text = "\n".join(pdf_pages(built.content, tmp_path))

    assert built.row_count == 2
    for line in listed(submitted):
        name = line.loan.application.borrower.name
        assert (name in text) == (line.township == cast.township_b), name
    assert cast.township_a.name not in text
    assert cast.township_b.name in re.sub(r"\s+", "", text)


def test_submitted_approved_and_paid_runs_may_be_noticed_but_not_earlier(cast, programme, loans):
    run = computed_run(cast, programme)
    with pytest.raises(ValidationError):
        run_notice_pdf(notice_of(run, cast), no_progress)
    run = approve(cast, run)
    assert run.state == State.APPROVED
    assert run_notice_pdf(notice_of(run, cast), no_progress).row_count == 5
