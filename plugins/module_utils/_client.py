# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""The one HTTP client of the collection: every request to the Stability API goes through here.

It owns the URL, the headers, the retry policy, the response checks and the errors, so that modules
and lookups stay thin and all behave the same; the wording of a failure is in ``_failures.py``,
which only a failure imports.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import math
import random
import socket
import threading
import time
import traceback

from ansible_collections.stabilityai.platform.plugins.module_utils._concurrency import MAX_CONCURRENT_REQUESTS, map_concurrently
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import (
    StabilityConnectionError,
    StabilityResponseError,
    one_line,
    redact,
    server_data,
)
from ansible_collections.stabilityai.platform.plugins.module_utils._rate_guard import RateGuard
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import (
    CLIENT_ID,
    COLLECTION_VERSION,
    RETRY_AFTER_MAX,
    attempts_seconds,
    clean_organization,
    max_total_seconds,
)

REQUESTS_IMPORT_ERROR = None
try:
    import requests
    import urllib3
    from requests.adapters import HTTPAdapter
    import urllib3.connection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import InsecureRequestWarning
    from urllib3.poolmanager import ProxyManager
    HAS_REQUESTS = True
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

USER_AGENT = '%s/%s' % (CLIENT_ID, COLLECTION_VERSION)

MAX_BODY_BYTES = 1024 * 1024
RETRY_STATUSES = frozenset((429, 500, 502, 503, 504))
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 8.0


def retry_delay(attempt, retry_after=None):
    """Seconds to wait before retry number ``attempt`` (0-based).

    A ``Retry-After`` the server sent wins, capped at RETRY_AFTER_MAX; otherwise exponential
    back-off (0.5, 1, 2, 4, 8, 8, ... s) with jitter down to half of that, so that forked
    workers that failed together do not come back together.
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), RETRY_AFTER_MAX)
    ceiling = min(BACKOFF_MAX, BACKOFF_FIRST * (2 ** attempt))
    return random.uniform(ceiling / 2, ceiling)


def check_credits(payload, secret=None):
    """The ``credits`` of a balance body: a finite JSON number.

    A negative number is valid (the vendor's schema sets no minimum): the organization is
    overdrawn, and every gate fails on it like on any balance below its threshold.
    """
    if not isinstance(payload, dict) or 'credits' not in payload:
        raise ValueError('has no "credits" field')
    credits = payload['credits']
    if isinstance(credits, bool) or not isinstance(credits, (int, float)):
        raise ValueError('has a "credits" that is not a number: %s' % one_line(redact(json.dumps(credits), secret), 60))
    try:
        credits = float(credits)
    except OverflowError:  # an integer literal too large for a double
        raise ValueError('has a "credits" that is not a finite number')
    if not math.isfinite(credits):
        raise ValueError('has a "credits" that is not a finite number')
    return credits


def _failures():
    """The error path's module (``_failures.py``), imported by the first failure: a call that succeeds never compiles it."""
    from ansible_collections.stabilityai.platform.plugins.module_utils import _failures as failures  # pylint: disable=import-outside-toplevel
    return failures


_CURRENT = threading.local()


class _Deadline(object):
    """The wall-clock end of one attempt: at ``timeout`` seconds a timer shuts the attempt's socket down.

    A socket time-out bounds each ``recv``, not the answer: a server that sends a byte every half
    second passes it for ever, in the headers (read inside http.client) as in the body.  Only a cut
    from another thread ends a read in progress, and it needs the socket, which urllib3 hands out
    through no documented hook: so the two connection classes below report it when they connect and
    when they send, to the deadline of the thread's attempt (a thread-local, so that concurrent reads
    each cut their own).  One ``threading.Timer`` per attempt, cancelled when the attempt ends, is the
    whole watchdog.  Ruled out: a per-read time-out shrunk to the time left (nothing runs between the
    reads of http.client's header loop); abandoning the request in a thread of its own (the thread and
    its connection would trickle on); urllib3's ``Timeout(total=...)`` (it, too, bounds each read);
    urllib3 2.3's ``HTTPResponse.shutdown`` (not in 1.26, and only once the headers are in).
    """

    def __init__(self, seconds):
        self.expired = False
        self._connection = self._sock = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self):
        _CURRENT.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info):
        self._timer.cancel()
        with self._lock:  # a timer already firing now finds nothing to cut (the connection may be back in the pool)
            self._connection = self._sock = None
        _CURRENT.deadline = None

    def watch(self, connection):
        """Follow ``connection``; its socket is kept too, as http.client lets go of it for an answer read until close."""
        with self._lock:
            self._connection = connection
            self._sock = getattr(connection, 'sock', None) or self._sock
            if self.expired:
                raise socket.timeout('deadline passed')

    def _expire(self):
        with self._lock:
            self.expired = True
            sock = getattr(self._connection, 'sock', None) or self._sock
            if sock is not None:
                try:
                    # socket.socket's own shutdown: an SSLSocket's would drop its TLS state under a reader.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass


