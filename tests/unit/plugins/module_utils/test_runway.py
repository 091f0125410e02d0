# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The runway forecast on hand-made ledgers, and the wording of the runway gates."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import random
import types

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils import _runway
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError
from ansible_collections.stabilityai.platform.plugins.module_utils._runway import (
    clean_runway_threshold,
    describe_runway,
    format_time,
    needs_default_organization,
    organization_history,
    parse_time,
    runway,
    runway_gate,
)

NOW = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.timezone.utc)
ORG = 'org-a'


def at(days_ago, hours=0.0):
    return format_time(NOW - datetime.timedelta(days=days_ago, hours=hours))


def run(run_id, days_ago, before, after, organization=ORG, minutes=10):
    """The two readings of one run: start ``minutes`` before the end."""
    return [
        dict(time=at(days_ago, minutes / 60.0), organization_id=organization, credits=before, run_id=run_id, event='start', playbook='p.yml'),
        dict(time=at(days_ago), organization_id=organization, credits=after, run_id=run_id, event='end', playbook='p.yml'),
    ]


def test_steady_spend_gives_the_daily_rate_and_the_median_run():
    # One run a day for 4 days, 10 credits each, nothing else: 40 credits over 4 days.
    readings = run('r1', 4, 1000, 990) + run('r2', 3, 990, 980) + run('r3', 2, 980, 970) + run('r4', 1, 970, 960)
    forecast = runway(readings, ORG, 960, now=NOW)
    assert forecast['spent_per_day'] == pytest.approx(40 / (4 + 10 / 1440.0))
    assert forecast['days_left'] == pytest.approx(960 / forecast['spent_per_day'])
    assert forecast['spent_per_run'] == 10
    assert forecast['runs_left'] == 96
    assert forecast['runs_recorded'] == 4
    assert forecast['reason'] is None


def test_a_top_up_is_not_negative_spend():
    readings = run('r1', 3, 100, 90) + run('r2', 2, 590, 580) + run('r3', 1, 580, 570)  # +500 between r1 and r2
    forecast = runway(readings, ORG, 570, now=NOW)
    spent = 10 + 10 + 10
    assert forecast['spent_per_day'] == pytest.approx(spent / (3 + 10 / 1440.0))
    assert forecast['spent_per_run'] == 10


def test_a_run_during_which_the_balance_rose_is_left_out_of_the_median():
    readings = run('r1', 3, 100, 90) + run('r2', 2, 90, 1080) + run('r3', 1, 1080, 1050)
    forecast = runway(readings, ORG, 1050, now=NOW)
    assert forecast['runs_recorded'] == 2
    assert forecast['spent_per_run'] == 20.0  # median of 10 and 30


def test_runs_that_spent_nothing_count_in_the_median():
    readings = run('r1', 3, 100, 100) + run('r2', 2, 100, 100) + run('r3', 1, 100, 40)
    forecast = runway(readings, ORG, 40, now=NOW)
    assert forecast['spent_per_run'] == 0
    assert forecast['runs_left'] is None
    assert 'spent nothing' in forecast['reason']
    assert forecast['days_left'] == pytest.approx(40 / forecast['spent_per_day'])


def test_nothing_spent_in_the_window_gives_no_days_left_and_says_why():
    readings = run('r1', 3, 100, 100)
    forecast = runway(readings, ORG, 100, now=NOW)
    assert forecast['spent_per_day'] == 0
    assert forecast['days_left'] is None
    assert 'nothing was spent in the last 7 days' in forecast['reason']


def test_gaps_of_days_spread_the_spend_over_the_whole_time():
    readings = run('r1', 6, 1000, 900) + run('r2', 1, 900, 800)  # nothing recorded for five days
    forecast = runway(readings, ORG, 800, now=NOW)
    assert forecast['spent_per_day'] == pytest.approx(200 / (6 + 10 / 1440.0))
    assert forecast['runs_left'] == 8


