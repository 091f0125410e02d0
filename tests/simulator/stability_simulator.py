#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A Stability AI API simulator for the user endpoints, on loopback only.

A supported tool of the stabilityai.platform collection, for its own tests, the demo and users'
offline playbook tests.  Its command line, fixture and control API are documented on the
"Stability API simulator" page of the collection docs (docs/docsite/rst/simulator.rst) and change
only with a changelog entry; ``--help`` lists the options with their defaults.

It serves ``GET /{v1,v1alpha}/user/account`` and ``GET /{v1,v1alpha}/user/balance`` from a JSON
fixture of API keys, accounts and organizations, with the vendor's status codes and error bodies,
its rate limit (150 requests per 10 s per account, then a 60 s lock-out), and a control API under
``/_sim/`` that injects faults, changes balances and reads the request log. It uses the standard
library only, so it runs wherever Ansible runs.

Command line::

    python tests/simulator/stability_simulator.py --port-file /tmp/sim.port
    python tests/simulator/stability_simulator.py --daemon --port-file /tmp/sim.port --pid-file /tmp/sim.pid
    curl -H 'Authorization: Bearer sk-sim-alice-64Es19knE59ROToV' http://127.0.0.1:$(cat /tmp/sim.port)/v1/user/balance
    curl -X POST http://127.0.0.1:$(cat /tmp/sim.port)/_sim/shutdown

``launcher.py`` next to this file starts it in the background and stops it by its pid (``start``
/ ``stop``, or ``running_simulator()`` in Python): what the collection's own tests use.

Options (``--help`` shows each with its default): ``--host`` (loopback only: 127.x.x.x, localhost
or ::1), ``--port`` (0: the kernel picks), ``--fixture PATH``, ``--latency S``, ``--rate-limit N/S``
(``0`` disables), ``--lockout S``, ``--lifetime S`` (default 900; 0 runs until stopped),
``--port-file``, ``--pid-file``, ``--tls-cert PEM [--tls-key PEM]``, ``--daemon``, ``--log-file``,
``--verbose``.

Every request of any method is logged; a method an endpoint does not take (PUT, TRACE, or one
HTTP does not define) gets 405 with the vendor's JSON error body.

Control API (no authentication):

* ``GET /_sim/health``: ``{"ok": true}``.
* ``GET /_sim/requests``: the log of API requests; ``DELETE`` clears it and the rate-limit state.
  An entry is ``{time, method, path, version, endpoint, organization, authorization, headers,
  status}``; ``authorization`` is ``missing``, ``bearer:<account id>``, ``bare:<account id>``,
  ``bearer:unknown`` or ``bare:unknown``: the key itself is never recorded.
* ``GET|POST|DELETE /_sim/faults``: list, append to, or clear the fault queue (see ``normalize_fault``).
* ``POST /_sim/credits`` ``{"organization": "org-x", "credits": 1.5}``: set a balance.
* ``POST /_sim/spend`` ``{"organization": "org-x", "credits": 1.5}``: spend from a balance, as a
  generation job would (a negative amount is a top-up); answers with the new balance.
* ``POST /_sim/shutdown``: stop the server.

Python API (what the collection's pytest suites use)::

    with StabilitySimulator(rate_limit=(5, 10.0)) as sim:
        requests.get(sim.url + '/v1/user/balance', headers={'Authorization': 'Bearer ' + ALICE_KEY})
        sim.add_faults([{'match': {'endpoint': 'balance'}, 'status': 503, 'times': 2}])
        assert sim.requests()[-1]['status'] == 200
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import collections
import copy
import ipaddress
import json
import os
import re
import select
import signal
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
import time
import uuid

from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


DEFAULT_FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'default.json')
DEFAULT_RATE_LIMIT = (150, 10.0)
DEFAULT_LOCKOUT = 60.0
DEFAULT_LIFETIME = 900.0

API_VERSIONS = ('v1', 'v1alpha')
ENDPOINTS = {'/user/account': 'account', '/user/balance': 'balance'}
FAULT_BODIES = ('error', 'html', 'empty', 'notjson', 'huge', 'payload', 'raw')
FAULT_KEYS = ('match', 'times', 'status', 'body', 'retry_after', 'latency', 'drop', 'payload', 'raw', 'trickle')
# A trickle fault answers 200 one piece every TRICKLE_INTERVAL s: its header block, its body, one big
# chunk, or chunks without end; it stops when the client hangs up or after TRICKLE_LIMIT s.
TRICKLE_MODES = ('headers', 'body', 'chunk', 'chunks')
TRICKLE_INTERVAL = 0.25
TRICKLE_LIMIT = 60.0
MATCH_KEYS = ('endpoint', 'organization', 'version')

MAX_REQUEST_BODY = 1024 * 1024
POLL_INTERVAL = 0.025  # how soon stop() takes effect
MAX_LOG_ENTRIES = 100000
HUGE_BODY_PADDING = 2 * 1024 * 1024 + 4096

ERROR_MESSAGES = {
    400: 'The request could not be understood.',
    401: 'the API key you provided is invalid',
    403: 'You do not have permission to access this resource',
    404: 'The requested resource was not found.',
    429: 'Too many requests.',
    500: 'An unexpected server error occurred, please try again.',
    502: 'The upstream server answered with an invalid response.',
    503: 'The service is temporarily unavailable, please try again.',
    504: 'The upstream server did not answer in time.',
}
ERROR_NAMES = {
    400: 'bad_request',
    401: 'unauthorized',
    403: 'permission_denied',
    404: 'not_found',
    405: 'method_not_allowed',
    429: 'rate_limit_exceeded',
    500: 'server_error',
}


