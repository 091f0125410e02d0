# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The Stability API simulator, over real sockets, and its contract with docs/openapi/stability-user-api.yaml."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
import trustme
import yaml

from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec

from ansible_collections.stabilityai.platform.tests.simulator import stability_simulator
from ansible_collections.stabilityai.platform.tests.simulator.launcher import process_gone, stop_process
from ansible_collections.stabilityai.platform.tests.simulator.stability_simulator import StabilitySimulator


ALICE = 'sk-sim-alice-64Es19knE59ROToV'
BOB = 'sk-sim-bob-5OvJqKtyjJxXnYIQjk'
BULK = 'sk-sim-bulk-8bKhjU0jxxwVS3LHc'
EMPTY = 'sk-sim-empty-3mC0qpELIhMtWOJv'
UNKNOWN_KEY = 'sk-not-a-key-of-the-simulator'
VERSIONS = ('v1', 'v1alpha')
TIMEOUT = 10

SIMULATOR_SCRIPT = os.path.splitext(stability_simulator.__file__)[0] + '.py'
COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
OPENAPI_DOCUMENT = os.path.join(COLLECTION_ROOT, 'docs', 'openapi', 'stability-user-api.yaml')

LOG_FIELDS = {'time', 'method', 'path', 'version', 'endpoint', 'organization', 'authorization', 'headers', 'status'}


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def start_simulator():
    """Start simulators with any options; every one is stopped when the test ends."""
    started = []

    def start(**options):
        simulator = StabilitySimulator(**options)
        started.append(simulator)
        return simulator.start()

    yield start
    for simulator in started:
        simulator.stop()


@pytest.fixture
def sim(start_simulator):
    return start_simulator()


@pytest.fixture
def processes():
    """Simulator processes started from the command line, stopped by pid when the test ends."""
    pids = []
    yield pids
    for pid in pids:
        if not process_gone(pid):
            stop_process(pid)


def call(simulator, version, endpoint, key=ALICE, organization=None, bare=False, method='GET', **kwargs):
    headers = kwargs.pop('headers', {})
    if key is not None:
        headers['Authorization'] = key if bare else 'Bearer ' + key
    if organization is not None:
        headers['Organization'] = organization
    kwargs.setdefault('timeout', TIMEOUT)
    return requests.request(method, '%s/%s/user/%s' % (simulator.url, version, endpoint), headers=headers, **kwargs)


def assert_error(response, status, name, version):
    """The body is the vendor's error shape for the version; returns it."""
    assert response.status_code == status
    assert response.headers['Content-Type'] == 'application/json'
    body = response.json()
    expected = {'id', 'name', 'message'} | ({'fault', 'temporary', 'timeout'} if version == 'v1alpha' else set())
    assert set(body) == expected
    assert re.match(r'^[0-9a-f]{32}$', body['id'])
    assert body['name'] == name
    if version == 'v1alpha':
        assert body['fault'] is (status >= 500)
        assert body['temporary'] is (status >= 500)
        assert body['timeout'] is (status == 504)
    return body


def _wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _read_int(path):
    with open(path, 'r', encoding='utf-8') as handle:
        return int(handle.read())


def _run_cli(*arguments, **kwargs):
    return subprocess.run([sys.executable, SIMULATOR_SCRIPT] + list(arguments), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=30, check=False, **kwargs)


# ---------------------------------------------------------------------------------------------
# Accounts and balances
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('version', VERSIONS)
def test_account_lists_memberships_with_names(sim, version, demo_account):
    response = call(sim, version, 'account')
    assert response.status_code == 200
    assert response.headers['Content-Type'] == 'application/json'
    assert response.json() == demo_account
    assert [org['name'] for org in demo_account['organizations']] == ['Alice Studio', 'Alice Lab', 'Render Farm']


@pytest.mark.parametrize('version', VERSIONS)
def test_account_without_picture_omits_the_field(sim, version):
    account = call(sim, version, 'account', key=BOB).json()
    assert account == {'id': 'user-bob', 'email': 'bob@example.org',
                       'organizations': [{'id': 'org-bob', 'name': 'Bob Freelance', 'role': 'OWNER', 'is_default': True}]}


def test_bulk_account_has_24_organizations_and_one_default(sim):
    organizations = call(sim, 'v1', 'account', key=BULK).json()['organizations']
    assert [org['id'] for org in organizations] == ['org-bulk-%02d' % number for number in range(1, 25)]
    assert [org['id'] for org in organizations if org['is_default']] == ['org-bulk-01']
    assert organizations[23]['name'] == 'Bulk Team 24'


@pytest.mark.parametrize('version', VERSIONS)
@pytest.mark.parametrize('key, expected', [(ALICE, 1532.6336833840314), (BOB, 42.75), (BULK, 100.25), (EMPTY, 0.0)])
def test_balance_of_the_default_organization(sim, version, key, expected):
    response = call(sim, version, 'balance', key=key)
    assert response.status_code == 200
    assert response.json() == {'credits': expected}
    assert isinstance(response.json()['credits'], float)


