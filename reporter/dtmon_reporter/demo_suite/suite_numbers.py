"""Arithmetic facts; two of them are common wrong beliefs about floats and rounding."""

from decimal import Decimal
from fractions import Fraction


def test_integer_sum_formula():
    assert sum(range(1001)) == 1000 * 1001 // 2


def test_float_addition_is_exact():
    # fails: 0.1 and 0.2 have no exact binary representation
    assert 0.1 + 0.2 == 0.3


def test_decimal_addition_is_exact():
    assert Decimal("0.1") + Decimal("0.2") == Decimal("0.3")


def test_round_half_goes_up():
    # fails: Python rounds halves to the even neighbour
    assert round(2.5) == 3


def test_fraction_thirds():
    assert Fraction(1, 3) * 3 == 1