def test_quiet_days_since_the_last_reading_lower_the_rate():
    readings = run('r1', 2, 100, 80)
    forecast = runway(readings, ORG, 80, now=NOW)
    assert forecast['spent_per_day'] == pytest.approx(20 / (2 + 10 / 1440.0))


def test_spend_between_runs_counts_for_the_day_rate_not_the_run():
    # Something else spent 30 between the runs (the live balance is lower than the last end).
    readings = run('r1', 2, 100, 90)
    forecast = runway(readings, ORG, 60, now=NOW)
    assert forecast['spent_per_day'] == pytest.approx(40 / (2 + 10 / 1440.0))
    assert forecast['spent_per_run'] == 10
    assert forecast['runs_left'] == 6


def test_a_single_reading_is_too_little_data():
    readings = [dict(time=at(0, 1), organization_id=ORG, credits=100, run_id='r1', event='start', playbook='p.yml')]
    forecast = runway(readings, ORG, 99, now=NOW)
    assert forecast['days_left'] is None and forecast['runs_left'] is None
    assert forecast['runs_recorded'] == 0
    assert 'less than a day of readings' in forecast['reason']
    assert 'no complete run' in forecast['reason']


def test_an_empty_ledger_is_too_little_data():
    forecast = runway([], ORG, 100, now=NOW)
    assert forecast['spent_per_day'] is None and forecast['spent_per_run'] is None
    assert forecast['reason']


def test_one_complete_run_today_gives_runs_left_but_no_days_left():
    forecast = runway(run('r1', 0, 100, 90), ORG, 90, now=NOW)
    assert forecast['runs_left'] == 9
    assert forecast['days_left'] is None
    assert forecast['reason'] == 'the ledger holds less than a day of readings in the last 7 days'


def test_readings_out_of_order_give_the_same_forecast():
    readings = run('r1', 4, 1000, 990) + run('r2', 3, 1500, 1480) + run('r3', 2, 1480, 1470) + run('r4', 1, 1470, 1440)
    shuffled = list(readings)
    random.Random(12).shuffle(shuffled)
    assert runway(shuffled, ORG, 1440, now=NOW) == runway(readings, ORG, 1440, now=NOW)
    assert runway(readings, ORG, 1440, now=NOW)['spent_per_run'] == 15


def test_two_organizations_interleaved_are_kept_apart():
    a = run('r1', 3, 1000, 990) + run('r2', 2, 990, 980)
    b = run('r1', 3, 50, 20, organization='org-b') + run('r2', 2, 20, 5, organization='org-b')
    readings = [line for pair in zip(a, b) for line in pair]
    assert runway(readings, ORG, 980, now=NOW)['spent_per_run'] == 10
    assert runway(readings, 'org-b', 5, now=NOW)['spent_per_run'] == 22.5
    assert runway(readings, None, 5, now=NOW)['runs_recorded'] == 0  # the default organization: no id


def test_readings_outside_the_window_do_not_count():
    readings = run('old', 9, 5000, 4000) + run('r1', 3, 1000, 990) + run('r2', 2, 990, 980)
    forecast = runway(readings, ORG, 980, now=NOW)
    assert forecast['spent_per_run'] == 10
    assert forecast['runs_recorded'] == 2
    assert runway(readings, ORG, 980, now=NOW, window_days=10)['runs_recorded'] == 3


def test_readings_after_now_do_not_count():
    readings = run('r1', 3, 1000, 990) + [dict(time=at(-1), organization_id=ORG, credits=0, run_id='r9', event='start', playbook='p.yml')]
    assert runway(readings, ORG, 990, now=NOW)['spent_per_day'] == pytest.approx(10 / (3 + 10 / 1440.0))


def test_a_run_without_an_end_is_not_complete():
    readings = run('r1', 3, 1000, 990) + run('r2', 2, 990, 900)[:1]
    assert runway(readings, ORG, 900, now=NOW)['runs_recorded'] == 1


