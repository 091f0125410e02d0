# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The client against real loopback sockets (a server that trickles its answer, proxies), its deadline timer, and its network wording.

Most of these need a socket, not the fake transport: what is specified here happens below requests'
adapter (a time-out that must cut a read in progress, a connection that must not go to a proxy).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import calendar
import socket
import threading
import time
import warnings

import pytest
import requests
import urllib3.util.connection
from urllib3.exceptions import InsecureRequestWarning

from ansible_collections.stabilityai.platform.plugins.module_utils import _client
from ansible_collections.stabilityai.platform.plugins.module_utils import _failures
from ansible_collections.stabilityai.platform.plugins.module_utils._client import StabilityClient
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityConnectionError
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import ConnectionSettings, max_total_seconds

KEY = 'sk-unit-test-0123456789abcdef'
BODY = b'{"credits": 1' + b' ' * 4096 + b'}'
HEAD = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
ANSWER = HEAD + b'Content-Length: 16\r\n\r\n{"credits": 2.5}'
# What a trickling server sends first, and then a byte (or a tiny chunk) every TRICKLE_EVERY seconds.
TRICKLES = {
    'headers': (HEAD + b'X-Slow: ', b'a'),
    'body': (HEAD + b'Content-Length: %d\r\n\r\n' % len(BODY), b' '),
    'body until close': (HEAD + b'Connection: close\r\n\r\n{"credits": 1', b' '),
    'one big chunk': (HEAD + b'Transfer-Encoding: chunked\r\n\r\n100000\r\n', b' '),
    'endless chunks': (HEAD + b'Transfer-Encoding: chunked\r\n\r\n', b'1\r\n \r\n'),
}
TRICKLE_EVERY = 0.1
# A trickle that ends: a client that fails to cut it fails its test in seconds, not in SERVER_LIFETIME.
SHORT_TRICKLE = 2.0
SERVER_LIFETIME = 20.0


class LoopbackServer(object):
    """Accepts connections on 127.0.0.1 and hands each to ``handle(connection, request_bytes)``; stops by itself."""

    def __init__(self, handle):
        self.handle = handle
        self.connections = 0
        self._listener = socket.socket()
        self._listener.bind(('127.0.0.1', 0))
        self._listener.listen(8)
        self._listener.settimeout(0.2)
        self._stop = time.monotonic() + SERVER_LIFETIME
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while time.monotonic() < self._stop:
            try:
                connection, dummy = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(connection,), daemon=True).start()

    def _one(self, connection):
        with connection:
            connection.settimeout(5)
            try:
                self.handle(connection, connection.recv(65536))
            except OSError:
                pass

    def stop(self):
        self._stop = 0
        self._listener.close()


@pytest.fixture
def loopback_server():
    servers = []

    def start(handle):
        servers.append(LoopbackServer(handle))
        return servers[-1]
    yield start
    for server in servers:
        server.stop()


def trickle(first, piece, lasting=SERVER_LIFETIME):
    def handle(connection, dummy):
        connection.sendall(first)
        stop = time.monotonic() + lasting
        while time.monotonic() < stop:
            time.sleep(TRICKLE_EVERY)
            connection.sendall(piece)
    return handle


def keep_alive(connection, request):
    while request:
        connection.sendall(ANSWER)
        request = connection.recv(65536)


def timed_fetch(port=None, api_url=None, answered_first=False, **options):
    """Seconds a failing fetch_balance took and its message; ``answered_first``: after one that succeeds on the same client."""
    settings = ConnectionSettings(KEY, api_url=api_url or 'http://127.0.0.1:%d' % port, **options)
    with StabilityClient(settings) as client:
        if answered_first:
            assert client.fetch_balance() == 2.5
        started = time.monotonic()
        with pytest.raises(StabilityConnectionError) as caught:
            client.fetch_balance()
        return time.monotonic() - started, caught.value.msg


def use_proxy(monkeypatch, port):
    """Every proxy variable names the loopback proxy on ``port``; nothing is exempt."""
    for name in ('HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy'):
        monkeypatch.setenv(name, 'http://127.0.0.1:%d' % port)
    for name in ('NO_PROXY', 'no_proxy'):
        monkeypatch.delenv(name, raising=False)


def wait_for(condition, within=1.0):
    stop = time.monotonic() + within
    while not condition() and time.monotonic() < stop:
        time.sleep(0.01)
    return condition()


