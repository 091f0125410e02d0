# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The client, specified request by request: URL, headers, retries, response checks, wording."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import http.client
import json
import socket
import ssl
import threading
from email.utils import formatdate

import pytest
import trustme

from ansible_collections.stabilityai.platform.plugins.module_utils import _client
from ansible_collections.stabilityai.platform.plugins.module_utils import _failures
from ansible_collections.stabilityai.platform.plugins.module_utils._client import StabilityClient
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityAPIError, StabilityConnectionError
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError, StabilityRequestError, StabilityResponseError
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import COLLECTION_VERSION, ConnectionSettings
from ansible_collections.stabilityai.platform.tests.unit.conftest import FakeAnswer

KEY = 'sk-unit-test-0123456789abcdef'


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

    def test_v1alpha_and_a_base_url_with_a_path_prefix(self, fake_api, demo_account):
        fake_api.answer(payload=demo_account)
        make_client(api_url='http://127.0.0.1:8080/proxy/', api_version='v1alpha').fetch_account()
        assert fake_api.requests[0].url == 'http://127.0.0.1:8080/proxy/v1alpha/user/account'

    def test_timeout_and_certificate_verification_reach_the_transport(self, fake_api, tmp_path):
        bundle = tmp_path / 'ca.pem'
        trustme.CA(organization_name='unit-test-ca').cert_pem.write_to_path(str(bundle))
        fake_api.answer(payload={'credits': 1}).answer(payload={'credits': 1}).answer(payload={'credits': 1}).answer(payload={'credits': 1})
        make_client(timeout=4.5).fetch_balance()
        make_client(ca_path=str(bundle)).fetch_balance()
        insecure = make_client(validate_certs=False)
        insecure.fetch_balance()
        make_client(api_url='http://127.0.0.1:8080', timeout=3.5).fetch_balance()  # plain http: its connect is bounded too
        assert fake_api.kwargs[0]['timeout'] == 4.5
        assert fake_api.kwargs[3]['timeout'] == 3.5
        assert fake_api.kwargs[0]['verify'] is True and fake_api.kwargs[0]['context'].check_hostname
        assert fake_api.kwargs[1]['verify'] is True and fake_api.kwargs[1]['context'].check_hostname
        trusted = [dict(field[0] for field in cert['subject']) for cert in fake_api.kwargs[1]['context'].get_ca_certs()]
        assert [subject.get('organizationName') for subject in trusted] == ['unit-test-ca']  # the bundle, and only it
        assert fake_api.kwargs[2]['verify'] is False and not fake_api.kwargs[2]['context'].check_hostname
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
        assert fake_api.kwargs[0]['proxy'] == 'proxy.example:3128'
        assert fake_api.requests[0].url == 'https://api.stability.ai/v1/user/balance'  # through the tunnel
        assert fake_api.kwargs[1]['proxy'] is None
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

        fake_api.serve(credits)
        assert make_client().fetch_balances(orgs) == [credits[org] for org in orgs]
        assert sorted(request.headers['Organization'] for request in fake_api.requests) == orgs

    def test_bad_organization_is_refused_before_sending(self, fake_api):
        with pytest.raises(StabilityOptionError) as caught:
            make_client().fetch_balance('org-1\r\nX: y')
        assert caught.value.option == 'organization'
        assert fake_api.requests == []


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
        assert caught.value.msg == ('GET https://api.stability.ai/v1alpha/user/balance for organization org-x failed with HTTP 403 '
                                    'permission_denied: no access to org-x (error id a1); '
                                    'check that the key belongs to a member of that organization')

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

    @pytest.mark.parametrize('payload, error, tail', [
        pytest.param({'name': 'bad', 'message': 'the message', 'errors': ['an error']}, {'id': None, 'name': 'bad', 'message': 'the message'},
                     ' bad: the message', id='a message wins over an errors list'),
        pytest.param({'name': 'bad', 'errors': 'not a list'}, {'id': None, 'name': 'bad', 'message': None},
                     ' bad', id='errors that is not a list is ignored'),
        pytest.param({'id': 'e1', 'message': 42}, {'id': 'e1', 'name': None, 'message': None},
                     ' (error id e1)', id='a message that is not text is ignored'),
        pytest.param({'id': 'i' * 101, 'name': 'n' * 101, 'message': 'm' * 401},
                     {'id': 'i' * 97 + '...', 'name': 'n' * 97 + '...', 'message': 'm' * 397 + '...'},
                     ' %s...: %s... (error id %s...)' % ('n' * 97, 'm' * 397, 'i' * 97), id='id and name cut at 100, message at 400'),
        pytest.param({'id': 'i' * 100, 'name': 'n' * 100, 'message': 'm' * 400}, {'id': 'i' * 100, 'name': 'n' * 100, 'message': 'm' * 400},
                     ' %s: %s (error id %s)' % ('n' * 100, 'm' * 400, 'i' * 100), id='texts at their limit are kept whole'),
    ])
    def test_error_body_fields_are_taken_only_when_typed_and_cut_to_length(self, fake_api, payload, error, tail):
        fake_api.answer(status=400, payload=payload)
        with pytest.raises(StabilityAPIError) as caught:
            make_client().fetch_balance()
        assert caught.value.error == error
        assert caught.value.msg == 'GET https://api.stability.ai/v1/user/balance failed with HTTP 400' + tail

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

    @pytest.mark.parametrize('status, body, content_type', [
        pytest.param(401, json.dumps({'id': 'e1', 'name': 'unauthorized', 'message': 'Incorrect API key provided: %s...***' % KEY[:20]}),
                     'application/json', id='first 20 characters'),
        pytest.param(401, json.dumps({'id': 'e2', 'name': 'unauthorized', 'errors': ['key %s is not valid' % KEY.upper()]}),
                     'application/json', id='upper-cased in errors'),
        pytest.param(401, json.dumps({'id': KEY[:14], 'name': 'unauthorized', 'message': '%s rejected' % KEY[14:]}),
                     'application/json', id='split between id and message'),
        pytest.param(401, '<html><title>Bad key %s&#%d;%s</title></html>' % (KEY[:9], ord(KEY[9]), KEY[10:]),
                     'text/html', id='HTML title with a character reference'),
        pytest.param(200, json.dumps({'credits': 'n/a for %s' % KEY[2:22].swapcase()}), 'application/json', id='credits of 20 characters, case swapped'),
    ])
    def test_a_partial_echo_of_the_key_never_reaches_the_error(self, fake_api, status, body, content_type):
        fake_api.answer(status=status, body=body.encode(), headers={'Content-Type': content_type})
        with pytest.raises(StabilityRequestError) as caught:
            make_client().fetch_balance()
        self.assert_no_piece_of_the_key(json.dumps(caught.value.to_result()).lower(), case=str.lower)
        assert '********' in caught.value.msg

    def test_an_escaped_partial_echo_in_a_result_field_is_redacted(self, fake_api, demo_account):
        demo_account['organizations'][0]['name'] = 'team %s%%%02X%s' % (KEY[:5], ord(KEY[5]), KEY[6:16])
        demo_account['email'] = 'x+%s@example.com' % KEY[3:12].upper()
        fake_api.answer(payload=demo_account)
        account = make_client().fetch_account()
        assert account['organizations'][0]['name'] == 'team ********'
        assert account['email'] == 'x+********@example.com'

    @staticmethod
    def assert_no_piece_of_the_key(text, length=8, case=str):
        pieces = [case(KEY[start:start + length]) for start in range(len(KEY) - length + 1)]
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
        fake_api.answer(payload={'credits': 1}, headers={'Content-Encoding': 'x' * 160 + ' token ' + KEY + ' gzip'})
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
        ConnectionRefusedError(111, 'Connection refused'),
        socket.timeout('timed out'),
        socket.gaierror(-3, 'Temporary failure in name resolution'),
        ConnectionResetError(104, 'Connection reset by peer'),
        http.client.RemoteDisconnected('Remote end closed connection without response'),
        http.client.IncompleteRead(b'{"cred', 10),
        http.client.BadStatusLine('garbage'),
    ])
    def test_network_errors_are_retried(self, fake_api, sleeps, exc):
        fake_api.answer(exc=exc).answer(payload={'credits': 2})
        assert make_client().fetch_balance() == 2.0
        assert len(sleeps) == 1

    def test_a_read_that_timed_out_on_its_own_is_worded_like_the_deadline_cut(self, fake_api, sleeps):
        """The socket time-out and the wall-clock cut fire at the same moment: one wording, whichever wins."""
        fake_api.answer(exc=socket.timeout('timed out'))
        with pytest.raises(StabilityConnectionError) as caught:
            make_client(retries=0, timeout=2.5).fetch_balance()
        assert caught.value.msg == 'GET https://api.stability.ai/v1/user/balance failed after 1 attempt: the answer took longer than timeout (2.5 s)'

    def test_a_body_that_breaks_off_names_what_was_read_and_what_was_missing(self, fake_api, sleeps):
        """http.client ends a short Content-Length body quietly: the client counts it over every chunk it read."""
        fake_api.answer(body=b' ' * 100000, headers={'Content-Length': '200000'})
        with pytest.raises(StabilityConnectionError) as caught:
            make_client(retries=0).fetch_balance()
        assert caught.value.msg == ('GET https://api.stability.ai/v1/user/balance failed after 1 attempt: '
                                    'IncompleteRead(100000 bytes read, 100000 more expected)')

    def test_network_error_after_retries_names_the_reason(self, fake_api, sleeps):
        for dummy in range(3):
            fake_api.answer(exc=ConnectionRefusedError(111, 'Connection refused'))
        with pytest.raises(StabilityConnectionError) as caught:
            make_client(retries=2).fetch_balance()
        assert caught.value.msg == 'GET https://api.stability.ai/v1/user/balance failed after 3 attempts: [Errno 111] Connection refused'
        assert caught.value.to_result() == {'msg': caught.value.msg}

    def test_tls_errors_are_not_retried_and_point_at_ca_path(self, fake_api, sleeps):
        fake_api.answer(exc=ssl.SSLCertVerificationError(
            1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate'))
        with pytest.raises(StabilityConnectionError) as caught:
            make_client().fetch_balance()
        assert len(fake_api.requests) == 1 and sleeps == []
        assert 'certificate verify failed' in caught.value.msg and 'ca_path' in caught.value.msg

    def test_backoff_grows_with_jitter_and_stays_bounded(self):
        for attempt, ceiling in enumerate([0.5, 1, 2, 4, 8, 8, 8]):
            delays = [_client.retry_delay(attempt) for dummy in range(50)]
            assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
            assert len(set(delays)) > 1

    @pytest.mark.parametrize('value, expected', [('5', 5.0), (' 0 ', 0.0), ('-3', 0.0), ('1.5', 1.5), ('soon', None), ('', None), (None, None)])
    def test_parse_retry_after(self, value, expected):
        assert _failures.parse_retry_after(value) == expected

    def test_parse_retry_after_date_in_the_past_is_zero(self):
        assert _failures.parse_retry_after('Wed, 21 Oct 2015 07:28:00 GMT') == 0.0


class TestResponseChecks:
    @pytest.mark.parametrize('body, problem', [
        (b'<html>oops</html>', 'HTTP 200 with a body that is not JSON (application/json body of 17 bytes)'),
        (b'', 'HTTP 200 with a body that is not JSON (empty body)'),
        (b'\xff\xfe', 'HTTP 200 with a body that is not JSON (application/json body of 2 bytes)'),
        (b'{}', 'a balance body that has no "credits" field'),
        (b'[]', 'a balance body that has no "credits" field'),
        (b'{"credits": "12.5"}', 'a balance body that has a "credits" that is not a number: "12.5"'),
        (b'{"credits": null}', 'a balance body that has a "credits" that is not a number: null'),
        (b'{"credits": true}', 'a balance body that has a "credits" that is not a number: true'),
        (b'{"credits": "%s"}' % (b'x' * 59), 'a balance body that has a "credits" that is not a number: "%s...' % ('x' * 56)),
        (b'{"credits": "%s"}' % (b'x' * 58), 'a balance body that has a "credits" that is not a number: "%s"' % ('x' * 58)),
        (b'{"credits": NaN}', 'a balance body that has a "credits" that is not a finite number'),
        (b'{"credits": 1e999}', 'a balance body that has a "credits" that is not a finite number'),
        (b'{"credits": 1%s}' % (b'0' * 400), 'a balance body that has a "credits" that is not a finite number'),
    ])
    def test_balance_bodies_that_break_the_contract(self, fake_api, body, problem):
        fake_api.answer(body=body, headers={'Content-Type': 'application/json'})
        with pytest.raises(StabilityResponseError) as caught:
            make_client().fetch_balance()
        assert caught.value.msg == 'GET https://api.stability.ai/v1/user/balance returned ' + problem
        assert caught.value.status == 200

    def test_a_bad_balance_body_names_the_organization_asked_for(self, fake_api):
        fake_api.answer(payload={})
        with pytest.raises(StabilityResponseError) as caught:
            make_client().fetch_balance('org-x')
        assert caught.value.msg == 'GET https://api.stability.ai/v1/user/balance for organization org-x returned a balance body that has no "credits" field'

    @pytest.mark.parametrize('body, credits', [(b'{"credits": -1}', -1.0), (b'{"credits": -0.25}', -0.25), (b'{"credits": -0.0}', 0.0)])
    def test_a_negative_balance_is_an_overdrawn_organization_not_a_bad_body(self, fake_api, body, credits):
        fake_api.answer(body=body, headers={'Content-Type': 'application/json'})
        assert make_client().fetch_balance() == credits

    def test_integer_credits_become_a_float(self, fake_api):
        fake_api.answer(payload={'credits': 12})
        credits = make_client().fetch_balance()
        assert credits == 12.0 and isinstance(credits, float)

    def test_a_body_over_one_mebibyte_is_refused(self, fake_api):
        fake_api.answer(body=b'{"credits": 1, "pad": "' + b'x' * (1024 * 1024) + b'"}')
        with pytest.raises(StabilityResponseError) as caught:
            make_client().fetch_balance()
        assert 'body over 1048576 bytes' in caught.value.msg


class CountingReader(object):
    """A socket file of ``size`` bytes of JSON padding that counts what the client reads from it."""

    def __init__(self, size):
        self.remaining = size
        self.read_bytes = 0

    def read(self, amount=None, **kwargs):
        amount = self.remaining if amount is None else min(amount, self.remaining)
        self.remaining -= amount
        self.read_bytes += amount
        return b' ' * amount

    def close(self):
        pass


class TestBodyCap:
    MAX = _client.MAX_BODY_BYTES

    def serve_raw(self, fake_api, reader, status=200):
        fake_api.answer(status=status, headers={'Content-Type': 'application/json'}, stream=reader)

    def test_a_huge_body_is_not_read_past_the_cap(self, fake_api):
        reader = CountingReader(50 * self.MAX)
        self.serve_raw(fake_api, reader)
        with pytest.raises(StabilityResponseError) as caught:
            make_client().fetch_balance()
        assert 'returned a body over 1048576 bytes; refusing to read it' in caught.value.msg
        assert self.MAX < reader.read_bytes <= self.MAX + 65536

    def test_a_body_one_byte_over_the_cap_is_refused_as_too_big(self, fake_api):
        fake_api.answer(body=b'{"credits": 1}' + b' ' * (self.MAX + 1 - 14))
        with pytest.raises(StabilityResponseError) as caught:
            make_client().fetch_balance()
        assert caught.value.msg == ('GET https://api.stability.ai/v1/user/balance returned a body over 1048576 bytes; '
                                    'refusing to read it')

    def test_a_body_of_exactly_the_cap_is_read(self, fake_api):
        fake_api.answer(body=b'{"credits": 1}' + b' ' * (self.MAX - 14))
        assert make_client().fetch_balance() == 1.0

    def test_an_error_status_with_a_body_over_the_cap_names_only_its_size(self, fake_api):
        fake_api.answer(status=500, headers={'Content-Type': 'application/json'},
                        body=b'{"id": "x", "name": "huge", "message": "' + b'm' * self.MAX + b'"}')
        with pytest.raises(StabilityAPIError) as caught:
            make_client(retries=0).fetch_balance()
        assert caught.value.msg == ('GET https://api.stability.ai/v1/user/balance failed with HTTP 500 '
                                    '(application/json body over 1048576 bytes)')
        assert caught.value.error is None and caught.value.status == 500

    def test_an_error_body_of_exactly_the_cap_is_still_parsed(self, fake_api):
        body = b'{"id": "x", "name": "huge", "message": "m"}'
        fake_api.answer(status=400, body=body + b' ' * (self.MAX - len(body)))
        with pytest.raises(StabilityAPIError) as caught:
            make_client().fetch_balance()
        assert caught.value.error == {'id': 'x', 'name': 'huge', 'message': 'm'}


class TestTransport:
    def test_concurrent_reads_share_a_few_keep_alive_connections(self, fake_api):
        orgs = ['org-%02d' % index for index in range(12)]
        fake_api.serve(dict((org, 1.0) for org in orgs + [None]))
        with make_client() as client:
            client.fetch_balances(orgs)
            made = len(fake_api.connections)
            assert 1 <= made <= _client.MAX_CONCURRENT_REQUESTS
            client.fetch_balance()
            assert len(fake_api.connections) == made  # reused, not made anew
        assert all(connection.sock is None for connection in fake_api.connections)  # closed with the client

    def test_a_burst_from_more_threads_than_the_pool_holds_closes_the_extra_connections(self, fake_api):
        """At most MAX_CONCURRENT_REQUESTS connections stay open between requests, however many threads used the client at once."""
        burst = _client.MAX_CONCURRENT_REQUESTS + 1
        together = threading.Barrier(burst, timeout=5)

        def answer_once_all_have_asked(request):
            together.wait()  # every thread holds its own connection now
            return FakeAnswer(payload={'credits': 1})
        fake_api.send = answer_once_all_have_asked
        with make_client() as client:
            threads = [threading.Thread(target=client.fetch_balance) for dummy in range(burst)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(10)
            assert len(fake_api.requests) == len(fake_api.connections) == burst
            assert sum(connection.sock is not None for connection in fake_api.connections) == _client.MAX_CONCURRENT_REQUESTS

    def test_only_the_client_headers_are_sent(self, fake_api, monkeypatch, tmp_path):
        netrc = tmp_path / 'netrc'
        netrc.write_text(u'machine api.stability.ai login someone password netrc-secret\n')
        monkeypatch.setenv('NETRC', str(netrc))
        fake_api.answer(payload={'credits': 1})
        with make_client() as client:
            client.fetch_balance()
        assert sorted(fake_api.requests[0].headers) == ['Accept', 'Authorization', 'Stability-Client-ID', 'Stability-Client-Version', 'User-Agent']

    def test_plain_http_to_loopback_with_validate_certs_false_gives_no_certificate_warning(self):
        assert make_client(api_url='http://127.0.0.1:8080', validate_certs=False).warnings == []

    def test_ca_path_is_ignored_when_validate_certs_is_false(self, fake_api, tmp_path):
        bundle = tmp_path / 'ca.pem'
        bundle.write_text(u'')  # not a bundle: loading it would fail
        fake_api.answer(payload={'credits': 1})
        assert make_client(validate_certs=False, ca_path=str(bundle)).fetch_balance() == 1.0
        assert fake_api.kwargs[0]['verify'] is False

    def test_a_single_organization_is_read_with_its_header(self, fake_api):
        fake_api.serve({'org-x': 5.0, None: 1.0})
        assert make_client().fetch_balances(['org-x']) == [5.0]
        assert [request.headers.get('Organization') for request in fake_api.requests] == ['org-x']

    def test_no_organizations_make_no_request(self, fake_api):
        assert make_client().fetch_balances([]) == []
        assert fake_api.requests == []


class TestAttemptWording:
    def test_two_attempts_are_counted_with_one_retry(self, fake_api, sleeps):
        fake_api.answer(status=503).answer(status=503)
        with pytest.raises(StabilityAPIError) as caught:
            make_client(retries=1).fetch_balance()
        assert caught.value.msg == 'GET https://api.stability.ai/v1/user/balance failed with HTTP 503 (empty body) after 2 attempts'

    def test_a_single_network_failure_says_one_attempt(self, fake_api, sleeps):
        fake_api.answer(exc=ConnectionRefusedError('refused'))
        with pytest.raises(StabilityConnectionError) as caught:
            make_client(retries=0).fetch_balance()
        assert caught.value.msg == 'GET https://api.stability.ai/v1/user/balance failed after 1 attempt: refused'
        assert sleeps == []

    def test_two_network_failures_say_two_attempts(self, fake_api, sleeps):
        fake_api.answer(exc=ConnectionResetError('reset')).answer(exc=ConnectionResetError('reset'))
        with pytest.raises(StabilityConnectionError) as caught:
            make_client(retries=1).fetch_balance()
        assert caught.value.msg == 'GET https://api.stability.ai/v1/user/balance failed after 2 attempts: reset'
        assert len(sleeps) == 1

    def test_a_tls_failure_names_the_two_ways_out(self, fake_api):
        fake_api.answer(exc=ssl.SSLCertVerificationError(1, 'certificate verify failed: self-signed certificate (_ssl.c:1006)'))
        with pytest.raises(StabilityConnectionError) as caught:
            make_client().fetch_balance('org-x')
        assert caught.value.msg == (
            'GET https://api.stability.ai/v1/user/balance for organization org-x failed: '
            'TLS error (certificate verify failed: self-signed certificate (_ssl.c:1006)); '
            'set ca_path to the CA bundle that signed the server certificate, or validate_certs to false')

    def test_a_429_for_an_organization_gets_the_rate_hint(self, fake_api, sleeps):
        fake_api.answer(status=429)
        with pytest.raises(StabilityAPIError) as caught:
            make_client(retries=0).fetch_balance('org-x')
        assert caught.value.msg == ('GET https://api.stability.ai/v1/user/balance for organization org-x failed with HTTP 429 '
                                    '(empty body); the API allows 150 requests per 10 seconds; cache or spread the reads')

    @pytest.mark.parametrize('status', [500, 502, 503, 504, 404])
    def test_other_failures_for_an_organization_get_no_hint(self, fake_api, sleeps, status):
        fake_api.answer(status=status)
        with pytest.raises(StabilityAPIError) as caught:
            make_client(retries=0).fetch_balance('org-x')
        assert caught.value.msg.endswith('failed with HTTP %d (empty body)' % status)


class TestNotJson:
    def test_a_key_in_the_title_of_an_answer_that_is_not_json_is_redacted_before_the_cut(self, fake_api):
        """Cut first, the title's 120-character limit would leave a fragment of the key too short to match it."""
        fake_api.answer(body=b'<html><title>' + b'x' * 111 + KEY.encode() + b'</title></html>', headers={'Content-Type': 'text/html'})
        with pytest.raises(StabilityResponseError) as caught:
            make_client().fetch_balance()
        assert KEY[:4] not in caught.value.msg and 'text/html: ' + 'x' * 111 in caught.value.msg


class TestAccountContract:
    def test_an_account_body_that_is_not_an_object_is_refused(self, fake_api, demo_account):
        fake_api.answer(payload=[demo_account])
        with pytest.raises(StabilityResponseError) as caught:
            make_client().fetch_account()
        assert caught.value.msg == 'GET https://api.stability.ai/v1/user/account returned an account body that is not a JSON object'
        assert caught.value.to_result() == {'msg': caught.value.msg, 'status': 200}  # the answer came, its body is what failed

    def test_organization_ids_are_checked_for_a_header_only_when_they_will_be_sent(self, fake_api, demo_account):
        """Showing an account sends no id back: an id no header can carry is shown, not refused."""
        demo_account['organizations'][0]['id'] = u'org-caf\u00e9'
        for dummy in range(2):
            fake_api.answer(payload=demo_account)
        assert make_client().fetch_account()['organizations'][0]['id'] == u'org-caf\u00e9'
        with pytest.raises(StabilityResponseError) as caught:
            make_client().fetch_account(sendable_ids=True)
        assert caught.value.msg == (
            'GET https://api.stability.ai/v1/user/account returned an account body that organizations[0] has an "id" that cannot be sent '
            'in an Organization header (empty, or with a control character or a character that is not printable ASCII), so no balance was read')
