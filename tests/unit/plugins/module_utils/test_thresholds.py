# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The gates: which forms a threshold takes, when a gate fails, and how thresholds and balances are worded for people."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import PLACEHOLDER, StabilityOptionError
from ansible_collections.stabilityai.platform.plugins.module_utils._thresholds import (
    clean_threshold,
    failed_gates,
    format_credits,
    format_threshold,
    organization_label,
    runway_gate,
    shortfall,
)


@pytest.mark.parametrize('credits, threshold, text', [
    (1532.6336833840314, None, '1532.63'),
    (0.0, None, '0.00'),
    (12.5, 100.0, '12.50'),
    (-250.0, 0.0, '-250.00'),
    (99.994, 100.0, '99.99'),
    (99.999, 100.0, '99.999'),  # two decimals would read 100.00, as if the threshold were met
    (-0.001, 0.0, '-0.001'),  # and -0.00 as if it were not overdrawn
    (99.999, 99.999, '100.00'),  # a balance equal to the threshold is no shortfall
])
def test_balances_have_two_decimals_unless_they_would_hide_a_shortfall(credits, threshold, text):
    assert format_credits(credits, threshold) == text


@pytest.mark.parametrize('credits, text', [(1.7e308, '1.7e+308'), (-1.7e308, '-1.7e+308'), (1e15, '1e+15'), (999999999999999.0, '999999999999999.00')])
def test_huge_balances_have_three_significant_digits_not_hundreds_of_digits(credits, text):
    assert format_credits(credits) == format_credits(credits, 0.0) == text


def test_a_runway_message_shows_credits_as_the_shortfall_does():
    """One way to write credits in every message: a huge balance or spend in three significant digits, an integer beyond floats too."""
    forecast = {'days_left': 2.0, 'runs_left': 3.0, 'spent_per_day': 1.23456789e20, 'spent_per_run_max': 10 ** 400}
    days, dummy = runway_gate('min_days_left', 7, [('org-a', 1.7e308, forecast)])
    runs, dummy = runway_gate('min_runs_left', 7, [('org-a', 12.5, forecast)])
    assert days == 'Runway below min_days_left 7: org-a has 2.0 days left, spending 1.23e+20 credits a day (1.7e+308 credits)'
    assert runs == 'Runway below min_runs_left 7: org-a has 3 runs left at up to 1.8e+308 credits a run (12.50 credits)'


def test_a_runway_message_gives_the_pace_of_any_positive_balance():
    """A balance of one credit still spends at a pace worth reading; an empty one has no pace, only its runway."""
    forecast = {'days_left': 1.0, 'runs_left': 0.0, 'spent_per_day': 1.0, 'spent_per_run_max': 1.0}
    assert runway_gate('min_days_left', 7, [('org-a', 1.0, forecast), ('org-b', 0.0, forecast)])[0] == (
        'Runway below min_days_left 7: org-a has 1.0 days left, spending 1.00 credits a day (1.00 credits); org-b has 1.0 days left (0.00 credits)')


def test_an_overdrawn_balance_beyond_floats_reads_as_the_largest_negative_float():
    """An integer no float holds keeps its sign in the message: a debt never reads as a fortune."""
    forecast = {'days_left': 0.0, 'runs_left': 0.0, 'spent_per_day': 1.0, 'spent_per_run_max': 1.0}
    failure, dummy = runway_gate('min_days_left', 7, [('org-a', -10 ** 400, forecast)])
    assert failure == 'Runway below min_days_left 7: org-a has 0.0 days left (-1.8e+308 credits)'


@pytest.mark.parametrize('threshold, text', [(100.0, '100.00'), (0.5, '0.50'), (99.999, '99.999'), (1e3, '1000.00')])
def test_thresholds_have_two_decimals_when_that_is_exact(threshold, text):
    assert format_threshold(threshold) == text


def test_a_balance_just_below_the_threshold_never_reads_as_equal_to_it():
    assert shortfall('min_credits', 100.0, [('org-a', 99.999)]) == 'Credits are below min_credits 100.00: org-a has 99.999'


def test_balances_at_or_above_the_threshold_pass():
    assert shortfall('min_credits', 100.0, [('org-a', 100.0), ('org-b', 1e6)]) is None
    assert shortfall('min_credits', None, [('org-a', -5.0)]) is None


@pytest.mark.parametrize('value, expected', [(None, None), (0, 0.0), ('1e3', 1000.0), (' 12.5 ', 12.5), (100, 100.0)])
def test_thresholds_accept_any_finite_number_from_zero(value, expected):
    assert clean_threshold('min_credits', value) == expected