def test_balance_is_sent_unrounded(sim):
    assert call(sim, 'v1', 'balance').text == '{"credits": 1532.6336833840314}'


@pytest.mark.parametrize('version', VERSIONS)
@pytest.mark.parametrize('organization, expected', [('org-alice-studio', 1532.6336833840314), ('org-alice-lab', 12.5), ('org-render-farm', 0.0)])
def test_organization_header_scopes_the_balance(sim, version, organization, expected):
    response = call(sim, version, 'balance', organization=organization)
    assert response.status_code == 200
    assert response.json() == {'credits': expected}


def test_organization_header_of_bulk_account(sim):
    assert call(sim, 'v1', 'balance', key=BULK, organization='org-bulk-07').json() == {'credits': 100.25 * 7}


@pytest.mark.parametrize('version', VERSIONS)
@pytest.mark.parametrize('organization', ['org-stranger', 'org-bob', 'org-does-not-exist'])
def test_organization_of_someone_else_is_permission_denied(sim, version, organization):
    body = assert_error(call(sim, version, 'balance', organization=organization), 403, 'permission_denied', version)
    assert body['message'] == 'account user-alice does not have access to organization %s' % organization


# ---------------------------------------------------------------------------------------------
# Authentication, routes, methods
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('version', VERSIONS)
@pytest.mark.parametrize('endpoint', ['account', 'balance'])
def test_missing_authorization_is_unauthorized(sim, version, endpoint):
    body = assert_error(call(sim, version, endpoint, key=None), 401, 'unauthorized', version)
    assert body['message'] == 'missing authorization header'


@pytest.mark.parametrize('version', VERSIONS)
@pytest.mark.parametrize('endpoint', ['account', 'balance'])
def test_unknown_key_is_unauthorized(sim, version, endpoint):
    body = assert_error(call(sim, version, endpoint, key=UNKNOWN_KEY), 401, 'unauthorized', version)
    assert body['message'] == 'the API key you provided is invalid'
    assert UNKNOWN_KEY not in json.dumps(body)


def test_bare_key_works_on_v1alpha_only(sim):
    assert call(sim, 'v1alpha', 'balance', bare=True).json() == {'credits': 1532.6336833840314}
    assert_error(call(sim, 'v1', 'balance', bare=True), 401, 'unauthorized', 'v1')


@pytest.mark.parametrize('path, version', [('/v1/user/nothing', 'v1'), ('/v1alpha/user', 'v1alpha'), ('/v2/user/balance', None), ('/', None)])
def test_unknown_route_is_not_found(sim, path, version):
    response = requests.get(sim.url + path, headers={'Authorization': 'Bearer ' + ALICE}, timeout=TIMEOUT)
    assert_error(response, 404, 'not_found', version)


@pytest.mark.parametrize('method', ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'BREW'])
def test_other_methods_are_not_allowed_and_are_logged(sim, method):
    """Any method, one HTTP does not define too, gets the vendor's JSON 405 (not Python's HTML 501) and a log entry."""
    response = call(sim, 'v1', 'balance', method=method)
    assert_error(response, 405, 'method_not_allowed', 'v1')
    assert response.headers['Allow'] == 'GET'
    assert [(entry['method'], entry['path'], entry['status']) for entry in sim.requests()] == [(method, '/v1/user/balance', 405)]


def test_help_shows_the_defaults_the_fixture_keys_and_where_the_control_api_is_documented():
    script = stability_simulator.__file__
    result = subprocess.run([sys.executable, script, '--help'], capture_output=True, text=True, timeout=30, check=True)
    assert '(default: 900.0)' in result.stdout and '(default: 150/10)' in result.stdout
    assert 'sk-sim-alice-64Es19knE59ROToV  user-alice' in result.stdout
    assert 'docs/docsite/rst/simulator.rst' in result.stdout
    docs = os.path.join(os.path.dirname(script), '..', '..', 'docs', 'docsite', 'rst', 'simulator.rst')
    with open(docs) as handle:
        page = handle.read()
    for route in ('GET /_sim/requests', 'POST /_sim/faults', 'POST /_sim/credits', 'POST /_sim/shutdown'):
        assert route in page


def test_head_is_not_allowed_and_has_no_body(sim):
    response = call(sim, 'v1alpha', 'account', method='HEAD')
    assert response.status_code == 405
    assert response.content == b''


# ---------------------------------------------------------------------------------------------
# Rate limit and latency
# ---------------------------------------------------------------------------------------------

