# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""Connection options shared by every plugin, read and validated in one place.

``ConnectionSettings.from_options`` is the option adapter: it takes any ``get_option(name)``
callable, so modules pass ``module.params.get`` and lookups pass ``self.get_option`` and both get
the same defaults and the same refusals.  Validation happens here, before a client exists, so
bad input never reaches the network.  Standard library only, and apart from the client: the lookup
validates and computes its cache key without importing the client.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import os
import re

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError

from urllib.parse import urlsplit

COLLECTION_VERSION = '2.0.0'
CLIENT_ID = 'stabilityai.platform'

DEFAULT_API_URL = 'https://api.stability.ai'
API_VERSIONS = ('v1', 'v1alpha')
DEFAULT_API_VERSION = 'v1'
DEFAULT_TIMEOUT = 30.0
# A request that has not answered in ten minutes will not (the answers are a few hundred bytes).
# The bound keeps the documented worst case of one call, (retries + 1) x timeout + retries x 60 s,
# at two hours at most, and every deadline computed from it within what clocks and sleeps accept:
# ``timeout: 1e10`` used to crash with "timestamp out of range for platform time_t".
MAX_TIMEOUT = 600.0
DEFAULT_RETRIES = 3
MAX_RETRIES = 10
RETRY_AFTER_MAX = 60.0

# The vendor's rate limit (docs/openapi/stability-user-api.yaml, "Rate limit"): past it, the caller is locked out.
VENDOR_REQUESTS_PER_WINDOW = 150
VENDOR_WINDOW_SECONDS = 10
VENDOR_LOCKOUT_SECONDS = 60

# The request budget every process of one user on one host shares per key (``rate_limit``):
# two thirds of the vendor's limit, leaving the rest to whatever else uses the same key.
DEFAULT_RATE_LIMIT = (100, 10)
MAX_RATE_LIMIT_REQUESTS = 1000
MAX_RATE_LIMIT_SECONDS = 3600
# The longest a call waits for its turn under the budget (or for a lock-out to end) before its
# attempts: the vendor's own lock-out.  A turn further away fails the call at once, naming it.
TURN_WAIT_MAX = float(VENDOR_LOCKOUT_SECONDS)
_RATE_LIMIT = re.compile(r'^(\d+)\s*/\s*(\d+(?:\.\d+)?)$')

# The environment fallback of every plugin, defined here once: the connection options read from
# environment variables when not given, each with its variables, the first set one winning
# (STABILITY_KEY is the name the vendor's SDK reads).  Modules (``_argspec``) and the event source
# (``_credit_watch``) read this table; Ansible's configuration reads the ``env:`` lists of the
# CONTROLLER doc fragment, which tests/unit/plugins/doc_fragments/test_connection.py holds to it.
ENVIRONMENT_VARIABLES = {
    'api_key': ('STABILITY_API_KEY', 'STABILITY_KEY'),
    'api_url': ('STABILITY_API_URL',),
    'api_version': ('STABILITY_API_VERSION',),
    'rate_limit': ('STABILITY_RATE_LIMIT',),
}


def attempts_seconds(timeout, retries):
    """The worst case of a call's attempts: every attempt times out and every wait between two is the longest."""
    return (retries + 1) * timeout + retries * RETRY_AFTER_MAX


def max_total_seconds(timeout, retries):
    """The documented bound of one call: up to TURN_WAIT_MAX waiting for turns (or a lock-out's end), then its attempts."""
    return TURN_WAIT_MAX + attempts_seconds(timeout, retries)


def clean_header_value(option, value):
    """Strip ``value`` and refuse what cannot safely travel in an HTTP header.

    Control characters (CR/LF above all) would let a value inject headers; anything outside
    printable ASCII would make the HTTP stack raise an encoding error with the value in it.
    """
    value = value.strip()
    if not value:
        raise StabilityOptionError(option, 'is empty')
    for char in value:
        if ord(char) < 0x20 or ord(char) == 0x7f:
            raise StabilityOptionError(option, 'contains a control character (such as a line break); nothing was sent')
        if ord(char) > 0x7e:
            raise StabilityOptionError(option, 'contains a character that is not printable ASCII; nothing was sent')
    return value


def is_loopback_as_written(host):
    """True for ``localhost``, a 127.x.x.x address or ``::1`` as written: no DNS look-up."""
    if host.lower() == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# What may stand between ``//`` and the path once credentials are refused: a host name or a
# bracketed IPv6 address, and an optional port.
_HOST_AND_PORT = re.compile(r'^(?:\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?)(?::[0-9]*)?$')


