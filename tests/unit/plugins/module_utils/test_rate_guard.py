# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The request budget and lock-out memory that every process of one user on one host shares.

Most tests run several guards over one directory, as separate processes would, on a fake clock:
``time.time`` and ``time.monotonic`` read it and ``time.sleep`` advances it.  One test forks real
processes and counts the slots they were given.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import multiprocessing
import os
import stat
import time
import types

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils import _locking, _rate_guard
from ansible_collections.stabilityai.platform.plugins.module_utils._client import StabilityClient
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError, StabilityRequestError
from ansible_collections.stabilityai.platform.plugins.module_utils._rate_guard import RateGuard, lockout_seconds
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import ConnectionSettings, clean_rate_limit

KEY = 'sk-unit-guard-0123456789abcdef'
URL = 'http://127.0.0.1:9'
WHAT = 'GET %s/v1/user/balance' % URL
MARGIN = _rate_guard.SEND_MARGIN
VENDOR_BODY = (b'{"id": "0123", "name": "rate_limit_exceeded", "errors": ["You have exceeded the rate limit of 150 requests '
               b'within a 10 second period, and have been timed out for 60 seconds."]}')


@pytest.fixture
def clock(fake_clock):
    return fake_clock(_rate_guard, _locking)  # _locking: the polls of the state file's lock


def settings(rate_limit='2/10', **options):
    return ConnectionSettings(api_key=KEY, api_url=URL, rate_limit=rate_limit, **options)


def guard(directory, rate_limit='2/10', warnings=None, **options):
    return RateGuard(settings(rate_limit, **options), [] if warnings is None else warnings, directory=str(directory))


def state_files(directory):
    return [name for name in os.listdir(str(directory)) if name.startswith(_rate_guard.STATE_PREFIX)]


def far_deadline(clock):
    return clock.mono + 1000.0


# --- the budget -----------------------------------------------------------------------------

def test_guards_over_one_directory_share_one_budget(tmp_path, clock):
    first, second = guard(tmp_path), guard(tmp_path)
    first.wait(far_deadline(clock), WHAT)
    second.wait(far_deadline(clock), WHAT)
    assert clock.sleeps == []
    first.wait(far_deadline(clock), WHAT)
    assert clock.sleeps == [10.0 + MARGIN]
    assert first.shared and second.shared


def test_the_state_follows_stability_cache_dir(tmp_path, clock, monkeypatch, private_cache_home):
    """The demo points the cache elsewhere: the rate state used to land in ~/.cache all the same."""
    monkeypatch.setenv('STABILITY_CACHE_DIR', str(tmp_path / 'elsewhere'))
    assert RateGuard(settings(), []).shared
    assert len(state_files(tmp_path / 'elsewhere')) == 1
    assert not private_cache_home.exists()


def test_a_different_key_or_url_has_a_budget_of_its_own(tmp_path, clock):
    for options in ({}, {'api_key': KEY + 'x'}, {'api_url': 'http://127.0.0.1:10'}):
        merged = dict({'api_key': KEY, 'api_url': URL, 'rate_limit': '1/10'}, **options)
        RateGuard(ConnectionSettings(**merged), [], directory=str(tmp_path)).wait(far_deadline(clock), WHAT)
    assert clock.sleeps == []
    assert len(state_files(tmp_path)) == 3


def _child(directory, count, queue):
    slots = []
    shared = guard(directory, '6/0.5')
    reserve = shared._reserve

    def recording(*args):
        slot, turn = reserve(*args)
        assert turn
        slots.append(slot)
        return slot, turn
    shared._reserve = recording
    for dummy in range(count):
        shared.wait(time.monotonic() + 60, WHAT)
        assert time.time() >= slots[-1] - 0.001, 'sent before its slot'
    queue.put((shared.shared, slots))


def test_concurrent_processes_never_exceed_the_budget_in_any_window(tmp_path):
    context = multiprocessing.get_context('fork')
    queue = context.Queue()
    workers = [context.Process(target=_child, args=(str(tmp_path), 5, queue)) for dummy in range(6)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=60) for dummy in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert all(shared for shared, dummy in results)
    slots = sorted(slot for dummy, found in results for slot in found)
    assert len(slots) == 30
    assert max(sum(1 for other in slots if start <= other < start + 0.5 + MARGIN) for start in slots) == 6
    assert slots[-1] - slots[0] >= (30 / 6 - 1) * (0.5 + MARGIN) - 0.01