class FixtureError(ValueError):
    """The fixture does not have the documented shape."""


# ---------------------------------------------------------------------------------------------
# Pure helpers: fixtures, fault specs, response bodies
# ---------------------------------------------------------------------------------------------

def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def load_fixture(source=None):
    """Return a validated deep copy of a fixture given as a path, a dict, or None (the default)."""
    if source is None:
        source = DEFAULT_FIXTURE
    if isinstance(source, dict):
        data = copy.deepcopy(source)
    elif not isinstance(source, (str, bytes, os.PathLike)):
        raise FixtureError('a fixture is a path, a dict or None, not %s' % type(source).__name__)
    else:
        try:
            with open(source, 'r', encoding='utf-8') as handle:
                data = json.load(handle)
        except (OSError, ValueError) as exc:
            raise FixtureError('cannot read fixture %s: %s' % (source, exc)) from exc
    validate_fixture(data)
    return data


def validate_fixture(data):
    """Raise FixtureError unless ``data`` is ``{"keys": ..., "accounts": ..., "organizations": ...}`` as documented."""
    if not isinstance(data, dict):
        raise FixtureError('fixture must be a JSON object')
    for section in ('keys', 'accounts', 'organizations'):
        if not isinstance(data.get(section), dict):
            raise FixtureError('fixture needs an object "%s"' % section)
    for org_id, org in data['organizations'].items():
        if not isinstance(org, dict) or not isinstance(org.get('name'), str) or not _is_number(org.get('credits')):
            raise FixtureError('organization %s needs a string "name" and a number "credits"' % org_id)
    for account_id, account in data['accounts'].items():
        if not isinstance(account, dict) or not isinstance(account.get('email'), str):
            raise FixtureError('account %s needs a string "email"' % account_id)
        if 'profile_picture' in account and not isinstance(account['profile_picture'], str):
            raise FixtureError('account %s: "profile_picture" must be a string when present' % account_id)
        memberships = account.get('organizations')
        if not isinstance(memberships, list):
            raise FixtureError('account %s needs a list "organizations"' % account_id)
        defaults = 0
        for membership in memberships:
            if not isinstance(membership, dict) or membership.get('id') not in data['organizations']:
                raise FixtureError('account %s: every membership needs the "id" of a known organization' % account_id)
            if not isinstance(membership.get('role'), str) or not isinstance(membership.get('is_default'), bool):
                raise FixtureError('account %s: membership %s needs a string "role" and a boolean "is_default"' % (account_id, membership['id']))
            defaults += membership['is_default']
        if defaults > 1:
            raise FixtureError('account %s has more than one default organization' % account_id)
    for key, account_id in data['keys'].items():
        if not key or key != key.strip() or any(ord(char) < 33 for char in key):
            raise FixtureError('API keys must be non-empty and hold no white space or control characters')
        if account_id not in data['accounts']:
            raise FixtureError('a key maps to the unknown account %s' % account_id)


def normalize_fault(spec):
    """Return a fault spec with defaults filled in, or raise ValueError.

    ``match`` (optional) holds ``endpoint`` (account or balance), ``organization`` (the Organization
    header; null matches requests without one) and ``version`` (v1 or v1alpha). ``times`` is how many
    requests the fault answers (default 1, -1 forever). A fault with ``drop: true`` closes the
    connection without an answer. A fault with ``status``, ``body``, ``payload`` or ``raw`` answers by
    itself: ``body`` is one of error (default from status 400 up), html, empty (default below 400),
    notjson, huge, payload (default when ``payload`` is given: it is sent as JSON) or raw (default when
    ``raw`` is given: that string is sent verbatim, UTF-8, as application/json, for bodies JSON cannot
    carry such as ``{"credits": 1e999}``); ``status`` defaults to 500 for error, 502 for html and 200
    otherwise. A fault with none of those only adds ``latency`` and ``retry_after`` to
    the normal answer. ``latency`` (seconds) is slept before answering; ``retry_after`` is sent
    verbatim as the Retry-After header.
    """
    if not isinstance(spec, dict):
        raise ValueError('a fault must be a JSON object')
    unknown = sorted(set(spec) - set(FAULT_KEYS))
    if unknown:
        raise ValueError('unknown fault field(s): %s' % ', '.join(unknown))
    match = spec.get('match') or {}
    if not isinstance(match, dict) or set(match) - set(MATCH_KEYS):
        raise ValueError('fault "match" must be an object with only %s' % ', '.join(MATCH_KEYS))
    if 'endpoint' in match and match['endpoint'] not in ENDPOINTS.values():
        raise ValueError('fault match "endpoint" must be account or balance')
    if 'version' in match and match['version'] not in API_VERSIONS:
        raise ValueError('fault match "version" must be v1 or v1alpha')
    if 'organization' in match and match['organization'] is not None and not isinstance(match['organization'], str):
        raise ValueError('fault match "organization" must be a string or null')
    times = spec.get('times', 1)
    if not isinstance(times, int) or isinstance(times, bool) or times == 0 or times < -1:
        raise ValueError('fault "times" must be a positive integer or -1 (forever)')
    status = spec.get('status')
    if status is not None and (not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599):
        raise ValueError('fault "status" must be an integer from 200 to 599')
    body = spec.get('body')
    if body is not None and body not in FAULT_BODIES:
        raise ValueError('fault "body" must be one of %s' % ', '.join(FAULT_BODIES))
    if body == 'payload' and 'payload' not in spec:
        raise ValueError('fault body "payload" needs a "payload" field')
    if body == 'raw' and 'raw' not in spec:
        raise ValueError('fault body "raw" needs a "raw" field')
    if 'raw' in spec and not isinstance(spec['raw'], str):
        raise ValueError('fault "raw" must be a string')
    latency = spec.get('latency', 0.0)
    if not _is_number(latency) or latency < 0:
        raise ValueError('fault "latency" must be a number of seconds >= 0')
    retry_after = spec.get('retry_after')
    if _is_number(retry_after):
        retry_after = str(retry_after)
    if retry_after is not None and (not isinstance(retry_after, str) or re.search(r'[\x00-\x1f\x7f]', retry_after)):
        raise ValueError('fault "retry_after" must be a string without control characters')
    drop = spec.get('drop', False)
    if not isinstance(drop, bool):
        raise ValueError('fault "drop" must be a boolean')

    trickle = spec.get('trickle')
    if trickle is not None and trickle not in TRICKLE_MODES:
        raise ValueError('fault "trickle" must be one of %s' % ', '.join(TRICKLE_MODES))

    if not drop and body is None:
        if 'payload' in spec:
            body = 'payload'
        elif 'raw' in spec:
            body = 'raw'
        elif status is not None:
            body = 'error' if status >= 400 else 'empty'
    if not drop and body is not None and status is None:
        status = {'error': 500, 'html': 502}.get(body, 200)
    fault = {
        'match': dict(match),
        'times': times,
        'status': None if drop else status,
        'body': None if drop else body,
        'retry_after': retry_after,
        'latency': float(latency),
        'drop': drop,
    }
    if 'payload' in spec:
        fault['payload'] = copy.deepcopy(spec['payload'])
    if 'raw' in spec:
        fault['raw'] = spec['raw']
    if trickle is not None:
        fault['trickle'] = trickle
    return fault