class TestDeadline:
    """``timeout`` bounds each attempt by the wall clock, however the server sends."""

    @pytest.mark.parametrize('mode', sorted(TRICKLES))
    def test_a_trickled_answer_is_cut_at_the_timeout(self, loopback_server, mode):
        server = loopback_server(trickle(*TRICKLES[mode]))
        elapsed, msg = timed_fetch(server.port, timeout=0.5, retries=0)
        assert 0.5 <= elapsed < 1.0
        assert msg.endswith('failed after 1 attempt: the answer took longer than timeout (0.5 s)')

    def test_every_attempt_is_cut_and_the_documented_total_holds(self, loopback_server, monkeypatch):
        monkeypatch.setattr('random.uniform', lambda low, high: high)
        server = loopback_server(trickle(*TRICKLES['headers']))
        elapsed, msg = timed_fetch(server.port, timeout=0.5, retries=2)
        assert server.connections == 3
        assert 'failed after 3 attempts: the answer took longer than timeout (0.5 s)' in msg
        # three cut attempts and back-offs of 0.5 and 1 s: far under the documented worst case
        assert 3 * 0.5 + 1.5 <= elapsed < 3 * 0.5 + 1.5 + 1.0 <= max_total_seconds(0.5, 2)

    def test_an_answer_within_the_timeout_is_read_whole(self, loopback_server):
        def slow_but_in_time(connection, dummy):
            connection.sendall(TRICKLES['body'][0])
            for index in range(len(BODY)):
                if index % 1024 == 0:
                    time.sleep(0.05)
                connection.sendall(BODY[index:index + 1])
        server = loopback_server(slow_but_in_time)
        settings = ConnectionSettings(KEY, api_url='http://127.0.0.1:%d' % server.port, timeout=2, retries=0)
        with StabilityClient(settings) as client:
            assert client.fetch_balance() == 1.0

    def test_each_attempts_timer_ends_with_the_attempt(self, loopback_server):
        server = loopback_server(keep_alive)

        def timers():
            return [thread for thread in threading.enumerate() if isinstance(thread, threading.Timer) and thread not in before]
        before = set(threading.enumerate())
        settings = ConnectionSettings(KEY, api_url='http://127.0.0.1:%d' % server.port, timeout=30, retries=0)
        with StabilityClient(settings) as client:
            assert [client.fetch_balance() for dummy in range(3)] == [2.5, 2.5, 2.5]
            assert wait_for(lambda: timers() == []), 'a timer outlives its attempt'
        assert server.connections == 1

    def test_an_ended_attempt_leaves_its_keep_alive_connection_alone(self, loopback_server):
        server = loopback_server(keep_alive)
        settings = ConnectionSettings(KEY, api_url='http://127.0.0.1:%d' % server.port, timeout=0.2, retries=0)
        with StabilityClient(settings) as client:
            assert client.fetch_balance() == 2.5
            time.sleep(0.35)  # past the deadline of that first attempt
            assert client.fetch_balance() == 2.5
        assert server.connections == 1

    def test_a_trickled_answer_on_a_reused_connection_is_cut_at_the_timeout(self, loopback_server):
        def answered_then_trickled(connection, request):
            connection.sendall(ANSWER)
            if connection.recv(65536):
                trickle(*TRICKLES['headers'], lasting=SHORT_TRICKLE)(connection, None)
        server = loopback_server(answered_then_trickled)
        elapsed, msg = timed_fetch(server.port, answered_first=True, timeout=0.5, retries=0)
        assert server.connections == 1
        assert 0.5 <= elapsed < 1.0
        assert msg.endswith('failed after 1 attempt: the answer took longer than timeout (0.5 s)')

    def test_a_proxy_that_trickles_its_tunnel_answer_is_cut_at_the_timeout(self, loopback_server, monkeypatch):
        proxy = loopback_server(trickle(b'HTTP/1.1 200 Connection established\r\nX-Slow: ', b'a', lasting=SHORT_TRICKLE))
        use_proxy(monkeypatch, proxy.port)
        elapsed, msg = timed_fetch(api_url='https://api.example.test', timeout=0.5, retries=0)
        assert 0.5 <= elapsed < 1.0
        assert msg == 'GET https://api.example.test/v1/user/balance failed after 1 attempt: the answer took longer than timeout (0.5 s)'

    def test_a_connection_made_after_the_deadline_sends_no_request(self, loopback_server, monkeypatch):
        requests_seen = []

        def answer(connection, request):
            requests_seen.append(request)
            connection.sendall(ANSWER)
        server = loopback_server(answer)
        create_connection = urllib3.util.connection.create_connection

        def slow_name_lookup(*args, **kwargs):  # no socket yet for the timer to cut when the deadline passes
            time.sleep(0.4)
            return create_connection(*args, **kwargs)
        monkeypatch.setattr(urllib3.util.connection, 'create_connection', slow_name_lookup)
        elapsed, msg = timed_fetch(server.port, timeout=0.3, retries=0)
        assert 0.4 <= elapsed < 1.0
        assert msg.endswith('failed after 1 attempt: the answer took longer than timeout (0.3 s)')
        assert wait_for(lambda: requests_seen) and requests_seen == [b'']


