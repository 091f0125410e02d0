# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How the client reads an answer: its body bounded, decoded, scrubbed of the key and described.

A body that is not JSON is named by its content type (cut to 80 characters, or "no content type")
and the HTML title found in its first 4096 bytes (cut to 120 characters), else by its size; one
over 1 MiB by that bound alone.  Every message is pinned whole: it is what the user reads.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils import _client
from ansible_collections.stabilityai.platform.plugins.module_utils._client import StabilityClient
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityConnectionError, StabilityResponseError
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import ConnectionSettings

KEY = 'sk-unit-answer-0123456789abcdef'
BALANCE = 'GET https://api.stability.ai/v1/user/balance'
NOT_JSON = BALANCE + ' returned HTTP 200 with a body that is not JSON (%s)'
MAX = _client.MAX_BODY_BYTES


def make_client(**options):
    return StabilityClient(ConnectionSettings(api_key=KEY, **options))


def balance_error(fake_api, body, headers=None):
    """The error a 200 answer with ``body`` gives a balance read."""
    fake_api.answer(body=body, headers=headers)
    with pytest.raises(StabilityResponseError) as caught:
        make_client().fetch_balance()
    return caught.value


def html_page(title, before=b''):
    return before + b'<html><head><title>' + title + b'</title></head><body>oops</body></html>'


def test_a_200_html_page_is_named_by_its_type_and_title(fake_api):
    error = balance_error(fake_api, html_page(b'Maintenance'), {'Content-Type': 'text/html; charset=utf-8'})
    assert error.msg == NOT_JSON % 'text/html: Maintenance'
    assert error.status == 200


def test_a_body_without_a_title_is_named_by_its_type_and_size(fake_api):
    assert balance_error(fake_api, b'oops!', {'Content-Type': 'text/plain'}).msg == NOT_JSON % 'text/plain body of 5 bytes'


@pytest.mark.parametrize('headers', [None, {'Content-Type': ''}, {'Content-Type': '; charset=utf-8'}])
def test_an_answer_without_a_content_type_says_so(fake_api, headers):
    assert balance_error(fake_api, b'oops!', headers).msg == NOT_JSON % 'no content type body of 5 bytes'


def test_a_long_content_type_is_cut_to_80_characters(fake_api):
    content_type = 'application/' + 'x' * 69  # 81 characters
    error = balance_error(fake_api, b'oops!', {'Content-Type': content_type + '; charset=utf-8'})
    assert error.msg == NOT_JSON % (content_type[:77] + '... body of 5 bytes')


def test_a_long_title_is_cut_to_120_characters(fake_api):
    title = 'T' * 121
    error = balance_error(fake_api, html_page(title.encode()), {'Content-Type': 'text/html'})
    assert error.msg == NOT_JSON % ('text/html: ' + title[:117] + '...')


def test_a_title_is_looked_for_in_the_first_4096_bytes_only(fake_api):
    inside = html_page(b'Inside', before=b' ' * (4096 - len(b'<html><head><title>Inside</title>')))  # the title ends at byte 4096
    assert balance_error(fake_api, inside, {'Content-Type': 'text/html'}).msg == NOT_JSON % 'text/html: Inside'
    beyond = b' ' + inside
    error = balance_error(fake_api, beyond, {'Content-Type': 'text/html'})
    assert error.msg == NOT_JSON % ('text/html body of %d bytes' % len(beyond))


def test_a_non_json_body_of_exactly_the_cap_is_named_by_its_size(fake_api):
    error = balance_error(fake_api, b'x' * MAX, {'Content-Type': 'text/plain'})
    assert error.msg == NOT_JSON % 'text/plain body of 1048576 bytes'


def test_a_200_body_over_the_cap_is_refused_with_its_status(fake_api):
    error = balance_error(fake_api, b'x' * (MAX + 1), {'Content-Type': 'text/plain'})
    assert error.msg == BALANCE + ' returned a body over 1048576 bytes; refusing to read it'
    assert error.to_result() == {'msg': error.msg, 'status': 200}


def test_a_key_echoed_in_an_account_body_never_reaches_the_result(fake_api, demo_account):
    demo_account['organizations'][0]['name'] = 'team of %s' % KEY
    fake_api.answer(payload=demo_account)
    account = make_client().fetch_account()
    assert account['organizations'][0]['name'] == 'team of ********'


def test_an_unreadable_answer_fails_at_once_naming_why(fake_api):
    """The client asks for no compression (http.client sends Accept-Encoding: identity): a compressed answer is not read."""
    fake_api.answer(body=b'\x1f\x8b\x08\x00', headers={'Content-Encoding': 'gzip'}).answer(payload={'credits': 1})
    with pytest.raises(StabilityConnectionError) as caught:
        make_client().fetch_balance()
    assert caught.value.msg == BALANCE + ' failed: the answer could not be read (Content-Encoding gzip, not asked for)'
    assert len(fake_api.requests) == 1


def test_the_organization_header_is_sent_spelled_as_the_api_documents_it(fake_api):
    fake_api.answer(payload={'credits': 1})
    make_client().fetch_balance('org-lab')
    assert 'Organization' in list(fake_api.requests[0].headers)


def test_a_retry_after_on_a_429_sets_the_lockout_the_next_attempt_waits_for(fake_api, sleeps):
    body = b'{"errors": ["You have exceeded the rate limit and have been timed out for 60 seconds."]}'
    fake_api.answer(429, body=body, headers={'Retry-After': '5'}).answer(payload={'credits': 2.5})
    assert make_client(retries=1).fetch_balance() == 2.5
    assert sleeps[0] == 5.0
    assert sleeps[-1] == pytest.approx(5.0, abs=1.0)