def test_rate_limit_locks_the_account_out(start_simulator):
    sim = start_simulator(rate_limit=(5, 10.0))
    statuses = [call(sim, version, endpoint).status_code for version, endpoint in
                [('v1', 'balance'), ('v1alpha', 'balance'), ('v1', 'account'), ('v1alpha', 'account'), ('v1', 'balance')]]
    assert statuses == [200] * 5
    limited = call(sim, 'v1', 'balance')
    assert limited.status_code == 429
    body = limited.json()
    assert set(body) == {'id', 'name', 'errors'}
    assert body['name'] == 'rate_limit_exceeded'
    assert body['errors'] == ['You have exceeded the rate limit of 5 requests within a 10 second period, and have been timed out for 60 seconds.']
    assert 'Retry-After' not in limited.headers
    assert call(sim, 'v1alpha', 'account').status_code == 429
    assert call(sim, 'v1', 'balance', key=BOB).status_code == 200, 'the limit is per account'
    sim.clear_requests()
    assert call(sim, 'v1', 'balance').status_code == 200, 'clearing the log resets the rate limit'


def test_lockout_ends_with_a_fresh_window(start_simulator):
    sim = start_simulator(rate_limit=(2, 10.0), lockout=0.4)
    assert [call(sim, 'v1', 'balance').status_code for attempt in range(4)] == [200, 200, 429, 429]
    time.sleep(0.5)
    assert [call(sim, 'v1', 'balance').status_code for attempt in range(3)] == [200, 200, 429]


def test_rate_limit_zero_disables_it(start_simulator):
    sim = start_simulator(rate_limit=0)
    assert {call(sim, 'v1', 'account').status_code for attempt in range(20)} == {200}


def test_rate_limit_parsing():
    assert stability_simulator.parse_rate_limit('150/10') == (150, 10.0)
    assert stability_simulator.parse_rate_limit('5/0.5') == (5, 0.5)
    assert stability_simulator.parse_rate_limit('0') is None
    for bad in ('150', '1/0', 'ten/10', '-1/10'):
        with pytest.raises(ValueError):
            stability_simulator.parse_rate_limit(bad)


def test_latency_delays_api_requests_only(start_simulator):
    sim = start_simulator(latency=0.4)
    started = time.monotonic()
    assert call(sim, 'v1', 'balance').status_code == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    assert requests.get(sim.url + '/_sim/health', timeout=TIMEOUT).json() == {'ok': True}
    assert time.monotonic() - started < 0.4


# ---------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------

def test_status_fault_answers_n_times_then_the_api_answers(sim):
    sim.add_faults([{'match': {'endpoint': 'balance'}, 'status': 503, 'times': 2}])
    assert_error(call(sim, 'v1', 'balance'), 503, 'service_unavailable', 'v1')
    assert call(sim, 'v1', 'account').status_code == 200, 'a fault for balance leaves account alone'
    assert sim.faults()[0]['times'] == 1
    assert_error(call(sim, 'v1', 'balance'), 503, 'service_unavailable', 'v1')
    assert sim.faults() == []
    assert call(sim, 'v1', 'balance').json() == {'credits': 1532.6336833840314}


@pytest.mark.parametrize('status, name', [(500, 'server_error'), (502, 'bad_gateway'), (504, 'gateway_timeout')])
def test_server_side_faults_have_goa_flags_on_v1alpha(sim, status, name):
    sim.add_faults([{'status': status}])
    assert_error(call(sim, 'v1alpha', 'balance'), status, name, 'v1alpha')


def test_fault_sets_retry_after_verbatim(sim):
    sim.add_faults([{'status': 429, 'retry_after': '7'}, {'status': 503, 'retry_after': 'Wed, 21 Oct 2037 07:28:00 GMT'}])
    limited = call(sim, 'v1', 'balance')
    assert limited.status_code == 429
    assert limited.headers['Retry-After'] == '7'
    assert limited.json()['name'] == 'rate_limit_exceeded'
    unavailable = call(sim, 'v1', 'balance')
    assert unavailable.status_code == 503
    assert unavailable.headers['Retry-After'] == 'Wed, 21 Oct 2037 07:28:00 GMT'
    assert 'Retry-After' not in call(sim, 'v1', 'balance').headers


def test_latency_fault_makes_the_client_time_out(sim):
    sim.add_faults([{'latency': 1.0, 'status': 200, 'body': 'empty'}])
    with pytest.raises(requests.exceptions.ReadTimeout):
        call(sim, 'v1', 'balance', timeout=0.3)
    started = time.monotonic()
    assert call(sim, 'v1', 'balance').status_code == 200
    assert time.monotonic() - started < 0.5


def test_latency_only_fault_delays_the_real_answer(sim, demo_account):
    sim.add_faults([{'latency': 0.4, 'retry_after': '1'}])
    started = time.monotonic()
    response = call(sim, 'v1', 'account')
    assert time.monotonic() - started >= 0.4
    assert response.json() == demo_account
    assert response.headers['Retry-After'] == '1'


def test_drop_fault_closes_the_connection_without_an_answer(sim):
    sim.add_faults([{'drop': True}])
    with pytest.raises(requests.exceptions.ConnectionError):
        call(sim, 'v1', 'balance')
    assert sim.requests()[-1]['status'] == 0
    assert call(sim, 'v1', 'balance').status_code == 200