class TestDeadlineTimer:
    """The timer of one attempt, which shuts its socket down at the deadline."""

    @pytest.fixture
    def connection(self, loopback_server):
        """A stand-in for urllib3's connection: what the deadline reads of it is ``sock``."""
        server = loopback_server(keep_alive)
        sock = socket.create_connection(('127.0.0.1', server.port), timeout=2)
        yield type('Connection', (object,), {'sock': sock})()
        sock.close()

    def test_the_timer_thread_never_keeps_the_process_alive(self):
        with _client._Deadline(60) as deadline:
            assert deadline._timer.daemon and deadline._timer.is_alive()

    def test_the_deadline_cuts_the_socket_of_the_attempt(self, connection):
        with _client._Deadline(0.05) as deadline:
            deadline.watch(connection)
            assert connection.sock.recv(1) == b''  # shut down under the reader: the read ends at once
        assert deadline.expired

    def test_a_deadline_that_passes_before_the_attempt_connects_only_marks_it(self, monkeypatch):
        errors = []
        monkeypatch.setattr(threading, 'excepthook', errors.append)  # what would print a traceback in the user's run
        with _client._Deadline(0) as deadline:
            assert wait_for(lambda: deadline.expired)
        deadline._timer.join(1)
        assert errors == []

    def test_a_connection_used_after_the_attempt_is_left_alone(self, loopback_server):
        server = loopback_server(keep_alive)
        with _client._Deadline(0) as deadline:
            assert wait_for(lambda: deadline.expired)
        connection = _client.HTTPConnection('127.0.0.1', server.port, timeout=2)
        connection.request('GET', '/')
        assert connection.getresponse().status == 200
        connection.close()

    def test_a_deadline_that_passes_after_its_attempt_cuts_nothing(self, connection):
        with _client._Deadline(60) as deadline:
            deadline.watch(connection)
        deadline._expire()  # the timer firing as the attempt ends, its connection back in the pool
        connection.sock.sendall(b'GET / HTTP/1.1\r\n\r\n')
        assert connection.sock.recv(len(ANSWER)) == ANSWER