def test_threads_of_one_client_get_distinct_slots(tmp_path, clock):
    from concurrent.futures import ThreadPoolExecutor
    clock.frozen = True  # each wait shows its thread's slot
    shared = guard(tmp_path, '4/10')
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda dummy: shared.wait(far_deadline(clock), WHAT), range(12)))
    assert sorted(clock.sleeps) == [10.0 + MARGIN] * 4 + [20.0 + 2 * MARGIN] * 4


def test_a_turn_more_than_a_minute_away_fails_at_once_naming_rate_limit_and_the_turn(tmp_path, clock):
    """rate_limit 1/3600 used to put a second call to sleep for an hour."""
    clock.wall = 1767225600.0  # 2026-01-01T00:00:00Z
    shared = guard(tmp_path, '1/3600')
    shared.wait(far_deadline(clock), WHAT)
    with pytest.raises(StabilityRequestError) as caught:
        shared.wait(far_deadline(clock), WHAT)
    assert caught.value.msg == (WHAT + ' was not sent: its turn under rate_limit 1/3600 comes at 2026-01-01T01:00:01Z, '
                                'more than 60 s away, the longest a call waits for its turn')
    assert caught.value.status is None and clock.sleeps == []


def test_a_turn_exactly_a_minute_away_is_waited_for(tmp_path, clock):
    shared = guard(tmp_path, '1/%r' % (_rate_guard.TURN_WAIT_MAX - MARGIN))
    shared.wait(far_deadline(clock), WHAT)
    shared.wait(far_deadline(clock), WHAT)
    assert clock.sleeps == [_rate_guard.TURN_WAIT_MAX]


def test_a_turn_later_than_the_call_may_wait_fails_at_once_naming_its_bound(tmp_path, clock):
    clock.wall = 1767225600.0
    shared = guard(tmp_path, '1/10', timeout=2, retries=0)
    shared.wait(far_deadline(clock), WHAT)
    with pytest.raises(StabilityRequestError) as caught:
        shared.wait(clock.mono + 10.0, WHAT)
    assert caught.value.msg == (WHAT + ' was not sent: its turn under rate_limit 1/10 comes at 2026-01-01T00:00:11Z, '
                                'later than this call may take (timeout 2 s, retries 0)')
    shared.wait(clock.mono + 10.0 + MARGIN, WHAT)  # exactly at the bound: waited for
    assert clock.sleeps == [10.0 + MARGIN]


def test_a_refused_turn_is_not_taken(tmp_path, clock):
    shared = guard(tmp_path, '1/100')
    shared.wait(far_deadline(clock), WHAT)
    with pytest.raises(StabilityRequestError):
        shared.wait(far_deadline(clock), WHAT)
    clock.wall += 50.0
    clock.mono += 50.0
    shared.wait(far_deadline(clock), WHAT)  # 50.25 s away now: the refused request did not push it further
    assert clock.sleeps == [50.0 + MARGIN]


def test_a_guard_that_fell_back_refuses_a_far_turn_too(tmp_path, clock):
    (tmp_path / 'file').write_text(u'')
    alone = guard(tmp_path / 'file' / 'd', '1/3600')
    alone.wait(far_deadline(clock), WHAT)
    with pytest.raises(StabilityRequestError, match='its turn under rate_limit 1/3600 comes at .*, more than 60 s away'):
        alone.wait(far_deadline(clock), WHAT)
    short = guard(tmp_path / 'file' / 'd', '1/10')
    short.wait(clock.mono - 1.0, WHAT)  # a turn that needs no wait goes, whatever the bound
    with pytest.raises(StabilityRequestError, match='its turn under rate_limit 1/10 comes at .*, later than this call may take'):
        short.wait(clock.mono + 5.0, WHAT)
    short.wait(clock.mono + 10.0, WHAT)
    assert clock.sleeps == [10.0]


def test_a_request_refused_for_a_lockout_takes_no_turn(tmp_path, clock):
    shared = guard(tmp_path, '1/100')
    shared.record_lockout(b'has been timed out for 10 seconds')
    with pytest.raises(StabilityRequestError):
        shared.wait(clock.mono + 5, WHAT)
    shared.wait(far_deadline(clock), WHAT)
    assert clock.sleeps == [10.0]  # first in line after the lock-out: the refused request took no turn


def test_a_budget_of_0_turns_the_guard_off(tmp_path, clock):
    off = guard(tmp_path / 'd', '0')
    for dummy in range(500):
        off.wait(clock.mono, WHAT)
    off.record_lockout(VENDOR_BODY)
    off.wait(clock.mono, WHAT)
    assert clock.sleeps == []
    assert not (tmp_path / 'd').exists()


