"""The worked figures of DOMAIN.md section 5, reproduced to the fen."""

import datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from common.money import round_fen
from loans.ledger.interest import accrued, expected_schedule, payoff_date, period_bounds

D = datetime.date


def schedule(principal, rate, start, end, repayments=()):
    return expected_schedule(
        principal=Decimal(principal),
        rate=Decimal(rate),
        basis=360,
        disbursed_on=start,
        ends_on=end,
        repayments=repayments,
    )


def test_100000_at_345_settles_the_five_documented_amounts():
    periods = schedule("100000", "0.0345", D(2024, 1, 10), D(2025, 1, 10))
    assert [p.days for p in periods] == [71, 92, 92, 91, 20]
    assert [p.interest for p in periods] == [
        Decimal("680.42"),
        Decimal("881.67"),
        Decimal("881.67"),
        Decimal("872.08"),
        Decimal("191.67"),
    ]
    assert [p.end for p in periods[:4]] == [
        D(2024, 3, 20),
        D(2024, 6, 20),
        D(2024, 9, 20),
        D(2024, 12, 20),
    ]
    assert periods[-1].end == D(2025, 1, 9)  # the repayment day itself accrues nothing


def test_80000_to_9_january_pays_2798_33():
    periods = schedule("80000", "0.0345", D(2024, 1, 10), D(2025, 1, 9))
    assert [p.days for p in periods] == [71, 92, 92, 91, 19]
    assert sum(p.interest for p in periods) == Decimal("2798.33")


def test_100000_at_435_pays_4410_42():
    periods = schedule("100000", "0.0435", D(2024, 1, 10), D(2025, 1, 9))
    assert sum(p.interest for p in periods) == Decimal("4410.42")


def test_a_repayment_stops_accrual_on_its_own_day():
    # 10,000 repaid on 1 March: that amount accrues 10 Jan..29 Feb only.
    repayments = [(D(2024, 3, 1), Decimal("10000"))]
    raw = accrued(
        Decimal("100000"), Decimal("0.0345"), 360, D(2024, 1, 10), D(2024, 3, 20), repayments
    )
    expected = (Decimal("100000") * 51 + Decimal("90000") * 20) * Decimal("0.0345") / 360
    assert raw == expected


def test_period_bounds_cover_every_day_once():
    bounds = period_bounds(D(2023, 12, 25), D(2026, 2, 1))
    assert bounds[0][0] == D(2023, 12, 25) and bounds[-1][1] == D(2026, 2, 1)
    for (_, end), (start, _) in zip(bounds, bounds[1:], strict=False):
        assert start == end + datetime.timedelta(days=1)


def test_a_loan_disbursed_on_a_settlement_day_settles_one_day_that_day():
    periods = schedule("50000", "0.0345", D(2024, 3, 20), D(2024, 6, 21))
    assert [p.days for p in periods] == [1, 92]


@given(
    st.dates(min_value=D(2020, 1, 1), max_value=D(2026, 12, 31)),
    st.integers(min_value=1, max_value=1100),
    st.decimals(min_value=1000, max_value=5_000_000, places=2),
)
def test_periods_add_up_to_the_whole_term_within_a_fen_each(start, days, principal):
    end = start + datetime.timedelta(days=days)
    periods = schedule(principal, "0.0345", start, end)
    assert sum(p.days for p in periods) == days
    whole = accrued(principal, Decimal("0.0345"), 360, start, end - datetime.timedelta(days=1))
    assert abs(sum(p.interest for p in periods) - round_fen(whole)) <= Decimal("0.01") * len(
        periods
    )


def test_payoff_date_is_when_the_balance_reaches_zero():
    repayments = [(D(2024, 6, 1), Decimal("40000")), (D(2024, 9, 1), Decimal("60000"))]
    assert payoff_date(Decimal("100000"), repayments) == D(2024, 9, 1)
    assert payoff_date(Decimal("100000"), repayments[:1]) is None