def fault_matches(fault, version, endpoint, organization):
    """Whether a normalized fault applies to a request."""
    match = fault['match']
    if 'endpoint' in match and match['endpoint'] != endpoint:
        return False
    if 'version' in match and match['version'] != version:
        return False
    if 'organization' in match and match['organization'] != organization:
        return False
    return True


def account_document(fixture, account_id):
    """The body of ``GET /user/account`` for an account of a fixture (the unit tests' canned account too)."""
    account = fixture['accounts'][account_id]
    document = {'id': account_id, 'email': account['email']}
    if account.get('profile_picture') is not None:
        document['profile_picture'] = account['profile_picture']
    document['organizations'] = [
        {'id': membership['id'], 'name': fixture['organizations'][membership['id']]['name'],
         'role': membership['role'], 'is_default': membership['is_default']}
        for membership in account['organizations']
    ]
    return document


def error_name(status):
    """The vendor-style error name for an HTTP status, e.g. 503 -> service_unavailable."""
    if status in ERROR_NAMES:
        return ERROR_NAMES[status]
    try:
        return HTTPStatus(status).phrase.lower().replace(' ', '_').replace('-', '_')
    except ValueError:
        return 'error'


def error_body(version, status, message, name=None):
    """An error body in the shape of the version: v1 ``{id, name, message}``, v1alpha (goa) adds fault/temporary/timeout."""
    body = {'id': uuid.uuid4().hex, 'name': name or error_name(status), 'message': message}
    if version == 'v1alpha':
        server_side = status >= 500
        body.update(fault=server_side, temporary=server_side, timeout=status == 504)
    return body


def _format_seconds(value):
    return '%d' % value if float(value).is_integer() else '%g' % value


def rate_limit_body(limit, window, lockout):
    """The newer error shape the vendor's rate limiter answers with."""
    message = 'You have exceeded the rate limit of %d requests within a %s second period, and have been timed out for %s seconds.' % (
        limit, _format_seconds(window), _format_seconds(lockout))
    return {'id': uuid.uuid4().hex, 'name': 'rate_limit_exceeded', 'errors': [message]}


def html_page(status):
    """A gateway-style HTML error page."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = 'Error'
    return ('<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n'
            '<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n' % (status, phrase, status, phrase))


def parse_rate_limit(value):
    """Turn ``"150/10"``, ``(150, 10)``, ``0`` or None into ``(limit, window)`` or None (no limit)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text == '0':
            return None
        found = re.match(r'^(\d+)\s*/\s*(\d+(?:\.\d*)?|\.\d+)\s*s?$', text)
        if not found:
            raise ValueError('rate limit must look like N/S (e.g. 150/10) or 0, not %r' % value)
        value = (int(found.group(1)), float(found.group(2)))
    if _is_number(value) and value == 0:
        return None
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(_is_number(item) for item in value):
        raise ValueError('rate limit must be (requests, seconds), "N/S" or 0')
    limit, window = int(value[0]), float(value[1])
    if limit < 0 or window <= 0:
        raise ValueError('rate limit needs requests >= 0 and seconds > 0')
    return None if limit == 0 else (limit, window)


def loopback_address(host):
    """Return (address, family) to bind for a loopback host, or raise ValueError for anything else."""
    text = (host or '').strip()
    if text.startswith('[') and text.endswith(']'):
        text = text[1:-1]
    if text.lower() == 'localhost':
        return '127.0.0.1', socket.AF_INET
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        address = None
    if isinstance(address, ipaddress.IPv4Address) and address in ipaddress.ip_network('127.0.0.0/8'):
        return str(address), socket.AF_INET
    if isinstance(address, ipaddress.IPv6Address) and address == ipaddress.IPv6Address('::1'):
        return '::1', socket.AF_INET6
    raise ValueError('refusing to listen on %r: the simulator binds only to loopback (127.x.x.x, localhost or ::1)' % host)


