# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The runway forecast on hand-made ledgers, and the wording of the runway gates."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import math
import os
import random
import sys

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from ansible_collections.stabilityai.platform.plugins.module_utils import _runway
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError
from ansible_collections.stabilityai.platform.plugins.module_utils._ledger import format_time, parse_time
from ansible_collections.stabilityai.platform.plugins.module_utils._thresholds import clean_runway_threshold, runway_gate
from ansible_collections.stabilityai.platform.plugins.module_utils._runway import (
    describe_runway,
    needs_default_organization,
    organization_history,
    runway,
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


def test_runs_that_spent_nothing_count_in_the_median_but_the_costliest_run_gives_the_runs_left():
    readings = run('r1', 3, 100, 100) + run('r2', 2, 100, 100) + run('r3', 1, 100, 40)
    forecast = runway(readings, ORG, 40, now=NOW)
    assert forecast['spent_per_run'] == 0
    assert forecast['spent_per_run_max'] == 60
    assert forecast['runs_left'] == 0
    assert forecast['reason'] is None
    assert forecast['days_left'] == pytest.approx(40 / forecast['spent_per_day'])


def test_runs_that_all_spent_nothing_give_no_runs_left_and_say_why():
    forecast = runway(run('r1', 3, 100, 100) + run('r2', 2, 100, 100), ORG, 100, now=NOW)
    assert (forecast['spent_per_run'], forecast['spent_per_run_max'], forecast['runs_left']) == (0, 0, None)
    assert 'the runs of the last 7 days spent nothing' in forecast['reason']


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


@pytest.mark.parametrize('value, expected', [(None, None), ('3', 3.0), (0, 0.0), (2.5, 2.5)])
def test_runway_thresholds_accept_numbers_from_zero(value, expected):
    assert clean_runway_threshold('min_days_left', value) == expected


@pytest.mark.parametrize('value', [-1, 'soon', True, float('inf'), float('nan'), []])
def test_runway_thresholds_refuse_anything_else_naming_the_option(value):
    with pytest.raises(StabilityOptionError, match=r'^min_runs_left must be a number of runs, 0 or more, got '):
        clean_runway_threshold('min_runs_left', value)


def test_the_days_gate_names_each_organization_its_runway_its_balance_and_the_threshold():
    short = dict(days_left=2.3, spent_per_day=40.0, runs_left=3, spent_per_run=20.0, spent_per_run_max=30.0, reason=None)
    long = dict(days_left=30.0, spent_per_day=4.0, runs_left=30, spent_per_run=4.0, spent_per_run_max=4.0, reason=None)
    failure, warning = runway_gate('min_days_left', 7, [('org-a (A)', 92.0, short), ('org-b', 120.0, long)])
    assert failure == 'Runway below min_days_left 7: org-a (A) has 2.3 days left, spending 40.00 credits a day (92.00 credits)'
    assert warning is None
    failure, warning = runway_gate('min_runs_left', 5, [('org-a (A)', 92.0, short), ('org-b', 120.0, long)])
    assert failure == 'Runway below min_runs_left 5: org-a (A) has 3 runs left at up to 30.00 credits a run (92.00 credits)'
    assert runway_gate('min_runs_left', 3, [('org-a', 92.0, short)]) == (None, None)
    assert runway_gate('min_runs_left', None, [('org-a', 92.0, short)]) == (None, None)


def test_a_gate_without_data_warns_with_the_reason_and_passes():
    thin = dict(days_left=None, spent_per_day=None, runs_left=None, spent_per_run=None, spent_per_run_max=None, reason='no complete run')
    failure, warning = runway_gate('min_runs_left', 5, [('org-a', 10.0, thin)])
    assert failure is None
    assert warning == 'min_runs_left 5 not checked, too little data in the ledger: org-a: no complete run'


def test_a_gate_without_data_fails_when_the_runway_is_required():
    thin = dict(days_left=None, spent_per_day=None, runs_left=None, spent_per_run=None, spent_per_run_max=None, reason='no complete run')
    short = dict(thin, runs_left=1, spent_per_run_max=6.0, reason=None)
    failure, warning = runway_gate('min_runs_left', 5, [('org-a', 10.0, thin), ('org-b', 6.0, short)], required=True)
    assert warning is None
    assert failure == ('Runway below min_runs_left 5: org-b has 1 runs left at up to 6.00 credits a run (6.00 credits); '
                       'Runway unknown for min_runs_left 5 and runway_required is true, too little data in the ledger: org-a: no complete run')
    assert runway_gate('min_runs_left', None, [('org-a', 10.0, thin)], required=True) == (None, None)


@pytest.mark.parametrize('credits', [0, -5.0, -1e-300, -1.7e308])
def test_credits_at_or_below_zero_fail_both_gates_naming_the_balance_whatever_the_ledger(credits):
    for readings in ([], run('r1', 3, 100, 100) + run('r2', 2, 100, 100), run('r1', 3, 100, 200)):
        forecast = runway(readings, ORG, credits, now=NOW)
        assert (forecast['days_left'], forecast['runs_left'], forecast['reason']) == (0, 0, None)
        for option, wording in (('min_days_left', '0.0 days left'), ('min_runs_left', '0 runs left')):
            failure, warning = runway_gate(option, 3, [('org-a', credits, forecast)], required=True)
            assert failure == 'Runway below %s 3: org-a has %s (%s credits)' % (
                option, wording, '%.2f' % credits if abs(credits) < 1e15 else '%.6g' % credits) and warning is None


def test_the_costliest_run_decides_the_runs_left():
    """0, 500, 0, 500, 0 with 100 credits left: the median run spent 0, yet one more expensive run does not fit."""
    readings = []
    for index, spend in enumerate((0, 500, 0, 500, 0)):
        readings += run('r%d' % index, 5 - index, 1100, 1100 - spend)
    forecast = runway(readings, ORG, 100, now=NOW)
    assert (forecast['spent_per_run'], forecast['spent_per_run_max'], forecast['runs_left']) == (0, 500, 0)
    failure, dummy = runway_gate('min_runs_left', 1, [('org-a', 100.0, forecast)])
    assert failure == 'Runway below min_runs_left 1: org-a has 0 runs left at up to 500.00 credits a run (100.00 credits)'


@pytest.mark.parametrize('credits, readings, expected', [
    # a balance too large for the quotient: 1.7e308 / 1e-310 overflows, so 0 days and 0 runs (a gate fails rather than pass)
    (1.7e308, run('r1', 3, 1e-310, 0.0), dict(days_left=0.0, runs_left=0, spent_per_run=1e-310, spent_per_run_max=1e-310)),
    # a spend too large for a float: the rate is not reported, the runway is 0
    (1.0, run('r1', 3, 1.7e308, -1.7e308) + run('r2', 2, 1.7e308, -1.7e308),
     dict(days_left=0.0, runs_left=0, spent_per_day=None, spent_per_run=None, spent_per_run_max=None)),
    # a balance of 1.7e308 with ordinary runs: a huge but finite runway
    (1.7e308, run('r1', 3, 20.0, 10.0), dict(runs_left=int(1.7e307), spent_per_run_max=10.0)),
    # an integer balance beyond the float range is read as the largest float
    (10 ** 400, run('r1', 3, 20.0, 10.0), dict(runs_left=int(sys.float_info.max / 10))),
], ids=['tiny-spend', 'huge-spend', 'huge-balance', 'huge-integer'])
def test_numeric_extremes_give_finite_answers_never_exceptions(credits, readings, expected):
    forecast = runway(readings, ORG, credits, now=NOW)
    for key, value in expected.items():
        assert forecast[key] == value, key
    assert forecast['reason'] is None
    json.dumps(forecast, allow_nan=False)
    describe_runway(forecast)
    for option in ('min_days_left', 'min_runs_left'):
        runway_gate(option, 1, [('org-a', credits, forecast)])


def test_describe_runway():
    assert describe_runway(dict(days_left=12.34, runs_left=1, reason=None)) == '12.3 days, 1 run left'
    assert describe_runway(dict(days_left=None, runs_left=4, reason='thin')) == '4 runs left (thin)'
    assert describe_runway(dict(days_left=None, runs_left=None, reason='thin')) == 'unknown: thin'
    assert describe_runway(dict(days_left=999999.94, runs_left=999999, reason=None)) == '999999.9 days, 999999 runs left'
    assert describe_runway(dict(days_left=1.7e307, runs_left=int(1.7e307), reason=None)) == '1.7e+307 days, 1.7e+307 runs left'


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


def test_a_gate_names_every_organization_below_and_every_one_unknown():
    short = dict(days_left=2.0, spent_per_day=5.0, runs_left=None, spent_per_run=None, spent_per_run_max=None, reason='no complete run')
    failure, warning = runway_gate('min_days_left', 7, [('org-a', 10.0, short), ('org-b', 10.0, short)])
    assert failure == ('Runway below min_days_left 7: org-a has 2.0 days left, spending 5.00 credits a day (10.00 credits); '
                       'org-b has 2.0 days left, spending 5.00 credits a day (10.00 credits)')
    failure, warning = runway_gate('min_runs_left', 1, [('org-a', 10.0, short), ('org-b', 10.0, short)])
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


# --- properties over random ledgers ---------------------------------------------------------------

PROPERTY_SETTINGS = settings(deadline=None, max_examples=int(os.environ.get('STABILITY_HYPOTHESIS_EXAMPLES', '300')),
                             suppress_health_check=[HealthCheck.too_slow])
# Any finite credits, subnormals and the extremes included, and the ordinary ones a pipeline sees.
CREDITS = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.floats(min_value=-100, max_value=2000),
                    st.sampled_from([0.0, -0.0, 1e-310, -1e-310, 1.7e308, -1.7e308, sys.float_info.max]))
