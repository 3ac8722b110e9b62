"""The in-process token bucket, on a clock the test moves."""

from __future__ import annotations

import pytest

from deputy.clock import FixedClock
from deputy.ratelimit import MemoryRateLimiter


def test_a_burst_then_refusals_with_the_wait_then_refill() -> None:
    clock = FixedClock()
    limiter = MemoryRateLimiter(per_minute=60, burst=3, clock=clock)  # one a second
    assert [limiter.take("a") for _ in range(3)] == [None, None, None]
    assert limiter.take("a") == 1
    assert limiter.take("a") == 1  # refusals take nothing
    clock.advance(1)
    assert limiter.take("a") is None
    assert limiter.take("a") == 1
    clock.advance(3600)  # refills up to the burst, no further
    assert [limiter.take("a") for _ in range(4)] == [None, None, None, 1]


def test_keys_are_independent() -> None:
    limiter = MemoryRateLimiter(per_minute=1, burst=1, clock=FixedClock())
    assert limiter.take("a") is None
    assert limiter.take("a") == 60
    assert limiter.take("b") is None


def test_slow_rates_report_the_whole_wait() -> None:
    clock = FixedClock()
    limiter = MemoryRateLimiter(per_minute=6, burst=1, clock=clock)  # one every 10 s
    assert limiter.take("a") is None
    assert limiter.take("a") == 10
    clock.advance(4)
    assert limiter.take("a") == 6
    clock.advance(6)
    assert limiter.take("a") is None


def test_a_clock_stepping_back_does_not_refill() -> None:
    clock = FixedClock(1_000_000)
    limiter = MemoryRateLimiter(per_minute=60, burst=1, clock=clock)
    assert limiter.take("a") is None
    clock.current -= 100
    assert limiter.take("a") is not None
    clock.current += 100
    assert limiter.take("a") is not None  # no refill for time that was counted already
    clock.advance(1)
    assert limiter.take("a") is None


def test_memory_stays_bounded_under_many_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MemoryRateLimiter, "MAX_KEYS", 100)
    clock = FixedClock()
    limiter = MemoryRateLimiter(per_minute=60, burst=2, clock=clock)
    for round_ in range(10):
        for i in range(150):
            limiter.take(f"k{round_}-{i}")
        clock.advance(10)  # every bucket of this round refills
    assert len(limiter._buckets) <= 300
    assert limiter.take("k9-0") is None and limiter.take("k9-0") is None  # state was not lost wrongly


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 1), (1, 0), (-1, 5)])
def test_nonsense_settings_fail_at_construction(per_minute: int, burst: int) -> None:
    with pytest.raises(ValueError):
        MemoryRateLimiter(per_minute, burst, FixedClock())
