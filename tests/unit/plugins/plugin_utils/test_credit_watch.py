# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The decisions of the credit_balance event source: arguments, crossings, outages, runway."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from ansible_collections.stabilityai.platform.plugins.module_utils._client import StabilityClient
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import (
    PLACEHOLDER,
    StabilityAPIError,
    StabilityError,
    StabilityOptionError,
    StabilityResponseError,
)
from ansible_collections.stabilityai.platform.plugins.module_utils._runway import runway
from ansible_collections.stabilityai.platform.plugins.plugin_utils import _credit_watch
from ansible_collections.stabilityai.platform.plugins.plugin_utils._credit_watch import (
    CreditWatch,
    WatchOptions,
    failure_message,
    take_reading,
)

KEY = 'sk-unit-credit-watch-000000'
SIM = 'http://127.0.0.1:8080'
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=timezone.utc)
ACCOUNT = {'id': 'user-1', 'email': 'a@example.com', 'organizations': [
    {'id': 'org-a', 'name': 'A', 'role': 'OWNER', 'is_default': True},
    {'id': 'org-b', 'name': 'B', 'role': 'MEMBER', 'is_default': False},
]}


def options(**args):
    args.setdefault('api_key', KEY)
    args.setdefault('api_url', SIM)
    return WatchOptions(args, {})


def reading(credits, organization='org-a', runway=None):
    return {'organization_id': organization, 'organization_name': organization.upper()[-1], 'credits': credits, 'runway': runway}


def kinds(events):
    return [(event['stability']['kind'], event['stability']['gate']) for event in events]


# --- arguments --------------------------------------------------------------------------------

def test_defaults():
    watch_options = options(min_credits=10)
    assert watch_options.interval == 300.0
    assert watch_options.organizations is None
    assert watch_options.emit == 'crossings'
    assert watch_options.connection.api_url == SIM
    assert watch_options.thresholds == {'warn_below': None, 'min_credits': 10.0, 'min_days_left': None, 'min_runs_left': None}


def test_key_and_url_from_the_environment_and_never_in_repr():
    watch_options = WatchOptions({'min_credits': 1}, {'STABILITY_KEY': KEY, 'STABILITY_API_URL': SIM, 'STABILITY_API_VERSION': 'v1alpha'})
    assert (watch_options.connection.api_key, watch_options.connection.api_url, watch_options.connection.api_version) == (KEY, SIM, 'v1alpha')
    assert KEY not in repr(watch_options)
    first = WatchOptions({'min_credits': 1}, {'STABILITY_API_KEY': 'sk-first', 'STABILITY_KEY': 'sk-second'})
    assert first.connection.api_key == 'sk-first'
    assert WatchOptions({'min_credits': 1, 'api_key': 'sk-arg'}, {'STABILITY_API_KEY': 'sk-env'}).connection.api_key == 'sk-arg'


def test_rate_limit_from_the_argument_or_the_environment():
    assert options(min_credits=1).connection.rate_limit == (100, 10)
    assert WatchOptions({'min_credits': 1, 'api_key': KEY}, {'STABILITY_RATE_LIMIT': '20/10'}).connection.rate_limit == (20, 10)
    assert WatchOptions({'min_credits': 1, 'api_key': KEY, 'rate_limit': '0'}, {'STABILITY_RATE_LIMIT': '20/10'}).connection.rate_limit is None


def test_the_rulebook_feedback_queue_is_not_an_unknown_argument():
    assert options(min_credits=1, eda_feedback_queue=object()).thresholds['min_credits'] == 1.0