@pytest.mark.parametrize('mode', ['headers', 'body', 'chunk', 'chunks'])
def test_trickle_fault_sends_a_piece_at_a_time_until_the_client_hangs_up(sim, mode):
    sim.add_faults([{'trickle': mode}])
    with socket.create_connection(('127.0.0.1', sim.port), timeout=2) as connection:
        connection.sendall(b'GET /v1/user/balance HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n' % ALICE.encode())
        first = connection.recv(65536)
        assert first.startswith(b'HTTP/1.1 200 OK\r\n')
        later = [connection.recv(65536) for dummy in range(3)]
    assert 1 <= len(later[0]) <= 8 and [len(piece) for piece in later] == [len(later[0])] * 3, 'one small piece per interval'
    assert sim.requests()[-1]['status'] == 200
    assert call(sim, 'v1', 'balance').status_code == 200


def test_trickle_fault_mode_is_checked(sim):
    with pytest.raises(ValueError, match='trickle'):
        sim.add_faults([{'trickle': 'slowly'}])


def test_html_fault_is_a_gateway_page(sim):
    sim.add_faults([{'body': 'html'}])
    response = call(sim, 'v1', 'balance')
    assert response.status_code == 502
    assert response.headers['Content-Type'] == 'text/html'
    assert response.text.startswith('<html>')
    assert '502 Bad Gateway' in response.text


def test_empty_fault_has_no_body(sim):
    sim.add_faults([{'status': 200, 'body': 'empty'}])
    response = call(sim, 'v1', 'balance')
    assert response.status_code == 200
    assert response.content == b''
    assert response.headers['Content-Length'] == '0'


def test_notjson_fault_claims_json_but_is_not(sim):
    sim.add_faults([{'body': 'notjson'}])
    response = call(sim, 'v1', 'balance')
    assert response.status_code == 200
    assert response.headers['Content-Type'] == 'application/json'
    with pytest.raises(ValueError):
        json.loads(response.text)


def test_huge_fault_is_valid_json_over_2_mib(sim):
    sim.add_faults([{'body': 'huge'}])
    response = call(sim, 'v1', 'balance')
    assert response.status_code == 200
    assert len(response.content) > 2 * 1024 * 1024
    assert response.json()['credits'] == 1.0


def test_payload_fault_is_sent_verbatim(sim):
    payload = {'credits': '12.5', 'nested': [1, None, {'x': True}]}
    sim.add_faults([{'payload': payload}, {'status': 401, 'payload': {'detail': 'odd'}}])
    first = call(sim, 'v1alpha', 'balance')
    assert (first.status_code, first.json()) == (200, payload)
    second = call(sim, 'v1alpha', 'balance')
    assert (second.status_code, second.json()) == (401, {'detail': 'odd'})


def test_raw_fault_is_sent_byte_for_byte(sim):
    sim.add_faults([{'raw': '{"credits": 1e999}'}, {'status': 503, 'raw': 'caf\u00e9', 'retry_after': '1'}])
    first = call(sim, 'v1', 'balance')
    assert (first.status_code, first.content, first.headers['Content-Type']) == (200, b'{"credits": 1e999}', 'application/json')
    second = call(sim, 'v1', 'balance')
    assert (second.status_code, second.content, second.headers['Retry-After']) == (503, b'caf\xc3\xa9', '1')


def test_fault_matches_version_and_organization(sim):
    sim.add_faults([{'match': {'version': 'v1alpha', 'organization': 'org-alice-lab'}, 'status': 500}])
    assert call(sim, 'v1', 'balance', organization='org-alice-lab').status_code == 200
    assert call(sim, 'v1alpha', 'balance').status_code == 200
    assert call(sim, 'v1alpha', 'balance', organization='org-alice-studio').status_code == 200
    assert call(sim, 'v1alpha', 'balance', organization='org-alice-lab').status_code == 500


def test_fault_matching_organization_null_means_no_header(sim):
    sim.add_faults([{'match': {'organization': None}, 'status': 500}])
    assert call(sim, 'v1', 'balance', organization='org-alice-lab').status_code == 200
    assert call(sim, 'v1', 'balance').status_code == 500


def test_first_matching_fault_wins_and_forever_stays(sim):
    sim.add_faults([{'match': {'endpoint': 'account'}, 'status': 418, 'times': -1}, {'status': 500}])
    assert [call(sim, 'v1', 'account').status_code for attempt in range(3)] == [418, 418, 418]
    assert call(sim, 'v1', 'balance').status_code == 500
    assert [fault['status'] for fault in sim.faults()] == [418]
    sim.clear_faults()
    assert call(sim, 'v1', 'account').status_code == 200


def test_faults_apply_before_authentication(sim):
    sim.add_faults([{'status': 500}, {'status': 503}])
    assert call(sim, 'v1', 'balance', key=None).status_code == 500
    assert call(sim, 'v1', 'balance', key=UNKNOWN_KEY).status_code == 503
    assert call(sim, 'v1', 'balance', key=UNKNOWN_KEY).status_code == 401