def split_url(option, value):
    """``urlsplit`` of a URL option's value; refused (naming ``option``) with white space, a non-ASCII character or a bad port."""
    if any(ord(char) < 0x21 or ord(char) > 0x7e for char in value):
        raise StabilityOptionError(option, 'contains white space, a control character or a character that is not ASCII')
    try:
        parts = urlsplit(value)
        parts.port  # pylint: disable=pointless-statement  # raises ValueError on a bad port
    except ValueError as exc:
        raise StabilityOptionError(option, 'is not a valid URL (%s)' % exc)
    return parts


def clean_api_url(value):
    """Return the base URL, scheme and host in lower case, without a trailing slash; or refuse it with the reason.

    Lower case first, so that every later check (``https`` for the certificate warning and the
    proxy, loopback for plain http) sees one spelling; a host part that is not a plain name or
    a bracketed address (``[::1]evil.invalid``) is refused here rather than by the HTTP stack.
    """
    value = value.strip()
    if not value:
        raise StabilityOptionError('api_url', 'is empty')
    parts = split_url('api_url', value)
    host = parts.hostname
    if parts.scheme not in ('http', 'https'):
        raise StabilityOptionError(
            'api_url', 'must start with https:// (or http:// for a loopback address), got %r' % (parts.scheme + ':' if parts.scheme else value))
    if not host:
        raise StabilityOptionError('api_url', 'has no host name')
    if parts.username is not None or parts.password is not None:
        raise StabilityOptionError('api_url', 'must not contain credentials; use api_key')
    if parts.query or parts.fragment:
        raise StabilityOptionError('api_url', 'must not contain a query or a fragment')
    netloc = parts.netloc.lower()
    if not _HOST_AND_PORT.match(netloc):
        raise StabilityOptionError('api_url', 'has a malformed host %r: give a host name or a bracketed IPv6 address, and an optional port' % netloc)
    if parts.scheme == 'http' and not is_loopback_as_written(host):
        raise StabilityOptionError(
            'api_url', 'uses plain http:// to %s, which would send the API key in clear text; use https:// '
            '(http:// is accepted only for localhost, 127.x.x.x and [::1])' % host)
    return ('%s://%s%s' % (parts.scheme, netloc, parts.path)).rstrip('/')


def drop_version_path(api_url, api_version):
    """``api_url`` (as ``clean_api_url`` gives it) without a trailing ``/v1`` or ``/v1alpha`` that repeats ``api_version``.

    The vendor's docs show the base URL with the version (``https://api.stability.ai/v1``); taken
    as it is, every request would go to ``/v1/v1/user/...`` and fail with a 404.  That version is
    the one the user asked for, so dropping it is what they meant.  A trailing version that is not
    ``api_version`` could mean either, so it is refused with what to change.
    """
    version = urlsplit(api_url).path.rpartition('/')[2]
    if version not in API_VERSIONS:
        return api_url
    if version != api_version:
        raise StabilityOptionError('api_url', 'ends with /%s but api_version is %s: drop /%s from api_url (the version goes in api_version)' % (
            version, api_version, version))
    return api_url[:-len('/' + version)]


def clean_seconds(option, value, maximum):
    """A duration option: a number of seconds greater than 0 and at most ``maximum`` (documented with the option)."""
    try:
        number = None if isinstance(value, bool) else float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a whole number no float holds
        number = None
    if number is None or not 0 < number <= maximum:  # NaN fails both comparisons
        raise StabilityOptionError(option, 'must be a number of seconds greater than 0 and at most %g, got %r' % (maximum, value))
    return number


def clean_timeout(value):
    """``timeout``: seconds, greater than 0 and at most MAX_TIMEOUT."""
    return clean_seconds('timeout', value, MAX_TIMEOUT)


def clean_retries(value):
    """A whole number from 0 to MAX_RETRIES, so the total time of a call stays bounded.

    Read as written: ``'%s' % value`` makes true ``'True'`` and 1.5 ``'1.5'``, which ``int`` refuses, never 1.
    """
    try:
        number = int('%s' % value)
    except ValueError:
        number = None
    if number is None or not 0 <= number <= MAX_RETRIES:
        raise StabilityOptionError('retries', 'must be a whole number from 0 to %d, got %r' % (MAX_RETRIES, value))
    return number


BOOLEAN_WORDS = {
    'true': True, 'yes': True, 'on': True, 'y': True, 't': True, '1': True,
    'false': False, 'no': False, 'off': False, 'n': False, 'f': False, '0': False,
}


