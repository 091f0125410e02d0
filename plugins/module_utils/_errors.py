# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""The error types of the collection.

Every failure a user can meet is one of these, so modules and lookups turn any of them into the
same one-line message and the same ``status`` / ``error`` result keys.  They import nothing
beyond the standard library so that the lookup's cache path can use them without loading the
HTTP stack.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import re

_WHITESPACE = re.compile(r'\s+')
_REDACTED = '********'


def one_line(text, limit=400):
    """Fold any text (an API message, an exception) into one bounded line."""
    text = _WHITESPACE.sub(' ', '%s' % (text,)).strip()
    if len(text) > limit:
        text = text[:limit - 3].rstrip() + '...'
    return text


def secret_forms(secret):
    """``secret`` as a server might echo it: plain, and base64 of it and of ``Bearer <secret>`` (standard and URL-safe, padded or not)."""
    forms = {secret}
    for raw in (secret, 'Bearer ' + secret):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(raw.encode()).decode()  # UTF-8 both ways
            forms.update((encoded, encoded.rstrip('=')))
    return sorted(forms, key=len, reverse=True)


def redact(text, secret):
    """Replace every form of ``secret`` (see ``secret_forms``) in ``text``.

    Call it on decoded text before any cut: a cut first would leave a fragment of the key that no
    replacement finds any more.
    """
    if secret and text:
        for form in secret_forms(secret):
            text = text.replace(form, _REDACTED)
    return text


class StabilityError(Exception):
    """Base of all collection errors; ``msg`` is the single line shown to the user."""

    def __init__(self, msg):
        super(StabilityError, self).__init__(msg)
        self.msg = msg

    def to_result(self):
        """The keyword arguments for ``fail_json`` (``msg`` plus what the API told us)."""
        return {'msg': self.msg}


class StabilityOptionError(StabilityError):
    """An option has a value the collection refuses; raised before any request is sent."""

    def __init__(self, option, problem):
        super(StabilityOptionError, self).__init__('%s %s' % (option, problem))
        self.option = option
        self.problem = problem


class StabilityRequestError(StabilityError):
    """A request to the API did not give a usable answer.

    ``status`` is the HTTP status (None when no answer came back) and ``error`` the API's error
    body reduced to ``id``, ``name`` and ``message`` (None when the body was not an API error).
    """

    def __init__(self, msg, status=None, error=None):
        super(StabilityRequestError, self).__init__(msg)
        self.status = status
        self.error = error

    def to_result(self):
        result = {'msg': self.msg}
        if self.status is not None:
            result['status'] = self.status
        if self.error is not None:
            result['error'] = self.error
        return result


class StabilityAPIError(StabilityRequestError):
    """The API answered with an HTTP error status (after any retries)."""


class StabilityConnectionError(StabilityRequestError):
    """No HTTP answer: refused, reset, timed out or a TLS failure (after any retries)."""


class StabilityResponseError(StabilityRequestError):
    """The API answered 200 with a body that breaks the contract (not JSON, fields missing, too big)."""
