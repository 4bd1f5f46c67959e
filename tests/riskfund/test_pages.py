"""The fund's pages through the test client (DOMAIN.md section 8): the
funds side by side and a fund's page with its figures, finance's deposit
form, a claim filed, checked and approved in the browser, who may do what,
and the statement as PDF and workbook.

The pages show money with ``floatformat:"2g"``, which in zh-hans has no
thousands separator: 1,968,000.00 yuan reads ``1968000.00``."""

import datetime
import io
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from openpyxl import load_workbook

from accounts.roles import Role
from accounts.services import user_create
from divisions.models import Division
from divisions.services import divisions_load
from loans.models import Loan
from riskfund import selectors
from riskfund.models import Claim, Movement
from riskfund.services import fund_save, movement_record
from tests.conftest import PASSWORD
from tests.loans.conftest import programme_for
from tests.pdf import pdf_text
from tests.riskfund.conftest import (
    CLAIM_DAY,
    checked_and_approved,
    deposit,
    file,
    overdue_loan,
)

D = datetime.date
State = Claim.State
NINGER = "530821"  # 宁洱, beside Mojiang in 普洱市
FUND_NAME = "墨江县振兴贷风险补偿金"


@pytest.fixture
def loan(cast, programme, people, coop, fund):
    """Section 8's loan, lent while the fund held 20,000 (deposited on
    10 January 2025, voucher D-0)."""
    deposit(cast, fund, "20000.00", voucher="D-0")
    return overdue_loan(cast, programme, people, coop)


@pytest.fixture
def other_county(cast):
    """宁洱's county office and its finance officer."""
    ninger = divisions_load(counties=[NINGER]).county
    return {
        role: user_create(username=f"ninger-{role}", password=PASSWORD, role=role, county=ninger)
        for role in (Role.COUNTY, Role.FINANCE)
    }


def as_user(client, user):
    client.force_login(user)
    return client


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def html_of(response) -> str:
    return response.content.decode()


def by_testid(response, testid: str) -> str:
    """The text of the element marked ``data-testid`` (one with no element of
    its own tag inside it)."""
    match = re.search(
        rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>', html_of(response), re.S
    )
    assert match, f"no data-testid={testid}"
    return text(match.group(2))