@pytest.mark.parametrize('args, expected', [
    ({'min_credit': 1}, "min_credit is not an argument of stabilityai.platform.credit_balance; did you mean min_credits?"),
    ({'min_credits': 1, 'zzz': 1}, 'zzz is not an argument of stabilityai.platform.credit_balance (known: api_key, api_url, api_version, '
                                   'ca_path, emit, interval, ledger_path, min_credits, min_days_left, min_runs_left, organizations, '
                                   'rate_limit, retries, timeout, validate_certs, warn_below)'),
    ({'min_credits': 1, 'interval': 30, 'api_url': 'https://api.stability.ai'},
     'interval must be at least 60 seconds, got 30 (so no rulebook polls the API too often; only a loopback api_url such as the '
     'simulator may go down to 0.5)'),
    ({'min_credits': 1, 'interval': 0.1}, 'interval must be at least 0.5 seconds, got 0.1'),
    ({'min_credits': 1, 'interval': 'soon'}, "interval must be a number of seconds greater than 0 and at most 86400, got 'soon'"),
    ({'min_credits': 1, 'interval': 1e308}, 'interval must be a number of seconds greater than 0 and at most 86400, got 1e+308'),
    ({'min_credits': 1, 'interval': 86400.5}, 'interval must be a number of seconds greater than 0 and at most 86400, got 86400.5'),
    ({'min_credits': 1, 'timeout': 1e10}, 'timeout must be a number of seconds greater than 0 and at most 600, got 10000000000.0'),
    ({'min_credits': -1}, 'min_credits must be a number of credits, 0 or more, got -1'),
    ({'warn_below': 'lots'}, "warn_below must be a number of credits, 0 or more, got 'lots'"),
    ({'min_days_left': 3}, 'min_days_left needs ledger_path'),
    ({'min_credits': 1, 'ledger_path': ' '}, 'ledger_path is empty; leave it unset for the default'),
    ({'min_runs_left': -2, 'ledger_path': '/dev/null'}, 'min_runs_left must be a number of runs, 0 or more, got -2'),
    ({'min_credits': 1, 'emit': 'always'}, "emit must be one of crossings, every, got 'always'"),
    ({}, 'emit is crossings but no threshold is set: give min_credits, warn_below, min_days_left or min_runs_left, or emit: every'),
    ({'min_credits': 1, 'organizations': 'org-a,,org-b'}, "organizations has an empty item in 'org-a,,org-b'"),
    ({'min_credits': 1, 'organizations': 'all,org-a'}, 'organizations is "all" or a list of organization ids, not both'),
    ({'min_credits': 1, 'organizations': 5}, 'organizations must be "all", a list of organization ids or a comma-separated string'),
    ({'min_credits': 1, 'organizations': ['org-a\r\nX: y']}, 'organizations contains a control character'),
    ({'min_credits': 1, 'api_url': 'http://example.com'}, 'api_url uses plain http://'),
])
def test_refusals_name_the_argument(args, expected):
    with pytest.raises(StabilityOptionError) as caught:
        options(**args)
    assert caught.value.msg.startswith(expected), caught.value.msg


def test_connection_arguments_reach_the_client_settings():
    connection = options(min_credits=1, api_version='v1alpha', timeout=5, retries=1, ca_path=__file__).connection
    assert (connection.api_version, connection.timeout, connection.retries, connection.ca_path) == ('v1alpha', 5.0, 1, __file__)
    assert connection.validate_certs is True
    assert options(min_credits=1, validate_certs=False).connection.validate_certs is False


def test_repr_shows_the_checked_arguments():
    watch_options = options(min_credits=10, organizations='all', ledger_path='/dev/null')
    assert repr(watch_options) == (
        "WatchOptions(connection=%r, organizations='all', interval=300.0, thresholds={'warn_below': None, 'min_credits': 10.0, "
        "'min_days_left': None, 'min_runs_left': None}, ledger_path='/dev/null', emit='crossings')" % (watch_options.connection,))


def test_no_key_names_the_option_and_the_variable():
    with pytest.raises(StabilityOptionError, match='api_key is not set.*STABILITY_API_KEY'):
        WatchOptions({'min_credits': 1}, {})


def test_floor_applies_to_remote_apis_and_loopback_may_go_lower():
    assert options(min_credits=1, interval=60, api_url='https://api.stability.ai').interval == 60.0
    assert options(min_credits=1, interval='0.5').interval == 0.5
    assert options(min_credits=1, interval=86400).interval == _credit_watch.MAX_INTERVAL == 86400.0
    assert options(emit='every', organizations='ALL').organizations == 'all'
    assert options(emit='every', organizations=' org-a ').organizations == ['org-a']


