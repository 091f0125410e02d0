# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The runway forecast on hand-made ledgers, and the wording of the runway gates."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import random

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError
from ansible_collections.stabilityai.platform.plugins.module_utils._runway import (
    clean_runway_threshold,
    describe_runway,
    format_time,
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