@pytest.mark.parametrize('value', ['100 credits', '', True, False, -1, '-0.5', float('nan'), 'inf', float('-inf'), [100], {}])
def test_thresholds_refuse_anything_else_showing_the_value(value):
    with pytest.raises(StabilityOptionError) as caught:
        clean_threshold('warn_below', value)
    assert caught.value.msg == 'warn_below must be a number of credits, 0 or more, got %r' % (value,)


def forecast(days_left, runs_left):
    return dict(days_left=days_left, runs_left=runs_left, spent_per_day=1.0, spent_per_run_max=1.0, reason=None if days_left is not None else 'thin')


ROWS = [
    dict(organization_id='org-a', credits=50.0, runway=forecast(2.0, 1)),
    dict(organization_id='org-b', credits=100.0, runway=forecast(None, None)),
    dict(organization_id=None, credits=200.0, runway=forecast(30.0, 40)),
]


def test_failed_gates_name_each_gate_organization_value_and_threshold():
    thresholds = dict(min_credits=100.0, min_days_left=3.0, min_runs_left=None)
    assert failed_gates(thresholds, ROWS) == [
        dict(option='min_credits', organization_id='org-a', value=50.0, threshold=100.0),
        dict(option='min_days_left', organization_id='org-a', value=2.0, threshold=3.0),
    ]


def test_an_unknown_runway_fails_its_gate_only_when_required():
    thresholds = dict(min_credits=None, min_days_left=None, min_runs_left=5.0)
    assert failed_gates(thresholds, ROWS, required=True) == [
        dict(option='min_runs_left', organization_id='org-a', value=1, threshold=5.0),
        dict(option='min_runs_left', organization_id='org-b', value=None, threshold=5.0),
    ]
    assert failed_gates(thresholds, ROWS) == [dict(option='min_runs_left', organization_id='org-a', value=1, threshold=5.0)]


def test_without_a_ledger_only_min_credits_is_checked():
    rows = [dict(organization_id='org-a', credits=0.0, runway=None)]
    assert failed_gates(dict(min_credits=0.0, min_days_left=1.0, min_runs_left=1.0), rows, required=True) == []
    assert failed_gates(dict(min_credits=0.5), rows) == [dict(option='min_credits', organization_id='org-a', value=0.0, threshold=0.5)]


def test_an_organization_without_ledger_data_does_not_hide_the_runway_of_the_next():
    rows = [dict(organization_id='org-a', credits=0.0, runway=None), dict(organization_id='org-b', credits=1.0, runway=forecast(2.0, 1))]
    assert failed_gates(dict(min_days_left=3.0), rows) == [dict(option='min_days_left', organization_id='org-b', value=2.0, threshold=3.0)]


@settings(max_examples=300, deadline=None)
@given(threshold=st.one_of(st.none(), st.floats(0, 1e6)), credits=st.lists(st.floats(-1e6, 1e6), max_size=4),
       days=st.lists(st.one_of(st.none(), st.floats(0, 1e6)), min_size=4, max_size=4), required=st.booleans())
def test_the_data_fails_exactly_when_the_message_does(threshold, credits, days, required):
    """``failed_gates`` and the messages share one test, so a playbook reading the data never passes a run the message fails."""
    rows = [dict(organization_id='org-%d' % index, credits=value, runway=forecast(days[index], 0)) for index, value in enumerate(credits)]
    gates = failed_gates(dict(min_credits=threshold, min_days_left=threshold), rows, required)
    message = shortfall('min_credits', threshold, [(row['organization_id'], row['credits']) for row in rows])
    assert bool(message) == any(gate['option'] == 'min_credits' for gate in gates)
    failure, dummy = runway_gate('min_days_left', threshold, [(row['organization_id'], row['credits'], row['runway']) for row in rows], required)
    assert bool(failure) == any(gate['option'] == 'min_days_left' for gate in gates)


def test_an_organization_is_named_on_one_printable_line_whatever_its_name():
    """Any member can name an organization: a name must not forge a line or colour the terminal in a message."""
    name = 'A\r\nok: [localhost] => spoof\x1b[31m\u202e'
    assert organization_label('org-a', name) == 'org-a (A ok: [localhost] => spoof%s[31m%s)' % (PLACEHOLDER, PLACEHOLDER)
    assert organization_label('org\x1b-a') == 'org%s-a' % PLACEHOLDER
    assert organization_label(None, name) == "the key's default organization"
