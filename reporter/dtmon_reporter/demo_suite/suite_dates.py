"""Dates and concurrency; the failures are a naive/aware comparison and a lock-order deadlock."""

import threading
from datetime import date, datetime, timedelta, timezone


def test_leap_day_exists_in_2024():
    assert date(2024, 2, 29).isoformat() == "2024-02-29"


def test_thirty_days_after_january_31():
    assert date(2026, 1, 31) + timedelta(days=30) == date(2026, 3, 2)


def test_naive_and_aware_times_compare():
    # fails with TypeError: Python refuses to order naive and aware datetimes
    assert datetime(2026, 1, 1) < datetime(2026, 1, 2, tzinfo=timezone.utc)


def test_opposite_lock_order_finishes():
    # times out: each thread holds one lock and waits forever for the other
    first, second = threading.Lock(), threading.Lock()
    both_hold_one = threading.Barrier(2)

    def take(a, b):
        with a:
            both_hold_one.wait()
            with b:
                pass

    other = threading.Thread(target=take, args=(second, first), daemon=True)
    other.start()
    take(first, second)
    other.join()