class TestProxies:
    """A proxy may carry https (it sees only CONNECT), never plain http (it would read the key)."""

    @pytest.fixture
    def proxy(self, loopback_server, monkeypatch):
        seen = []

        def refuse(connection, request):
            seen.append(request)
            connection.sendall(b'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
        server = loopback_server(refuse)
        server.seen = seen
        use_proxy(monkeypatch, server.port)
        return server

    @pytest.mark.parametrize('variable', ['HTTP_PROXY', 'ALL_PROXY', 'all_proxy'])
    def test_plain_http_goes_straight_to_the_server_whatever_proxy_is_set(self, loopback_server, proxy, monkeypatch, variable):
        for name in ('HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy'):
            if name != variable:
                monkeypatch.delenv(name)
        api = loopback_server(lambda connection, request: connection.sendall(
            HEAD + b'Content-Length: 16\r\nConnection: close\r\n\r\n{"credits": 2.5}'))
        settings = ConnectionSettings(KEY, api_url='http://127.0.0.1:%d' % api.port, timeout=2, retries=0)
        with StabilityClient(settings) as client:
            assert client.fetch_balance() == 2.5
        assert proxy.seen == []
        assert api.connections == 1

    def test_https_goes_through_the_proxy_which_sees_only_connect(self, proxy):
        settings = ConnectionSettings(KEY, api_url='https://api.example.test', timeout=2, retries=0)
        with StabilityClient(settings) as client:
            with pytest.raises(StabilityConnectionError):
                client.fetch_balance()
        assert len(proxy.seen) == 1
        assert proxy.seen[0].startswith(b'CONNECT api.example.test:443 ')
        assert KEY.encode() not in proxy.seen[0]


def test_a_refused_connection_reads_as_urllib3_words_it():
    """The connection classes that let the deadline cut an attempt do not show up in messages."""
    settings = ConnectionSettings(KEY, api_url='http://127.0.0.1:1', timeout=2, retries=0)
    with StabilityClient(settings) as client:
        with pytest.raises(StabilityConnectionError) as caught:
            client.fetch_balance()
    who = "HTTPConnection(host='127.0.0.1', port=1): " if urllib3.__version__.startswith('2.') else ''  # 1.26 named the object
    assert caught.value.msg == ("GET http://127.0.0.1:1/v1/user/balance failed after 1 attempt: %s"
                                "Failed to establish a new connection: [Errno 111] Connection refused" % who)


class TestWhatTheUserReads:
    """Network errors, waits and warnings as the user meets them."""

    def test_a_long_network_error_is_cut_to_200_characters(self, fake_api):
        fake_api.answer(exc=requests.exceptions.ConnectionError('x' * 300))
        msg = timed_fetch(api_url='https://api.stability.ai', retries=0)[1]
        assert msg == 'GET https://api.stability.ai/v1/user/balance failed after 1 attempt: ' + 'x' * 197 + '...'

    def test_the_address_of_urllib3_1_26s_connection_object_is_left_out(self, fake_api):
        """urllib3 1.26 names the connection by its object (an address that changes every run), 2.x by host and port."""
        fake_api.answer(exc=requests.exceptions.ConnectionError(OSError(
            '<urllib3.connection.HTTPConnection object at 0x7f3a2c1d0e50>: Failed to establish a new connection: [Errno 111] Connection refused')))
        msg = timed_fetch(api_url='https://api.stability.ai', retries=0)[1]
        assert msg == ('GET https://api.stability.ai/v1/user/balance failed after 1 attempt: '
                       'Failed to establish a new connection: [Errno 111] Connection refused')

    @pytest.mark.parametrize('error, wording', [(requests.exceptions.ConnectionError, 'failed after 1 attempt: '),
                                                (requests.exceptions.SSLError, 'failed: TLS error ('),
                                                (requests.exceptions.ContentDecodingError, 'failed: the answer could not be read (')])
    def test_a_key_in_a_network_error_is_redacted_before_the_cut(self, fake_api, error, wording):
        """Cut first, the 200-character limit would leave a fragment of the key too short to match it."""
        fake_api.answer(exc=error('x' * 190 + KEY))
        msg = timed_fetch(api_url='https://api.stability.ai', retries=0)[1]
        assert KEY[:4] not in msg and msg.startswith('GET https://api.stability.ai/v1/user/balance ' + wording + 'x' * 190)

    def test_a_network_error_without_text_is_named_by_its_type(self, fake_api):
        fake_api.answer(exc=requests.exceptions.ConnectionError())
        msg = timed_fetch(api_url='https://api.stability.ai', retries=0)[1]
        assert msg == 'GET https://api.stability.ai/v1/user/balance failed after 1 attempt: ConnectionError'

    def test_a_retry_after_under_a_second_is_waited_as_sent(self, fake_api, sleeps):
        fake_api.answer(status=503, headers={'Retry-After': '0.25'}).answer(payload={'credits': 1})
        with StabilityClient(ConnectionSettings(KEY, retries=1)) as client:
            assert client.fetch_balance() == 1.0
        assert sleeps == [0.25]

    def test_an_http_date_retry_after_counts_from_the_time_given(self):
        when = calendar.timegm((2015, 10, 21, 7, 28, 0))
        assert _failures.parse_retry_after('Wed, 21 Oct 2015 07:28:00 GMT', now=when - 30) == 30.0

    def test_validate_certs_false_silences_only_urllib3s_insecure_request_warning(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            with StabilityClient(ConnectionSettings(KEY, validate_certs=False)):
                warnings.warn('Unverified HTTPS request is being made', InsecureRequestWarning)  # what urllib3 says on every request
                warnings.warn('something else', UserWarning)
        assert ['%s' % warning.message for warning in caught] == ['something else']