@pytest.mark.parametrize('value, expected', [
    ('org-a, org-b', ['org-a', 'org-b']),
    ('org-b,org-a,org-b', ['org-b', 'org-a']),
    (['org-a', ' org-b '], ['org-a', 'org-b']),
    ('All', 'all'),
    ('', None),
    ([], None),
])
def test_organizations_go_through_the_shared_parser(monkeypatch, value, expected):
    seen = []
    real = _credit_watch.parse_organizations
    monkeypatch.setattr(_credit_watch, 'parse_organizations', lambda option, given: seen.append((option, given)) or real(option, given))
    assert options(emit='every', organizations=value).organizations == expected
    assert seen == [('organizations', value)]


def test_a_comma_separated_string_reads_each_organization(fake_api):
    """organizations: "org-a,org-b" as one string was an error event every interval before 2.0.0."""
    fake_api.serve({'org-a': 10.0, 'org-b': 20.0}, account=ACCOUNT)
    with StabilityClient(options(emit='every').connection) as client:
        readings = take_reading(client, options(emit='every', organizations='org-b, org-a'), NOW)
    assert [(row['organization_id'], row['credits']) for row in readings] == [('org-b', 20.0), ('org-a', 10.0)]


# --- crossings ---------------------------------------------------------------------------------

def test_one_event_going_below_none_while_below_recovered_after_a_top_up():
    watch = CreditWatch(options(min_credits=100))
    assert watch.record([reading(500)]) == []
    below = watch.record([reading(90)])
    assert kinds(below) == [('below_min_credits', 'min_credits')]
    assert below[0]['stability'] == {
        'kind': 'below_min_credits', 'gate': 'min_credits', 'organization_id': 'org-a', 'organization_name': 'A',
        'credits': 90, 'previous': 500, 'threshold': 100.0, 'runway': None,
        'message': 'org-a (A) has 90.00 credits, below min_credits 100.00'}
    for credits in (80, 50, 0, 99.99):
        assert watch.record([reading(credits)]) == []
    recovered = watch.record([reading(1000)])
    assert recovered == [{'stability': {
        'kind': 'recovered', 'gate': 'min_credits', 'organization_id': 'org-a', 'organization_name': 'A',
        'credits': 1000, 'previous': 99.99, 'threshold': 100.0, 'runway': None,
        'message': 'org-a (A) has 1000.00 credits again, above min_credits 100.00'}}]
    assert watch.record([reading(1000)]) == []
    assert kinds(watch.record([reading(1)])) == [('below_min_credits', 'min_credits')]


def test_a_balance_just_below_the_threshold_is_not_rounded_up_to_it_in_the_message():
    events = CreditWatch(options(min_credits=100)).record([reading(99.999)])
    assert [event['stability']['message'] for event in events] == ['org-a (A) has 99.999 credits, below min_credits 100.00']


def test_the_first_reading_below_emits_once():
    watch = CreditWatch(options(min_credits=100))
    assert kinds(watch.record([reading(5)])) == [('below_min_credits', 'min_credits')]
    assert watch.record([reading(5)]) == []


def test_hysteresis_a_value_hovering_at_the_threshold_does_not_flap():
    watch = CreditWatch(options(min_credits=100))
    assert kinds(watch.record([reading(99)])) == [('below_min_credits', 'min_credits')]
    for credits in (100, 104.9, 99, 100.5, 104):
        assert watch.record([reading(credits)]) == [], credits
    assert kinds(watch.record([reading(105)])) == [('recovered', 'min_credits')]
    assert watch.record([reading(100)]) == []  # at the threshold is not below it