class _WatchedConnection(object):
    """Mixin: hands the connection to the thread's deadline when it connects and when it sends."""

    def _watch(self):
        deadline = getattr(_CURRENT, 'deadline', None)
        if deadline is not None:
            deadline.watch(self)

    def connect(self):
        self._watch()
        super(_WatchedConnection, self).connect()
        self._watch()

    def request(self, *args, **kwargs):
        self._watch()
        return super(_WatchedConnection, self).request(*args, **kwargs)


if HAS_REQUESTS:
    # Named like urllib3's own classes: the name shows in connection errors users read.
    class HTTPConnection(_WatchedConnection, urllib3.connection.HTTPConnection):
        pass

    class HTTPSConnection(_WatchedConnection, urllib3.connection.HTTPSConnection):
        pass

    class _WatchedAdapter(HTTPAdapter):
        """The requests adapter whose pools (direct or through a proxy) make the connections above."""

        pools = {'http': type('HTTPConnectionPool', (HTTPConnectionPool,), {'ConnectionCls': HTTPConnection}),
                 'https': type('HTTPSConnectionPool', (HTTPSConnectionPool,), {'ConnectionCls': HTTPSConnection})}

        def init_poolmanager(self, *args, **kwargs):
            super(_WatchedAdapter, self).init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = self.pools

        def proxy_manager_for(self, proxy, **proxy_kwargs):
            manager = super(_WatchedAdapter, self).proxy_manager_for(proxy, **proxy_kwargs)
            if isinstance(manager, ProxyManager):  # not SOCKS: its own pools make the connections through the proxy
                manager.pool_classes_by_scheme = self.pools
            return manager


