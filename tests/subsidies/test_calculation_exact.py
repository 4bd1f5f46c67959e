"""The rule in integers is the rule in Decimals, to the fen.

``line_working`` sums integer fen and fen-days and divides once per posting
by an exact fraction; these properties hold it to what the straightforward
Decimal version gives (tests/subsidies/reference_rule.py, the rule as it
was before) on every field of the working, the runs of days included, and
hold the integer rounding to ``round_fen`` on the same Decimals.
"""

import dataclasses
import datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.money import divide_half_up, from_fen, round_fen, to_fen
from subsidies.calculation import EarlierLoan, Rule, line_working
from tests.subsidies.reference_rule import reference_line_working
from tests.subsidies.test_calculation import (
    calendar_year,
    decimal_places,
    loans,
    rates,
    settlement_year,
    years_of,
)

D = datetime.date
ONE_DAY = datetime.timedelta(days=1)
EXACT = settings(max_examples=400, deadline=None)

rules = st.builds(
    Rule,
    basis=st.sampled_from([360, 365]),
    ratio=st.integers(0, 1000).map(lambda n: Decimal(n).scaleb(-3)),
    grace_days=st.integers(0, 5),
    lose_year_if_overdue=st.booleans(),
)


@st.composite
def earlier_loans(draw, before: datetime.date):
    """Up to two earlier loans of the household, some partly repaid, some
    written off, disbursed up to two years before ``before``."""
    found = []
    for number in range(draw(st.integers(0, 2))):
        disbursed_on = draw(st.dates(before - datetime.timedelta(days=730), before))
        principal = draw(decimal_places("1000", "300000", 2))
        repayments = []
        if draw(st.booleans()):
            day = draw(st.dates(disbursed_on + ONE_DAY, disbursed_on + datetime.timedelta(900)))
            repayments.append((day, round_fen(principal * draw(st.integers(1, 100)) / 100)))
        written_off_on = draw(st.none() | st.dates(disbursed_on, before + datetime.timedelta(400)))
        found.append(
            EarlierLoan(
                contract_no=f"E{number}",
                principal=principal,
                disbursed_on=disbursed_on,
                repayments=tuple(repayments),
                written_off_on=written_off_on,
            )
        )
    return tuple(found)


def assert_same_working(terms, rule, year, postings, repayments):
    arguments = {
        "terms": terms,
        "rule": rule,
        "year_start": year[0],
        "year_end": year[1],
        "postings": postings,
        "repayments": repayments,
        "detail": True,
    }
    fast = line_working(**arguments)
    reference = reference_line_working(**arguments)
    assert fast == reference
    assert fast.runs == reference.runs  # not part of ==
    # And without the detail, the same figures.
    assert line_working(**{**arguments, "detail": False}) == reference


@EXACT
@given(st.data(), loans(), rules)
def test_the_integer_rule_gives_the_decimal_rules_working(data, loan, rule):
    terms, postings, repayments = loan
    year = data.draw(years_of(terms))
    assert_same_working(terms, rule, year, postings, repayments)


@EXACT
@given(st.data(), loans(), rules)
def test_the_same_working_with_a_households_earlier_loans(data, loan, rule):
    terms, postings, repayments = loan
    quota = data.draw(st.integers(1000, 500_000).map(Decimal))
    earlier = data.draw(earlier_loans(terms.disbursed_on))
    terms = dataclasses.replace(terms, quota=quota, earlier=earlier)
    year = data.draw(years_of(terms))
    assert_same_working(terms, rule, year, postings, repayments)


@EXACT
@given(st.data(), loans(overdue=True, eventful=False), rules)
def test_the_same_working_overdue_and_in_years_without_days(data, loan, rule):
    terms, postings, repayments = loan
    bounds = data.draw(st.sampled_from([settlement_year, calendar_year]))
    year = bounds(data.draw(st.integers(terms.disbursed_on.year - 1, 2027)))
    assert_same_working(terms, rule, year, postings, repayments)


@EXACT
@given(
    st.integers(0, 500_000_00 * 800),  # fen × days of a loan's period
    rates,
    st.sampled_from([360, 365]),
)
def test_one_integer_division_rounds_as_round_fen_on_decimals(fen_days, rate, basis):
    """Step 3's interest of a posting: balance-days × rate / basis, half-up to the fen."""
    numerator, denominator = rate.as_integer_ratio()
    fast = from_fen(divide_half_up(fen_days * numerator, denominator * basis))
    assert fast == round_fen(from_fen(fen_days) * rate / basis)


@given(st.integers(-(10**30), 10**30), st.integers(1, 10**12))
def test_divide_half_up_is_round_half_up_of_the_true_quotient(numerator, denominator):
    with localcontext() as context:
        context.prec = 80
        quotient = Decimal(numerator) / Decimal(denominator)
        expected = int(quotient.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert divide_half_up(numerator, denominator) == expected


def test_divide_half_up_rounds_halves_away_from_zero():
    assert [divide_half_up(n, 2) for n in (-3, -1, 1, 3)] == [-2, -1, 1, 2]
    assert divide_half_up(149, 100) == 1 and divide_half_up(-149, 100) == -1


@given(st.integers(-(10**14), 10**14))
def test_fen_and_yuan_convert_both_ways(fen):
    amount = from_fen(fen)
    assert amount.as_tuple().exponent == -2
    assert to_fen(amount) == fen
    assert to_fen(Decimal(str(amount))) == fen


def test_a_fraction_of_a_fen_is_refused():
    assert to_fen(Decimal("680.4")) == 68040 and to_fen(Decimal("5")) == 500
    with pytest.raises(ValueError):
        to_fen(Decimal("0.005"))