# --- the state on disk ----------------------------------------------------------------------

def test_private_files_hold_no_trace_of_the_key(tmp_path, clock):
    directory = tmp_path / 'd'
    shared = guard(directory)
    shared.wait(far_deadline(clock), WHAT)
    shared.record_lockout(VENDOR_BODY)
    assert stat.S_IMODE(os.stat(str(directory)).st_mode) == 0o700
    for name in os.listdir(str(directory)):
        path = str(directory / name)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path, 'rb') as handle:
            content = handle.read()
        assert KEY.encode() not in content and KEY not in name and KEY[-8:].encode() not in content


def test_a_damaged_state_file_falls_back_to_a_budget_of_its_own_with_one_warning(tmp_path, clock):
    guard(tmp_path)
    with open(str(tmp_path / state_files(tmp_path)[0]), 'w') as handle:
        handle.write('{"slots": [1, "x"], ')
    warnings = []
    damaged = guard(tmp_path, warnings=warnings)
    assert not damaged.shared
    assert len(warnings) == 1 and 'is damaged; remove it' in warnings[0] and 'rate_limit 2/10 on its own' in warnings[0]
    for dummy in range(3):
        damaged.wait(far_deadline(clock), WHAT)
    assert len(warnings) == 1
    assert len(clock.sleeps) == 1  # the per-process budget: the third request waits


@pytest.mark.parametrize('content', [
    '[]', '{"slots": [], "lockout_until": 0}', '{"slots": [1e400], "lockout_until": 0, "written": 0}',
    '{"slots": [1%s], "lockout_until": 0, "written": 0}' % ('0' * 400), '{"slots": [true], "lockout_until": 0, "written": 0}',
    '\xff\xfe',
])
def test_any_damage_is_caught(tmp_path, clock, content):
    guard(tmp_path)
    with open(str(tmp_path / state_files(tmp_path)[0]), 'w', encoding='latin-1') as handle:
        handle.write(content)
    warnings = []
    assert not guard(tmp_path, warnings=warnings).shared
    assert 'damaged' in warnings[0]


@pytest.mark.parametrize('content', ['', '   '])
def test_an_empty_state_file_is_a_fresh_state(tmp_path, clock, content):
    guard(tmp_path)
    with open(str(tmp_path / state_files(tmp_path)[0]), 'w') as handle:
        handle.write(content)
    warnings = []
    assert guard(tmp_path, warnings=warnings).shared and warnings == []


def test_a_directory_that_cannot_be_made_falls_back(tmp_path, clock):
    (tmp_path / 'file').write_text(u'')
    warnings = []
    fallback = guard(tmp_path / 'file' / 'd', warnings=warnings)
    assert not fallback.shared
    assert len(warnings) == 1 and 'cannot create the directory' in warnings[0]
    fallback.wait(far_deadline(clock), WHAT)


def test_a_directory_of_another_user_falls_back(tmp_path, clock, monkeypatch):
    monkeypatch.setattr(os, 'geteuid', lambda: os.stat(str(tmp_path)).st_uid + 1)
    warnings = []
    assert not guard(tmp_path, warnings=warnings).shared
    assert 'belongs to another user' in warnings[0]


def test_a_planted_symlink_is_not_followed(tmp_path, clock):
    guard(tmp_path)
    name = state_files(tmp_path)[0]
    os.unlink(str(tmp_path / name))
    os.symlink(str(tmp_path / 'elsewhere'), str(tmp_path / name))
    warnings = []
    assert not guard(tmp_path, warnings=warnings).shared
    assert not (tmp_path / 'elsewhere').exists() and len(warnings) == 1


