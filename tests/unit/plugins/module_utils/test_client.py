# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The client, specified request by request: URL, headers, retries, response checks, wording."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import os
from email.utils import formatdate

import pytest
import requests

from ansible_collections.stabilityai.platform.plugins.module_utils import _client
from ansible_collections.stabilityai.platform.plugins.module_utils._client import StabilityClient
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import (
    StabilityAPIError,
    StabilityConnectionError,
    StabilityOptionError,
    StabilityResponseError,
)
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import (
    COLLECTION_VERSION,
    ConnectionSettings,
    clean_bool,
    max_total_seconds,
)

KEY = 'sk-unit-test-0123456789abcdef'
ACCOUNT = {
    'id': 'user-1234',
    'email': 'alice@example.com',
    'profile_picture': 'https://example.com/alice.png',
    'organizations': [
        {'id': 'org-5678', 'name': 'Alice Studio', 'role': 'OWNER', 'is_default': True},
        {'id': 'org-lab', 'name': 'Alice Lab', 'role': 'MEMBER', 'is_default': False},
    ],
}


def make_client(**options):
    options.setdefault('api_key', KEY)
    return StabilityClient(ConnectionSettings(**options))


class TestRequests:
    def test_balance_is_a_get_to_the_v1_endpoint_with_bearer_key_and_client_headers(self, fake_api):
        fake_api.answer(payload={'credits': 0.6336833840314097})
        assert make_client().fetch_balance() == 0.6336833840314097
        request = fake_api.requests[0]
        assert request.method == 'GET'
        assert request.url == 'https://api.stability.ai/v1/user/balance'
        assert request.headers['Authorization'] == 'Bearer ' + KEY
        assert request.headers['Accept'] == 'application/json'
        assert request.headers['Stability-Client-ID'] == 'stabilityai.platform'
        assert request.headers['Stability-Client-Version'] == COLLECTION_VERSION
        assert request.headers['User-Agent'] == 'stabilityai.platform/' + COLLECTION_VERSION
        assert 'Organization' not in request.headers

    def test_organization_travels_as_a_header_not_a_query(self, fake_api):
        fake_api.answer(payload={'credits': 12.5})
        assert make_client().fetch_balance('  org-lab ') == 12.5
        assert fake_api.requests[0].headers['Organization'] == 'org-lab'
        assert fake_api.requests[0].url == 'https://api.stability.ai/v1/user/balance'

    def test_v1alpha_and_a_base_url_with_a_path_prefix(self, fake_api):
        fake_api.answer(payload=ACCOUNT)
        make_client(api_url='http://127.0.0.1:8080/proxy/', api_version='v1alpha').fetch_account()
        assert fake_api.requests[0].url == 'http://127.0.0.1:8080/proxy/v1alpha/user/account'

    def test_timeout_and_certificate_verification_reach_the_transport(self, fake_api, tmp_path):
        bundle = tmp_path / 'ca.pem'
        bundle.write_text(u'not checked here')
        fake_api.answer(payload={'credits': 1}).answer(payload={'credits': 1}).answer(payload={'credits': 1})
        make_client(timeout=4.5).fetch_balance()
        make_client(ca_path=str(bundle)).fetch_balance()
        insecure = make_client(validate_certs=False)
        insecure.fetch_balance()
        assert fake_api.kwargs[0]['timeout'] == 4.5
        assert fake_api.kwargs[0]['verify'] is True
        assert fake_api.kwargs[1]['verify'] == str(bundle)
        assert fake_api.kwargs[2]['verify'] is False
        assert insecure.warnings == ['validate_certs is false: the TLS certificate of https://api.stability.ai is not checked']

    def test_proxy_variables_are_honoured_and_netrc_is_not(self, fake_api, monkeypatch, tmp_path):
        netrc = tmp_path / 'netrc'
        netrc.write_text(u'machine api.stability.ai login someone password netrc-secret\n')
        monkeypatch.setenv('NETRC', str(netrc))
        monkeypatch.setenv('HTTPS_PROXY', 'http://proxy.example:3128')
        monkeypatch.setenv('NO_PROXY', 'internal.example')
        fake_api.answer(payload={'credits': 1}).answer(payload={'credits': 1})
        make_client().fetch_balance()
        make_client(api_url='https://internal.example').fetch_balance()
        assert fake_api.kwargs[0]['proxies']['https'] == 'http://proxy.example:3128'
        assert not fake_api.kwargs[1]['proxies']
        assert fake_api.requests[0].headers['Authorization'] == 'Bearer ' + KEY

    def test_redirects_are_not_followed(self, fake_api):
        fake_api.answer(status=301, headers={'Location': 'https://elsewhere.example/v1/user/balance'})
        with pytest.raises(StabilityAPIError) as caught:
            make_client().fetch_balance()
        assert len(fake_api.requests) == 1
        assert caught.value.status == 301

    def test_balances_keep_their_order_and_make_one_request_each(self, fake_api):
        orgs = ['org-%02d' % index for index in range(10)]
        credits = dict((org, float(index)) for index, org in enumerate(orgs))

        def send(adapter, request, **kwargs):
            fake_api.requests.append(request)
            response = requests.Response()
            response.status_code = 200
            response.raw = __import__('io').BytesIO(json.dumps({'credits': credits[request.headers['Organization']]}).encode())
            return response
        fake_api.send = send
        assert make_client().fetch_balances(orgs) == [credits[org] for org in orgs]
        assert sorted(request.headers['Organization'] for request in fake_api.requests) == orgs