def rows_of(response, testid: str) -> list[list[str]]:
    """The body rows of the table marked ``data-testid``, as cell texts (th and td)."""
    table = re.search(
        rf'<table[^>]*data-testid="{testid}"[^>]*>(.*?)</table>', html_of(response), re.S
    )
    assert table, testid
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(1), re.S)
    body = body.group(1) if body else table.group(1)  # a table of facts has no tbody
    return [
        [text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def field_error(response, name: str) -> str:
    """The error shown under a field of the page's form ('' if none)."""
    match = re.search(rf'data-testid="error-{name}">(.*?)</div>', html_of(response), re.S)
    return text(match.group(1)) if match else ""


def zh(message: str) -> str:
    with translation.override("zh-hans"):
        return gettext(message)


# --- The list and the fund's page ---------------------------------------------------


def test_the_list_shows_each_funds_balance_limit_and_rates(client, cast, fund, loan):
    """20,000 at leverage 10: a limit of 200,000, of which the 40,000
    outstanding is 20 %; that loan is overdue past 90 days, so all of it
    is non-performing, above the 5 % tolerance."""
    response = as_user(client, cast.county).get(reverse("riskfund:list"))
    assert response.status_code == 200
    [row] = rows_of(response, "funds")
    assert row[:7] == [
        FUND_NAME,
        "墨江哈尼族自治县",
        "20,000.00",
        "200,000.00",
        "40,000.00",
        "20.00 %",
        "40,000.00",
    ]
    assert row[7].startswith("100.00 % / 5.00 %")
    assert f'href="{reverse("riskfund:detail", args=[fund.pk])}"' in html_of(response)


def test_the_city_sees_its_counties_funds_side_by_side(client, cast, fund, other_county):
    """Each county's own office sees its own fund; the city office (普洱市)
    and the province see both, one row each, read-only."""
    deposit(cast, fund, "20000.00", voucher="D-0")
    ninger = Division.objects.get(code=NINGER)
    theirs = fund_save(
        actor=other_county[Role.COUNTY],
        name="宁洱县振兴贷风险补偿金",
        programmes=[programme_for(ninger)],
    )
    movement_record(
        actor=other_county[Role.FINANCE],
        fund=theirs,
        kind="deposit",
        on=D(2025, 2, 1),
        amount=Decimal("3000.00"),
        voucher="NE-1",
    )
    for who in (cast.city, cast.province):
        response = as_user(Client(), who).get(reverse("riskfund:list"))
        assert response.status_code == 200
        rows = {row[0]: row[1:3] for row in rows_of(response, "funds")}
        assert rows == {
            FUND_NAME: ["墨江哈尼族自治县", "20,000.00"],
            "宁洱县振兴贷风险补偿金": ["宁洱哈尼族彝族自治县", "3,000.00"],
        }, who
        if who == cast.province:  # a city sets up funds; a province only reads
            assert reverse("riskfund:create") not in html_of(response)
    for who, name in ((cast.county, FUND_NAME), (other_county[Role.COUNTY], theirs.name)):
        rows = rows_of(as_user(Client(), who).get(reverse("riskfund:list")), "funds")
        assert [row[0] for row in rows] == [name]


def test_the_funds_page_shows_its_standing_rule_and_claims(client, cast, coop, fund, loan):
    claim = file(cast, coop, loan)
    response = as_user(client, cast.county).get(reverse("riskfund:detail", args=[fund.pk]))
    assert response.status_code == 200
    assert by_testid(response, "balance") == "20,000.00"
    assert by_testid(response, "limit") == "200,000.00"
    assert by_testid(response, "leverage-used") == "20.00 %"
    assert by_testid(response, "npl-rate") == "100.00 %"
    lent = zh("%(committed)s yuan lent or approved") % {"committed": "40,000.00"}
    assert lent in text(html_of(response))
    # At the tolerance or above: the page warns, and says nothing of the leverage.
    # (A template's msgid keeps "%" doubled.)
    warning = by_testid(response, "fund-warning")
    tolerance = "The non-performing rate is at 90 %% of the tolerance or more: at the "
    leverage = "90 %% of the leverage limit is reached: approvals of covered programmes "
    assert zh(tolerance + "tolerance, lending under the fund stops.") % () in warning
    assert zh(leverage + "will soon be refused until finance deposits more.") % () not in warning
    parameters = {row[0]: row[1] for row in rows_of(response, "parameters")}
    assert parameters[zh("Claim after days overdue")] == "90"
    assert parameters[zh("Leverage")] == "10"
    assert parameters[zh("Non-performing tolerance")] == "5.00 %"
    [row] = rows_of(response, "claims")
    assert row == [
        "C-1",
        "MJ-2025-0001",
        cast.township_a.name,
        "2026-06-19",
        "91",
        "40,000.00",
        "32,000.00",
        "8,000.00",
        zh("Filed"),
    ]
    assert f'href="{reverse("riskfund:claim", args=[claim.pk])}"' in html_of(response)
    # The county checks; it neither deposits nor files.
    assert 'data-testid="record-deposit"' not in html_of(response)


def test_the_funds_page_after_a_claim_is_paid(client, cast, coop, fund, loan):
    deposit(cast, fund, "1980000.00", voucher="D-1", on=D(2026, 1, 5))
    checked_and_approved(cast, file(cast, coop, loan))
    response = as_user(client, cast.county).get(
        reverse("riskfund:detail", args=[fund.pk]), {"on": "2026-06-30"}
    )
    assert by_testid(response, "balance") == "1,968,000.00"
    assert by_testid(response, "limit") == "19,680,000.00"
    # The compensated loan is written off: nothing is outstanding any more.
    assert by_testid(response, "leverage-used") == "0.00 %"
    assert by_testid(response, "npl-rate") == "0.00 %"
    statement = [row[1] for row in rows_of(response, "statement")]
    assert statement[:6] == [
        "20,000.00",
        "+1,980,000.00",
        "+0.00",
        "−32,000.00",
        "+0.00",
        "1,968,000.00",
    ]
    movements = rows_of(response, "movements")
    assert [row[:5] for row in movements] == [
        ["2026-01-05", zh("Deposit"), "1,980,000.00", "D-1", "—"],
        ["2026-06-19", zh("Compensation paid"), "-32,000.00", "P-1", "C-1"],
    ]
    [claim] = rows_of(response, "claims")
    assert claim[-1] == zh("Paid")


def test_a_fund_that_does_not_exist_is_a_404(client, cast, fund):
    response = as_user(client, cast.county).get(reverse("riskfund:detail", args=[fund.pk + 99]))
    assert response.status_code == 404


# --- Deposits -----------------------------------------------------------------------


def test_finance_records_a_deposit_and_the_balance_follows(client, cast, fund):
    deposit(cast, fund, "20000.00", voucher="D-0")
    client = as_user(client, cast.finance)
    url = reverse("riskfund:movement_create", args=[fund.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert zh("Record a deposit or interest") in html_of(page)
    assert "20,000.00" in html_of(page)  # the balance now
    response = client.post(
        url,
        {"kind": "deposit", "on": "2026-01-05", "amount": "1980000.00", "voucher": "D-1"},
    )
    assert response.status_code == 302
    assert response.url == reverse("riskfund:detail", args=[fund.pk])
    movement = Movement.objects.get(voucher="D-1")
    assert (movement.kind, movement.on, movement.amount, movement.recorded_by) == (
        Movement.Kind.DEPOSIT,
        D(2026, 1, 5),
        Decimal("1980000.00"),
        cast.finance,
    )
    response = client.post(
        url, {"kind": "interest", "on": "2026-03-21", "amount": "123.45", "voucher": "I-1"}
    )
    assert response.status_code == 302
    assert selectors.balance(fund) == Decimal("2000123.45")
    page = client.get(reverse("riskfund:detail", args=[fund.pk]))
    assert by_testid(page, "balance") == "2,000,123.45"
    assert by_testid(page, "limit") == "20,001,234.50"
    assert 'data-testid="record-deposit"' in html_of(page)


def _tomorrow() -> str:
    return (timezone.localdate() + datetime.timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "0.00"}, "amount"),
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": ""}, "amount"),
        ({"voucher": ""}, "voucher"),
        ({"voucher": "   "}, "voucher"),
        ({"voucher": "D-0"}, "voucher"),  # already recorded in this fund
        ({"on": "tomorrow"}, "on"),
        ({"on": ""}, "on"),
        ({"kind": "compensation"}, "kind"),  # not finance's to type
    ],
)
def test_a_bad_deposit_is_refused_with_a_field_error_and_nothing_changes(
    client, cast, fund, change, field
):
    deposit(cast, fund, "20000.00", voucher="D-0")
    body = {"kind": "deposit", "on": "2026-01-05", "amount": "500.00", "voucher": "D-9"}
    body.update(change)
    if body["on"] == "tomorrow":
        body["on"] = _tomorrow()
    before = Movement.objects.count()
    response = as_user(client, cast.finance).post(
        reverse("riskfund:movement_create", args=[fund.pk]), body
    )
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert field_error(response, field)
    assert 'data-testid="form-errors"' in html_of(response)
    assert Movement.objects.count() == before
    assert selectors.balance(fund) == Decimal("20000.00")


def test_a_deposit_dated_today_is_accepted(client, cast, fund):
    response = as_user(client, cast.finance).post(
        reverse("riskfund:movement_create", args=[fund.pk]),
        {
            "kind": "deposit",
            "on": timezone.localdate().isoformat(),
            "amount": "0.01",
            "voucher": "D-1",
        },
    )
    assert response.status_code == 302
    assert selectors.balance(fund) == Decimal("0.01")


# --- A claim in the browser ---------------------------------------------------------


def test_a_claim_is_filed_checked_approved_and_paid_in_the_browser(
    client, cast, coop, programme, fund, loan
):
    """With the principal-and-interest loss: 40,439.83 lost, 32,351.86 paid."""
    county = as_user(Client(), cast.county)
    edit = county.post(
        reverse("riskfund:edit", args=[fund.pk]),
        {
            "name": fund.name,
            "fund_share": "0.8000",
            "claim_days": "90",
            "loss_basis": "principal_interest",
            "leverage": "10.00",
            "tolerance": "0.0500",
            "account": "",
            "programmes": [programme.pk],
        },
    )
    assert edit.status_code == 302
    deposit(cast, fund, "1980000.00", voucher="D-1", on=D(2026, 1, 5))
    before = selectors.balance(fund)
    assert before == Decimal("2000000.00")

    # The co-op files: the contract number, its claim id, the claim date.
    co_op = as_user(Client(), cast.coop)
    assert co_op.get(reverse("riskfund:claim_create")).status_code == 200
    body = {"contract_no": "MJ-2025-0001", "claim_id": "C-1", "claimed_on": "2026-06-19"}
    response = co_op.post(reverse("riskfund:claim_create"), body)
    claim = Claim.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("riskfund:claim", args=[claim.pk])
    assert (claim.state, claim.coop, claim.loan, claim.claimed_on, claim.filed_by) == (
        State.FILED,
        coop,
        loan,
        CLAIM_DAY,
        cast.coop,
    )
    assert (claim.loss, claim.compensation, claim.bank_share) == (
        Decimal("40439.83"),
        Decimal("32351.86"),
        Decimal("8087.97"),
    )
    # The same claim again is the same claim.
    again = co_op.post(reverse("riskfund:claim_create"), body)
    assert (again.status_code, again.url) == (302, response.url)
    assert Claim.objects.count() == 1

    page = county.get(response.url)
    assert page.status_code == 200
    assert by_testid(page, "loss") == "40,439.83"
    assert by_testid(page, "compensation") == "32,351.86"
    assert 'data-testid="check-form"' in html_of(page)
    assert 'data-testid="approve-form"' not in html_of(page)

    # The county checks it.
    response = county.post(reverse("riskfund:claim_check", args=[claim.pk]), {"decision": "accept"})
    assert response.status_code == 302
    claim.refresh_from_db()
    assert (claim.state, claim.checked_by) == (State.CHECKED, cast.county)
    assert selectors.balance(fund) == before

    # Finance approves it with the payment's voucher, and the fund pays.
    finance = as_user(Client(), cast.finance)
    page = finance.get(reverse("riskfund:claim", args=[claim.pk]))
    assert 'data-testid="approve-form"' in html_of(page)
    response = finance.post(
        reverse("riskfund:claim_approve", args=[claim.pk]),
        {"voucher": "P-1", "on": "2026-06-19"},
    )
    assert response.status_code == 302
    assert response.url == reverse("riskfund:claim", args=[claim.pk])
    claim.refresh_from_db()
    assert (claim.state, claim.approved_by, claim.voucher, claim.paid_on) == (
        State.PAID,
        cast.finance,
        "P-1",
        CLAIM_DAY,
    )
    after = selectors.balance(fund)
    assert before - after == Decimal("32351.86") == claim.compensation
    paid = Movement.objects.get(kind=Movement.Kind.COMPENSATION)
    assert (paid.amount, paid.voucher, paid.claim) == (Decimal("-32351.86"), "P-1", claim)
    assert Loan.objects.get(pk=loan.pk).written_off_on == CLAIM_DAY

    page = finance.get(response.url)
    assert by_testid(page, "claim-state") == zh("Paid")
    assert "P-1" in by_testid(page, "steps")
    assert 'data-testid="approve-form"' not in html_of(page)
    page = county.get(reverse("riskfund:detail", args=[fund.pk]))
    assert by_testid(page, "balance") == "1,967,648.14"


def test_a_claim_the_system_refuses_is_shown_on_its_field(client, cast, coop, fund, loan):
    co_op = as_user(client, cast.coop)
    url = reverse("riskfund:claim_create")
    base = {"contract_no": "MJ-2025-0001", "claim_id": "C-1", "claimed_on": "2026-06-19"}
    for change, field in (
        ({"contract_no": "MJ-2025-9999"}, "contract_no"),
        ({"claimed_on": "2026-06-17"}, "claimed_on"),  # 89 days overdue
        ({"claimed_on": _tomorrow()}, "claimed_on"),
        ({"claimed_on": ""}, "claimed_on"),
        ({"claim_id": ""}, "claim_id"),
    ):
        response = co_op.post(url, {**base, **change})
        assert response.status_code == 400, change
        assert field in response.context["form"].errors, change
        assert field_error(response, field), change
    assert not Claim.objects.exists()
    # A claim id used once cannot name another claim.
    assert co_op.post(url, base).status_code == 302
    response = co_op.post(url, {**base, "claimed_on": "2026-06-20"})
    assert response.status_code == 400
    assert "claim_id" in response.context["form"].errors
    assert Claim.objects.count() == 1


def test_a_reject_needs_a_reason(client, cast, coop, fund, loan):
    claim = file(cast, coop, loan)
    county = as_user(client, cast.county)
    url = reverse("riskfund:claim_check", args=[claim.pk])
    for body, field in (
        ({"decision": "reject", "comment": ""}, "comment"),
        ({"decision": "reject", "comment": "   "}, "comment"),
        ({"comment": "材料不全"}, "decision"),
        ({"decision": "maybe"}, "decision"),
    ):
        response = county.post(url, body)
        assert response.status_code == 400, body
        assert field in response.context["check_form"].errors, body
        assert field_error(response, field), body
        claim.refresh_from_db()
        assert (claim.state, claim.checked_by) == (State.FILED, None)
    response = county.post(url, {"decision": "reject", "comment": "材料不全"})
    assert response.status_code == 302
    claim.refresh_from_db()
    assert (claim.state, claim.comment, claim.checked_by) == (
        State.REJECTED,
        "材料不全",
        cast.county,
    )


def test_the_checker_may_not_also_approve(client, cast, coop, fund, loan):
    """A finance officer who may also check (say, standing in for the county
    office) checks a claim; they are refused its approval, another finance
    officer approves it."""
    deposit(cast, fund, "1980000.00", voucher="D-1", on=D(2026, 1, 5))
    cast.finance.user_permissions.add(
        Permission.objects.get(content_type__app_label="riskfund", codename="check_claim")
    )
    claim = file(cast, coop, loan)
    finance = as_user(client, cast.finance)
    response = finance.post(
        reverse("riskfund:claim_check", args=[claim.pk]), {"decision": "accept"}
    )
    assert response.status_code == 302
    claim.refresh_from_db()
    assert (claim.state, claim.checked_by) == (State.CHECKED, cast.finance)

    url = reverse("riskfund:claim_approve", args=[claim.pk])
    response = finance.post(url, {"voucher": "P-1", "on": "2026-06-19"})
    assert response.status_code == 400
    assert response.context["approve_form"].non_field_errors()
    assert zh("You checked this claim; another person approves it.") in by_testid(
        response, "form-errors"
    )
    claim.refresh_from_db()
    assert (claim.state, claim.approved_by) == (State.CHECKED, None)
    assert not Movement.objects.filter(kind=Movement.Kind.COMPENSATION).exists()
    assert Loan.objects.get(pk=loan.pk).written_off_on is None
    assert selectors.balance(fund) == Decimal("2000000.00")

    other = user_create(
        username="finance-2", password=PASSWORD, role=Role.FINANCE, county=cast.county_division
    )
    response = as_user(Client(), other).post(url, {"voucher": "P-1", "on": "2026-06-19"})
    assert response.status_code == 302
    claim.refresh_from_db()
    assert (claim.state, claim.approved_by) == (State.PAID, other)
    assert selectors.balance(fund) == Decimal("1968000.00")


def test_an_approval_needs_a_voucher_not_yet_used(client, cast, coop, fund, loan):
    claim = file(cast, coop, loan)
    as_user(Client(), cast.county).post(
        reverse("riskfund:claim_check", args=[claim.pk]), {"decision": "accept"}
    )
    finance = as_user(client, cast.finance)
    url = reverse("riskfund:claim_approve", args=[claim.pk])
    for body, field in (
        ({"voucher": "", "on": "2026-06-19"}, "voucher"),
        ({"voucher": "D-0", "on": "2026-06-19"}, "voucher"),  # the deposit's
        ({"voucher": "P-1", "on": "19 June"}, "on"),
    ):
        response = finance.post(url, body)
        assert response.status_code == 400, body
        assert field in response.context["approve_form"].errors, body
        assert field_error(response, field), body
    claim.refresh_from_db()
    assert claim.state == State.CHECKED
    assert Movement.objects.count() == 1


def test_an_approved_claim_above_the_balance_waits_on_its_page(client, cast, coop, fund, loan):
    claim = checked_and_approved(cast, file(cast, coop, loan))
    assert claim.state == State.APPROVED
    page = as_user(client, cast.finance).get(reverse("riskfund:claim", args=[claim.pk]))
    waiting = by_testid(page, "waiting")
    assert "20,000.00" in waiting and "32,000.00" in waiting

    # A deposit that covers it pays it, and finance is told so.
    body = {"kind": "deposit", "on": "2026-06-20", "amount": "12000.00", "voucher": "D-2"}
    response = as_user(client, cast.finance).post(
        reverse("riskfund:movement_create", args=[fund.pk]), body, follow=True
    )
    shown = [str(message) for message in response.context["messages"]]
    assert shown == ["已登记存入 12,000.00 元。", "待资金的申请 C-1 现已支付。"]
    claim.refresh_from_db()
    assert (claim.state, claim.paid_on) == (State.PAID, D(2026, 6, 20))  # the deposit's day
    assert selectors.balance(fund) == Decimal("0.00")


# --- Who may and who may not -------------------------------------------------------


def test_only_finance_records_a_deposit(client, cast, fund, other_county):
    deposit(cast, fund, "20000.00", voucher="D-0")
    url = reverse("riskfund:movement_create", args=[fund.pk])
    body = {"kind": "deposit", "on": "2026-01-05", "amount": "500.00", "voucher": "D-9"}
    refused = {
        "township_officer_a": 403,
        "auditor": 403,
        "county": 403,
        "coop": 403,
        "city": 403,
    }
    for who, status in refused.items():
        client = as_user(Client(), getattr(cast, who))
        assert client.get(url).status_code == status, who
        assert client.post(url, body).status_code == status, who
    # Another county's finance officer does not find Mojiang's fund.
    client = as_user(Client(), other_county[Role.FINANCE])
    assert client.get(url).status_code == 404
    assert client.post(url, body).status_code == 404
    assert Movement.objects.count() == 1
    assert selectors.balance(fund) == Decimal("20000.00")


def test_only_finance_approves_and_only_the_county_checks(client, cast, coop, fund, loan):
    claim = file(cast, coop, loan)
    check = reverse("riskfund:claim_check", args=[claim.pk])
    for who in ("township_officer_a", "auditor", "finance", "coop"):
        response = as_user(Client(), getattr(cast, who)).post(check, {"decision": "accept"})
        assert response.status_code == 403, who
    claim.refresh_from_db()
    assert claim.state == State.FILED

    as_user(Client(), cast.county).post(check, {"decision": "accept"})
    approve = reverse("riskfund:claim_approve", args=[claim.pk])
    for who in ("township_officer_a", "auditor", "county", "coop"):
        response = as_user(Client(), getattr(cast, who)).post(
            approve, {"voucher": "P-1", "on": "2026-06-19"}
        )
        assert response.status_code == 403, who
    claim.refresh_from_db()
    assert (claim.state, claim.approved_by) == (State.CHECKED, None)
    assert Movement.objects.count() == 1


def test_another_countys_office_does_not_find_this_fund(
    client, cast, coop, fund, loan, other_county
):
    claim = file(cast, coop, loan)
    client = as_user(client, other_county[Role.COUNTY])
    for name in ("detail", "edit", "statement_pdf", "statement_xlsx"):
        response = client.get(reverse(f"riskfund:{name}", args=[fund.pk]))
        assert response.status_code == 404, name
    assert client.get(reverse("riskfund:claim", args=[claim.pk])).status_code == 404
    response = client.post(reverse("riskfund:claim_check", args=[claim.pk]), {"decision": "accept"})
    assert response.status_code == 404
    claim.refresh_from_db()
    assert claim.state == State.FILED
    listing = client.get(reverse("riskfund:list"))
    assert listing.status_code == 200
    assert FUND_NAME not in html_of(listing)


def test_a_township_officer_sees_their_townships_claims_alone(client, cast, coop, fund, loan):
    claim = file(cast, coop, loan)  # township a's loan
    url = reverse("riskfund:claim", args=[claim.pk])
    assert as_user(Client(), cast.township_officer_a).get(url).status_code == 200
    assert as_user(Client(), cast.township_officer_b).get(url).status_code == 404
    # Neither may open the fund itself.
    response = as_user(Client(), cast.township_officer_a).get(
        reverse("riskfund:detail", args=[fund.pk])
    )
    assert response.status_code == 403


# --- The statement ----------------------------------------------------------------


@pytest.fixture
def paid_year(cast, coop, programme, fund, loan):
    """2026 to 30 June: opening 20,000 (deposited in 2025), 1,980,000
    deposited, 123.45 of interest, and the claim with interest paid,
    32,351.86: closing 1,967,771.59."""
    fund = fund_save(
        actor=cast.county, fund=fund, programmes=[programme], loss_basis="principal_interest"
    )
    deposit(cast, fund, "1980000.00", voucher="D-1", on=D(2026, 1, 5))
    deposit(cast, fund, "123.45", voucher="I-1", on=D(2026, 3, 21), kind="interest")
    claim = checked_and_approved(cast, file(cast, coop, loan))
    assert (claim.state, claim.compensation) == (State.PAID, Decimal("32351.86"))
    return fund


FIGURES = {
    "Opening balance": "20,000.00",
    "Deposits": "1,980,000.00",
    "Account interest": "123.45",
    "Compensation paid": "32,351.86",
    "Recoveries returned": "0.00",
    "Closing balance": "1,967,771.59",
}
PERIOD = {"on": "2026-06-30"}


def test_the_statement_pdf(client, cast, paid_year):
    response = as_user(client, cast.finance).get(
        reverse("riskfund:statement_pdf", args=[paid_year.pk]), PERIOD
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert (
        response["Content-Disposition"]
        == f'inline; filename="fund-{paid_year.pk}-2026-01-01-2026-06-30.pdf"'
    )
    pdf = pdf_text(response.content)
    assert FUND_NAME in pdf
    assert "2026年1月1日" in pdf and "2026年6月30日" in pdf
    for label, figure in FIGURES.items():
        line = rf"^\s*{re.escape(zh(label))}\s+{re.escape(figure)}\s*$"
        assert re.search(line, pdf, re.M), (label, figure)
    # The movements and the claim, each with its own figures.
    assert re.search(r"2026-06-19\s+\S+\s+-32,351\.86\s+P-1\s+C-1", pdf)
    assert re.search(r"C-1\s+MJ-2025-0001\s+2026-06-19\s+40,439\.83\s+32,351\.86\s+8,087\.97", pdf)


def test_the_statement_workbook(client, cast, paid_year):
    response = as_user(client, cast.finance).get(
        reverse("riskfund:statement_xlsx", args=[paid_year.pk]), PERIOD
    )
    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="fund-{paid_year.pk}-2026-01-01-2026-06-30.xlsx"'
    )
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    assert sheet["A1"].value == FUND_NAME
    figures = {row[0].value: row[1] for row in sheet.iter_rows(min_row=5) if row[0].value}
    for label, figure in FIGURES.items():
        cell = figures[zh(label)]
        assert isinstance(cell.value, (int, float)), (label, cell.value)
        assert Decimal(str(cell.value)) == Decimal(figure.replace(",", "")), label
        assert cell.number_format == "#,##0.00"
    rate = figures[zh("Non-performing rate")]
    assert rate.value == 0 and rate.number_format == "0.00%"

    movements = book.worksheets[1]
    rows = [[cell.value for cell in row] for row in movements.iter_rows(min_row=2)]
    assert [(row[0].date(), row[2], row[3], row[4]) for row in rows] == [
        (D(2026, 1, 5), 1980000, "D-1", None),
        (D(2026, 3, 21), 123.45, "I-1", None),
        (D(2026, 6, 19), -32351.86, "P-1", "C-1"),
    ]
    claims = book.worksheets[2]
    [claim] = [[cell.value for cell in row] for row in claims.iter_rows(min_row=2)]
    assert claim[:2] == ["C-1", "MJ-2025-0001"]
    assert claim[2].date() == CLAIM_DAY
    assert claim[3:7] == [91, 40439.83, 32351.86, 8087.97]


def test_the_statements_figures_on_the_funds_page(client, cast, paid_year):
    response = as_user(client, cast.auditor).get(
        reverse("riskfund:detail", args=[paid_year.pk]), PERIOD
    )
    assert response.status_code == 200
    statement = {row[0]: row[1] for row in rows_of(response, "statement")}
    assert statement[zh("Opening balance")] == "20,000.00"
    assert statement[zh("Deposits")] == "+1,980,000.00"
    assert statement[zh("Account interest")] == "+123.45"
    assert statement[zh("Compensation paid")] == "−32,351.86"
    assert by_testid(response, "closing") == "1,967,771.59"
    # The PDF and workbook links keep the period asked for.
    assert "statement.pdf?on=2026-06-30" in html_of(response)
    assert "statement.xlsx?on=2026-06-30" in html_of(response)