def test_a_lock_held_too_long_falls_back_instead_of_hanging(tmp_path, monkeypatch):
    guard(tmp_path)
    monkeypatch.setattr(_rate_guard, 'LOCK_WAIT_SECONDS', 0.2)
    fd = os.open(str(tmp_path / state_files(tmp_path)[0]), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        started = time.monotonic()
        warnings = []
        blocked = guard(tmp_path, warnings=warnings)
        assert time.monotonic() - started < 2
    finally:
        os.close(fd)
    assert not blocked.shared and 'stayed locked by another process for 0.2 s' in warnings[0]


def test_a_state_that_breaks_after_the_start_falls_back_once(tmp_path, clock):
    warnings = []
    shared = guard(tmp_path, warnings=warnings)
    with open(str(tmp_path / state_files(tmp_path)[0]), 'w') as handle:
        handle.write('garbage')
    shared.wait(far_deadline(clock), WHAT)
    shared.wait(far_deadline(clock), WHAT)
    assert not shared.shared and len(warnings) == 1


# --- the clock ------------------------------------------------------------------------------

def test_a_clock_that_goes_back_moves_the_state_back_with_it(tmp_path, clock):
    first = guard(tmp_path)
    first.wait(far_deadline(clock), WHAT)
    first.wait(far_deadline(clock), WHAT)
    first.record_lockout(b'have been timed out for 30 seconds')
    clock.wall -= 3600.0  # an hour back; the monotonic clock does not move
    guard(tmp_path).wait(far_deadline(clock), WHAT)
    assert clock.sleeps == [30.0]  # the lock-out's 30 s, not an hour and 30 s


def test_a_clock_that_jumps_forward_costs_at_most_one_more_budget(tmp_path, clock):
    shared = guard(tmp_path)
    shared.wait(far_deadline(clock), WHAT)
    shared.wait(far_deadline(clock), WHAT)
    clock.wall += 3600.0
    for dummy in range(4):
        shared.wait(far_deadline(clock), WHAT)
    assert clock.sleeps == [10.0 + MARGIN]


# --- the lock-out ---------------------------------------------------------------------------

def test_the_vendor_s_lockout_text_is_read_and_a_retry_after_wins():
    assert lockout_seconds(VENDOR_BODY) == 60.0
    assert lockout_seconds(VENDOR_BODY, retry_after=2.0) == 2.0
    assert lockout_seconds(b'{"name": "rate_limit_exceeded", "message": "slow down"}') is None
    assert lockout_seconds(b'has been timed out for 99999999 seconds') == _rate_guard.MAX_LOCKOUT_SECONDS
    assert lockout_seconds(b'\xff\xfe timed out for 3 seconds') == 3.0


def test_a_lockout_one_process_met_holds_every_other_until_its_end(tmp_path, clock):
    guard(tmp_path).record_lockout(VENDOR_BODY)
    other = guard(tmp_path)
    other.wait(far_deadline(clock), WHAT)
    assert clock.sleeps == [60.0]
    other.wait(far_deadline(clock), WHAT)
    assert clock.sleeps == [60.0]


def test_a_lockout_that_ends_after_the_time_bound_fails_at_once_naming_its_end(tmp_path, clock):
    clock.wall = 1767225600.0  # 2026-01-01T00:00:00Z
    guard(tmp_path).record_lockout(VENDOR_BODY)
    other = guard(tmp_path, timeout=1, retries=0)
    with pytest.raises(StabilityRequestError) as caught:
        other.wait(clock.mono + 10, WHAT)
    assert caught.value.msg == (
        WHAT + ' was not sent: the API refuses this key until 2026-01-01T00:01:00Z after a 429 answer that said so, later than '
        'this call may take (timeout 1 s, retries 0); the API allows 150 requests per 10 seconds; cache or spread the reads')
    assert caught.value.status is None and clock.sleeps == []


def test_a_request_that_slept_for_its_turn_honours_a_lockout_recorded_meanwhile(tmp_path, clock):
    shared = guard(tmp_path, '1/10')
    shared.wait(far_deadline(clock), WHAT)

    def lockout_while_asleep():
        clock.on_sleep = None
        guard(tmp_path).record_lockout(b'have been timed out for 60 seconds')
    clock.on_sleep = lockout_while_asleep
    shared.wait(far_deadline(clock), WHAT)
    assert clock.sleeps == [10.0 + MARGIN, 60.0]


def test_a_lockout_is_remembered_by_a_guard_that_fell_back(tmp_path, clock):
    (tmp_path / 'file').write_text(u'')
    alone = guard(tmp_path / 'file' / 'd')
    alone.record_lockout(VENDOR_BODY)
    with pytest.raises(StabilityRequestError, match='refuses this key until'):
        alone.wait(clock.mono + 10, WHAT)
    alone.wait(far_deadline(clock), WHAT)
    assert clock.sleeps == [60.0]


# --- through the client ---------------------------------------------------------------------

def test_the_client_records_a_lockout_and_its_next_request_waits_for_the_end(fake_api, sleeps):
    fake_api.answer(429, body=VENDOR_BODY).answer(payload={'credits': 2.5})
    client = StabilityClient(ConnectionSettings(api_key=KEY, retries=1))
    assert client.fetch_balance() == 2.5
    assert len(fake_api.requests) == 2
    assert sleeps[-1] == pytest.approx(60.0, abs=1.0)


def test_other_clients_send_nothing_while_the_key_is_locked_out(fake_api, sleeps):
    fake_api.answer(429, body=b'You have been timed out for 120 seconds.')  # longer than a call waits
    with pytest.raises(StabilityRequestError, match='HTTP 429'):
        StabilityClient(ConnectionSettings(api_key=KEY, retries=0)).fetch_balance()
    with pytest.raises(StabilityRequestError) as caught:
        StabilityClient(ConnectionSettings(api_key=KEY, retries=0, timeout=5)).fetch_balance('org-a')
    assert len(fake_api.requests) == 1
    assert 'for organization org-a was not sent: the API refuses this key until ' in caught.value.msg


@pytest.mark.parametrize('seconds, waited', [(59, True), (61, False)])
def test_a_call_waits_for_a_lockout_only_within_the_minute_its_bound_allows(fake_api, sleeps, seconds, waited):
    """timeout 2, retries 0: the call's bound is 60 + 2 s, so its wait must end within 60 s."""
    fake_api.answer(429, body=b'have been timed out for %d seconds' % seconds).answer(payload={'credits': 2.5})
    with pytest.raises(StabilityRequestError, match='HTTP 429'):
        StabilityClient(ConnectionSettings(api_key=KEY, retries=0)).fetch_balance()
    other = StabilityClient(ConnectionSettings(api_key=KEY, retries=0, timeout=2))
    if waited:
        assert other.fetch_balance() == 2.5
        assert sleeps == [pytest.approx(seconds, abs=1.0)]
    else:
        with pytest.raises(StabilityRequestError, match='was not sent: the API refuses this key until'):
            other.fetch_balance()
        assert sleeps == [] and len(fake_api.requests) == 1


def test_a_retry_may_wait_for_what_the_earlier_attempts_left_of_the_bound(fake_api, sleeps):
    """timeout 30, retries 1 (bound 60 + 2 x 30 + 60 s): a 100 s lock-out met at once still fits before the last attempt."""
    fake_api.answer(429, body=b'have been timed out for 100 seconds').answer(payload={'credits': 2.5})
    assert StabilityClient(ConnectionSettings(api_key=KEY, retries=1, timeout=30)).fetch_balance() == 2.5
    assert sleeps[-1] == pytest.approx(100.0 - sleeps[0], abs=1.0)


def test_a_call_gets_no_turn_further_than_a_minute_away(fake_api, sleeps):
    fake_api.answer(payload={'credits': 1.0}).answer(payload={'credits': 1.0})
    first = StabilityClient(ConnectionSettings(api_key=KEY, rate_limit='1/3600'))
    assert first.fetch_balance() == 1.0
    with pytest.raises(StabilityRequestError) as caught:
        StabilityClient(ConnectionSettings(api_key=KEY, rate_limit='1/3600')).fetch_balance('org-a')
    assert 'for organization org-a was not sent: its turn under rate_limit 1/3600 comes at ' in caught.value.msg
    assert len(fake_api.requests) == 1 and sleeps == []


def test_the_client_warns_once_when_it_cannot_share_the_budget(private_cache_home, fake_api):
    private_cache_home.parent.mkdir(parents=True)
    private_cache_home.write_text(u'not a directory')
    client = StabilityClient(ConnectionSettings(api_key=KEY))
    assert len(client.warnings) == 1 and 'not coordinated with the other processes' in client.warnings[0]


# --- the option -----------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    (None, (100, 10)), ('100/10', (100, 10)), (' 20 / 2 ', (20, 2.0)), ('5/0.5', (5, 0.5)), ('0', None), (0, None), (0.0, None), ('0.0', None),
    ('1000/3600', (1000, 3600.0)),
])
def test_rate_limit_values(value, expected):
    assert clean_rate_limit(value) == expected