def _write_atomically(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    handle, temp_path = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(handle, 'w', encoding='utf-8') as stream:
            stream.write(text)
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        raise


# ---------------------------------------------------------------------------------------------
# HTTP layer
# ---------------------------------------------------------------------------------------------

class _Dropped(Exception):
    """The handler closed the connection on purpose."""


class _SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, family, simulator, ssl_context=None):
        self.address_family = family
        self.simulator = simulator
        self.ssl_context = ssl_context
        self.connections = set()
        self.connections_lock = threading.Lock()
        ThreadingHTTPServer.__init__(self, address, _Handler)

    def server_bind(self):
        # HTTPServer.server_bind would resolve the host name (getfqdn): a DNS look-up nobody needs here.
        socketserver.TCPServer.server_bind(self)
        self.server_name = self.server_address[0]
        self.server_port = self.server_address[1]

    def finish_request(self, request, client_address):
        if self.ssl_context is None:
            self.RequestHandlerClass(request, client_address, self)
            return
        try:
            request.settimeout(10.0)
            request = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.simulator.debug('TLS handshake with %s failed: %s' % (client_address[0], exc))
            request.close()
            return
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            try:
                request.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        self.simulator.debug('error while serving %s: %s' % (client_address[0], sys.exc_info()[1]))

    def close_connections(self):
        with self.connections_lock:
            connections = list(self.connections)
            self.connections.clear()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'StabilityAPISimulator/1.0'
    timeout = 30.0
    # TCP_NODELAY: the headers and the body go out in two writes; with Nagle's algorithm the body of
    # every answer after the first on a keep-alive connection waited ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    _entry = None
    _recorded = False
    _after_response = None

    def setup(self):
        BaseHTTPRequestHandler.setup(self)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self):
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            BaseHTTPRequestHandler.finish(self)
        except OSError:
            pass

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        self.server.simulator.debug('%s - %s' % (self.address_string(), format % args))

    def __getattr__(self, name):
        """Every ``do_<METHOD>`` is ``_dispatch``, for any method at all.

        ``BaseHTTPRequestHandler`` answers a method without a ``do_`` handler (TRACE, or a made-up
        one) with its own HTML 501 page and never logs it; here each method is logged and gets the
        vendor's JSON error body like any other request.
        """
        if name.startswith('do_'):
            return self._dispatch
        raise AttributeError(name)

    # -- plumbing ------------------------------------------------------------------------------

    def _dispatch(self):
        simulator = self.server.simulator
        target = self.path
        route = target.split('?', 1)[0]
        control = route == '/_sim' or route.startswith('/_sim/')
        self._after_response = None
        self._recorded = False
        self._entry = {
            'time': time.time(),
            'method': self.command,
            'path': target,
            'version': None,
            'endpoint': None,
            'organization': self.headers.get('Organization'),
            'authorization': simulator.describe_authorization(self.headers.get('Authorization')),
            'headers': self._logged_headers(),
            'status': 0,
            'control': control,
        }
        try:
            body = self._read_body()
            if body is not None:
                if control:
                    self._handle_control(route, body)
                else:
                    self._handle_api(route)
        except _Dropped:
            self.close_connection = True
        except (OSError, ssl.SSLError) as exc:
            simulator.debug('connection lost while answering %s %s: %s' % (self.command, target, exc))
            self.close_connection = True
        finally:
            self._record(self._entry['status'])
        if self._after_response is not None:
            self._after_response()

    def _record(self, status):
        """Log the request once, before the answer leaves, so that a client never sees an answer before its log entry."""
        if not self._recorded:
            self._recorded = True
            self._entry['status'] = status
            self.server.simulator.record(self._entry)

    def _logged_headers(self):
        logged = {}
        for name, value in self.headers.items():
            if name.lower() in ('authorization', 'proxy-authorization'):
                continue
            logged[name] = '%s, %s' % (logged[name], value) if name in logged else value
        return logged

    def _read_body(self):
        if self.headers.get('Transfer-Encoding'):
            self.close_connection = True
            self._send_json(411, error_body(None, 411, 'send a Content-Length, not a Transfer-Encoding'))
            return None
        try:
            length = int(self.headers.get('Content-Length') or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_REQUEST_BODY:
            self.close_connection = True
            self._send_json(413 if length > 0 else 400, error_body(None, 413 if length > 0 else 400, 'request body too large or malformed'))
            return None
        return self.rfile.read(length) if length else b''

    def _send(self, status, payload, content_type='application/json', headers=None):
        self.send_response(status)
        if content_type:
            self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(payload)))
        for name, value in headers or ():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header('Connection', 'close')
        self._record(status)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(payload)

    def _send_json(self, status, document, headers=None):
        self._send(status, json.dumps(document).encode('utf-8'), headers=headers)

    def _drop(self):
        self.close_connection = True
        self._record(0)
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise _Dropped()

    # -- the API -------------------------------------------------------------------------------

    def _handle_api(self, route):
        simulator = self.server.simulator
        found = re.match(r'^/(v1alpha|v1)(/.*)?$', route)
        version = found.group(1) if found else None
        endpoint = ENDPOINTS.get(found.group(2)) if found else None
        organization = self.headers.get('Organization')
        self._entry.update(version=version, endpoint=endpoint)

        simulator.pause(simulator.latency)
        extra_headers = []
        fault = simulator.take_fault(version, endpoint, organization)
        if fault is not None:
            simulator.pause(fault['latency'])
            if fault['retry_after'] is not None:
                extra_headers.append(('Retry-After', fault['retry_after']))
            if fault['drop']:
                self._drop()
            if fault.get('trickle'):
                self._trickle(fault['trickle'])
                return
            if fault['body'] is not None:
                self._answer_fault(fault, version, extra_headers)
                return

        if endpoint is None:
            self._send_json(404, error_body(version, 404, 'no route for %s %s' % (self.command, route)), extra_headers)
            return
        if self.command != 'GET':
            extra_headers.append(('Allow', 'GET'))
            message = 'method %s is not allowed on %s; use GET' % (self.command, route)
            self._send_json(405, error_body(version, 405, message), extra_headers)
            return

        account_id, problem = simulator.authenticate(self.headers.get('Authorization'), version)
        if account_id is None:
            self._send_json(401, error_body(version, 401, problem), extra_headers)
            return
        if simulator.rate_limited(account_id):
            self._send_json(429, simulator.rate_limit_body(), extra_headers)
            return
        if endpoint == 'account':
            self._send_json(200, simulator.account_document(account_id), extra_headers)
            return
        status, document = simulator.balance_document(account_id, organization)
        if status != 200:
            document = error_body(version, status, document)
        self._send_json(status, document, extra_headers)

    def _trickle(self, mode):
        """Answer 200 one piece every TRICKLE_INTERVAL s (see TRICKLE_MODES) until the client hangs up."""
        self.close_connection = True
        self._record(200)
        head = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n'
        body = b'{"credits": 1' + b' ' * 4096 + b'}'
        pieces = {
            'headers': (head + b'X-Trickle: ', [b'a'] * 100000),
            'body': (head + b'Content-Length: %d\r\n\r\n' % len(body), [body[i:i + 1] for i in range(len(body))]),
            'chunk': (head + b'Transfer-Encoding: chunked\r\n\r\n%x\r\n' % len(body), [body[i:i + 1] for i in range(len(body))]),
            'chunks': (head + b'Transfer-Encoding: chunked\r\n\r\n', [b'1\r\n \r\n'] * 100000),
        }
        head, pieces = pieces[mode]
        stop = time.monotonic() + TRICKLE_LIMIT
        try:
            self.wfile.write(head)
            for piece in pieces:
                if time.monotonic() > stop or self.server.simulator.stopped:
                    break
                self.server.simulator.pause(TRICKLE_INTERVAL)
                self.wfile.write(piece)
        except OSError:
            pass

    def _answer_fault(self, fault, version, headers):
        status, kind = fault['status'], fault['body']
        if kind == 'error':
            if status == 429:
                self._send_json(status, self.server.simulator.rate_limit_body(), headers)
            else:
                self._send_json(status, error_body(version, status, ERROR_MESSAGES.get(status, error_name(status).replace('_', ' '))), headers)
        elif kind == 'html':
            self._send(status, html_page(status).encode('utf-8'), 'text/html', headers)
        elif kind == 'empty':
            self._send(status, b'', headers=headers)
        elif kind == 'notjson':
            self._send(status, b'{"credits": 12.5, "this is not": JSON at all', headers=headers)
        elif kind == 'huge':
            self._send(status, self.server.simulator.huge_body(), headers=headers)
        elif kind == 'raw':
            self._send(status, fault['raw'].encode('utf-8'), headers=headers)
        else:
            self._send_json(status, fault.get('payload'), headers)

    # -- the control API -----------------------------------------------------------------------

    def _handle_control(self, route, body):
        simulator = self.server.simulator
        routes = {
            ('GET', '/_sim/health'): lambda data: {'ok': True},
            ('GET', '/_sim/requests'): lambda data: simulator.requests(),
            ('DELETE', '/_sim/requests'): lambda data: simulator.clear_requests() or {'ok': True},
            ('GET', '/_sim/faults'): lambda data: simulator.faults(),
            ('POST', '/_sim/faults'): lambda data: simulator.add_faults(data) or simulator.faults(),
            ('DELETE', '/_sim/faults'): lambda data: simulator.clear_faults() or {'ok': True},
            ('POST', '/_sim/credits'): self._control_credits,
            ('POST', '/_sim/spend'): self._control_spend,
            ('POST', '/_sim/shutdown'): self._control_shutdown,
        }
        action = routes.get((self.command, route))
        if action is None:
            if any(path == route for _method, path in routes):
                allowed = ', '.join(sorted(method for method, path in routes if path == route))
                self._send_json(405, error_body(None, 405, 'use %s on %s' % (allowed, route)), [('Allow', allowed)])
            else:
                self._send_json(404, error_body(None, 404, 'no control route %s %s' % (self.command, route)))
            return
        data = None
        if self.command == 'POST':
            try:
                data = json.loads(body.decode('utf-8')) if body else None
            except ValueError as exc:
                self._send_json(400, error_body(None, 400, 'request body is not JSON: %s' % exc))
                return
        try:
            result = action(data)
        except KeyError as exc:
            self._send_json(404, error_body(None, 404, str(exc.args[0]) if exc.args else 'not found'))
            return
        except ValueError as exc:
            self._send_json(400, error_body(None, 400, str(exc)))
            return
        self._send_json(200, result)

    def _control_credits(self, data):
        return self._control_balance(data, self.server.simulator.set_credits)

    def _control_spend(self, data):
        return self._control_balance(data, self.server.simulator.spend_credits)

    @staticmethod
    def _control_balance(data, change):
        """Apply ``change`` (set_credits or spend_credits) to ``{"organization": ..., "credits": ...}``; the new balance."""
        if not isinstance(data, dict):
            raise ValueError('send {"organization": "org-x", "credits": 1.5}')
        balance = change(data.get('organization'), data.get('credits'))
        return {'organization': data['organization'], 'credits': balance}

    def _control_shutdown(self, _data):
        self.close_connection = True
        self._after_response = lambda: threading.Thread(target=self.server.simulator.stop, daemon=True).start()
        return {'ok': True}