@pytest.mark.parametrize('spec', [
    {'status': 99},
    {'status': 700},
    {'status': '500'},
    {'body': 'xml'},
    {'body': 'payload'},
    {'body': 'raw'},
    {'raw': 12},
    {'times': 0},
    {'times': -2},
    {'latency': -1},
    {'drop': 'yes'},
    {'retry_after': '1\r\nX-Injected: 1'},
    {'match': {'endpoint': 'engines'}},
    {'match': {'version': 'v2'}},
    {'match': {'method': 'GET'}},
    {'unknown': 1},
    'status 500',
])
def test_invalid_fault_specs_are_refused(sim, spec):
    with pytest.raises(ValueError):
        sim.add_faults([{'status': 500}, spec])
    assert sim.faults() == [], 'a refused batch adds nothing'
    response = requests.post(sim.url + '/_sim/faults', json=[spec], timeout=TIMEOUT)
    assert response.status_code == 400
    assert sim.faults() == []


def test_fault_defaults_are_filled_in(sim):
    sim.add_faults([{'body': 'error'}, {'payload': []}, {'latency': 0.1}])
    assert [(fault['status'], fault['body']) for fault in sim.faults()] == [(500, 'error'), (200, 'payload'), (None, None)]


# ---------------------------------------------------------------------------------------------
# Control API and request log
# ---------------------------------------------------------------------------------------------

def test_control_api_over_http(sim):
    base = sim.url + '/_sim'
    assert requests.get(base + '/health', timeout=TIMEOUT).json() == {'ok': True}
    queued = requests.post(base + '/faults', json=[{'match': {'endpoint': 'account'}, 'status': 502, 'times': 3}], timeout=TIMEOUT)
    assert queued.status_code == 200
    assert queued.json()[0]['times'] == 3
    assert call(sim, 'v1', 'account').status_code == 502
    assert requests.get(base + '/faults', timeout=TIMEOUT).json()[0]['times'] == 2
    assert requests.delete(base + '/faults', timeout=TIMEOUT).status_code == 200
    assert requests.get(base + '/faults', timeout=TIMEOUT).json() == []
    assert call(sim, 'v1', 'account').status_code == 200
    assert len(requests.get(base + '/requests', timeout=TIMEOUT).json()) == 2
    assert requests.delete(base + '/requests', timeout=TIMEOUT).status_code == 200
    assert requests.get(base + '/requests', timeout=TIMEOUT).json() == []
    assert requests.get(base + '/nothing', timeout=TIMEOUT).status_code == 404
    assert requests.put(base + '/faults', timeout=TIMEOUT).status_code == 405
    assert requests.post(base + '/faults', data='{not json', timeout=TIMEOUT).status_code == 400


def test_request_log_records_requests_but_never_keys(sim):
    call(sim, 'v1', 'balance', organization='org-alice-lab', headers={'Stability-Client-ID': 'stabilityai.platform'})
    call(sim, 'v1alpha', 'account', bare=True)
    call(sim, 'v1', 'account', key=UNKNOWN_KEY)
    call(sim, 'v1alpha', 'balance', key=UNKNOWN_KEY, bare=True)
    call(sim, 'v1', 'balance', key=None)
    call(sim, 'v1alpha', 'balance', key=BOB, organization='org-stranger')
    requests.get(sim.url + '/_sim/health', timeout=TIMEOUT)

    log = sim.requests()
    assert [set(entry) for entry in log] == [LOG_FIELDS] * 6, 'control requests are not listed'
    assert [(entry['version'], entry['endpoint'], entry['organization'], entry['authorization'], entry['status']) for entry in log] == [
        ('v1', 'balance', 'org-alice-lab', 'bearer:user-alice', 200),
        ('v1alpha', 'account', None, 'bare:user-alice', 200),
        ('v1', 'account', None, 'bearer:unknown', 401),
        ('v1alpha', 'balance', None, 'bare:unknown', 401),
        ('v1', 'balance', None, 'missing', 401),
        ('v1alpha', 'balance', 'org-stranger', 'bearer:user-bob', 403),
    ]
    assert log[0]['method'] == 'GET'
    assert log[0]['path'] == '/v1/user/balance'
    assert log[0]['headers']['Stability-Client-ID'] == 'stabilityai.platform'
    assert log[0]['headers']['Organization'] == 'org-alice-lab'
    assert all('authorization' not in (name.lower() for name in entry['headers']) for entry in log)
    assert log[0]['time'] <= log[-1]['time'] <= time.time()

    assert sim.requests(include_control=True)[-1]['path'] == '/_sim/health'
    for dumped in (json.dumps(log), json.dumps(sim.requests(include_control=True)),
                   requests.get(sim.url + '/_sim/requests', timeout=TIMEOUT).text):
        for key in (ALICE, BOB, UNKNOWN_KEY):
            assert key not in dumped


