"""The Mojiang demo's risk-compensation fund (风险补偿金, DOMAIN.md section 8),
taken through the fund's services as the county office, the finance
bureau and the co-op would:

* 12 November 2024: the county office sets up 墨江县振兴贷风险补偿金 for
  振兴贷 2025, with the defaults of section 8 (fund share 80 %, claims
  after 90 days overdue, the outstanding principal as the loss, leverage
  10, tolerance 5 %);
* 15 November 2024: finance deposits 3,000,000 yuan, enough for the first
  30 million of approvals; 17 January 2025: another 1,500,000, before the
  approvals pass 30 million (on 27 January), so the fund covers the
  programme's whole budget of 45 million and none of the demo's approvals
  is refused by the leverage check;
* 21 December 2025: the account's interest for the year;
* 22 April 2026: the co-op claims for 墨信振兴2025-0083 (联珠镇, 100,000
  yuan, overdue since 21 January): the county checks it on 28 April and
  finance approves it on 8 May, and the fund pays 80,000 at once;
* 15 September 2026: the borrower repays 30,000 of it, posted to the
  ledger as usual, and the fund's 24,000 comes back to it by itself;
* 9 November 2026: the co-op claims for 墨信振兴2025-0187 (鱼塘镇, 95,000
  yuan, overdue since 27 January); the county checks it on 13 November,
  and it waits for finance's approval.

Both loans are among the plan's eight 12-month loans left unpaid at
maturity (demo/loans.py).

The fund and its deposits are made before the loans (``demo_fund_seed``),
so that the county's approvals of the demo's applications pass the
fund's leverage check as real ones do; the claims and the recovery come
after the loans and before the subsidy years (``demo_riskfund_seed``), so
that a year computed later sees the written-off loan. Each step is taken
only once its day has come (``today``) and only if it is not there yet,
so a second run changes nothing.
"""

import datetime
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from divisions.models import Division
from loans.ledger.services import ledger_post_repayment
from loans.models import CreditCoop, LedgerEntry, Loan, Programme
from riskfund.models import Claim, Fund, Movement
from riskfund.services import claim_approve, claim_check, claim_file, fund_save, movement_record

from .loans import COOP_CODE, PROGRAMME_NAME, REGION_CODE, TXN_PREFIX, YEAR, _clock

D = datetime.datetime
State = Claim.State
Kind = Movement.Kind

FUND_NAME = "墨江县振兴贷风险补偿金"
FUND_ACCOUNT = "墨江农信联社营业部 风险补偿金专户 5308220100016801"
SET_UP_AT = D(2024, 11, 12, 10, 30)


@dataclass(frozen=True)
class MovementPlan:
    kind: str
    at: D
    amount: Decimal
    voucher: str
    note: str


MOVEMENTS = (
    MovementPlan(
        Kind.DEPOSIT,
        D(2024, 11, 15, 15, 20),
        Decimal("3000000.00"),
        "墨财风〔2024〕1号",
        "县级财政首期注入振兴贷风险补偿金",
    ),
    MovementPlan(
        Kind.DEPOSIT,
        D(2025, 1, 17, 10, 40),
        Decimal("1500000.00"),
        "墨财风〔2025〕2号",
        "追加注入，放大贷款规模至4,500万元",
    ),
    # Demand-deposit interest at 0.35 % a year (/360) to 20 December 2025:
    # 3,000,000 for 400 days (11,666.67) and 1,500,000 for 337 (4,914.58).
    MovementPlan(
        Kind.INTEREST,
        D(2025, 12, 21, 9, 10),
        Decimal("16581.25"),
        "MJRCC-JX-20251221",
        "2025年度风险补偿金专户存款利息",
    ),
)


@dataclass(frozen=True)
class ClaimPlan:
    claim_id: str
    contract_no: str
    filed_at: D  # the claim date is its day
    checked_at: D
    check_comment: str
    approved_at: D | None = None  # None: waiting for finance
    voucher: str = ""


PAID_CLAIM = ClaimPlan(
    claim_id="MJ-FK-2026-001",
    contract_no="墨信振兴2025-0083",
    filed_at=D(2026, 4, 22, 10, 5),
    checked_at=D(2026, 4, 28, 15, 30),
    check_comment="经核实，借款人逾期超过90天，经信用社多次催收未还，同意报财政局审批。",
    approved_at=D(2026, 5, 8, 10, 20),
    voucher="墨财风〔2026〕5号",
)
WAITING_CLAIM = ClaimPlan(
    claim_id="MJ-FK-2026-002",
    contract_no="墨信振兴2025-0187",
    filed_at=D(2026, 11, 9, 9, 45),
    checked_at=D(2026, 11, 13, 16, 10),
    check_comment="经核实，借款人外出务工失联，逾期已超过90天，同意报财政局审批。",
)
CLAIMS = (PAID_CLAIM, WAITING_CLAIM)


