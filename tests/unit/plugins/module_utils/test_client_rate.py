# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The per-process request budget (what a client keeps when the shared one cannot be used).

The clock is fake: ``time.monotonic`` reads it and ``time.sleep`` advances it, so these tests say
when each request goes out without waiting for it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils import _client, _settings
from ansible_collections.stabilityai.platform.plugins.module_utils._client import StabilityClient
from ansible_collections.stabilityai.platform.plugins.module_utils._rate_guard import RequestBudget
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import ConnectionSettings

KEY = 'sk-unit-rate-0123456789abcdef'


class FakeClock(object):
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(_client.time, 'monotonic', fake.monotonic)
    monkeypatch.setattr(_client.time, 'sleep', fake.sleep)
    return fake


def any_wait(pause):
    """A caller that may wait for any turn (the guard refuses far turns; see test_rate_guard.py)."""


def send_times(budget, clock, count):
    times = []
    for dummy in range(count):
        budget.wait(any_wait)
        times.append(clock.now)
    return times


def most_in_any_window(times, window):
    return max(sum(1 for other in times if start <= other < start + window) for start in times)


def test_the_default_budget_stays_under_the_vendor_limit_of_150_per_10_seconds():
    requests, seconds = _settings.DEFAULT_RATE_LIMIT
    assert requests / seconds < _settings.VENDOR_REQUESTS_PER_WINDOW / _settings.VENDOR_WINDOW_SECONDS
    assert ConnectionSettings(api_key=KEY).rate_limit == (100, 10)


def test_requests_within_the_budget_never_wait(clock):
    send_times(RequestBudget(limit=5, window=10.0), clock, 5)
    assert clock.sleeps == []


def test_a_request_over_the_budget_waits_for_the_oldest_to_leave_the_window(clock):
    budget = RequestBudget(limit=3, window=10.0)
    send_times(budget, clock, 3)
    clock.now += 4.0
    budget.wait(any_wait)
    assert clock.sleeps == [6.0]


def test_no_window_ever_holds_more_than_the_limit(clock):
    times = send_times(RequestBudget(limit=4, window=10.0), clock, 30)
    assert most_in_any_window(times, 10.0) == 4
    assert times[-1] - times[0] == pytest.approx(70.0)


def test_threads_sharing_a_budget_get_distinct_slots(clock, monkeypatch):
    """The clock stands still here, so each slot shows as the wait its thread was given."""
    from concurrent.futures import ThreadPoolExecutor
    monkeypatch.setattr(_client.time, 'sleep', clock.sleeps.append)
    budget = RequestBudget(limit=4, window=10.0)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda dummy: budget.wait(any_wait), range(12)))
    assert sorted(clock.sleeps) == [10.0] * 4 + [20.0] * 4


def test_a_turn_the_caller_may_not_wait_for_is_refused_and_not_taken(clock):
    budget = RequestBudget(limit=1, window=10.0)
    budget.wait(any_wait)
    offered = []

    def refuse(pause):
        offered.append(pause)
        raise RuntimeError('too far')
    with pytest.raises(RuntimeError):
        budget.wait(refuse)
    budget.wait(offered.append)
    assert offered == [10.0, 10.0] and clock.sleeps == [10.0]


def test_every_request_of_a_client_goes_through_its_budget(fake_api, clock):
    for dummy in range(3):
        fake_api.answer(payload={'credits': 1.5})
    client = StabilityClient(ConnectionSettings(api_key=KEY, rate_limit='2/10'))
    started = time.time()  # the shared budget counts in wall-clock time, which runs on under the fake clock
    assert [client.fetch_balance() for dummy in range(3)] == [1.5, 1.5, 1.5]
    ran = time.time() - started  # on a loaded machine, more than the tolerance
    assert len(clock.sleeps) == 1 and 10.25 - ran - 0.1 <= clock.sleeps[0] <= 10.25 + 0.1