@pytest.mark.parametrize('value', ['', '100', 100, '10/0', '0/10', '1001/10', '10/3601', '-1/10', '10/-1', 'a/b', True, False,
                                   '10/10/10', '1e2/10', 'nan/10'])
def test_rate_limit_refuses_what_is_not_a_budget_in_one_line_naming_the_option(value):
    with pytest.raises(StabilityOptionError) as caught:
        ConnectionSettings(api_key=KEY, rate_limit=value)
    assert caught.value.msg.startswith('rate_limit must be N/S, at most N requests (1 to 1000) in any S seconds')
    assert caught.value.msg.endswith('got %r' % (value,)) and '\n' not in caught.value.msg


def test_a_refused_rate_limit_shows_the_default_as_the_example():
    with pytest.raises(StabilityOptionError) as caught:
        clean_rate_limit('100')
    assert caught.value.msg == ("rate_limit must be N/S, at most N requests (1 to 1000) in any S seconds (at most 3600), "
                                "such as 100/10, or 0 to turn the guard off, got '100'")


# --- found by mutation testing: exact wording, edges and the state's bytes -----------------

def fallback_warning(reason, rate='2/10'):
    return ('requests with this API key are not coordinated with the other processes on this host (%s); '
            'this task keeps to rate_limit %s on its own' % (reason, rate))