# ---------------------------------------------------------------------------------------------
# The simulator
# ---------------------------------------------------------------------------------------------

class StabilitySimulator:
    """A Stability API simulator serving from a background thread.

    ``fixture`` is a path, a dict or None (the default fixture); ``latency`` is added to every API
    request; ``rate_limit`` is ``(requests, seconds)`` per account, or None / 0 to turn it off;
    ``lockout`` is how long an account that crossed it gets 429; ``tls_cert`` / ``tls_key`` make it
    serve HTTPS (the key may sit in the certificate file); ``lifetime`` stops it after that many
    seconds. ``host`` must be a loopback address.
    """

    def __init__(self, fixture=None, latency=0.0, rate_limit=DEFAULT_RATE_LIMIT, lockout=DEFAULT_LOCKOUT,
                 tls_cert=None, tls_key=None, host='127.0.0.1', port=0, lifetime=None, verbose=False, log_stream=None):
        self.fixture = load_fixture(fixture)
        if not _is_number(latency) or latency < 0:
            raise ValueError('latency must be a number of seconds >= 0')
        if not _is_number(lockout) or lockout < 0:
            raise ValueError('lockout must be a number of seconds >= 0')
        if tls_key is not None and tls_cert is None:
            raise ValueError('tls_key needs tls_cert')
        self.latency = float(latency)
        self.rate_limit = parse_rate_limit(rate_limit)
        self.lockout = float(lockout)
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.bind_address, self.family = loopback_address(host)
        self.requested_port = int(port)
        self.lifetime = lifetime
        self.verbose = verbose
        self.log_stream = log_stream
        self._lock = threading.Lock()
        self._log = collections.deque(maxlen=MAX_LOG_ENTRIES)
        self._faults = []
        self._calls = {}
        self._locked_until = {}
        self._huge = None
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._lifecycle = threading.Lock()
        self._httpd = None
        self._thread = None
        self._timer = None

    # -- lifecycle -----------------------------------------------------------------------------

    def bind(self):
        """Create the listening socket (and the TLS context) without serving yet."""
        if self._httpd is None:
            context = None
            if self.tls_cert:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(self.tls_cert, self.tls_key)
            self._httpd = _SimulatorHTTPServer((self.bind_address, self.requested_port), self.family, self, context)
        return self

    def start(self):
        """Bind and serve from a daemon thread; returns self."""
        with self._lifecycle:
            if self._thread is not None:
                return self
            self.bind()
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={'poll_interval': POLL_INTERVAL},
                                            name='stability-simulator', daemon=True)
            self._thread.start()
            if self.lifetime:
                self._timer = threading.Timer(float(self.lifetime), self.stop)
                self._timer.daemon = True
                self._timer.start()
        return self

    def stop(self):
        """Stop serving, close open connections and release the port. Safe to call twice."""
        with self._lifecycle:
            if self._httpd is None or self._stopped.is_set():
                self._stopped.set()
                return
            self._stopping.set()
            if self._timer is not None and self._timer is not threading.current_thread():
                self._timer.cancel()
            if self._thread is not None:
                self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd.close_connections()
            if self._thread is not None and self._thread is not threading.current_thread():
                self._thread.join(5.0)
            self._stopped.set()

    def wait(self, timeout=None):
        """Wait until the simulator stopped; returns whether it did."""
        return self._stopped.wait(timeout)

    @property
    def stopped(self):
        return self._stopped.is_set()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def port(self):
        if self._httpd is None:
            raise RuntimeError('the simulator is not started')
        return self._httpd.server_address[1]

    @property
    def scheme(self):
        return 'https' if self.tls_cert else 'http'

    @property
    def url(self):
        host = '[%s]' % self.bind_address if self.family == socket.AF_INET6 else self.bind_address
        return '%s://%s:%d' % (self.scheme, host, self.port)

    def debug(self, message):
        if self.verbose:
            stream = self.log_stream or sys.stderr
            stream.write('[stability-simulator] %s\n' % message)
            stream.flush()

    def pause(self, seconds):
        """Sleep, but wake up at once when the simulator stops."""
        if seconds > 0:
            self._stopping.wait(seconds)

    # -- request log ---------------------------------------------------------------------------

    def record(self, entry):
        with self._lock:
            self._log.append(entry)

    def requests(self, include_control=False):
        """A copy of the request log (API requests only unless include_control)."""
        with self._lock:
            entries = [copy.deepcopy(entry) for entry in self._log if include_control or not entry['control']]
        for entry in entries:
            entry.pop('control', None)
        return entries

    def clear_requests(self):
        """Forget the request log and the rate-limit state."""
        with self._lock:
            self._log.clear()
            self._calls.clear()
            self._locked_until.clear()

    # -- faults --------------------------------------------------------------------------------

    def add_faults(self, faults):
        """Append fault specs (a list, or one spec) to the queue; all are checked before any is added."""
        if isinstance(faults, dict):
            faults = [faults]
        if not isinstance(faults, list):
            raise ValueError('faults must be a list of fault objects')
        normalized = [normalize_fault(spec) for spec in faults]
        with self._lock:
            self._faults.extend(normalized)

    def clear_faults(self):
        with self._lock:
            del self._faults[:]

    def faults(self):
        """The faults still queued, with their remaining ``times``."""
        with self._lock:
            return copy.deepcopy(self._faults)

    def take_fault(self, version, endpoint, organization):
        """The first queued fault that matches, with its count used up by one; or None."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault_matches(fault, version, endpoint, organization):
                    if fault['times'] > 0:
                        fault['times'] -= 1
                        if fault['times'] == 0:
                            del self._faults[index]
                    return copy.deepcopy(fault)
        return None

    def huge_body(self):
        if self._huge is None:
            self._huge = json.dumps({'credits': 1.0, 'padding': 'x' * HUGE_BODY_PADDING}).encode('utf-8')
        return self._huge

    # -- accounts and balances -----------------------------------------------------------------

    def _account_for(self, key):
        with self._lock:
            return self.fixture['keys'].get(key)

    def describe_authorization(self, header):
        """How a request authenticated, for the log: never the key itself."""
        scheme, key = self._split_authorization(header)
        if scheme is None:
            return 'missing'
        return '%s:%s' % (scheme, self._account_for(key) or 'unknown')

    @staticmethod
    def _split_authorization(header):
        value = (header or '').strip()
        if not value:
            return None, None
        if value[:7].lower() == 'bearer ' or value.lower() == 'bearer':
            return 'bearer', value[7:].strip()
        return 'bare', value

    def authenticate(self, header, version):
        """Return (account id, None) or (None, the 401 message)."""
        scheme, key = self._split_authorization(header)
        if scheme is None:
            return None, 'missing authorization header'
        account_id = self._account_for(key)
        if account_id is None or (scheme == 'bare' and version != 'v1alpha'):
            return None, ERROR_MESSAGES[401]
        return account_id, None

    def rate_limited(self, account_id):
        """Count a request of the account; True when it is over the limit or locked out."""
        if self.rate_limit is None:
            return False
        limit, window = self.rate_limit
        now = time.monotonic()
        with self._lock:
            if self._locked_until.get(account_id, 0.0) > now:
                return True
            calls = self._calls.setdefault(account_id, collections.deque())
            while calls and calls[0] <= now - window:
                calls.popleft()
            if len(calls) >= limit:
                calls.clear()
                self._locked_until[account_id] = now + self.lockout
                return True
            calls.append(now)
            return False

    def rate_limit_body(self):
        limit, window = self.rate_limit or DEFAULT_RATE_LIMIT
        return rate_limit_body(limit, window, self.lockout)

    def account_document(self, account_id):
        with self._lock:
            return account_document(self.fixture, account_id)

    def balance_document(self, account_id, organization):
        """Return (200, {"credits": float}) or (403, message)."""
        with self._lock:
            memberships = self.fixture['accounts'][account_id]['organizations']
            if organization is None:
                defaults = [membership for membership in memberships if membership['is_default']] or memberships[:1]
                if not defaults:
                    return 403, 'account %s does not belong to any organization' % account_id
                org_id = defaults[0]['id']
            else:
                org_id = organization
                if not any(membership['id'] == org_id for membership in memberships):
                    return 403, 'account %s does not have access to organization %s' % (account_id, org_id)
            return 200, {'credits': float(self.fixture['organizations'][org_id]['credits'])}

    def set_credits(self, organization, credits):  # pylint: disable=redefined-builtin
        """Set the balance of a known organization; returns it."""
        return self._change_credits(organization, credits, lambda balance: float(credits))

    def spend_credits(self, organization, credits):  # pylint: disable=redefined-builtin
        """Take ``credits`` from the balance of a known organization; returns the new balance."""
        return self._change_credits(organization, credits, lambda balance: balance - float(credits))

    def _change_credits(self, organization, credits, change):  # pylint: disable=redefined-builtin
        """Replace the balance of a known organization by ``change(balance)`` under the lock, and return it.

        ValueError when ``credits`` is not a number, KeyError when the organization is unknown.
        """
        if not _is_number(credits):
            raise ValueError('credits must be a number')
        with self._lock:
            if organization not in self.fixture['organizations']:
                raise KeyError('unknown organization %s' % (organization,))
            entry = self.fixture['organizations'][organization]
            entry['credits'] = change(float(entry['credits']))
            return entry['credits']


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

def _help_epilog():
    """The fixture's keys, so that a user can send a first request, and where the control API is documented."""
    try:
        keys = sorted(load_fixture()['keys'].items())
    except (OSError, ValueError, KeyError):
        keys = []
    lines = ['API keys of the default fixture (all fake), and their accounts:']
    lines += ['  %s  %s' % (key, account) for key, account in keys]
    lines += [
        '',
        'A fixture (--fixture) is JSON: {"keys": {API key: account id}, "accounts": {account id: {"email",',
        '"profile_picture" (optional), "organizations": [{"id", "role", "is_default"}]}}, "organizations":',
        '{organization id: {"name", "credits"}}}.',
        '',
        'The control API under /_sim/ (faults, balances, request log, shutdown) and the fixture format are',
        'documented on the "Stability API simulator" page of the collection docs',
        '(docs/docsite/rst/simulator.rst in the collection).',
    ]
    return '\n'.join(lines)


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='stability_simulator.py',
        description='Stability AI API simulator (user account and balance endpoints) on loopback.',
        epilog=_help_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--host', default='127.0.0.1', help='loopback address to bind: 127.x.x.x, localhost or ::1 (default: %(default)s)')
    parser.add_argument('--port', type=int, default=0, help='port to bind; 0 lets the kernel pick one (default: %(default)s)')
    parser.add_argument('--fixture', default=DEFAULT_FIXTURE, help='JSON fixture of keys, accounts and organizations (default: %(default)s)')
    parser.add_argument('--latency', type=float, default=0.0, help='seconds added before answering every API request (default: %(default)s)')
    parser.add_argument('--rate-limit', default='%d/%d' % DEFAULT_RATE_LIMIT,
                        help='N/S: N requests per S seconds per account; 0 disables (default: %(default)s)')
    parser.add_argument('--lockout', type=float, default=DEFAULT_LOCKOUT, help='seconds an account gets 429 once over the limit (default: %(default)s)')
    parser.add_argument('--lifetime', type=float, default=DEFAULT_LIFETIME, help='stop after this many seconds; 0 runs until stopped (default: %(default)s)')
    parser.add_argument('--port-file', help='write the port here once listening')
    parser.add_argument('--pid-file', help='write the process id here once listening')
    parser.add_argument('--tls-cert', help='PEM certificate (chain) to serve HTTPS')
    parser.add_argument('--tls-key', help='PEM private key, if not in --tls-cert')
    parser.add_argument('--daemon', action='store_true', help='detach, and return once the server listens')
    parser.add_argument('--log-file', help='where diagnostics go (in --daemon mode also stdout and stderr)')
    parser.add_argument('--verbose', action='store_true', help='log every request')
    args = parser.parse_args(argv)
    try:
        args.rate_limit = parse_rate_limit(args.rate_limit)
        loopback_address(args.host)
    except ValueError as exc:
        parser.error(str(exc))
    if args.lifetime < 0 or args.latency < 0 or args.lockout < 0:
        parser.error('--lifetime, --latency and --lockout must be >= 0')
    if args.tls_key and not args.tls_cert:
        parser.error('--tls-key needs --tls-cert')
    for name in ('fixture', 'port_file', 'pid_file', 'tls_cert', 'tls_key', 'log_file'):
        if getattr(args, name):
            setattr(args, name, os.path.abspath(getattr(args, name)))
    return args