def test_gates_fire_in_the_order_a_draining_balance_crosses_them_and_recover_each():
    watch = CreditWatch(options(min_credits=100, warn_below=500))
    assert kinds(watch.record([reading(50)])) == [('below_warn_below', 'warn_below'), ('below_min_credits', 'min_credits')]
    assert kinds(watch.record([reading(300)])) == [('recovered', 'min_credits')]
    assert kinds(watch.record([reading(90)])) == [('below_min_credits', 'min_credits')]
    assert kinds(watch.record([reading(9000)])) == [('recovered', 'warn_below'), ('recovered', 'min_credits')]


def test_organizations_are_tracked_apart():
    watch = CreditWatch(options(min_credits=100, organizations='all'))
    assert kinds(watch.record([reading(50, 'org-a'), reading(500, 'org-b')])) == [('below_min_credits', 'min_credits')]
    events = watch.record([reading(50, 'org-a'), reading(60, 'org-b')])
    assert [(event['stability']['organization_id'], event['stability']['previous']) for event in events] == [('org-b', 500)]


def test_emit_every_adds_a_reading_event_per_organization():
    watch = CreditWatch(options(emit='every', min_credits=100, organizations='all'))
    events = watch.record([reading(500, 'org-a'), reading(50, 'org-b')])
    assert kinds(events) == [('reading', None), ('reading', None), ('below_min_credits', 'min_credits')]
    assert events[0]['stability'] == {
        'kind': 'reading', 'gate': None, 'organization_id': 'org-a', 'organization_name': 'A',
        'credits': 500, 'previous': None, 'threshold': None, 'runway': None, 'message': 'org-a (A) has 500.00 credits'}
    assert kinds(CreditWatch(options(emit='every')).record([reading(1)])) == [('reading', None)]


def test_runway_gates_use_the_runway_and_skip_unknown_values():
    watch = CreditWatch(options(min_days_left=7, min_runs_left=20, ledger_path='/dev/null'))
    thin = {'days_left': None, 'runs_left': None, 'reason': 'too little'}
    assert watch.record([reading(100, runway=thin)]) == []
    events = watch.record([reading(100, runway={'days_left': 3.5, 'runs_left': 40.0})])
    assert kinds(events) == [('below_min_days_left', 'min_days_left')]
    assert events[0]['stability']['message'] == 'org-a (A) has 3.5 days of runway, below min_days_left 7.00'
    assert events[0]['stability']['runway'] == {'days_left': 3.5, 'runs_left': 40.0}
    assert watch.record([reading(90, runway=thin)]) == []  # unknown: the gate keeps its state
    runs = watch.record([reading(90, runway={'days_left': 2, 'runs_left': 10})])
    assert kinds(runs) == [('below_min_runs_left', 'min_runs_left')]
    assert runs[0]['stability']['message'] == 'org-a (A) has 10 runs of runway, below min_runs_left 20.00'
    assert kinds(watch.record([reading(900, runway={'days_left': 30, 'runs_left': 400})])) == [
        ('recovered', 'min_days_left'), ('recovered', 'min_runs_left')]


def test_measures_read_as_words_and_one_decimal_of_days_never_hides_a_shortfall():
    assert _credit_watch.describe('runs_left', 1) == '1 run of runway'
    assert _credit_watch.describe('credits', 99.999, 100) == '99.999 credits'
    assert _credit_watch.describe('days_left', 3.14159, 7) == '3.1 days of runway'
    assert _credit_watch.describe('days_left', 6.98, 7) == '6.98 days of runway'  # never rounded up to the threshold
    assert _credit_watch.describe('days_left', 6.96, 6.96) == '7.0 days of runway'  # at the threshold is no shortfall
    # a ledger of tiny spends followed by a top-up gives a rate so small that the runway overflows
    assert _credit_watch.describe('days_left', float('inf'), 7) == 'inf days of runway'


# --- outages -----------------------------------------------------------------------------------