def state_path(directory):
    return str(directory / state_files(directory)[0])


def write_state(directory, content):
    with open(state_path(directory), 'w') as handle:
        handle.write(content)


def test_a_zero_or_negative_retry_after_means_no_lockout():
    assert lockout_seconds(VENDOR_BODY, retry_after=0.0) == 0.0
    assert lockout_seconds(VENDOR_BODY, retry_after=-5.0) == 0.0


def test_only_the_first_4_kib_of_a_body_are_searched():
    text = b'timed out for 7 second'
    assert lockout_seconds(b'x' * (4096 - len(text)) + text) == 7.0
    assert lockout_seconds(b'x' * (4097 - len(text)) + text) is None


def test_the_end_of_a_lockout_is_named_in_utc_whatever_the_local_zone(tmp_path, clock, local_zone):
    local_zone('EST+05')
    clock.wall = 1767225600.0  # 2026-01-01T00:00:00Z
    guard(tmp_path).record_lockout(VENDOR_BODY)
    with pytest.raises(StabilityRequestError, match='refuses this key until 2026-01-01T00:01:00Z after'):
        guard(tmp_path).wait(clock.mono + 10, WHAT)


def test_a_fresh_state_file_is_compact_json_without_slots_or_lockout(tmp_path, clock):
    guard(tmp_path)
    with open(state_path(tmp_path), 'rb') as handle:
        assert handle.read() == b'{"slots":[],"lockout_until":0.0,"written":1000000.0}'


def test_a_state_mixing_whole_and_fractional_numbers_is_usable(tmp_path, clock):
    guard(tmp_path)
    write_state(tmp_path, '{"slots": [999999.5], "lockout_until": 0, "written": 1000000.0}')
    warnings = []
    assert guard(tmp_path, warnings=warnings).shared and warnings == []


def damage_warning(directory, what):
    return 'ignored what %s holds that this collection cannot have written: %s' % (state_path(directory), what)


def test_a_lockout_further_ahead_than_the_guard_ever_writes_is_ignored_with_one_warning(tmp_path, clock):
    """A planted lock-out a day ahead used to refuse every call for a day, blaming the API."""
    clock.wall = 1767225600.0  # 2026-01-01T00:00:00Z
    guard(tmp_path)
    write_state(tmp_path, '{"slots": [], "lockout_until": %r, "written": %r}' % (clock.wall + 86400.0, clock.wall))
    warnings = []
    shared = guard(tmp_path, warnings=warnings, timeout=2, retries=0)
    shared.wait(clock.mono + 2.0, WHAT)
    shared.wait(clock.mono + 2.0, WHAT)
    assert shared.shared and clock.sleeps == []
    assert warnings == [damage_warning(tmp_path, 'a lock-out 86400 s ahead, more than 3600 s')]
    again = []
    guard(tmp_path, warnings=again)
    assert again == []  # the state was written back without it


def test_turns_further_ahead_than_a_call_waits_are_ignored_with_one_warning(tmp_path, clock):
    """Slots a day ahead used to make a timeout 2, retries 0 call sleep for a day in silence."""
    guard(tmp_path)
    far = clock.wall + 86400.0
    write_state(tmp_path, '{"slots": [%r, %r, %r], "lockout_until": 0, "written": %r}' % (
        clock.wall + _rate_guard.TURN_WAIT_MAX, far, far + 1, clock.wall))
    warnings = []
    shared = guard(tmp_path, '2/10', warnings=warnings, timeout=2, retries=0)
    assert warnings == [damage_warning(tmp_path, '2 turns more than 60 s ahead')]
    shared.wait(clock.mono + 2.0, WHAT)  # one turn at exactly a minute ahead is the guard's own, and kept
    assert clock.sleeps == []
    with pytest.raises(StabilityRequestError, match='its turn under rate_limit 2/10 comes at'):
        shared.wait(clock.mono + 2.0, WHAT)
    assert len(warnings) == 1