def _announce(simulator, pid):
    return 'Stability API simulator listening on %s (pid %d)' % (simulator.url, pid)


def _serve(simulator, args, notify=None):
    """Serve until stopped, SIGTERM/SIGINT, or the lifetime ends; then clean up. Returns the exit code."""
    flags = {'stop': False}

    def request_stop(_signum, _frame):
        flags['stop'] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    pid = os.getpid()
    deadline = time.monotonic() + args.lifetime if args.lifetime else None
    try:
        simulator.start()
        if args.pid_file:
            _write_atomically(args.pid_file, '%d\n' % pid)
        if args.port_file:
            _write_atomically(args.port_file, '%d\n' % simulator.port)
        print(_announce(simulator, pid))
        sys.stdout.flush()
        if notify is not None:
            notify('ready %d %d\n' % (pid, simulator.port))
        while not flags['stop'] and not simulator.stopped and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.1)
    finally:
        simulator.stop()
        for path, content in ((args.port_file, '%d\n' % simulator.port), (args.pid_file, '%d\n' % pid)):
            try:
                with open(path, 'r', encoding='utf-8') as handle:
                    if handle.read() == content:
                        os.unlink(path)
            except (OSError, TypeError):
                pass
    return 0


def _redirect_stdio(log_file):
    devnull = os.open(os.devnull, os.O_RDWR)
    output = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600) if log_file else devnull
    os.dup2(devnull, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)