def test_an_overdrawn_balance_has_no_runway_left():
    forecast = runway(run('r1', 3, 10, 5) + run('r2', 2, 5, -3), ORG, -3, now=NOW)
    assert forecast['days_left'] == 0
    assert forecast['runs_left'] == 0


def test_times_with_offsets_or_without_a_zone_are_utc():
    assert parse_time('2026-03-10T12:00:00Z') == NOW
    assert parse_time('2026-03-10T13:00:00+01:00') == NOW
    assert parse_time('2026-03-10T12:00:00') == NOW
    assert parse_time(format_time(NOW)) == NOW
    with pytest.raises(ValueError):
        parse_time('yesterday')
    with pytest.raises(ValueError):
        parse_time(12)


@pytest.mark.parametrize('value, expected', [(None, None), ('3', 3.0), (0, 0.0), (2.5, 2.5)])
def test_runway_thresholds_accept_numbers_from_zero(value, expected):
    assert clean_runway_threshold('min_days_left', value) == expected


@pytest.mark.parametrize('value', [-1, 'soon', True, float('inf'), float('nan'), []])
def test_runway_thresholds_refuse_anything_else_naming_the_option(value):
    with pytest.raises(StabilityOptionError, match=r'^min_runs_left must be a number of runs, 0 or more, got '):
        clean_runway_threshold('min_runs_left', value)


def test_the_days_gate_names_each_organization_its_runway_and_the_threshold():
    short = dict(days_left=2.3, spent_per_day=40.0, runs_left=3, spent_per_run=30.0, reason=None)
    long = dict(days_left=30.0, spent_per_day=4.0, runs_left=30, spent_per_run=4.0, reason=None)
    failure, warning = runway_gate('min_days_left', 7, [('org-a (A)', short), ('org-b', long)])
    assert failure == 'Runway below min_days_left 7: org-a (A) has 2.3 days left, spending 40.00 credits a day'
    assert warning is None
    failure, warning = runway_gate('min_runs_left', 5, [('org-a (A)', short), ('org-b', long)])
    assert failure == 'Runway below min_runs_left 5: org-a (A) has 3 runs left at 30.00 credits a run'
    assert runway_gate('min_runs_left', 3, [('org-a', short)]) == (None, None)
    assert runway_gate('min_runs_left', None, [('org-a', short)]) == (None, None)


def test_a_gate_without_data_warns_with_the_reason_and_passes():
    thin = dict(days_left=None, spent_per_day=None, runs_left=None, spent_per_run=None, reason='no complete run')
    failure, warning = runway_gate('min_runs_left', 5, [('org-a', thin)])
    assert failure is None
    assert warning == 'min_runs_left 5 not checked, too little data in the ledger: org-a: no complete run'


def test_describe_runway():
    assert describe_runway(dict(days_left=12.34, runs_left=1, reason=None)) == '12.3 days, 1 run left'
    assert describe_runway(dict(days_left=None, runs_left=4, reason='thin')) == '4 runs left (thin)'
    assert describe_runway(dict(days_left=None, runs_left=None, reason='thin')) == 'unknown: thin'


def test_the_median_of_an_odd_number_of_runs_is_the_middle_one():
    readings = run('r1', 3, 100, 95) + run('r2', 2, 95, 65) + run('r3', 1, 65, 55)  # runs of 5, 30 and 10
    assert runway(readings, ORG, 55, now=NOW)['spent_per_run'] == 10


def test_the_forecast_names_its_window():
    assert runway([], ORG, 100, now=NOW)['window_days'] == 7
    assert runway([], ORG, 100, now=NOW, window_days=3)['window_days'] == 3


def test_a_reading_exactly_at_the_start_of_the_window_counts():
    readings = [dict(time=at(7), organization_id=ORG, credits=170, run_id='r1', event='start', playbook='p.yml')]
    assert runway(readings, ORG, 100, now=NOW)['spent_per_day'] == pytest.approx(10.0)