def test_a_lockout_exactly_as_far_ahead_as_the_guard_writes_is_believed(tmp_path, clock):
    guard(tmp_path)
    write_state(tmp_path, '{"slots": [], "lockout_until": %r, "written": 1000000.0}' % (1000000.0 + _rate_guard.MAX_LOCKOUT_SECONDS))
    warnings = []
    shared = guard(tmp_path, warnings=warnings)
    assert shared.shared and warnings == []
    with pytest.raises(StabilityRequestError, match='the API refuses this key until'):
        shared.wait(clock.mono + 60.0, WHAT)


def test_damage_seen_in_one_guard_is_told_once(tmp_path, clock):
    guard(tmp_path)
    warnings = []
    shared = guard(tmp_path, warnings=warnings)
    for dummy in range(2):
        write_state(tmp_path, '{"slots": [1e12], "lockout_until": 1e12, "written": 1000000.0}')
        shared.wait(far_deadline(clock), WHAT)
    assert warnings == [damage_warning(tmp_path, 'a lock-out %d s ahead, more than 3600 s; 1 turn more than 60 s ahead' % (1e12 - clock.wall))]


def test_a_state_of_the_largest_size_is_read_whole_and_a_larger_one_is_damage(tmp_path, clock):
    guard(tmp_path)
    body = '{"slots": [], "lockout_until": 0, "written": 1000000.0'
    for size, usable in ((_rate_guard.MAX_STATE_BYTES, True), (_rate_guard.MAX_STATE_BYTES + 2, False)):
        write_state(tmp_path, body + ' ' * (size - len(body) - 1) + '}')
        assert os.path.getsize(state_path(tmp_path)) == size
        assert guard(tmp_path).shared is usable


def test_a_state_that_would_grow_over_the_bound_falls_back_naming_it(tmp_path, clock, monkeypatch):
    guard(tmp_path)
    monkeypatch.setattr(_rate_guard, 'MAX_STATE_BYTES', os.path.getsize(state_path(tmp_path)))
    warnings = []
    shared = guard(tmp_path, warnings=warnings)
    assert shared.shared and warnings == []  # exactly at the bound is fine
    shared.wait(far_deadline(clock), WHAT)
    assert warnings == [fallback_warning('%s would grow over %d bytes' % (state_path(tmp_path), _rate_guard.MAX_STATE_BYTES))]


def test_a_damaged_state_warning_names_the_file_and_what_to_do(tmp_path, clock):
    warnings = []
    shared = guard(tmp_path, warnings=warnings)
    write_state(tmp_path, 'garbage')
    shared.wait(far_deadline(clock), WHAT)
    assert warnings == [fallback_warning('%s is damaged; remove it' % state_path(tmp_path))]


def test_a_planted_symlink_warning_names_the_file(tmp_path, clock):
    guard(tmp_path)
    path = state_path(tmp_path)
    os.unlink(path)
    os.symlink(str(tmp_path / 'elsewhere'), path)
    warnings = []
    guard(tmp_path, warnings=warnings)
    assert warnings == [fallback_warning('%s is a symbolic link (it is not followed), not a regular file' % path)]


def test_a_file_system_without_locks_falls_back_naming_the_file(tmp_path, clock, monkeypatch):
    guard(tmp_path)

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))
    monkeypatch.setattr(_locking, 'fcntl', types.SimpleNamespace(flock=no_locks, LOCK_EX=fcntl.LOCK_EX, LOCK_SH=fcntl.LOCK_SH, LOCK_NB=fcntl.LOCK_NB))
    warnings = []
    assert not guard(tmp_path, warnings=warnings).shared
    assert warnings == [fallback_warning('cannot use %s: %s' % (state_path(tmp_path), os.strerror(errno.ENOLCK)))]


def test_a_lock_held_a_little_while_is_polled_with_growing_pauses_not_given_up(tmp_path, clock):
    guard(tmp_path)
    holder = os.open(state_path(tmp_path), os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)

    def release_after_six_polls():
        if len(clock.sleeps) == 6:
            os.close(holder)
    clock.on_sleep = release_after_six_polls
    warnings = []
    assert guard(tmp_path, warnings=warnings).shared and warnings == []
    assert clock.sleeps == [0.0005, 0.001, 0.002, 0.004, 0.005, 0.005]