def test_set_credits_changes_the_balance(sim):
    sim.set_credits('org-alice-lab', 0.25)
    assert call(sim, 'v1', 'balance', organization='org-alice-lab').json() == {'credits': 0.25}
    response = requests.post(sim.url + '/_sim/credits', json={'organization': 'org-bob', 'credits': 3}, timeout=TIMEOUT)
    assert response.json() == {'organization': 'org-bob', 'credits': 3.0}
    assert call(sim, 'v1alpha', 'balance', key=BOB).text == '{"credits": 3.0}'
    with pytest.raises(KeyError):
        sim.set_credits('org-nobody', 1.0)
    with pytest.raises(ValueError):
        sim.set_credits('org-bob', 'lots')
    assert requests.post(sim.url + '/_sim/credits', json={'organization': 'org-nobody', 'credits': 1}, timeout=TIMEOUT).status_code == 404
    assert requests.post(sim.url + '/_sim/credits', json={'organization': 'org-bob', 'credits': True}, timeout=TIMEOUT).status_code == 400
    assert call(sim, 'v1', 'balance', key=BOB).json() == {'credits': 3.0}


def test_spend_takes_credits_from_a_balance(sim):
    assert sim.spend_credits('org-alice-lab', 2.5) == 10.0
    assert call(sim, 'v1', 'balance', organization='org-alice-lab').json() == {'credits': 10.0}
    response = requests.post(sim.url + '/_sim/spend', json={'organization': 'org-alice-lab', 'credits': -90}, timeout=TIMEOUT)
    assert response.json() == {'organization': 'org-alice-lab', 'credits': 100.0}
    assert call(sim, 'v1', 'balance', organization='org-alice-lab').json() == {'credits': 100.0}
    assert requests.post(sim.url + '/_sim/spend', json={'organization': 'org-nobody', 'credits': 1}, timeout=TIMEOUT).status_code == 404
    assert requests.post(sim.url + '/_sim/spend', json={'organization': 'org-bob', 'credits': 'lots'}, timeout=TIMEOUT).status_code == 400
    assert requests.post(sim.url + '/_sim/spend', json=[1], timeout=TIMEOUT).status_code == 400


def test_shutdown_over_http_stops_the_server(sim):
    assert requests.post(sim.url + '/_sim/shutdown', timeout=TIMEOUT).json() == {'ok': True}
    assert sim.wait(5)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(sim.url + '/_sim/health', timeout=TIMEOUT)


# ---------------------------------------------------------------------------------------------
# Fixtures, hosts, TLS
# ---------------------------------------------------------------------------------------------

def test_fixture_given_as_a_dict(start_simulator):
    fixture = {
        'keys': {'sk-custom': 'user-x'},
        'accounts': {'user-x': {'email': 'x@example.com', 'organizations': [{'id': 'org-x', 'role': 'MEMBER', 'is_default': True}]}},
        'organizations': {'org-x': {'name': 'X', 'credits': 7}},
    }
    sim = start_simulator(fixture=fixture)
    assert call(sim, 'v1', 'balance', key='sk-custom').json() == {'credits': 7.0}
    assert call(sim, 'v1', 'balance').status_code == 401


@pytest.mark.parametrize('fixture', [
    [],
    {'keys': {}, 'accounts': {}},
    {'keys': {'sk-a': 'user-missing'}, 'accounts': {}, 'organizations': {}},
    {'keys': {'sk a': 'user-a'}, 'accounts': {'user-a': {'email': 'a@x', 'organizations': []}}, 'organizations': {}},
    {'keys': {}, 'accounts': {'user-a': {'email': 'a@x', 'organizations': [{'id': 'org-missing', 'role': 'OWNER', 'is_default': True}]}},
     'organizations': {}},
    {'keys': {}, 'accounts': {}, 'organizations': {'org-a': {'name': 'A', 'credits': '12'}}},
    {'keys': {}, 'accounts': {'user-a': {'email': 'a@x', 'organizations': [
        {'id': 'org-a', 'role': 'OWNER', 'is_default': True}, {'id': 'org-b', 'role': 'OWNER', 'is_default': True}]}},
     'organizations': {'org-a': {'name': 'A', 'credits': 1}, 'org-b': {'name': 'B', 'credits': 1}}},
])
def test_malformed_fixtures_are_refused(fixture):
    with pytest.raises(stability_simulator.FixtureError):
        StabilitySimulator(fixture=fixture)


@pytest.mark.parametrize('host', ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'example.com', '::ffff:127.0.0.1', ''])
def test_only_loopback_hosts_are_accepted(host):
    with pytest.raises(ValueError, match='loopback'):
        StabilitySimulator(host=host)


def test_loopback_spellings_are_accepted(start_simulator):
    assert stability_simulator.loopback_address('127.1.2.3')[0] == '127.1.2.3'
    assert stability_simulator.loopback_address('::1')[0] == '::1'
    assert stability_simulator.loopback_address('[::1]')[0] == '::1'
    sim = start_simulator(host='localhost')
    assert sim.url == 'http://127.0.0.1:%d' % sim.port
    assert sim.port > 0