@dataclass(frozen=True)
class RecoveryPlan:
    """A principal repayment the co-op collects on a compensated loan."""

    claim: ClaimPlan
    txn_id: str
    paid_on: datetime.date
    amount: Decimal


RECOVERY = RecoveryPlan(
    claim=PAID_CLAIM,
    txn_id="%s-P-0083-20260915" % TXN_PREFIX,  # as the co-op numbers repayments
    paid_on=datetime.date(2026, 9, 15),
    amount=Decimal("30000.00"),
)


def _posted_at(day: datetime.date) -> D:
    return datetime.datetime.combine(day, datetime.time(16, 30))


def demo_fund(region: Division | None = None) -> Fund | None:
    """The demo's fund, if it is there."""
    region = region or Division.objects.filter(code=REGION_CODE).first()
    return Fund.objects.filter(region=region, name=FUND_NAME).first()


@transaction.atomic
def demo_fund_seed(*, county, finance, today: datetime.date) -> Counter:
    """Set up the fund and record finance's movements (deposits, interest)
    dated by ``today`` that are not there yet. Before the loans: the
    county's approvals are checked against it."""
    created = Counter()
    fund = demo_fund()
    if fund is None:
        if SET_UP_AT.date() > today:
            return created
        programme = Programme.objects.get(name=PROGRAMME_NAME, year=YEAR, region_code=REGION_CODE)
        with _clock(SET_UP_AT):
            fund = fund_save(
                actor=county, name=FUND_NAME, account=FUND_ACCOUNT, programmes=[programme]
            )
        created["funds"] += 1
    recorded = set(fund.movements.values_list("voucher", flat=True))
    for planned in MOVEMENTS:
        if planned.voucher in recorded or planned.at.date() > today:
            continue
        with _clock(planned.at):
            movement_record(
                actor=finance,
                fund=fund,
                kind=planned.kind,
                on=planned.at.date(),
                amount=planned.amount,
                voucher=planned.voucher,
                note=planned.note,
            )
        created["fund movements"] += 1
    return created


@transaction.atomic
def demo_riskfund_seed(*, county, coop_user, finance, today: datetime.date) -> Counter:
    """The fund (``demo_fund_seed``, if it is not there yet), the co-op's
    claims taken as far as ``today`` allows, and the recovery on the paid
    claim's loan. A loan the demo has not lent (no registry) is passed
    over."""
    created = demo_fund_seed(county=county, finance=finance, today=today)
    if demo_fund() is None:
        return created
    coop = CreditCoop.objects.get(code=COOP_CODE)
    loans = {
        loan.contract_no: loan
        for loan in Loan.objects.filter(
            coop=coop, contract_no__in=[planned.contract_no for planned in CLAIMS]
        )
    }
    for planned in CLAIMS:
        loan = loans.get(planned.contract_no)
        if loan is not None:
            _claim_seed(planned, loan, coop, county, coop_user, finance, today, created)
    _recovery_seed(RECOVERY, loans.get(RECOVERY.claim.contract_no), coop, coop_user, today, created)
    return created


def _claim_seed(planned: ClaimPlan, loan, coop, county, coop_user, finance, today, created):
    claim = Claim.objects.filter(coop=coop, claim_id=planned.claim_id).first()
    if claim is None:
        if planned.filed_at.date() > today:
            return
        with _clock(planned.filed_at):
            claim, _new = claim_file(
                actor=coop_user,
                coop=coop,
                claim_id=planned.claim_id,
                loan=loan,
                claimed_on=planned.filed_at.date(),
            )
        created["claims"] += 1
    if claim.state == State.FILED and planned.checked_at.date() <= today:
        with _clock(planned.checked_at):
            claim = claim_check(
                actor=county, claim=claim, accept=True, comment=planned.check_comment
            )
        created["claim steps"] += 1
    approved_at = planned.approved_at
    if claim.state == State.CHECKED and approved_at is not None and approved_at.date() <= today:
        with _clock(approved_at):
            claim_approve(
                actor=finance, claim=claim, voucher=planned.voucher, on=approved_at.date()
            )
        created["claim steps"] += 1


def _recovery_seed(planned: RecoveryPlan, loan, coop, coop_user, today, created):
    if loan is None or planned.paid_on > today:
        return
    if LedgerEntry.objects.filter(coop=coop, txn_id=planned.txn_id).exists():
        return
    claim = Claim.objects.filter(coop=coop, claim_id=planned.claim.claim_id).first()
    if claim is None or claim.state != State.PAID or claim.paid_on > planned.paid_on:
        return  # not a recovery (yet): the fund has paid nothing on the loan by then
    with _clock(_posted_at(planned.paid_on)):
        ledger_post_repayment(
            actor=coop_user,
            coop=coop,
            loan=loan,
            txn_id=planned.txn_id,
            paid_on=planned.paid_on,
            amount=planned.amount,
        )
    created["recoveries"] += 1