def test_exactly_one_day_of_readings_is_enough_for_the_daily_rate():
    readings = [dict(time=at(1), organization_id=ORG, credits=110, run_id='r1', event='start', playbook='p.yml')]
    forecast = runway(readings, ORG, 100, now=NOW)
    assert forecast['spent_per_day'] == pytest.approx(10.0)
    assert forecast['days_left'] == pytest.approx(10.0)


def test_the_reason_names_the_minimum_of_observed_days_when_it_is_not_one(monkeypatch):
    monkeypatch.setattr(_runway, 'MIN_OBSERVED_DAYS', 2.5)
    forecast = runway(run('r1', 2, 100, 90), ORG, 90, now=NOW)
    assert forecast['reason'] == 'the ledger holds less than 2.5 days of readings in the last 7 days'


def test_small_spends_still_give_a_runway():
    # Less than one credit a run and in the whole window: still spend, not nothing.
    forecast = runway(run('r1', 2, 10.0, 9.75) + run('r2', 1, 9.75, 9.5), ORG, 9.5, now=NOW)
    assert forecast['spent_per_run'] == pytest.approx(0.25)
    assert forecast['runs_left'] == 38
    assert forecast['days_left'] == pytest.approx(9.5 / (0.5 / (2 + 10 / 1440.0)))
    assert forecast['reason'] is None


def test_an_overdrawn_balance_has_no_runs_left_even_for_small_runs():
    forecast = runway(run('r1', 2, 0.5, 0.25) + run('r2', 1, 0.25, -0.5), ORG, -0.5, now=NOW)
    assert forecast['spent_per_run'] == pytest.approx(0.5)
    assert forecast['runs_left'] == 0
    forecast = runway(run('r1', 2, 1.0, 0.75), ORG, 0.5, now=NOW)
    assert forecast['runs_left'] == 2  # 0.5 credits left at 0.25 a run


def test_the_reasons_read_exactly():
    forecast = runway(run('r1', 3, 100, 100), ORG, 100, now=NOW)
    assert forecast['reason'] == 'nothing was spent in the last 7 days; the runs of the last 7 days spent nothing'
    assert runway([], ORG, 100, now=NOW)['reason'] == (
        'the ledger holds less than a day of readings in the last 7 days; '
        'no complete run (a start and an end reading) in the last 7 days')


def test_without_now_the_forecast_is_for_the_current_time():
    now = datetime.datetime.now(datetime.timezone.utc)
    readings = [dict(time=format_time(now - datetime.timedelta(days=2, minutes=10)), organization_id=ORG, credits=100, run_id='r1',
                     event='start', playbook='p.yml'),
                dict(time=format_time(now - datetime.timedelta(days=2)), organization_id=ORG, credits=80, run_id='r1',
                     event='end', playbook='p.yml')]
    forecast = runway(readings, ORG, 80)
    assert forecast['runs_left'] == 4
    assert forecast['spent_per_day'] == pytest.approx(10.0, rel=0.01)


def test_readings_at_the_same_time_keep_the_order_they_were_written_in():
    # Spent 10 at the instant of the reading, then topped up by 10 since: 10 spent, not 0.
    readings = [dict(time=at(2), organization_id=ORG, credits=credits, run_id='r1', event=event, playbook='p.yml')
                for credits, event in ((100, 'start'), (90, 'end'))]
    assert runway(readings, ORG, 100, now=NOW)['spent_per_day'] == pytest.approx(5.0)


def test_readings_without_a_run_id_make_no_run():
    readings = [dict(reading, run_id=None) for reading in run('r1', 2, 100, 90)]
    assert runway(readings, ORG, 90, now=NOW)['runs_recorded'] == 0


def test_the_ledger_time_is_utc_whatever_the_local_zone(local_zone):
    local_zone('EST+05')
    assert format_time(NOW) == '2026-03-10T12:00:00.000000Z'
    assert format_time(datetime.datetime(2026, 3, 10, 13, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))) == (
        '2026-03-10T12:00:00.000000Z')