def test_one_error_event_per_outage_and_backoff_bounded_by_the_interval():
    watch = CreditWatch(options(min_credits=100, interval=80, api_url='https://api.stability.ai'))
    assert watch.next_delay() == 80
    events = watch.fail('GET x failed with HTTP 503')
    assert events == [{'stability': {'kind': 'error', 'gate': None, 'organization_id': None, 'organization_name': None,
                                     'credits': None, 'previous': None, 'threshold': None, 'runway': None,
                                     'message': 'GET x failed with HTTP 503'}}]
    delays = [watch.next_delay()]
    for dummy in range(5):
        assert watch.fail('GET x failed with HTTP 503') == []
        delays.append(watch.next_delay())
    assert delays == [10, 20, 40, 80, 80, 80]
    assert watch.record([reading(500)]) == []
    assert watch.next_delay() == 80
    assert kinds(watch.fail('again')) == [('error', None)]


def test_an_outage_keeps_the_crossing_state():
    watch = CreditWatch(options(min_credits=100))
    watch.record([reading(50)])
    watch.fail('down')
    assert watch.record([reading(50)]) == []
    assert [event['stability']['previous'] for event in watch.record([reading(500)])] == [50]


def test_failure_message_is_the_collection_line_without_the_key():
    assert failure_message(StabilityAPIError('GET u failed with HTTP 401 unauthorized; check api_key', status=401), KEY) == (
        'GET u failed with HTTP 401 unauthorized; check api_key')
    assert failure_message(StabilityAPIError('echo %s' % KEY), KEY) == 'echo ********'
    assert failure_message(ValueError('odd\n%s' % KEY), KEY) == 'reading the balances failed: ValueError: odd ********'


# --- one reading through the client -------------------------------------------------------------

def test_failure_message_redacts_the_key_before_cutting_the_line():
    text = 'x' * 390 + KEY
    assert failure_message(StabilityAPIError(text), KEY) == 'x' * 390 + '********'
    assert failure_message(ValueError('y' * 350 + KEY.upper()), KEY) == 'reading the balances failed: ValueError: %s********' % ('y' * 350)


def test_an_event_message_is_one_clean_line_and_its_data_keeps_the_name():
    name = 'A\r\n# ok: [localhost] => spoof\x1b[31m\u2066'
    watch = CreditWatch(options(emit='every'))
    event = watch.record([dict(reading(5), organization_name=name)])[0]['stability']
    assert event['message'] == 'org-a (A # ok: [localhost] => spoof%s[31m%s) has 5.00 credits' % (PLACEHOLDER, PLACEHOLDER)
    assert event['organization_name'] == name
    assert watch.fail('down\r\nforged\x1b[2J')[0]['stability']['message'] == 'down forged%s[2J' % PLACEHOLDER


def test_take_reading_default_all_and_named(fake_api):
    credits = {None: 1.0, 'org-a': 10.0, 'org-b': 20.0}
    fake_api.serve(credits, account=ACCOUNT)
    with StabilityClient(options(emit='every').connection) as client:
        assert take_reading(client, options(emit='every'), NOW) == [
            {'organization_id': 'org-a', 'organization_name': 'A', 'credits': 10.0, 'runway': None}]
        assert [row['credits'] for row in take_reading(client, options(emit='every', organizations='all'), NOW)] == [10.0, 20.0]
        assert [row['organization_id'] for row in take_reading(client, options(emit='every', organizations=['org-b']), NOW)] == ['org-b']
        with pytest.raises(StabilityOptionError, match='organizations names org-x, not an organization of this account'):
            take_reading(client, options(emit='every', organizations=['org-x']), NOW)
    assert all(request.headers['Authorization'] == 'Bearer %s' % KEY for request in fake_api.requests)


def test_take_reading_blames_the_server_for_an_organization_id_no_header_can_carry(fake_api):
    account = dict(ACCOUNT, organizations=[dict(ACCOUNT['organizations'][0], id='org-\u00e9')])
    fake_api.serve({}, account=account)
    with StabilityClient(options(emit='every').connection) as client:
        with pytest.raises(StabilityResponseError) as caught:
            take_reading(client, options(emit='every'), NOW)
    assert caught.value.msg == (
        'GET %s/v1/user/account returned an account body that organizations[0] has an "id" that cannot be sent in an Organization '
        'header (empty, or with a control character or a character that is not printable ASCII), so no balance was read' % SIM)
    assert len(fake_api.requests) == 1


