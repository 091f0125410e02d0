# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_failures: each text that goes into a failure's message is redacted before it is cut short.

A key cut first would leave a fragment shorter than the redaction finds (test_client*.py pin the
messages themselves through the client).  Headers are http.client's HTTPMessage, as the client
hands them over.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import http.client
import io

from ansible_collections.stabilityai.platform.plugins.module_utils import _failures

KEY = 'sk-unit-failures-key-0123456789'
WHAT = 'GET https://api.stability.ai/v1/user/balance'


def headers(fields=None):
    """Response headers as http.client parses them (case-insensitive names)."""
    head = ''.join('%s: %s\r\n' % item for item in (fields or {}).items()) + '\r\n'
    return http.client.parse_headers(io.BytesIO(head.encode('latin-1')))


def test_a_key_in_the_content_type_is_redacted_before_the_cut():
    text = _failures.sniff(headers({'Content-Type': 'a' * 74 + KEY}), b'<p>', KEY)
    assert text == 'a' * 74 + '***... body of 3 bytes'


def test_a_key_in_the_html_title_of_a_refusal_is_redacted_before_the_cut():
    body = b'<title>' + b'b' * 114 + KEY.encode() + b'</title>'
    error = _failures.status_error(WHAT, 502, headers({'Content-Type': 'text/html'}), body, 1, None, KEY)
    assert str(error) == WHAT + ' failed with HTTP 502 (text/html: ' + 'b' * 114 + '***...)'


def test_a_key_in_the_organization_of_a_refusal_is_redacted():
    error = _failures.status_error(WHAT + ' for organization ' + KEY, 403, headers(), b'', 1, KEY, KEY)
    assert str(error) == (WHAT + ' for organization ******** failed with HTTP 403 (empty body); '
                          'check that the key belongs to a member of that organization')