def clean_bool(option, value):
    """A boolean as Ansible spells one; anything else (``maybe``, ``2``, '') is refused, not guessed.

    Ansible's plugin configuration turns any unknown word into ``false``, which for
    ``validate_certs`` would silently switch certificate checks off.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    word = ('%s' % (value,)).strip().lower() if isinstance(value, str) else None
    if word not in BOOLEAN_WORDS:
        raise StabilityOptionError(option, 'must be true or false, got %r' % (value,))
    return BOOLEAN_WORDS[word]


def clean_path_text(option, value):
    """A path option that is set must name something: an empty one is a mistake, not "the default"."""
    if value is None:
        return None
    text = '%s' % (value,)
    if not text.strip():
        raise StabilityOptionError(option, 'is empty; leave it unset for the default')
    if any(ord(char) < 0x20 or ord(char) == 0x7f for char in text):
        raise StabilityOptionError(option, 'contains a control character (such as a line break)')
    return text


def clean_rate_limit(value):
    """``rate_limit`` as (requests, seconds), or None for ``0`` (the guard off); None means the default.

    A boolean or a bare number other than 0 is a mistake, not a budget: ``N/S`` says both halves.
    """
    if value is None:
        return DEFAULT_RATE_LIMIT
    text = ('%s' % (value,)).strip()  # True and False match neither 0 nor N/S
    if text in ('0', '0.0'):
        return None
    match = _RATE_LIMIT.match(text)
    if match:
        requests, seconds = int(match.group(1)), float(match.group(2))
        if 1 <= requests <= MAX_RATE_LIMIT_REQUESTS and 0 < seconds <= MAX_RATE_LIMIT_SECONDS:
            return requests, seconds
    problem = 'must be N/S, at most N requests (1 to %d) in any S seconds (at most %d), such as %d/%d, or 0 to turn the guard off, got %r' % (
        MAX_RATE_LIMIT_REQUESTS, MAX_RATE_LIMIT_SECONDS, DEFAULT_RATE_LIMIT[0], DEFAULT_RATE_LIMIT[1], value)
    raise StabilityOptionError('rate_limit', problem)


def clean_api_version(value):
    """``v1`` or ``v1alpha``; None means the default."""
    if value is None:
        return DEFAULT_API_VERSION
    version = ('%s' % (value,)).strip()
    if version not in API_VERSIONS:
        raise StabilityOptionError('api_version', 'must be one of %s, got %r' % (', '.join(API_VERSIONS), value))
    return version


def clean_organization(option, value):
    """An organization id as sent in the ``Organization`` header; None means the key's default organization."""
    if value is None:
        return None
    return clean_header_value(option, '%s' % value)


class ConnectionSettings(object):
    """Validated connection options: what a ``StabilityClient`` needs, nothing else."""

    __slots__ = ('api_key', 'api_url', 'api_version', 'timeout', 'retries', 'validate_certs', 'ca_path', 'rate_limit')

    def __init__(self, api_key, api_url=None, api_version=None, timeout=None, retries=None, validate_certs=True, ca_path=None,
                 rate_limit=None):
        if api_key is None or not '%s' % api_key:
            raise StabilityOptionError(
                'api_key', 'is not set: give the api_key option or set the %s environment variable' % ENVIRONMENT_VARIABLES['api_key'][0])
        self.api_key = clean_header_value('api_key', '%s' % api_key)
        self.api_url = clean_api_url(DEFAULT_API_URL if api_url is None else '%s' % api_url)
        self.api_version = clean_api_version(api_version)
        self.api_url = drop_version_path(self.api_url, self.api_version)
        self.timeout = DEFAULT_TIMEOUT if timeout is None else clean_timeout(timeout)
        self.retries = DEFAULT_RETRIES if retries is None else clean_retries(retries)
        self.validate_certs = clean_bool('validate_certs', validate_certs)
        self.ca_path = None
        if ca_path is not None:
            path = os.path.expanduser(clean_path_text('ca_path', ca_path))
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                raise StabilityOptionError('ca_path', '%s is not a readable file' % path)
            self.ca_path = path
        self.rate_limit = clean_rate_limit(rate_limit)

    @classmethod
    def from_options(cls, get_option):
        """The option adapter: build settings from any ``get_option(name)`` callable."""
        return cls(
            api_key=get_option('api_key'),
            api_url=get_option('api_url'),
            api_version=get_option('api_version'),
            timeout=get_option('timeout'),
            retries=get_option('retries'),
            validate_certs=True if get_option('validate_certs') is None else get_option('validate_certs'),
            ca_path=get_option('ca_path'),
            rate_limit=get_option('rate_limit'),
        )

    def __repr__(self):
        return 'ConnectionSettings(api_url=%r, api_version=%r, timeout=%r, retries=%r, validate_certs=%r, ca_path=%r, rate_limit=%r)' % (
            self.api_url, self.api_version, self.timeout, self.retries, self.validate_certs, self.ca_path, self.rate_limit)