READING = st.fixed_dictionaries({
    'seconds_ago': st.integers(min_value=-86400, max_value=9 * 86400),   # some after now, some before the window
    'organization_id': st.sampled_from([ORG, ORG, ORG, None, 'org-b']),
    'credits': CREDITS,
    'run_id': st.sampled_from(['r1', 'r2', 'r3', 'r4', 'r5', '']),
    'event': st.sampled_from(['start', 'end']),
})


def ledger_of(rows):
    return [dict(time=format_time(NOW - datetime.timedelta(seconds=row['seconds_ago'])), organization_id=row['organization_id'],
                 credits=row['credits'], run_id=row['run_id'], event=row['event'], playbook='p.yml') for row in rows]


def complete_run_spends(readings, organization_id, default_organization_id):
    """What each complete run of the window spent, worked out apart from the forecast: its first start minus its first end."""
    since = NOW - datetime.timedelta(days=7)
    mine = sorted((reading for reading in organization_history(readings, organization_id, default_organization_id)
                   if since <= parse_time(reading['time']) <= NOW), key=lambda reading: parse_time(reading['time']))
    firsts = {}
    for reading in mine:
        if reading['run_id']:
            firsts.setdefault(reading['run_id'], {}).setdefault(reading['event'], reading['credits'])
    return [run['start'] - run['end'] for run in firsts.values() if 'start' in run and 'end' in run]