class StrictIsoDatetime(datetime.datetime):
    """``fromisoformat`` as Python 3.7 to 3.10 have it (the modules run there): no ``Z``."""

    @classmethod
    def fromisoformat(cls, date_string):
        if date_string.endswith(('Z', 'z')):
            raise ValueError('Invalid isoformat string: %r' % date_string)
        return datetime.datetime.fromisoformat(date_string)


def test_a_trailing_z_in_either_case_is_read_even_where_fromisoformat_does_not_know_it(monkeypatch):
    assert parse_time('2026-03-10T12:00:00z') == NOW
    monkeypatch.setattr(_runway, 'datetime', types.SimpleNamespace(datetime=StrictIsoDatetime))
    assert parse_time('2026-03-10T12:00:00Z') == NOW
    assert parse_time('2026-03-10T12:00:00.000000z') == NOW


def test_a_time_that_is_not_a_string_says_so():
    with pytest.raises(ValueError, match='^time is not a string$'):
        parse_time(None)


def test_a_gate_names_every_organization_below_and_every_one_unknown():
    short = dict(days_left=2.0, spent_per_day=5.0, runs_left=None, spent_per_run=None, reason='no complete run')
    failure, warning = runway_gate('min_days_left', 7, [('org-a', short), ('org-b', short)])
    assert failure == ('Runway below min_days_left 7: org-a has 2.0 days left, spending 5.00 credits a day; '
                       'org-b has 2.0 days left, spending 5.00 credits a day')
    failure, warning = runway_gate('min_runs_left', 1, [('org-a', short), ('org-b', short)])
    assert warning == 'min_runs_left 1 not checked, too little data in the ledger: org-a: no complete run; org-b: no complete run'


# --- one organization's history ----------------------------------------------------------------

LEGACY = run('old1', 3, 100, 90, organization=None) + run('old2', 2, 90, 80, organization=None)  # 1.x: the default without an id
BY_ID = run('new1', 1, 80, 70)  # 2.0.0: the same organization by its id
OTHER = run('x1', 1, 500, 400, organization='org-b')


def test_readings_without_an_id_are_the_readers_default_organizations():
    readings = LEGACY + BY_ID + OTHER
    assert organization_history(readings, ORG, default_organization_id=ORG) == LEGACY + BY_ID
    assert organization_history(readings, None, default_organization_id=ORG) == LEGACY + BY_ID
    assert organization_history(readings, 'org-b', default_organization_id=ORG) == OTHER


def test_a_reader_that_does_not_know_the_default_counts_readings_without_an_id_only_for_the_default():
    readings = LEGACY + BY_ID + OTHER
    assert organization_history(readings, None) == LEGACY
    assert organization_history(readings, ORG) == BY_ID
    assert organization_history(readings, 'org-b', default_organization_id=None) == OTHER


def test_the_forecast_reads_both_spellings_of_the_default_organization():
    readings = LEGACY + BY_ID + OTHER
    by_id = runway(readings, ORG, 70, now=NOW, default_organization_id=ORG)
    as_default = runway(readings, None, 70, now=NOW, default_organization_id=ORG)
    assert by_id == as_default and by_id['runs_recorded'] == 3 and by_id['spent_per_run'] == 10
    assert runway(readings, 'org-b', 400, now=NOW, default_organization_id=ORG)['runs_recorded'] == 1


@pytest.mark.parametrize('readings, asked, expected', [
    ([], [None], False),
    ([], [ORG], False),
    (LEGACY, [None], False),          # the default asked as such: readings without an id are its own
    (LEGACY, [ORG], True),            # is org-a the default? only the account knows
    (LEGACY, ['org-b', None], True),
    (BY_ID, [ORG, 'org-b'], False),   # ids against ids
    (BY_ID, [None], True),            # is org-a the default?
    (LEGACY + BY_ID, [None], True),
])
def test_the_default_organizations_id_is_needed_only_when_the_ledger_mixes_the_spellings(readings, asked, expected):
    assert needs_default_organization(readings, asked) is expected
