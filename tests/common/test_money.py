from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.money import round_fen, yuan


@pytest.mark.parametrize(
    ("amount", "rounded"),
    [
        ("680.4166", "680.42"),
        ("0.005", "0.01"),
        ("0.0049", "0.00"),
        ("2.675", "2.68"),
        ("-0.005", "-0.01"),
        ("881.665", "881.67"),
    ],
)
def test_it_rounds_half_up_to_the_fen(amount, rounded):
    assert round_fen(Decimal(amount)) == Decimal(rounded)


def test_it_refuses_floats():
    with pytest.raises(TypeError):
        round_fen(0.1)


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=6))
def test_rounding_moves_an_amount_by_at_most_half_a_fen(amount):
    assert abs(round_fen(amount) - amount) <= Decimal("0.005")


def test_yuan_groups_thousands_with_two_places():
    assert yuan(Decimal("40000000")) == "40,000,000.00"
    assert yuan("3315.844") == "3,315.84"
