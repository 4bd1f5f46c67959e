"""The loss rule alone (riskfund.loss): DOMAIN.md section 8's worked
figures, and the properties the shares must hold whatever the figures."""

import datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from riskfund.loss import (
    PRINCIPAL,
    PRINCIPAL_AND_INTEREST,
    claim_loss,
    recovery_share,
    split,
)

D = datetime.date
SHARE = Decimal("0.80")
# A 50,000-yuan loan at 4.35 % for a year, 10,000 repaid half-way, every
# settlement's interest collected to maturity, claimed 91 days overdue.
LOAN = {
    "fund_share": SHARE,
    "principal": Decimal("50000.00"),
    "rate": Decimal("0.0435"),
    "day_count": 360,
    "disbursed_on": D(2025, 3, 20),
    "claimed_on": D(2026, 3, 20) + datetime.timedelta(days=91),
    "repayments": [(D(2025, 9, 20), Decimal("10000.00"))],
    "paid_periods": [(D(2025, 3, 20), D(2026, 3, 19))],
}


def test_the_principal_loss_of_section_8():
    loss = claim_loss(basis_of_loss=PRINCIPAL, **LOAN)
    assert (loss.principal, loss.interest, loss.total) == (
        Decimal("40000.00"),
        Decimal("0.00"),
        Decimal("40000.00"),
    )
    assert (loss.compensation, loss.bank_share) == (Decimal("32000.00"), Decimal("8000.00"))


def test_the_principal_and_interest_loss_of_section_8():
    loss = claim_loss(basis_of_loss=PRINCIPAL_AND_INTEREST, **LOAN)
    assert loss.unpaid_days == 91
    assert [(run.first, run.last) for run in loss.unpaid] == [(D(2026, 3, 20), D(2026, 6, 18))]
    assert loss.interest == Decimal("439.83")
    assert loss.total == Decimal("40439.83")
    assert (loss.compensation, loss.bank_share) == (Decimal("32351.86"), Decimal("8087.97"))


def test_a_recovery_of_5000_returns_4000():
    assert recovery_share(Decimal("5000.00"), SHARE) == Decimal("4000.00")


def test_a_gap_in_the_collected_interest_is_unpaid_too():
    """A settlement period never collected counts, on the balance of its days."""
    loss = claim_loss(
        basis_of_loss=PRINCIPAL_AND_INTEREST,
        **{
            **LOAN,
            "paid_periods": [(D(2025, 3, 20), D(2025, 6, 20)), (D(2025, 9, 21), D(2026, 3, 19))],
        },
    )
    # 21 June .. 19 September at 50,000 (91 days), 20 September at 40,000
    # (the repayment day itself no longer accrues on the repaid part), then
    # the 91 overdue days at 40,000.
    gap = Decimal("50000") * 91 + Decimal("40000") * 1
    expected = (gap + Decimal("40000") * 91) * Decimal("0.0435") / 360
    assert loss.unpaid_days == 92 + 91
    assert loss.interest == expected.quantize(Decimal("0.01"))


def test_nothing_collected_means_everything_since_disbursement_is_unpaid():
    loss = claim_loss(basis_of_loss=PRINCIPAL_AND_INTEREST, **{**LOAN, "paid_periods": []})
    assert loss.unpaid[0].first == D(2025, 3, 20)
    assert loss.unpaid_days == (LOAN["claimed_on"] - D(2025, 3, 20)).days


money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000000"), places=2)
shares = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1"), places=4)


@given(loss=money, share=shares)
def test_compensation_and_the_banks_share_add_up_to_the_loss(loss, share):
    compensation, bank = split(loss, share)
    assert compensation + bank == loss
    assert compensation >= 0 and bank >= 0
    assert compensation == compensation.quantize(Decimal("0.01"))
    assert abs(compensation - loss * share) <= Decimal("0.005")
