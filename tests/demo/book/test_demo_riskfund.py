"""The demo's risk-compensation fund (demo/riskfund.py): set up before the
county approved the applications it covers, with deposits enough for all of
them, the account's interest, one claim paid and a recovery returned on it,
one claim checked and waiting for finance; the same on a second seed.

The demo is seeded once for the package (conftest.py).
"""

import datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from demo.loans import demo_loan_plan
from demo.riskfund import PAID_CLAIM, RECOVERY, WAITING_CLAIM
from demo.services import demo_seed
from loans.models import Application, ApplicationTransition, LedgerEntry, Loan
from riskfund import selectors
from riskfund.models import Claim, Fund, Movement
from tests.demo.book.conftest import TODAY

pytestmark = pytest.mark.django_db

Kind = Movement.Kind
State = Claim.State
FEN = Decimal("0.01")

# What finance put in, as the demo's story tells it.
DEPOSITS = Decimal("3000000.00") + Decimal("1500000.00")
INTEREST = Decimal("16581.25")


@pytest.fixture
def fund(seeded) -> Fund:
    return Fund.objects.get(region__code="530822")


def share(amount: Decimal, fraction: Decimal) -> Decimal:
    return (amount * fraction).quantize(FEN, rounding=ROUND_HALF_UP)


def principal_left(loan: Loan, on: datetime.date) -> Decimal:
    repaid = LedgerEntry.objects.filter(
        loan=loan, kind=LedgerEntry.Kind.PRINCIPAL, reversed_by__isnull=True, paid_on__lte=on
    ).aggregate(total=Sum("amount"))["total"]
    return loan.principal - (repaid or 0)


def test_the_fund_covers_mojiangs_zhenxingdai_with_the_defaults(fund):
    assert fund.name == "墨江县振兴贷风险补偿金"
    assert [(p.name, p.year, p.region_code) for p in fund.programmes.all()] == [
        ("振兴贷", 2025, "530822")
    ]
    assert (fund.fund_share, fund.claim_days, fund.loss_basis, fund.leverage, fund.tolerance) == (
        Decimal("0.8000"),
        90,
        Fund.LossBasis.PRINCIPAL,
        Decimal("10.00"),
        Decimal("0.0500"),
    )
    assert Fund.objects.count() == 1


def test_the_balance_is_the_deposits_and_interest_less_compensation_plus_the_recovery(fund):
    paid = Claim.objects.get(claim_id=PAID_CLAIM.claim_id)
    compensation = share(principal_left(paid.loan, paid.claimed_on), fund.fund_share)
    returned = share(RECOVERY.amount, fund.fund_share)
    expected = DEPOSITS + INTEREST - compensation + returned
    assert expected == Decimal("4460581.25")  # 4,500,000 + 16,581.25 − 80,000 + 24,000
    assert selectors.balance(fund) == expected
    movements = list(fund.movements.values_list("kind", "on", "amount"))
    assert movements == [
        (Kind.DEPOSIT, datetime.date(2024, 11, 15), Decimal("3000000.00")),
        (Kind.DEPOSIT, datetime.date(2025, 1, 17), Decimal("1500000.00")),
        (Kind.INTEREST, datetime.date(2025, 12, 21), INTEREST),
        (Kind.COMPENSATION, paid.paid_on, -compensation),
        (Kind.RECOVERY, RECOVERY.paid_on, returned),
    ]
    statement = selectors.statement(fund, start=datetime.date(2024, 1, 1), end=TODAY)
    assert statement.adds_up
    assert (statement.deposits, statement.interest, statement.compensation) == (
        DEPOSITS,
        INTEREST,
        compensation,
    )
    assert statement.recoveries == returned
    # Finance recorded what it records, each with a voucher of its own.
    recorded = fund.movements.filter(kind__in=Movement.RECORDED_BY_FINANCE)
    assert {m.recorded_by.username for m in recorded} == {"finance"}
    assert all(m.voucher for m in fund.movements.exclude(kind=Kind.RECOVERY))


def test_no_approval_of_the_demo_took_the_fund_past_its_leverage(fund):
    """Approved amounts add up, day by day, to no more than leverage × the
    balance that day: the deposits came before the approvals needed them."""
    steps = (
        ApplicationTransition.objects.filter(
            to_state=Application.State.COUNTY_APPROVED, application__programme__year=2025
        )
        .order_by("at", "pk")
        .values_list("at", "application__amount")
    )
    assert len(steps) == 680
    committed = Decimal("0")
    for at, amount in steps:
        committed += amount
        day = timezone.localtime(at).date()
        assert committed <= fund.leverage * selectors.balance(fund, on=day), day
    assert committed > Decimal("40000000")


