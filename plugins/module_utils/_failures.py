# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""How a failed request is described: the wording of the client's errors and the reading of a refusal.

Apart from ``_client.py`` because only a failure needs it.  AnsiballZ compiles every module_utils
file a module call imports from source, on every call (docs/docsite/rst/performance.rst), and the
client imports this one inside its error branches only: a call whose answers are all 200 never
compiles it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import math
import re
import time
from email.utils import parsedate_to_datetime

from ansible_collections.stabilityai.platform.plugins.module_utils._client import MAX_BODY_BYTES
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityAPIError, one_line, redact
from ansible_collections.stabilityai.platform.plugins.module_utils._rate_guard import RATE_LIMIT_HINT

_TITLE = re.compile(r'<title[^>]*>(.*?)</title>', re.IGNORECASE | re.DOTALL)


def parse_retry_after(value, now=None):
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return None if math.isnan(seconds) else max(seconds, 0.0)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def describe_network_error(exc, secret=None):
    """A network exception of the standard library as one readable line without ``secret``, or its type's name if it says nothing."""
    return one_line(redact('%s' % (exc,), secret), 200) or type(exc).__name__


def api_error_details(payload, secret=None):
    """The ``{id, name, message}`` of an API error body in any of its three shapes, or None.

    Each text is redacted before it is cut short, so no piece of an echoed ``secret`` survives.
    """
    if not isinstance(payload, dict):
        return None
    message = payload.get('message')
    errors = payload.get('errors')
    if not message and isinstance(errors, list) and errors:
        message = '; '.join('%s' % item for item in errors)

    def short(text, limit=400):
        return one_line(redact('%s' % (text,), secret), limit) or None
    details = {
        'id': short(payload['id'], 100) if isinstance(payload.get('id'), str) else None,
        'name': short(payload['name'], 100) if isinstance(payload.get('name'), str) else None,
        'message': short(message) if isinstance(message, (str, list)) and message else None,
    }
    if not any(details.values()):
        return None
    return details


def status_error(what, status, headers, body, attempts, organization, secret):
    """The StabilityAPIError for a final answer other than 200, without ``secret``."""
    error = None
    if len(body) <= MAX_BODY_BYTES:
        try:
            error = api_error_details(json.loads(body.decode()), secret)
        except (UnicodeDecodeError, ValueError, RecursionError):
            error = None
    parts = ['%s failed with HTTP %d' % (what, status)]
    if error:
        if error['name']:
            parts.append(' %s' % error['name'])
        if error['message']:
            parts.append(': %s' % error['message'])
        if error['id']:
            parts.append(' (error id %s)' % error['id'])
    else:
        parts.append(' (%s)' % sniff(headers, body, secret))
    if attempts > 1:
        parts.append(' after %d attempts' % attempts)
    hint = _hint(status, organization)
    if hint:
        parts.append('; %s' % hint)
    if error:
        error = dict((key, redact(value, secret)) for key, value in error.items())
    return StabilityAPIError(redact(''.join(parts), secret), status=status, error=error)


def _hint(status, organization):
    """What to check for a refusal; a 403 for a named organization is about membership."""
    if status == 401:
        return 'check api_key (or STABILITY_API_KEY)'
    if status == 403 and organization:
        return 'check that the key belongs to a member of that organization'
    if status == 429:
        return RATE_LIMIT_HINT
    return None


def sniff(headers, body, secret):
    """A short description of a body that is not an API error: its type and any HTML title."""
    if not body:
        return 'empty body'
    content_type = one_line(redact((headers.get('Content-Type') or '').split(';')[0], secret), 80) or 'no content type'
    if len(body) > MAX_BODY_BYTES:
        return '%s body over %d bytes' % (content_type, MAX_BODY_BYTES)
    title = _TITLE.search(body[:4096].decode(errors='replace'))
    if title and title.group(1).strip():
        return '%s: %s' % (content_type, one_line(redact(title.group(1), secret), 120))
    return '%s body of %d bytes' % (content_type, len(body))