def _daemonize(simulator, args):
    """Double-fork; the original process returns an exit code once the server listens (or failed)."""
    read_end, write_end = os.pipe()
    first = os.fork()
    if first:
        os.close(write_end)
        simulator.stop()  # closes this process's copy of the listening socket; the daemon keeps its own
        os.waitpid(first, 0)
        return _await_daemon(simulator, read_end)
    os.close(read_end)
    code = 1
    pipe = {'open': True}

    def notify(message):
        if pipe['open']:
            pipe['open'] = False
            try:
                os.write(write_end, message.encode('utf-8'))
            finally:
                os.close(write_end)

    try:
        os.setsid()
        if os.fork():
            os._exit(0)  # pylint: disable=protected-access
        os.chdir('/')
        _redirect_stdio(args.log_file)
        if args.log_file:
            simulator.log_stream = sys.stderr
        code = _serve(simulator, args, notify)
    except BaseException as exc:  # pylint: disable=broad-exception-caught
        try:
            notify('error %s\n' % exc)
        except OSError:
            pass
    os._exit(code)  # pylint: disable=protected-access


def _await_daemon(simulator, read_end):
    deadline = time.monotonic() + 10.0
    received = b''
    while time.monotonic() < deadline and not received.endswith(b'\n'):
        ready, _unused, _unused2 = select.select([read_end], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(read_end, 4096)
        if not chunk:
            break
        received += chunk
    os.close(read_end)
    message = received.decode('utf-8', 'replace').strip()
    if message.startswith('ready '):
        print(_announce(simulator, int(message.split()[1])))
        return 0
    reason = message[len('error '):] if message.startswith('error ') else 'it did not report back within 10 seconds'
    sys.stderr.write('stability_simulator.py: error: the simulator did not start: %s\n' % reason)
    return 1


def main(argv=None):
    args = _parse_args(argv)
    log_stream = None
    if args.log_file and not args.daemon:
        log_stream = open(args.log_file, 'a', encoding='utf-8')  # pylint: disable=consider-using-with
    try:
        simulator = StabilitySimulator(
            fixture=args.fixture, latency=args.latency, rate_limit=args.rate_limit, lockout=args.lockout,
            tls_cert=args.tls_cert, tls_key=args.tls_key, host=args.host, port=args.port,
            verbose=args.verbose, log_stream=log_stream)
        simulator.bind()
    except (ValueError, OSError, ssl.SSLError) as exc:
        sys.stderr.write('stability_simulator.py: error: %s\n' % exc)
        return 2
    if args.daemon:
        if args.port_file and os.path.exists(args.port_file):
            os.unlink(args.port_file)
        return _daemonize(simulator, args)
    try:
        return _serve(simulator, args)
    except OSError as exc:
        sys.stderr.write('stability_simulator.py: error: %s\n' % exc)
        return 1
    finally:
        if log_stream is not None:
            log_stream.close()


if __name__ == '__main__':
    sys.exit(main())