def test_take_reading_without_a_default_organization_says_what_to_set(fake_api):
    account = dict(ACCOUNT, organizations=[dict(ACCOUNT['organizations'][1])])
    fake_api.serve({}, account=account)
    with StabilityClient(options(emit='every').connection) as client:
        with pytest.raises(StabilityOptionError, match='organizations is not set and the account has no default organization'):
            take_reading(client, options(emit='every'), NOW)


def write_ledger(path, rows, extra_lines=()):
    with open(str(path), 'w') as handle:
        for when, organization, credits, run_id, event in rows:
            handle.write(json.dumps({'time': when.isoformat().replace('+00:00', 'Z'), 'organization_id': organization,
                                     'credits': credits, 'run_id': run_id, 'event': event, 'playbook': 'site.yml'}) + '\n')
        for line in extra_lines:
            handle.write(line + '\n')


LEDGER_ROWS = [
    (NOW - timedelta(days=3), 'org-b', 300.0, 'r1', 'start'), (NOW - timedelta(days=3), 'org-b', 200.0, 'r1', 'end'),
    # the credit_recap callback records the key's default organization (org-a here) without an id
    (NOW - timedelta(days=2), None, 110.0, 'r2', 'start'), (NOW - timedelta(days=2), None, 100.0, 'r2', 'end'),
]


def test_take_reading_adds_the_shared_runway_forecast(fake_api, tmp_path, caplog):
    ledger = tmp_path / 'ledger.jsonl'
    write_ledger(ledger, LEDGER_ROWS, extra_lines=['not json'])
    fake_api.serve({'org-a': 90.0, 'org-b': 150.0}, account=ACCOUNT)
    watch_options = options(min_days_left=3, ledger_path=str(ledger), organizations='all')
    with StabilityClient(watch_options.connection) as client:
        readings = take_reading(client, watch_options, NOW)
    history = [{'time': when.isoformat(), 'organization_id': organization or 'org-a', 'credits': credits, 'run_id': run_id, 'event': event}
               for when, organization, credits, run_id, event in LEDGER_ROWS]
    assert readings[0]['runway'] == runway(history, 'org-a', 90.0, now=NOW)
    assert readings[1]['runway'] == runway(history, 'org-b', 150.0, now=NOW)
    assert (readings[0]['runway']['spent_per_run'], readings[1]['runway']['spent_per_run']) == (10.0, 100.0)
    assert [record.getMessage() for record in caplog.records if record.name == 'stabilityai.platform.credit_balance'] == [
        'ledger %s: skipped 1 line that is not a reading (first: line 5, Expecting value: line 1 column 1 (char 0))' % ledger]


@pytest.mark.parametrize('written_as', [None, 'org-a'])
@pytest.mark.parametrize('organizations', [None, 'all', ['org-a'], 'org-b,org-a'])
def test_the_default_organizations_history_whether_written_by_id_or_without(fake_api, tmp_path, written_as, organizations):
    """Readings of the key's default organization (org-a) count for it however they were written and however it is asked for."""
    ledger = tmp_path / 'ledger.jsonl'
    write_ledger(ledger, [(when, written_as, credits, run_id, event) for when, dummy, credits, run_id, event in LEDGER_ROWS[2:]]
                 + LEDGER_ROWS[:2])
    fake_api.serve({'org-a': 90.0, 'org-b': 150.0}, account=ACCOUNT)
    watch_options = options(min_runs_left=10, ledger_path=str(ledger), organizations=organizations)
    with StabilityClient(watch_options.connection) as client:
        readings = dict((row['organization_id'], row['runway']) for row in take_reading(client, watch_options, NOW))
        events = CreditWatch(watch_options).record(take_reading(client, watch_options, NOW))
    assert (readings['org-a']['runs_recorded'], readings['org-a']['spent_per_run'], readings['org-a']['runs_left']) == (1, 10.0, 9)
    if 'org-b' in readings:
        assert (readings['org-b']['runs_recorded'], readings['org-b']['spent_per_run']) == (1, 100.0)
    assert ('below_min_runs_left', 'min_runs_left') in kinds(events)


