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

import http.client
import json
import math
import random
import select
import socket
import ssl
import threading
import time
from urllib.parse import unquote, urlsplit

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


class _Deadline(object):
    """The wall-clock end of one attempt: at ``timeout`` seconds a timer shuts the attempt's socket down.

    A socket time-out bounds each ``recv``, not the answer: a server that sends a byte every half
    second passes it for ever, in the headers (read inside http.client) as in the body.  Only a cut
    from another thread ends a read in progress: one ``threading.Timer`` per attempt, cancelled when
    the attempt ends, shuts down the socket of the connection the attempt uses, from the proxy's
    tunnel answer and the TLS handshake to the last byte of the body.  Ruled out: a per-read
    time-out shrunk to the time left (nothing runs between the reads of http.client's header loop);
    abandoning the request in a thread of its own (the thread and its connection would trickle on).
    """

    def __init__(self, seconds):
        self.expired = False
        self._sock = self._fresh = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc_info):
        self._timer.cancel()
        with self._lock:  # a timer already firing now finds nothing to cut (the connection may be back in the pool)
            self._sock = None
            if self._fresh is not None:
                self._fresh.close()
                self._fresh = None

    def connected(self, sock):
        """Keep a duplicate of a socket the attempt has just connected, and return the socket.

        ``ssl`` moves the descriptor into a new object before its handshake and hands that object to
        the connection after it; the duplicate is what the timer can cut in between, and shutting it
        down ends the handshake (and anything after) as it ends the original.
        """
        with self._lock:
            self._fresh = sock.dup()
        return sock

    def watch(self, connection):
        """Follow the socket of ``connection`` (reused, or just connected: see ``connected`` for one in the making).

        The socket is kept here, as http.client lets go of it for an answer read until close.  An
        attempt whose deadline has passed goes no further.
        """
        with self._lock:
            self._sock = connection.sock or self._sock
            if self.expired:
                raise socket.timeout('deadline passed')

    def _expire(self):
        with self._lock:
            self.expired = True
            sock = self._fresh or self._sock
            if sock is not None:
                try:
                    # socket.socket's own shutdown: an SSLSocket's would drop its TLS state under a reader.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass


def _readable(sock):
    """Whether ``sock`` has something to read now.  poll, not select: select refuses a descriptor past 1023, which a
    long-running process (the event source, a large play's controller) can hold."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class _Unreadable(Exception):
    """An answer that came whole but cannot be read as sent (a Content-Encoding that was not asked for): not retried."""


def _environment_proxy(host):
    """The ``(host, port, headers)`` of the http proxy the environment names for https to ``host``, or None.

    ``https_proxy`` (or ``all_proxy``; lower case first, as curl reads them) unless ``no_proxy``
    names the host.  Only an http:// proxy: https goes through it as a CONNECT tunnel, so the proxy
    sees the host name and nothing of the key.  Imported here: a plain-http call never needs it.
    """
    import base64  # pylint: disable=import-outside-toplevel
    import urllib.request  # pylint: disable=import-outside-toplevel
    proxies = urllib.request.getproxies_environment()
    url = proxies.get('https') or proxies.get('all')
    if not url or urllib.request.proxy_bypass_environment(host, proxies):
        return None
    try:
        parts = urlsplit(url if '://' in url else 'http://' + url)
        scheme, proxy_host, proxy_port = parts.scheme, parts.hostname, 80 if parts.port is None else parts.port
    except ValueError:  # a broken IPv6 address or a port that is not a number
        scheme, proxy_host, proxy_port = url.partition('://')[0] if '://' in url else 'http', None, None
    if scheme != 'http' or not proxy_host or not proxy_port:
        # Scheme and host only: the rest of the URL may hold the proxy's password.
        raise StabilityConnectionError('the proxy in https_proxy or all_proxy must be an http://host:port URL, got %s' % one_line(
            '%s://%s' % (scheme, proxy_host or ''), 80))
    headers = {}
    if parts.username is not None:
        credentials = '%s:%s' % (unquote(parts.username), unquote(parts.password or ''))
        headers['Proxy-Authorization'] = 'Basic ' + base64.b64encode(credentials.encode('utf-8')).decode('ascii')
    return proxy_host, proxy_port, headers


class StabilityClient(object):
    """Reads one Stability account through keep-alive connections of the standard library's http.client.

    Not requests, nor urllib3 below it: importing them is most of a module call's cost, and the
    client needs one GET, a small pool for its concurrent reads, a proxy tunnel and TLS, which
    http.client and ssl give (docs/docsite/rst/performance.rst).
    """

    def __init__(self, settings):
        self.settings = settings
        self.warnings = []
        self._base = '%s/%s/user/' % (settings.api_url, settings.api_version)
        self._guard = RateGuard(settings, self.warnings)
        target = urlsplit(self._base)
        self._https = target.scheme == 'https'
        # The port always: given none, http.client takes what follows an IPv6 address's last colon for one ([::1] as ':', port 1).
        self._host, self._path = target.hostname, target.path
        self._port = target.port if target.port is not None else (http.client.HTTPS_PORT if self._https else http.client.HTTP_PORT)
        # Fixed headers only: no .netrc (it would replace the Authorization header), no cookies, and
        # http.client's own Host and Accept-Encoding: identity (no compressed answer to decode).
        self._headers = {
            'Accept': 'application/json',
            'Authorization': 'Bearer %s' % settings.api_key,
            'Stability-Client-ID': CLIENT_ID,
            'Stability-Client-Version': COLLECTION_VERSION,
            'User-Agent': USER_AGENT,
        }
        self._tls = self._proxy = None
        self._idle = []
        self._idle_lock = threading.Lock()
        self._closed = False
        if self._https:
            # The usual proxy variables for https, as air-gapped sites need them: a proxy sees only
            # CONNECT.  Plain http (loopback only) never goes through a proxy, which would read the key.
            self._proxy = _environment_proxy(self._host)
            if not settings.validate_certs:
                self.warnings.append('validate_certs is false: the TLS certificate of %s is not checked' % settings.api_url)

    def close(self):
        """Close the idle connections, and each one still in use when its request ends (``_release``)."""
        with self._idle_lock:
            idle, self._idle, self._closed = self._idle, [], True
        for connection in idle:
            connection.close()

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
        headers = dict(self._headers, Organization=organization) if organization else self._headers
        what = self._describe(endpoint, organization)
        call_end = time.monotonic() + max_total_seconds(self.settings.timeout, self.settings.retries)
        attempt = 0
        while True:
            retry_after = None
            # A wait may use what this attempt and the retries left cannot need, so the call ends by call_end.
            self._guard.wait(call_end - attempts_seconds(self.settings.timeout, self.settings.retries - attempt), what)
            try:
                status, response_headers, body = self._send(self._path + endpoint, headers)
            except ssl.SSLError as exc:  # an OSError too, but a certificate does not get better by retrying
                raise StabilityConnectionError(self._scrub(
                    '%s failed: TLS error (%s); set ca_path to the CA bundle that signed the server certificate, '
                    'or validate_certs to false' % (what, _failures().describe_network_error(exc, self.settings.api_key))))
            except (OSError, http.client.HTTPException) as exc:  # no answer, or a broken one: transient
                if attempt >= self.settings.retries:
                    raise StabilityConnectionError(self._scrub('%s failed after %d attempt%s: %s' % (
                        what, attempt + 1, '' if attempt == 0 else 's', _failures().describe_network_error(exc, self.settings.api_key))))
            except _Unreadable as exc:
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

    def _send(self, path, headers):
        """Send one GET and read the answer until it ends or passes MAX_BODY_BYTES, all within ``timeout``.

        Reading stops at the first 64 KiB chunk that passes the cap, so memory stays bounded and
        the caller sees a body longer than the cap, which it refuses.  A connection whose answer was
        read whole goes back to the pool for the next request; any other is closed.

        ``timeout`` bounds each socket operation and, through ``_Deadline``, the whole attempt from
        connect to the last byte, however slowly the server (or a proxy) sends.
        """
        connection = self._connection()
        with _Deadline(self.settings.timeout) as deadline:
            try:
                deadline.watch(connection)
                if connection.sock is None:
                    create = connection._create_connection
                    connection._create_connection = lambda *args: deadline.connected(create(*args))
                    try:
                        connection.connect()
                    finally:
                        connection._create_connection = create
                    deadline.watch(connection)
                connection.request('GET', path, headers=headers)
                response = connection.getresponse()
                chunks = []
                size = 0
                while size <= MAX_BODY_BYTES:
                    chunk = response.read(65536)
                    if not chunk:
                        if response.length:  # http.client ends a short Content-Length body quietly
                            raise http.client.IncompleteRead(b''.join(chunks), response.length)
                        break
                    chunks.append(chunk)
                    size += len(chunk)
            except BaseException as exc:
                connection.close()
                # The timer's cut and a socket operation that timed out on its own say the same thing.
                if isinstance(exc, (OSError, http.client.HTTPException)) and (deadline.expired or isinstance(exc, socket.timeout)):
                    raise self._attempt_timeout()
                raise
        if deadline.expired:  # the cut can look like the end of a body sent until the connection closes
            connection.close()
            raise self._attempt_timeout()
        # Read whole, and the server keeps it open: reusable; never after an interim (1xx) answer, whose final one still comes.
        if response.status >= 200 and response.isclosed() and not response.will_close and size <= MAX_BODY_BYTES:
            self._release(connection)
        else:
            connection.close()
        encoding = response.getheader('Content-Encoding', 'identity')
        if encoding.strip().lower() != 'identity':  # worded whole: the caller redacts the key, then cuts
            raise _Unreadable('Content-Encoding %s, not asked for' % encoding)
        return response.status, response.headers, b''.join(chunks)

    def _connection(self):
        """An idle keep-alive connection to the API that the server has not closed, or a new one (not connected yet)."""
        while True:
            with self._idle_lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                break
            if not _readable(connection.sock):  # readable while idle: closed by the server
                return connection
            connection.close()
        if not self._https:
            return http.client.HTTPConnection(self._host, self._port, timeout=self.settings.timeout)
        if self._tls is None:
            self._tls = self._tls_context()
        if self._proxy is None:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.settings.timeout, context=self._tls)
        proxy_host, proxy_port, proxy_headers = self._proxy
        connection = http.client.HTTPSConnection(proxy_host, proxy_port, timeout=self.settings.timeout, context=self._tls)
        connection.set_tunnel(self._host, self._port, headers=proxy_headers)
        return connection

    def _release(self, connection):
        with self._idle_lock:
            if not self._closed and len(self._idle) < MAX_CONCURRENT_REQUESTS:
                self._idle.append(connection)
                return
        connection.close()

    def _tls_context(self):
        """The system's CA store, or ``ca_path``'s; no check at all with ``validate_certs: false``."""
        if not self.settings.validate_certs:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=self.settings.ca_path or None)

    def _attempt_timeout(self):
        return socket.timeout('the answer took longer than timeout (%s s)' % self.settings.timeout)

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
