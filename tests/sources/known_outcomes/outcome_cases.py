"""A suite with known outcomes for the run-tests test (named outcome_* so the project's own pytest run skips it)."""

import time

import pytest


def test_sorting_passes():
    assert sorted([3, 1, 2]) == [1, 2, 3]


def test_float_sum_fails():
    assert 0.1 + 0.2 == 0.3


def test_skipped():
    pytest.skip("not applicable here")


def test_sleeps_past_the_timeout():
    time.sleep(60)


@pytest.mark.parametrize("value", [1, 2])
def test_parametrized_passes(value):
    assert value * 2 == value + value