def test_tls_with_a_throwaway_ca(start_simulator, tmp_path, demo_account):
    authority = trustme.CA()
    server_cert = authority.issue_cert('127.0.0.1', 'localhost')
    cert, key, ca = str(tmp_path / 'server.pem'), str(tmp_path / 'server.key'), str(tmp_path / 'ca.pem')
    server_cert.cert_chain_pems[0].write_to_path(cert)
    server_cert.private_key_pem.write_to_path(key)
    authority.cert_pem.write_to_path(ca)
    sim = start_simulator(tls_cert=cert, tls_key=key)
    assert sim.url.startswith('https://127.0.0.1:')
    response = call(sim, 'v1', 'balance', verify=ca)
    assert response.json() == {'credits': 1532.6336833840314}
    with pytest.raises(requests.exceptions.SSLError):
        call(sim, 'v1', 'balance', verify=True)
    assert call(sim, 'v1alpha', 'account', verify=ca).json() == demo_account, 'a failed handshake does not stop the server'


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

def test_cli_daemon_starts_and_shutdown_stops_it(processes, tmp_path):
    port_file, pid_file, log_file = tmp_path / 'sim.port', tmp_path / 'sim.pid', tmp_path / 'sim.log'
    result = _run_cli('--daemon', '--port-file', str(port_file), '--pid-file', str(pid_file), '--log-file', str(log_file),
                      '--verbose', '--lifetime', '60')
    assert result.returncode == 0, result.stderr
    pid, port = _read_int(str(pid_file)), _read_int(str(port_file))
    processes.append(pid)
    assert result.stdout == 'Stability API simulator listening on http://127.0.0.1:%d (pid %d)\n' % (port, pid)
    assert pid != os.getpid()
    url = 'http://127.0.0.1:%d' % port
    assert requests.get(url + '/v1/user/balance', headers={'Authorization': 'Bearer ' + BOB}, timeout=TIMEOUT).json() == {'credits': 42.75}
    assert requests.post(url + '/_sim/shutdown', timeout=TIMEOUT).status_code == 200
    assert _wait_for(lambda: process_gone(pid), 10)
    assert not port_file.exists() and not pid_file.exists()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url + '/_sim/health', timeout=TIMEOUT)
    assert 'GET /v1/user/balance' in log_file.read_text()


def test_cli_daemon_reports_a_child_that_failed(tmp_path):
    result = _run_cli('--daemon', '--port-file', str(tmp_path / 'sim.port'), '--pid-file', str(tmp_path / 'missing-dir' / 'sim.pid'))
    assert result.returncode != 0
    assert 'did not start' in result.stderr
    assert not (tmp_path / 'sim.port').exists()