@pytest.mark.parametrize('balance, rows', [
    (1.7e308, [(NOW - timedelta(days=2), 'org-a', 1e-310, 'r1', 'start'), (NOW - timedelta(days=1), 'org-a', 0.0, 'r1', 'end')]),
    (1.0, [(NOW - timedelta(days=2), 'org-a', 1.7e308, 'r1', 'start'), (NOW - timedelta(days=1), 'org-a', -1.7e308, 'r1', 'end')]),
    (-5.0, [(NOW - timedelta(days=2), 'org-a', -5.0, 'r1', 'start'), (NOW - timedelta(days=1), 'org-a', -5.0, 'r1', 'end')]),
])
def test_extreme_ledgers_give_gate_events_in_strict_json_not_errors(fake_api, tmp_path, balance, rows):
    """A watch of ``all`` used to emit only error events ("cannot convert float infinity to integer") on such ledgers."""
    ledger = tmp_path / 'ledger.jsonl'
    write_ledger(ledger, rows)
    fake_api.serve({'org-a': balance, 'org-b': 20.0}, account=ACCOUNT)
    watch_options = options(min_days_left=1, min_runs_left=1, ledger_path=str(ledger), organizations='all')
    with StabilityClient(watch_options.connection) as client:
        events = CreditWatch(watch_options).record(take_reading(client, watch_options, NOW))

    def refuse(constant):
        raise ValueError(constant)
    assert json.loads(json.dumps(events, allow_nan=False), parse_constant=refuse) == events
    assert ('below_min_runs_left', 'min_runs_left') in kinds(events) and ('below_min_days_left', 'min_days_left') in kinds(events)
    assert 'error' not in [kind for kind, dummy in kinds(events)]


def test_take_reading_without_a_ledger_file_forecasts_nothing_and_says_why(fake_api, tmp_path):
    fake_api.serve({'org-a': 90.0}, account=ACCOUNT)
    watch_options = options(min_runs_left=3, ledger_path=str(tmp_path / 'none.jsonl'))
    with StabilityClient(watch_options.connection) as client:
        forecast = take_reading(client, watch_options, NOW)[0]['runway']
    assert (forecast['days_left'], forecast['runs_left'], forecast['runs_recorded']) == (None, None, 0)
    assert 'no complete run' in forecast['reason']


def test_an_unreadable_ledger_fails_the_reading_naming_ledger_path(fake_api, tmp_path):
    fake_api.serve({'org-a': 90.0}, account=ACCOUNT)
    watch_options = options(min_runs_left=3, ledger_path=str(tmp_path))  # a directory
    with StabilityClient(watch_options.connection) as client:
        with pytest.raises(StabilityError) as caught:
            take_reading(client, watch_options, NOW)
    assert caught.value.msg == 'ledger_path: %s is a directory, not a regular file' % tmp_path


# --- the shipped examples -------------------------------------------------------------------------

@pytest.mark.parametrize('name', ['credit_thresholds.yml', 'runway.yml'])
def test_example_rulebooks_give_arguments_the_source_accepts(name):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
    with open(os.path.join(root, 'docs', 'examples', 'eda', name)) as handle:
        rulebook = yaml.safe_load(handle)
    sources = [source for ruleset in rulebook for source in ruleset['sources']]
    assert len(sources) == 1
    watch_options = WatchOptions(sources[0]['stabilityai.platform.credit_balance'], {'STABILITY_API_KEY': KEY})
    assert watch_options.interval >= _credit_watch.MIN_INTERVAL
    conditions = ' '.join(rule['condition'] for ruleset in rulebook for rule in ruleset['rules'])
    for option, value in watch_options.thresholds.items():
        if value is not None:
            kind = dict((gate, event_kind) for gate, _measure, event_kind in _credit_watch.GATES)[option]
            assert 'event.stability.kind == "%s"' % kind in conditions, 'a threshold is set but no rule reacts to it: %s' % option