class StabilityClient(object):
    """Reads one Stability account through one keep-alive HTTP session."""

    def __init__(self, settings):
        self.settings = settings
        self.warnings = []
        self._base = '%s/%s/user/' % (settings.api_url, settings.api_version)
        self._guard = RateGuard(settings, self.warnings)
        self._session = requests.Session()
        # No .netrc (it would replace the Authorization header) and no REQUESTS_CA_BUNDLE (ca_path
        # says which CAs to trust), but the usual proxy variables for https, as air-gapped sites need
        # them: a proxy sees only CONNECT.  Plain http (loopback only) never goes through a proxy,
        # which would read the key in clear text.
        self._session.trust_env = False
        self._session.proxies = requests.utils.get_environ_proxies(self._base) if self._base.startswith('https://') else {}
        adapter = _WatchedAdapter(pool_connections=1, pool_maxsize=MAX_CONCURRENT_REQUESTS, max_retries=0)
        self._session.mount('https://', adapter)
        self._session.mount('http://', adapter)
        self._session.headers.clear()
        self._session.headers.update({
            'Accept': 'application/json',
            'Authorization': 'Bearer %s' % settings.api_key,
            'Stability-Client-ID': CLIENT_ID,
            'Stability-Client-Version': COLLECTION_VERSION,
            'User-Agent': USER_AGENT,
        })
        if not settings.validate_certs:
            self._session.verify = False
            urllib3.disable_warnings(InsecureRequestWarning)
            if settings.api_url.startswith('https://'):
                self.warnings.append('validate_certs is false: the TLS certificate of %s is not checked' % settings.api_url)
        elif settings.ca_path:
            self._session.verify = settings.ca_path

    def close(self):
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def fetch_account(self, sendable_ids=False):
        """GET /{version}/user/account, checked against the contract (see ``check_account``)."""
        from ansible_collections.stabilityai.platform.plugins.module_utils._account import check_account  # pylint: disable=import-outside-toplevel
        payload = self._get_json('account')
        try:
            return check_account(payload, sendable_ids)
        except ValueError as exc:
            raise StabilityResponseError(self._scrub(self._describe('account') + ' returned an account body that %s' % exc), status=200)

    def fetch_balance(self, organization=None):
        """GET /{version}/user/balance for ``organization`` (None: the key's default) as a float."""
        organization = clean_organization('organization', organization)
        payload = self._get_json('balance', organization)
        try:
            return check_credits(payload, self.settings.api_key)
        except ValueError as exc:
            raise StabilityResponseError(self._scrub(self._describe('balance', organization) + ' returned a balance body that %s' % exc), status=200)

    def fetch_balances(self, organizations):
        """Balances of several organizations, in order, read concurrently (see ``map_concurrently``).

        The rate guard keeps the rate under the vendor's limit however fast the API answers.  The
        first failure is raised.
        """
        return map_concurrently(self.fetch_balance, organizations)

    def _describe(self, endpoint, organization=None):
        text = 'GET %s%s' % (self._base, endpoint)
        if organization:
            text += ' for organization %s' % organization
        return text

    def _get_json(self, endpoint, organization=None):
        """One GET with the retry policy; returns the decoded JSON body of a 200 answer."""
        url = self._base + endpoint
        headers = {'Organization': organization} if organization else None
        what = self._describe(endpoint, organization)
        call_end = time.monotonic() + max_total_seconds(self.settings.timeout, self.settings.retries)
        attempt = 0
        while True:
            retry_after = None
            # A wait may use what this attempt and the retries left cannot need, so the call ends by call_end.
            self._guard.wait(call_end - attempts_seconds(self.settings.timeout, self.settings.retries - attempt), what)
            try:
                status, response_headers, body = self._send(url, headers)
            except requests.exceptions.SSLError as exc:
                raise StabilityConnectionError(self._scrub(
                    '%s failed: TLS error (%s); set ca_path to the CA bundle that signed the server certificate, '
                    'or validate_certs to false' % (what, _failures().describe_network_error(exc, self.settings.api_key))))
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                if attempt >= self.settings.retries:
                    raise StabilityConnectionError(self._scrub('%s failed after %d attempt%s: %s' % (
                        what, attempt + 1, '' if attempt == 0 else 's', _failures().describe_network_error(exc, self.settings.api_key))))
            except requests.exceptions.RequestException as exc:
                # A garbled answer (a Content-Encoding that does not decode, say): not transient, not retried.
                raise StabilityConnectionError(self._scrub('%s failed: the answer could not be read (%s)' % (
                    what, _failures().describe_network_error(exc, self.settings.api_key))))
            else:
                if status == 200:
                    return self._decode(what, status, response_headers, body)
                failures = _failures()
                retry_after = failures.parse_retry_after(response_headers.get('Retry-After'))
                if status == 429:
                    self._guard.record_lockout(body, retry_after)
                if status not in RETRY_STATUSES or attempt >= self.settings.retries:
                    raise failures.status_error(what, status, response_headers, body, attempt + 1, organization, self.settings.api_key)
            time.sleep(retry_delay(attempt, retry_after))
            attempt += 1

    def _send(self, url, headers):
        """Send one GET and read the answer until it ends or passes MAX_BODY_BYTES, all within ``timeout``.

        Reading stops at the first 64 KiB chunk that passes the cap, so memory stays bounded and
        the caller sees a body longer than the cap, which it refuses.

        ``timeout`` bounds each socket read and, through ``_Deadline``, the whole attempt from
        connect to the last byte, however slowly the server sends its headers or its body.
        """
        with _Deadline(self.settings.timeout) as deadline:
            try:
                with self._session.get(url, headers=headers, timeout=self.settings.timeout, stream=True,
                                       allow_redirects=False) as response:
                    chunks = []
                    size = 0
                    for chunk in response.iter_content(chunk_size=65536):
                        chunks.append(chunk)
                        size += len(chunk)
                        if size > MAX_BODY_BYTES:
                            break
                    result = response.status_code, response.headers, b''.join(chunks)
            except requests.exceptions.RequestException as exc:
                # The timer's cut and a read that timed out on its own say the same thing, whichever came first.
                if deadline.expired or isinstance(exc, requests.exceptions.ReadTimeout):
                    raise self._attempt_timeout()
                raise
        if deadline.expired:  # the cut can look like the end of a body sent until the connection closes
            raise self._attempt_timeout()
        return result

    def _attempt_timeout(self):
        return requests.exceptions.ReadTimeout('the answer took longer than timeout (%s s)' % self.settings.timeout)

    def _decode(self, what, status, headers, body):
        if len(body) > MAX_BODY_BYTES:
            raise StabilityResponseError('%s returned a body over %d bytes; refusing to read it' % (what, MAX_BODY_BYTES), status=status)
        try:
            payload = json.loads(body.decode())
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise StabilityResponseError(self._scrub('%s returned HTTP %d with a body that is not JSON (%s)' % (
                what, status, _failures().sniff(headers, body, self.settings.api_key))), status=status)
        return server_data(payload, self.settings.api_key)

    def _scrub(self, text):
        return redact(text, self.settings.api_key)