class TestErrors:
    def test_v1_error_names_endpoint_status_name_message_and_id(self, fake_api):
        fake_api.answer(status=401, payload={'id': 'e1d2', 'name': 'unauthorized', 'message': 'missing authorization header'})
        with pytest.raises(StabilityAPIError) as caught:
            make_client().fetch_balance('org-lab')
        error = caught.value
        assert error.msg == ('GET https://api.stability.ai/v1/user/balance for organization org-lab failed with HTTP 401 unauthorized: '
                             'missing authorization header (error id e1d2); check api_key (or STABILITY_API_KEY)')
        assert error.to_result() == {'msg': error.msg, 'status': 401,
                                     'error': {'id': 'e1d2', 'name': 'unauthorized', 'message': 'missing authorization header'}}
        assert '\n' not in error.msg

    def test_v1alpha_goa_error_body(self, fake_api):
        fake_api.answer(status=403, payload={'id': 'a1', 'name': 'permission_denied', 'message': 'no access to org-x',
                                             'fault': False, 'temporary': False, 'timeout': False})
        with pytest.raises(StabilityAPIError) as caught:
            make_client(api_version='v1alpha').fetch_balance('org-x')
        assert caught.value.error == {'id': 'a1', 'name': 'permission_denied', 'message': 'no access to org-x'}
        assert 'HTTP 403 permission_denied: no access to org-x (error id a1)' in caught.value.msg
        assert 'check that the key belongs to a member of that organization' in caught.value.msg

    def test_the_membership_hint_is_for_a_403_on_a_named_organization_only(self, fake_api, sleeps):
        """Decided from the organization asked for, not from the wording of the message."""
        hint = 'check that the key belongs to a member of that organization'
        fake_api.answer(status=403, payload={'name': 'permission_denied', 'message': 'for organization org-x: denied'})
        with pytest.raises(StabilityAPIError) as caught:
            make_client().fetch_balance()
        assert hint not in caught.value.msg
        for status in (429, 500):
            fake_api.answer(status=status, payload={'name': 'busy'})
            with pytest.raises(StabilityAPIError) as caught:
                make_client(retries=0).fetch_balance('org-x')
            assert 'for organization org-x' in caught.value.msg and hint not in caught.value.msg

    def test_errors_list_shape_is_joined(self, fake_api, sleeps):
        body = {'id': 'r1', 'name': 'rate_limit_exceeded', 'errors': ['You have exceeded the rate limit', 'wait 60 seconds']}
        fake_api.answer(status=429, payload=body)
        with pytest.raises(StabilityAPIError) as caught:
            make_client(retries=0).fetch_balance()
        assert caught.value.error['message'] == 'You have exceeded the rate limit; wait 60 seconds'
        assert 'the API allows 150 requests per 10 seconds' in caught.value.msg

    def test_html_gateway_page_is_described_by_its_title(self, fake_api):
        page = b'<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>'
        fake_api.answer(status=502, body=page, headers={'Content-Type': 'text/html; charset=utf-8'})
        with pytest.raises(StabilityAPIError) as caught:
            make_client(retries=0).fetch_account()
        assert caught.value.msg == 'GET https://api.stability.ai/v1/user/account failed with HTTP 502 (text/html: 502 Bad Gateway)'
        assert caught.value.error is None
        assert caught.value.to_result() == {'msg': caught.value.msg, 'status': 502}

    def test_empty_error_body(self, fake_api):
        fake_api.answer(status=404)
        with pytest.raises(StabilityAPIError) as caught:
            make_client().fetch_account()
        assert caught.value.msg.endswith('failed with HTTP 404 (empty body)')

    def test_a_key_echoed_by_the_server_is_redacted(self, fake_api):
        fake_api.answer(status=401, payload={'id': 'x', 'name': 'unauthorized', 'message': 'bad key %s' % KEY})
        with pytest.raises(StabilityAPIError) as caught:
            make_client().fetch_balance()
        assert KEY not in json.dumps(caught.value.to_result())
        assert 'bad key ********' in caught.value.msg

    @staticmethod
    def assert_no_piece_of_the_key(text, length=8):
        pieces = [KEY[start:start + length] for start in range(len(KEY) - length + 1)]
        assert not [piece for piece in pieces if piece in text], text

    @pytest.mark.parametrize('field, cut', [('name', 100), ('message', 400)])
    def test_a_key_echoed_as_json_escapes_is_redacted_before_the_cut(self, fake_api, field, cut):
        """Decoded, the escapes are the key: it must be blanked before the field is cut to length."""
        escaped = ''.join('\\u%04x' % ord(char) for char in KEY)
        padding = 'x' * (cut - 3 - len(KEY) // 2)  # the cut falls in the middle of the key
        body = {'id': 'e9', 'name': 'unauthorized', 'message': 'bad key'}
        body[field] = padding + '@@KEY@@ is not valid'
        fake_api.answer(status=401, body=json.dumps(body).replace('@@KEY@@', escaped).encode(), headers={'Content-Type': 'application/json'})
        with pytest.raises(StabilityAPIError) as caught:
            make_client().fetch_balance()
        result = json.dumps(caught.value.to_result())
        self.assert_no_piece_of_the_key(result)
        assert caught.value.error[field].startswith(padding + '********')

    @pytest.mark.parametrize('form', [
        pytest.param(base64.b64encode(KEY.encode()).decode(), id='base64 of the key'),
        pytest.param(base64.b64encode(b'Bearer ' + KEY.encode()).decode(), id='base64 of Bearer key'),
        pytest.param(base64.urlsafe_b64encode(b'Bearer ' + KEY.encode()).decode().rstrip('='), id='URL-safe base64 of Bearer key, unpadded'),
    ])
    def test_a_key_echoed_in_base64_is_redacted(self, fake_api, form):
        fake_api.answer(status=401, payload={'id': 'x', 'name': 'unauthorized', 'message': 'bad authorization %s' % form})
        with pytest.raises(StabilityAPIError) as caught:
            make_client().fetch_balance()
        assert form not in json.dumps(caught.value.to_result())
        assert caught.value.error['message'] == 'bad authorization ********'

    def test_a_key_in_a_credits_value_is_redacted_before_the_cut(self, fake_api):
        escaped = ''.join('\\u%04x' % ord(char) for char in KEY)
        fake_api.answer(body=b'{"credits": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx%s"}' % escaped.encode(), headers={'Content-Type': 'application/json'})
        with pytest.raises(StabilityResponseError) as caught:
            make_client().fetch_balance()
        self.assert_no_piece_of_the_key(caught.value.msg)

    def test_an_unreadable_answer_is_described_without_the_key(self, fake_api):
        cause = requests.exceptions.ContentDecodingError('x' * 180 + ' token ' + KEY + ' could not be decoded')
        fake_api.answer(exc=cause)
        with pytest.raises(StabilityConnectionError) as caught:
            make_client().fetch_balance()
        assert 'the answer could not be read (' in caught.value.msg
        self.assert_no_piece_of_the_key(caught.value.msg)
        assert 'token ********' in caught.value.msg


class TestRetries:
    @pytest.mark.parametrize('status', [429, 500, 502, 503, 504])
    def test_transient_statuses_are_retried_until_success(self, fake_api, sleeps, status):
        fake_api.answer(status=status).answer(status=status).answer(payload={'credits': 3.0})
        assert make_client().fetch_balance() == 3.0
        assert len(fake_api.requests) == 3
        assert len(sleeps) == 2
        assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0

    @pytest.mark.parametrize('status', [400, 401, 403, 404, 409, 501])
    def test_other_statuses_are_never_retried(self, fake_api, sleeps, status):
        fake_api.answer(status=status, payload={'id': 'i', 'name': 'n', 'message': 'm'})
        with pytest.raises(StabilityAPIError):
            make_client(retries=5).fetch_balance()
        assert len(fake_api.requests) == 1
        assert sleeps == []

    def test_retries_are_bounded_and_the_message_counts_attempts(self, fake_api, sleeps):
        for dummy in range(4):
            fake_api.answer(status=503, payload={'id': 'z9', 'name': 'service_unavailable', 'message': 'try later'})
        with pytest.raises(StabilityAPIError) as caught:
            make_client(retries=3).fetch_balance()
        assert len(fake_api.requests) == 4
        assert len(sleeps) == 3
        assert caught.value.msg.endswith('HTTP 503 service_unavailable: try later (error id z9) after 4 attempts')

    def test_retries_zero_sends_one_request(self, fake_api, sleeps):
        fake_api.answer(status=500)
        with pytest.raises(StabilityAPIError):
            make_client(retries=0).fetch_balance()
        assert len(fake_api.requests) == 1 and sleeps == []

    def test_retry_after_seconds_is_honoured(self, fake_api, sleeps):
        fake_api.answer(status=429, headers={'Retry-After': '7'}).answer(payload={'credits': 1})
        make_client().fetch_balance()
        assert sleeps == [7.0]

    def test_retry_after_http_date_is_honoured(self, fake_api, sleeps):
        fake_api.answer(status=503, headers={'Retry-After': formatdate(__import__('time').time() + 20, usegmt=True)})
        fake_api.answer(payload={'credits': 1})
        make_client().fetch_balance()
        assert 18 <= sleeps[0] <= 20

    def test_retry_after_is_capped(self, fake_api, sleeps):
        fake_api.answer(status=429, headers={'Retry-After': '3600'}).answer(payload={'credits': 1})
        make_client().fetch_balance()
        assert sleeps == [_client.RETRY_AFTER_MAX]

    @pytest.mark.parametrize('exc', [
        requests.exceptions.ConnectionError('Connection refused'),
        requests.exceptions.ReadTimeout('read timed out'),
        requests.exceptions.ConnectTimeout('connect timed out'),
        requests.exceptions.ChunkedEncodingError('connection broken'),
    ])
    def test_network_errors_are_retried(self, fake_api, sleeps, exc):
        fake_api.answer(exc=exc).answer(payload={'credits': 2})
        assert make_client().fetch_balance() == 2.0
        assert len(sleeps) == 1

    def test_a_read_that_timed_out_on_its_own_is_worded_like_the_watchdog_cut(self, fake_api, sleeps):
        """The socket time-out and the wall-clock cut fire at the same moment: one wording, whichever wins."""
        fake_api.answer(exc=requests.exceptions.ReadTimeout('HTTPConnectionPool: Read timed out. (read timeout=2.5)'))
        with pytest.raises(StabilityConnectionError) as caught:
            make_client(retries=0, timeout=2.5).fetch_balance()
        assert caught.value.msg == 'GET https://api.stability.ai/v1/user/balance failed after 1 attempt: the answer took longer than timeout (2.5 s)'

    def test_network_error_after_retries_names_the_reason(self, fake_api, sleeps):
        for dummy in range(3):
            fake_api.answer(exc=requests.exceptions.ConnectionError(OSError(111, 'Connection refused')))
        with pytest.raises(StabilityConnectionError) as caught:
            make_client(retries=2).fetch_balance()
        assert caught.value.msg == 'GET https://api.stability.ai/v1/user/balance failed after 3 attempts: [Errno 111] Connection refused'
        assert caught.value.to_result() == {'msg': caught.value.msg}

    def test_tls_errors_are_not_retried_and_point_at_ca_path(self, fake_api, sleeps):
        fake_api.answer(exc=requests.exceptions.SSLError('certificate verify failed: unable to get local issuer certificate'))
        with pytest.raises(StabilityConnectionError) as caught:
            make_client().fetch_balance()
        assert len(fake_api.requests) == 1 and sleeps == []
        assert 'certificate verify failed' in caught.value.msg and 'ca_path' in caught.value.msg

    def test_backoff_grows_with_jitter_and_stays_bounded(self):
        for attempt, ceiling in enumerate([0.5, 1, 2, 4, 8, 8, 8]):
            delays = [_client.retry_delay(attempt) for dummy in range(50)]
            assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
            assert len(set(delays)) > 1
        assert max_total_seconds(30, 3) == 4 * 30 + 3 * 60

    @pytest.mark.parametrize('value, expected', [('5', 5.0), (' 0 ', 0.0), ('-3', 0.0), ('1.5', 1.5), ('soon', None), ('', None), (None, None)])
    def test_parse_retry_after(self, value, expected):
        assert _client.parse_retry_after(value) == expected

    def test_parse_retry_after_date_in_the_past_is_zero(self):
        assert _client.parse_retry_after('Wed, 21 Oct 2015 07:28:00 GMT') == 0.0


class TestResponseChecks:
    @pytest.mark.parametrize('body, problem', [
        (b'<html>oops</html>', 'body that is not JSON'),
        (b'', 'body that is not JSON (empty body)'),
        (b'\xff\xfe', 'body that is not JSON'),
        (b'{}', 'has no "credits" field'),
        (b'[]', 'has no "credits" field'),
        (b'{"credits": "12.5"}', 'has a "credits" that is not a number: "12.5"'),
        (b'{"credits": null}', 'has a "credits" that is not a number: null'),
        (b'{"credits": true}', 'has a "credits" that is not a number: true'),
        (b'{"credits": -1}', 'has a negative "credits" (-1.0)'),
        (b'{"credits": NaN}', 'has a "credits" that is not a finite number'),
        (b'{"credits": 1e999}', 'has a "credits" that is not a finite number'),
    ])
    def test_balance_bodies_that_break_the_contract(self, fake_api, body, problem):
        fake_api.answer(body=body, headers={'Content-Type': 'application/json'})
        with pytest.raises(StabilityResponseError) as caught:
            make_client().fetch_balance()
        assert problem in caught.value.msg
        assert caught.value.msg.startswith('GET https://api.stability.ai/v1/user/balance returned ')
        assert caught.value.status == 200

    def test_integer_credits_become_a_float(self, fake_api):
        fake_api.answer(payload={'credits': 12})
        credits = make_client().fetch_balance()
        assert credits == 12.0 and isinstance(credits, float)

    def test_a_body_over_one_mebibyte_is_refused(self, fake_api):
        fake_api.answer(body=b'{"credits": 1, "pad": "' + b'x' * (1024 * 1024) + b'"}')
        with pytest.raises(StabilityResponseError) as caught:
            make_client().fetch_balance()
        assert 'body over 1048576 bytes' in caught.value.msg

    def test_account_is_reduced_to_the_documented_fields(self, fake_api):
        body = dict(ACCOUNT, extra='ignored')
        body['organizations'] = [dict(ACCOUNT['organizations'][0], payment_method='card')]
        fake_api.answer(payload=body)
        account = make_client().fetch_account()
        assert account == {'id': 'user-1234', 'email': 'alice@example.com', 'profile_picture': 'https://example.com/alice.png',
                           'organizations': [{'id': 'org-5678', 'name': 'Alice Studio', 'role': 'OWNER', 'is_default': True}]}
        assert _client.default_membership(account)['id'] == 'org-5678'

    def test_account_without_profile_picture_gives_null(self, fake_api):
        fake_api.answer(payload=dict((k, v) for k, v in ACCOUNT.items() if k != 'profile_picture'))
        account = make_client().fetch_account()
        assert account['profile_picture'] is None

    @pytest.mark.parametrize('mutate, problem', [
        (lambda a: a.pop('id'), 'has no "id" string'),
        (lambda a: a.pop('email'), 'has no "email" string'),
        (lambda a: a.pop('organizations'), 'has no "organizations" list'),
        (lambda a: a.update(organizations={}), 'has no "organizations" list'),
        (lambda a: a['organizations'][1].pop('name'), 'organizations[1] has no "name" string'),
        (lambda a: a['organizations'][0].update(is_default='yes'), 'organizations[0] has no "is_default" boolean'),
        (lambda a: a['organizations'].append('org-x'), 'organizations[2] is not an object'),
    ])
    def test_account_bodies_that_break_the_contract(self, fake_api, mutate, problem):
        body = json.loads(json.dumps(ACCOUNT))
        mutate(body)
        fake_api.answer(payload=body)
        with pytest.raises(StabilityResponseError) as caught:
            make_client().fetch_account()
        assert caught.value.msg == 'GET https://api.stability.ai/v1/user/account returned an account body that ' + problem


class TestSettings:
    def test_defaults(self):
        settings = ConnectionSettings(api_key=' %s\t' % KEY)
        assert (settings.api_key, settings.api_url, settings.api_version, settings.timeout, settings.retries, settings.validate_certs) == (
            KEY, 'https://api.stability.ai', 'v1', 30.0, 3, True)
        assert KEY not in repr(settings)

    @pytest.mark.parametrize('api_key', [None, ''])
    def test_missing_key_names_the_option_and_the_variable(self, api_key):
        with pytest.raises(StabilityOptionError) as caught:
            ConnectionSettings(api_key=api_key)
        assert caught.value.option == 'api_key'
        assert 'api_key' in caught.value.msg and 'STABILITY_API_KEY' in caught.value.msg

    @pytest.mark.parametrize('options, option, words', [
        (dict(api_key='   '), 'api_key', 'is empty'),
        (dict(api_key='sk-abc\r\nX-Injected: 1'), 'api_key', 'control character'),
        (dict(api_key='sk-abc\x00'), 'api_key', 'control character'),
        (dict(api_key='sk-\u00e9t\u00e9'), 'api_key', 'not printable ASCII'),
        (dict(api_url=''), 'api_url', 'is empty'),
        (dict(api_url='ftp://api.stability.ai'), 'api_url', 'must start with https://'),
        (dict(api_url='api.stability.ai'), 'api_url', 'must start with https://'),
        (dict(api_url='https://'), 'api_url', 'has no host name'),
        (dict(api_url='https://:443/'), 'api_url', 'has no host name'),
        (dict(api_url='http://api.stability.ai'), 'api_url', 'plain http:// to api.stability.ai'),
        (dict(api_url='http://10.0.0.5:8080'), 'api_url', 'plain http:// to 10.0.0.5'),
        (dict(api_url='http://localhost.example.com'), 'api_url', 'plain http://'),
        (dict(api_url='http://127.1'), 'api_url', 'plain http://'),
        (dict(api_url='https://user:secret@api.stability.ai'), 'api_url', 'must not contain credentials'),
        (dict(api_url='https://api.stability.ai/?x=1'), 'api_url', 'must not contain a query'),
        (dict(api_url='https://api.stability.ai:99999'), 'api_url', 'is not a valid URL'),
        (dict(api_url='https://api.stability.ai/\r\nX: 1'), 'api_url', 'control character'),
        (dict(api_version='v2'), 'api_version', "must be one of v1, v1alpha, got 'v2'"),
        (dict(timeout=0), 'timeout', 'greater than 0'),
        (dict(timeout=-1.5), 'timeout', 'greater than 0'),
        (dict(timeout='soon'), 'timeout', 'greater than 0'),
        (dict(timeout=float('nan')), 'timeout', 'greater than 0'),
        (dict(retries=-1), 'retries', 'whole number from 0 to 10'),
        (dict(retries=11), 'retries', 'whole number from 0 to 10'),
        (dict(retries='two'), 'retries', 'whole number from 0 to 10'),
        (dict(ca_path='/nonexistent/ca.pem'), 'ca_path', 'is not a readable file'),
        (dict(ca_path=''), 'ca_path', 'is empty'),
        (dict(ca_path='  '), 'ca_path', 'is empty'),
        (dict(ca_path='/etc/ssl/ca.pem\r\n'), 'ca_path', 'control character'),
        (dict(validate_certs='maybe'), 'validate_certs', "must be true or false, got 'maybe'"),
        (dict(validate_certs=2), 'validate_certs', 'must be true or false, got 2'),
        (dict(validate_certs=None), 'validate_certs', 'must be true or false, got None'),
    ])
    def test_bad_input_is_refused_naming_the_option(self, options, option, words):
        options.setdefault('api_key', KEY)
        with pytest.raises(StabilityOptionError) as caught:
            ConnectionSettings(**options)
        assert caught.value.option == option
        assert caught.value.msg.startswith(option + ' ')
        assert words in caught.value.msg
        assert KEY not in caught.value.msg

    @pytest.mark.parametrize('value, expected', [
        (True, True), (False, False), (1, True), (0, False), ('yes', True), (' No ', False), ('TRUE', True), ('off', False),
        ('1', True), ('0', False), ('y', True), ('f', False),
    ])
    def test_booleans_as_ansible_spells_them(self, value, expected):
        assert clean_bool('validate_certs', value) is expected
        assert ConnectionSettings(api_key=KEY, validate_certs=value).validate_certs is expected

    @pytest.mark.parametrize('url, expected', [
        ('http://localhost:8080', 'http://localhost:8080'),
        ('http://LOCALHOST/', 'http://localhost'),
        ('http://127.0.0.1:1234/', 'http://127.0.0.1:1234'),
        ('http://127.9.8.7', 'http://127.9.8.7'),
        ('http://[::1]:8080', 'http://[::1]:8080'),
        ('https://gateway.example.com/stability/', 'https://gateway.example.com/stability'),
    ])
    def test_accepted_urls(self, url, expected):
        assert ConnectionSettings(api_key=KEY, api_url=url).api_url == expected

    @pytest.mark.parametrize('url, expected', [
        ('HTTPS://API.Stability.AI/', 'https://api.stability.ai'),
        ('Http://[::1]:8080/Path/', 'http://[::1]:8080/Path'),
    ])
    def test_scheme_and_host_are_written_in_lower_case(self, url, expected):
        assert ConnectionSettings(api_key=KEY, api_url=url).api_url == expected

    def test_https_in_capitals_still_warns_that_certificates_are_not_checked(self):
        client = make_client(api_url='HTTPS://api.stability.ai', validate_certs=False)
        assert client.warnings == ['validate_certs is false: the TLS certificate of https://api.stability.ai is not checked']

    @pytest.mark.parametrize('url, host', [
        ('http://[::1]evil.invalid', '[::1]evil.invalid'),
        ('https://[::1]evil.invalid:443/v1', '[::1]evil.invalid:443'),
        ('https://-api.example.com', '-api.example.com'),
        ('https://api.example.com:44x3', None),
    ])
    def test_a_malformed_host_is_refused_up_front(self, url, host):
        with pytest.raises(StabilityOptionError) as caught:
            ConnectionSettings(api_key=KEY, api_url=url)
        assert caught.value.option == 'api_url' and len(caught.value.msg.splitlines()) == 1
        if host:
            assert caught.value.msg == ("api_url has a malformed host %r: give a host name or a bracketed IPv6 address, "
                                        "and an optional port" % host)

    def test_option_adapter_reads_any_get_option(self):
        options = {'api_key': KEY, 'api_url': 'http://127.0.0.1:1', 'api_version': 'v1alpha', 'timeout': 2, 'retries': 0,
                   'validate_certs': None, 'ca_path': None}
        settings = ConnectionSettings.from_options(options.get)
        assert (settings.api_url, settings.api_version, settings.timeout, settings.retries, settings.validate_certs) == (
            'http://127.0.0.1:1', 'v1alpha', 2.0, 0, True)

    def test_collection_version_matches_galaxy_yml(self):
        galaxy = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'galaxy.yml')
        with open(galaxy) as handle:
            versions = [line.split(':', 1)[1].strip() for line in handle if line.startswith('version:')]
        assert versions == [COLLECTION_VERSION]

    def test_bad_organization_is_refused_before_sending(self, fake_api):
        with pytest.raises(StabilityOptionError) as caught:
            make_client().fetch_balance('org-1\r\nX: y')
        assert caught.value.option == 'organization'
        assert fake_api.requests == []