def test_a_lock_held_too_long_warning_names_the_file(tmp_path, clock, monkeypatch):
    guard(tmp_path)
    holder = os.open(state_path(tmp_path), os.O_RDWR)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        warnings = []
        guard(tmp_path, warnings=warnings)
    finally:
        os.close(holder)
    assert warnings == [fallback_warning('%s stayed locked by another process for 5 s' % state_path(tmp_path))]


def test_a_lockout_that_ends_exactly_at_the_time_bound_is_waited_for(tmp_path, clock):
    guard(tmp_path).record_lockout(VENDOR_BODY)
    guard(tmp_path).wait(clock.mono + 60.0, WHAT)
    assert clock.sleeps == [60.0]


@pytest.mark.parametrize('later, pause', [
    (10.125, MARGIN - 0.125),  # just over a window after the last turn: the send margin is still kept
    (9.75, 0.5),  # a turn less than a second away is still waited for
])
def test_a_turn_close_to_the_end_of_a_window_waits_for_the_rest(tmp_path, clock, later, pause):
    shared = guard(tmp_path, '1/10')
    shared.wait(far_deadline(clock), WHAT)
    clock.wall += later
    clock.mono += later
    shared.wait(far_deadline(clock), WHAT)
    assert clock.sleeps == [pytest.approx(pause)]


def test_a_lockout_this_process_met_holds_even_if_the_shared_state_lost_it(tmp_path, clock):
    shared = guard(tmp_path)
    shared.record_lockout(VENDOR_BODY)
    os.unlink(state_path(tmp_path))  # someone cleaned the cache directory
    shared.wait(far_deadline(clock), WHAT)
    assert clock.sleeps == [60.0]


def test_a_retry_after_header_sets_the_recorded_lockout(tmp_path, clock):
    guard(tmp_path).record_lockout(VENDOR_BODY, retry_after=5.0)
    guard(tmp_path).wait(far_deadline(clock), WHAT)
    assert clock.sleeps == [5.0]


def test_a_state_that_breaks_before_a_lockout_is_recorded_falls_back_naming_why(tmp_path, clock):
    warnings = []
    shared = guard(tmp_path, warnings=warnings)
    write_state(tmp_path, 'garbage')
    shared.record_lockout(VENDOR_BODY)
    assert warnings == [fallback_warning('%s is damaged; remove it' % state_path(tmp_path))]
    with pytest.raises(StabilityRequestError):
        shared.wait(clock.mono + 10, WHAT)


def test_a_guard_that_fell_back_names_the_request_it_refuses(tmp_path, clock):
    (tmp_path / 'file').write_text(u'')
    alone = guard(tmp_path / 'file' / 'd')
    alone.record_lockout(VENDOR_BODY)
    with pytest.raises(StabilityRequestError) as caught:
        alone.wait(clock.mono + 10, WHAT)
    assert caught.value.msg.startswith(WHAT + ' was not sent: the API refuses this key until ')


def test_a_lockout_that_ended_just_now_holds_nothing_back(tmp_path, clock):
    (tmp_path / 'file').write_text(u'')
    alone = guard(tmp_path / 'file' / 'd')
    alone.record_lockout(b'has been timed out for 0 seconds')
    alone.wait(clock.mono - 1, WHAT)
    assert clock.sleeps == []


def test_a_guard_turned_off_shares_nothing(tmp_path, clock):
    assert not guard(tmp_path, '0').shared


def test_the_lockout_is_only_read_again_after_a_sleep(tmp_path, clock):
    shared = guard(tmp_path, '1/10')
    shared.wait(far_deadline(clock), WHAT)
    seen = []

    def snapshot():
        with open(state_path(tmp_path), 'rb') as handle:
            seen.append(handle.read())
    clock.on_sleep = snapshot
    shared.wait(far_deadline(clock), WHAT)
    with open(state_path(tmp_path), 'rb') as handle:
        assert [handle.read()] == seen


def test_a_state_file_open_to_other_users_falls_back_naming_it(tmp_path, clock):
    guard(tmp_path)
    os.chmod(state_path(tmp_path), 0o644)
    warnings = []
    assert not guard(tmp_path, warnings=warnings).shared
    assert len(warnings) == 1 and warnings[0].startswith(fallback_warning('%s is open to other users' % state_path(tmp_path)).split(')')[0])