@PROPERTY_SETTINGS
@given(rows=st.lists(READING, max_size=30), credits=CREDITS, asked=st.sampled_from([ORG, None, 'org-b']),
       default=st.sampled_from([ORG, None]))
@example(rows=[dict(seconds_ago=2 * 86400, organization_id=ORG, credits=1e-310, run_id='r1', event='start'),
               dict(seconds_ago=86400, organization_id=ORG, credits=0.0, run_id='r1', event='end')],
         credits=1.7e308, asked=ORG, default=None)
@example(rows=[dict(seconds_ago=2 * 86400, organization_id=ORG, credits=-1.7e308, run_id='r1', event='start'),
               dict(seconds_ago=86400, organization_id=ORG, credits=1.7e308, run_id='r2', event='end'),
               dict(seconds_ago=86000, organization_id=ORG, credits=-1.7e308, run_id='r2', event='start')],
         credits=1.7e308, asked=ORG, default=None)
def test_any_ledger_gives_finite_numbers_and_no_gate_passes_a_run_that_no_longer_fits(rows, credits, asked, default):
    readings = ledger_of(rows)
    forecast = runway(readings, asked, credits, now=NOW, default_organization_id=default)
    json.dumps(forecast, allow_nan=False)  # finite or null, nothing else
    for key in ('spent_per_day', 'days_left', 'spent_per_run', 'spent_per_run_max'):
        assert forecast[key] is None or math.isfinite(forecast[key]), key
    assert forecast['days_left'] is None or forecast['days_left'] >= 0
    assert forecast['runs_left'] is None or (isinstance(forecast['runs_left'], int) and forecast['runs_left'] >= 0)
    if credits <= 0:
        assert (forecast['days_left'], forecast['runs_left'], forecast['reason']) == (0, 0, None)
    assert (forecast['reason'] is None) == (forecast['days_left'] is not None and forecast['runs_left'] is not None)
    describe_runway(forecast)
    for required in (False, True):
        for option in ('min_days_left', 'min_runs_left'):
            runway_gate(option, 1, [('org-a', credits, forecast)], required)
    spends = complete_run_spends(readings, asked, default)
    if any(spend > credits for spend in spends):
        failure, dummy = runway_gate('min_runs_left', 1, [('org-a', credits, forecast)])
        assert failure is not None and failure.startswith('Runway below min_runs_left 1: org-a has 0 runs left')