def test_both_claimed_loans_are_overdue_loans_of_the_plan(seeded):
    overdue = {
        h.loan.contract_no
        for h in demo_loan_plan(today=TODAY).households
        if h.loan.story == "overdue"
    }
    for claim in Claim.objects.select_related("loan", "fund"):
        assert claim.loan.contract_no in overdue
        assert claim.days_overdue == (claim.claimed_on - claim.loan.maturity_on).days
        assert claim.days_overdue >= claim.fund.claim_days
        assert principal_left(claim.loan, claim.claimed_on) == claim.loan.principal


def test_one_claim_is_checked_approved_by_another_person_and_paid(fund):
    claim = Claim.objects.select_related("loan").get(claim_id=PAID_CLAIM.claim_id)
    assert claim.loan.contract_no == PAID_CLAIM.contract_no
    assert claim.state == State.PAID
    assert claim.claimed_on == PAID_CLAIM.filed_at.date()
    assert claim.principal_loss == claim.loss == claim.loan.principal
    assert claim.compensation == share(claim.loss, fund.fund_share)
    assert claim.bank_share == claim.loss - claim.compensation
    assert (claim.filed_by.username, claim.checked_by.username, claim.approved_by.username) == (
        "coop",
        "county",
        "finance",
    )
    assert claim.paid_on == PAID_CLAIM.approved_at.date()
    assert claim.voucher == PAID_CLAIM.voucher
    paid = Movement.objects.get(claim=claim, kind=Kind.COMPENSATION)
    assert (paid.amount, paid.voucher, paid.on) == (
        -claim.compensation,
        claim.voucher,
        claim.paid_on,
    )
    claim.loan.refresh_from_db()
    assert claim.loan.written_off_on == claim.claimed_on
    assert claim.loan.status == Loan.Status.WRITTEN_OFF


def test_one_claim_is_checked_and_waits_for_finance(fund):
    claim = Claim.objects.select_related("loan").get(claim_id=WAITING_CLAIM.claim_id)
    assert claim.loan.contract_no == WAITING_CLAIM.contract_no
    assert claim.state == State.CHECKED
    assert claim.checked_by.username == "county"
    assert claim.approved_by is None and claim.paid_on is None
    assert claim.compensation == share(claim.loss, fund.fund_share)
    assert not claim.movements.exists()
    assert claim.loan.written_off_on is None
    assert claim.loan.status == Loan.Status.OVERDUE
    # The balance would cover it: finance has only to approve it.
    assert selectors.balance(fund) >= claim.compensation
    assert Claim.objects.filter(state=State.CHECKED).count() == 1
    assert Claim.objects.filter(state=State.PAID).count() == 1
    assert Claim.objects.count() == 2


def test_the_recovery_on_the_paid_claims_loan_came_back_through_the_ledger(fund):
    claim = Claim.objects.get(claim_id=PAID_CLAIM.claim_id)
    entry = LedgerEntry.objects.get(txn_id=RECOVERY.txn_id)
    assert (entry.loan_id, entry.kind, entry.amount, entry.paid_on) == (
        claim.loan_id,
        LedgerEntry.Kind.PRINCIPAL,
        RECOVERY.amount,
        RECOVERY.paid_on,
    )
    assert entry.posted_by.username == "coop"
    assert entry.paid_on > claim.paid_on
    returned = Movement.objects.get(kind=Kind.RECOVERY)
    assert (returned.claim, returned.ledger_entry, returned.on) == (claim, entry, entry.paid_on)
    assert returned.amount == share(entry.amount, claim.fund_share)
    assert selectors.returned_so_far(claim) == returned.amount


def test_seeding_again_changes_nothing(fund):
    def state():
        return (
            list(Fund.objects.values_list("pk", "name", "updated_at")),
            list(Movement.objects.order_by("pk").values_list("pk", "kind", "on", "amount")),
            list(Claim.objects.order_by("pk").values_list("pk", "state", "loan_id", "paid_on")),
            Fund.history.count(),
            Movement.history.count(),
            Claim.history.count(),
            LedgerEntry.objects.count(),
            list(Loan.objects.filter(written_off_on__isnull=False).values_list("pk", flat=True)),
        )

    before = state()
    again = demo_seed(today=TODAY, others=False)
    assert not again["riskfund"]
    assert state() == before