def test_cli_stops_after_its_lifetime(processes, tmp_path):
    port_file = tmp_path / 'sim.port'
    process = subprocess.Popen([sys.executable, SIMULATOR_SCRIPT, '--lifetime', '1', '--port-file', str(port_file)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    processes.append(process.pid)
    started = time.monotonic()
    assert _wait_for(port_file.exists, 10)
    url = 'http://127.0.0.1:%d' % _read_int(str(port_file))
    assert requests.get(url + '/_sim/health', timeout=TIMEOUT).json() == {'ok': True}
    stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert 1.0 <= time.monotonic() - started < 9
    assert stdout.startswith('Stability API simulator listening on %s (pid %d)' % (url, process.pid))
    assert stderr == '', 'requests are not logged without --verbose'
    assert not port_file.exists()


def test_cli_stops_cleanly_on_sigterm(processes, tmp_path):
    port_file = tmp_path / 'sim.port'
    process = subprocess.Popen([sys.executable, SIMULATOR_SCRIPT, '--lifetime', '0', '--port-file', str(port_file), '--rate-limit', '0'],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    processes.append(process.pid)
    assert _wait_for(port_file.exists, 10)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=10)
    assert process.returncode == 0
    assert not port_file.exists()


@pytest.mark.parametrize('arguments', [['--host', '0.0.0.0'], ['--rate-limit', 'fast'], ['--tls-key', 'key.pem'], ['--fixture', '/nonexistent.json']])
def test_cli_refuses_bad_arguments(arguments):
    result = _run_cli(*arguments)
    assert result.returncode == 2
    assert 'error' in result.stderr
    assert 'listening' not in result.stdout


# ---------------------------------------------------------------------------------------------
# The contract: docs/openapi/stability-user-api.yaml
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def openapi():
    return OpenAPI.from_file_path(OPENAPI_DOCUMENT)


def _load_document():
    with open(OPENAPI_DOCUMENT, 'r', encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def test_openapi_document_is_valid_and_covers_exactly_the_user_endpoints():
    document = _load_document()
    validate_spec(document)
    assert document['openapi'] == '3.0.3'
    assert sorted(document['paths']) == ['/v1/user/account', '/v1/user/balance', '/v1alpha/user/account', '/v1alpha/user/balance']
    scheme = document['components']['securitySchemes']['StabilityApiKey']
    assert (scheme['type'], scheme['in'], scheme['name']) == ('apiKey', 'header', 'Authorization')
    for path, item in document['paths'].items():
        assert list(item) == ['get'], path
        assert {'200', '401', '403', '404', '429', '500'} <= set(item['get']['responses']), path
        parameters = [parameter['$ref'].rsplit('/', 1)[1] for parameter in item['get']['parameters']]
        assert ('Organization' in parameters) is path.endswith('/balance'), path
        assert {'StabilityClientID', 'StabilityClientVersion'} <= set(parameters), path
    schemas = document['components']['schemas']
    assert schemas['AccountResponseBody']['required'] == ['id', 'email', 'organizations']
    assert schemas['OrganizationMembership']['required'] == ['id', 'name', 'role', 'is_default']
    credits_schema = schemas['BalanceResponseBody']['properties']['credits']
    assert (credits_schema['type'], credits_schema['format']) == ('number', 'double')


def _fault(spec):
    def prepare(sim):
        sim.add_faults([spec])
    return prepare


def _exhaust_rate_limit(sim):
    assert call(sim, 'v1', 'account').status_code == 200


CONTRACT_CASES = {
    'account': (200, 'account', {}, None),
    'account-without-picture': (200, 'account', {'key': BOB}, None),
    'account-24-organizations': (200, 'account', {'key': BULK}, None),
    'balance': (200, 'balance', {}, None),
    'balance-zero': (200, 'balance', {'key': EMPTY}, None),
    'balance-organization': (200, 'balance', {'organization': 'org-alice-lab'}, None),
    'account-401-missing-key': (401, 'account', {'key': None}, None),
    'balance-401-unknown-key': (401, 'balance', {'key': UNKNOWN_KEY}, None),
    'balance-403-foreign-organization': (403, 'balance', {'organization': 'org-stranger'}, None),
    'account-429-rate-limited': (429, 'account', {}, _exhaust_rate_limit),
    'balance-429-rate-limited': (429, 'balance', {}, _exhaust_rate_limit),
    'balance-429-retry-after': (429, 'balance', {}, _fault({'status': 429, 'retry_after': '3'})),
    'balance-404': (404, 'balance', {}, _fault({'status': 404})),
    'account-500': (500, 'account', {}, _fault({'status': 500})),
    'balance-503': (503, 'balance', {}, _fault({'status': 503})),
    'balance-502-html': (502, 'balance', {}, _fault({'status': 502, 'body': 'html'})),
}


@pytest.mark.parametrize('version', VERSIONS)
@pytest.mark.parametrize('case', sorted(CONTRACT_CASES))
def test_simulator_responses_follow_the_contract(start_simulator, openapi, version, case):
    status, endpoint, options, prepare = CONTRACT_CASES[case]
    sim = start_simulator(rate_limit=(1, 10.0))
    if prepare is not None:
        prepare(sim)
    response = call(sim, version, endpoint, **options)
    assert response.status_code == status
    openapi.validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))
    if status == 200:
        openapi.validate_request(RequestsOpenAPIRequest(response.request))


@pytest.mark.parametrize('version', VERSIONS)
def test_unknown_route_body_follows_the_error_schema(sim, version):
    response = requests.get('%s/%s/user/unknown' % (sim.url, version), timeout=TIMEOUT)
    assert response.status_code == 404
    document = _load_document()
    name = 'GoaError' if version == 'v1alpha' else 'V1Error'
    validator = OAS30Validator({'$ref': '#/components/schemas/%s' % name, 'components': document['components']})
    validator.validate(response.json())
    other = 'V1Error' if version == 'v1alpha' else 'GoaError'
    mismatched = OAS30Validator({'$ref': '#/components/schemas/%s' % other, 'components': document['components']})
    assert mismatched.is_valid(response.json()) is (version == 'v1alpha'), 'a goa body is also a valid v1 body, not the reverse'


@pytest.mark.parametrize('version, endpoint, spec', [
    ('v1', 'balance', {'payload': {'credits': 'lots'}}),
    ('v1', 'balance', {'payload': {'balance': 1.0}}),
    ('v1', 'balance', {'status': 200, 'body': 'empty'}),
    ('v1', 'account', {'payload': {'id': 'user-x', 'organizations': []}}),
    ('v1alpha', 'account', {'payload': {'id': 'user-x', 'email': 'x@example.com', 'organizations': [{'id': 'org-x', 'name': 'X'}]}}),
    ('v1alpha', 'balance', {'status': 401, 'payload': {'id': 'abc', 'name': 'unauthorized', 'message': 'v1 shape on v1alpha'}}),
    ('v1', 'balance', {'status': 429, 'payload': {'id': 'abc', 'name': 'rate_limit_exceeded', 'message': 'no errors list'}}),
    ('v1', 'balance', {'status': 500, 'payload': {'name': 'server_error', 'message': 'no id'}}),
])
def test_off_contract_responses_are_caught(sim, openapi, version, endpoint, spec):
    sim.add_faults([spec])
    response = call(sim, version, endpoint)
    with pytest.raises(Exception) as caught:
        openapi.validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))
    assert type(caught.value).__module__.startswith('openapi_core')
