# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The client against real loopback sockets (a server that trickles its answer, proxies, TLS), its deadline timer, and its network wording.

Most of these need a socket, not the fake transport: what is specified here happens inside http.client
and ssl (a time-out that must cut a read in progress, a keep-alive connection the server dropped, a
connection that must not go to a proxy, a certificate that must be checked against ``ca_path``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import calendar
import http.client
import os
import resource
import select
import socket
import ssl
import threading
import time
import types
import warnings

import pytest
import trustme

from ansible_collections.stabilityai.platform.plugins.module_utils import _client
from ansible_collections.stabilityai.platform.plugins.module_utils import _failures
from ansible_collections.stabilityai.platform.plugins.module_utils._client import StabilityClient
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityAPIError, StabilityConnectionError
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
PROXY_VARIABLES = ('HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy')
NO_PROXY_VARIABLES = ('NO_PROXY', 'no_proxy')
TLS_ADVICE = '; set ca_path to the CA bundle that signed the server certificate, or validate_certs to false'


class LoopbackServer(object):
    """Accepts connections on 127.0.0.1 and hands each to ``handle(connection, request_bytes)``; stops by itself.

    With ``tls`` (a server-side ssl.SSLContext) each connection is wrapped in TLS first.
    """

    def __init__(self, handle, tls=None):
        self.handle = handle
        self.tls = tls
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
        connection.settimeout(5)
        try:
            if self.tls is not None:
                connection = self.tls.wrap_socket(connection, server_side=True)
            self.handle(connection, connection.recv(65536))
        except OSError:
            pass
        finally:
            connection.close()

    def stop(self):
        self._stop = 0
        self._listener.close()


@pytest.fixture
def loopback_server():
    servers = []

    def start(handle, tls=None):
        servers.append(LoopbackServer(handle, tls))
        return servers[-1]
    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope='module')
def tls_ca(tmp_path_factory):
    """A throw-away CA: its certificate in ``path`` (PEM), and ``server_context(*names)``, a server-side TLS context
    with a certificate it signed for those host names or addresses."""
    authority = trustme.CA()
    path = tmp_path_factory.mktemp('ca') / 'ca.pem'
    authority.cert_pem.write_to_path(str(path))

    def server_context(*names):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert(*names).configure_cert(context)
        return context
    return types.SimpleNamespace(path=str(path), server_context=server_context)


@pytest.fixture
def no_proxies(monkeypatch):
    """No proxy variable is set: https goes straight to the loopback server."""
    for name in PROXY_VARIABLES + NO_PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


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


def recording(seen):
    """``keep_alive`` that also keeps each request it reads in ``seen``."""
    def handle(connection, request):
        while request:
            seen.append(request)
            connection.sendall(ANSWER)
            request = connection.recv(65536)
    return handle


def tunnel_to(port, seen):
    """A proxy that keeps each CONNECT it reads in ``seen`` and relays the tunnel to 127.0.0.1:``port``, whatever host it names."""
    def handle(connection, request):
        seen.append(request)
        with socket.create_connection(('127.0.0.1', port), timeout=5) as upstream:
            connection.sendall(b'HTTP/1.1 200 Connection established\r\n\r\n')
            ends = {connection: upstream, upstream: connection}
            while True:
                for sock in select.select(list(ends), [], [], 5)[0] or [None]:
                    data = sock.recv(65536) if sock is not None else b''
                    if not data:
                        return
                    ends[sock].sendall(data)
    return handle


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


def use_proxy(monkeypatch, port, credentials=''):
    """Every proxy variable names the loopback proxy on ``port`` (with ``credentials``, as ``user:password@``); nothing is exempt."""
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, 'http://%s127.0.0.1:%d' % (credentials, port))
    for name in NO_PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def refusing_proxy(loopback_server, monkeypatch, status, credentials=''):
    """A proxy that every proxy variable names (see ``use_proxy``), which keeps each request it reads in ``seen`` and answers ``status``."""
    seen = []

    def refuse(connection, request):
        seen.append(request)
        connection.sendall(b'HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' % status)
    server = loopback_server(refuse)
    server.seen = seen
    use_proxy(monkeypatch, server.port, credentials)
    return server


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

    @pytest.mark.parametrize('mode', ['headers', 'body until close'])  # an answer read until close: http.client lets go of its socket
    def test_a_trickled_answer_on_a_reused_connection_is_cut_at_the_timeout(self, loopback_server, mode):
        def answered_then_trickled(connection, request):
            connection.sendall(ANSWER)
            if connection.recv(65536):
                trickle(*TRICKLES[mode], lasting=SHORT_TRICKLE)(connection, None)
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

    def test_a_tls_handshake_after_a_slow_tunnel_is_cut_at_the_timeout(self, loopback_server, monkeypatch):
        """ssl bounds a handshake by the socket's time-out on its own; the deadline bounds the tunnel and the handshake together."""
        def slow_tunnel_then_trickled_handshake(connection, dummy):
            trickle(b'HTTP/1.1 200 Connection established\r\nX-Slow: ', b'a', lasting=0.6)(connection, None)
            connection.sendall(b'\r\n\r\n')
            connection.recv(65536)  # the client's hello: TLS bytes sent before it would be read as part of the tunnel's answer
            # A handshake record of 16 KiB announced, then a byte at a time: every read of the handshake gets a byte in time.
            trickle(b'\x16\x03\x03\x40\x00\x02', b'\x00', lasting=SHORT_TRICKLE)(connection, None)
        proxy = loopback_server(slow_tunnel_then_trickled_handshake)
        use_proxy(monkeypatch, proxy.port)
        elapsed, msg = timed_fetch(api_url='https://api.example.test', timeout=1, retries=0)
        assert 1.0 <= elapsed < 1.5
        assert msg == 'GET https://api.example.test/v1/user/balance failed after 1 attempt: the answer took longer than timeout (1.0 s)'

    def test_a_connection_made_after_the_deadline_sends_no_request(self, loopback_server, monkeypatch):
        requests_seen = []

        def answer(connection, request):
            requests_seen.append(request)
            connection.sendall(ANSWER)
        server = loopback_server(answer)
        create_connection = socket.create_connection

        def slow_name_lookup(*args, **kwargs):  # no socket yet for the timer to cut when the deadline passes
            time.sleep(0.4)
            return create_connection(*args, **kwargs)
        monkeypatch.setattr(socket, 'create_connection', slow_name_lookup)  # what http.client connects with
        elapsed, msg = timed_fetch(server.port, timeout=0.3, retries=0)
        assert 0.4 <= elapsed < 1.0
        assert msg.endswith('failed after 1 attempt: the answer took longer than timeout (0.3 s)')
        assert wait_for(lambda: requests_seen) and requests_seen == [b'']


class TestDeadlineTimer:
    """The timer of one attempt, which shuts its socket down at the deadline."""

    @pytest.fixture
    def connection(self, loopback_server):
        """A stand-in for http.client's connection: what the deadline reads of it is ``sock``."""
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
        connection = http.client.HTTPConnection('127.0.0.1', server.port, timeout=2)
        connection.request('GET', '/')
        assert connection.getresponse().status == 200
        connection.close()

    def test_a_deadline_that_passes_after_its_attempt_cuts_nothing(self, connection):
        with _client._Deadline(60) as deadline:
            deadline.watch(connection)
        deadline._expire()  # the timer firing as the attempt ends, its connection back in the pool
        connection.sock.sendall(b'GET / HTTP/1.1\r\n\r\n')
        assert connection.sock.recv(len(ANSWER)) == ANSWER


class TestKeepAlive:
    """Connections are kept for the next request, but never one the server has closed."""

    def test_a_connection_the_server_closed_while_idle_is_not_used(self, loopback_server):
        closed = threading.Event()

        def answer_then_close(connection, request):
            connection.sendall(ANSWER)  # keep-alive, as HTTP/1.1 has it by default ...
            connection.close()
            closed.set()
        server = loopback_server(answer_then_close)
        settings = ConnectionSettings(KEY, api_url='http://127.0.0.1:%d' % server.port, timeout=2, retries=0)
        with StabilityClient(settings) as client:
            assert client.fetch_balance() == 2.5
            assert closed.wait(2)  # ... but the server closes it while the client holds it idle
            time.sleep(0.05)
            assert client.fetch_balance() == 2.5  # a fresh connection, not a failure: no retry was allowed
        assert server.connections == 2

    def test_a_process_with_over_a_thousand_descriptors_reuses_its_connections(self, loopback_server):
        """The idle check takes any descriptor: select() refuses one past 1023, which a long-running event source or a
        large play's controller can hold (and their soft limit allows), and then every reading failed."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
        held = []
        try:
            while len(held) < 1100:
                held.append(os.open(os.devnull, os.O_RDONLY))
            server = loopback_server(keep_alive)
            settings = ConnectionSettings(KEY, api_url='http://127.0.0.1:%d' % server.port, timeout=2, retries=0)
            with StabilityClient(settings) as client:
                assert client.fetch_balance() == 2.5
                assert client._idle[0].sock.fileno() > 1100
                assert client.fetch_balance() == 2.5
            assert server.connections == 1
        finally:
            for descriptor in held:
                os.close(descriptor)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    def test_the_connection_of_an_interim_answer_is_never_reused(self, loopback_server):
        """A 1xx (103 Early Hints) is not the answer: the final one still comes on its connection, and reused, that
        connection gave the next request (another organization's) the earlier request's balance."""
        def early_hints_first(connection, request):
            if server.connections == 1:
                connection.sendall(b'HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n')
                connection.recv(65536)  # the next request, then the first request's final answer
                connection.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n{"credits": 1.0}')
            keep_alive(connection, request)
        server = loopback_server(early_hints_first)
        settings = ConnectionSettings(KEY, api_url='http://127.0.0.1:%d' % server.port, timeout=2, retries=0)
        with StabilityClient(settings) as client:
            with pytest.raises(StabilityAPIError, match='for organization org-a failed with HTTP 103'):
                client.fetch_balance('org-a')
            assert client.fetch_balance('org-b') == 2.5
        assert server.connections == 2

    def test_a_connection_whose_answer_ends_after_close_is_closed_too(self, loopback_server):
        """The event source closes its client when the rulebook stops, maybe while a reading's thread still waits for
        an answer: that connection must not go back to the pool the client no longer empties (urllib3's closed pool
        closed it too)."""
        asked, answer, ended = threading.Event(), threading.Event(), threading.Event()

        def answer_late(connection, request):
            asked.set()
            answer.wait(5)
            connection.sendall(ANSWER)
            if connection.recv(65536) == b'':
                ended.set()
        server = loopback_server(answer_late)
        client = StabilityClient(ConnectionSettings(KEY, api_url='http://127.0.0.1:%d' % server.port, timeout=5, retries=0))
        read = []
        reader = threading.Thread(target=lambda: read.append(client.fetch_balance()), daemon=True)
        reader.start()
        assert asked.wait(2)
        client.close()
        answer.set()
        reader.join(5)
        assert read == [2.5]
        assert ended.wait(2)  # the server saw the client close it
        assert client._idle == []

    def test_a_server_that_closes_without_an_answer_reads_as_http_client_words_it(self, loopback_server):
        server = loopback_server(lambda connection, request: None)
        msg = timed_fetch(server.port, timeout=2, retries=0)[1]
        assert msg == ('GET http://127.0.0.1:%d/v1/user/balance failed after 1 attempt: '
                       'Remote end closed connection without response' % server.port)


class TestProxies:
    """A proxy may carry https (it sees only CONNECT), never plain http (it would read the key)."""

    @pytest.fixture
    def proxy(self, loopback_server, monkeypatch):
        return refusing_proxy(loopback_server, monkeypatch, b'502 Bad Gateway')

    @pytest.mark.parametrize('variable', ['HTTP_PROXY', 'ALL_PROXY', 'all_proxy'])
    def test_plain_http_goes_straight_to_the_server_whatever_proxy_is_set(self, loopback_server, proxy, monkeypatch, variable):
        for name in PROXY_VARIABLES:
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
            with pytest.raises(StabilityConnectionError) as caught:
                client.fetch_balance()
        assert len(proxy.seen) == 1
        assert proxy.seen[0].startswith(b'CONNECT api.example.test:443 ')
        assert KEY.encode() not in proxy.seen[0]
        assert caught.value.msg == 'GET https://api.example.test/v1/user/balance failed after 1 attempt: Tunnel connection failed: 502 Bad Gateway'

    def test_the_tunnel_carries_tls_to_the_server_and_the_credentials_only_to_the_proxy(self, loopback_server, tls_ca, monkeypatch):
        requests_seen, connects = [], []
        api = loopback_server(recording(requests_seen), tls=tls_ca.server_context('api.example.test'))
        proxy = loopback_server(tunnel_to(api.port, connects))
        use_proxy(monkeypatch, proxy.port, credentials='us%40er:pa%3As-w0rd@')
        settings = ConnectionSettings(KEY, api_url='https://api.example.test', ca_path=tls_ca.path, timeout=2, retries=0)
        with StabilityClient(settings) as client:
            assert [client.fetch_balance(), client.fetch_balance()] == [2.5, 2.5]
        assert proxy.connections == api.connections == 1  # one tunnel, kept alive for the second request
        assert len(connects) == 1 and connects[0].startswith(b'CONNECT api.example.test:443 ')
        assert b'\r\nProxy-Authorization: Basic %s\r\n' % base64.b64encode(b'us@er:pa:s-w0rd') in connects[0]
        assert KEY.encode() not in connects[0]
        assert len(requests_seen) == 2
        for request in requests_seen:
            assert request.startswith(b'GET /v1/user/balance HTTP/1.1\r\n')
            assert b'\r\nAuthorization: Bearer %s\r\n' % KEY.encode() in request
            assert b'proxy-authorization' not in request.lower()

    def test_proxy_credentials_never_appear_in_a_message(self, loopback_server, monkeypatch):
        proxy = refusing_proxy(loopback_server, monkeypatch, b'407 Proxy Authentication Required', credentials='proxyuser:proxy-s3cret@')
        msg = timed_fetch(api_url='https://api.example.test', timeout=2, retries=0)[1]
        assert b'Proxy-Authorization: Basic ' in proxy.seen[0]
        assert msg == ('GET https://api.example.test/v1/user/balance failed after 1 attempt: '
                       'Tunnel connection failed: 407 Proxy Authentication Required')
        assert 'proxy-s3cret' not in msg and 'proxyuser' not in msg

    @pytest.mark.parametrize('variable, url, shown', [
        ('https_proxy', 'https://proxyuser:proxy-s3cret@127.0.0.1:%d', 'https://127.0.0.1'),
        ('HTTPS_PROXY', 'socks5h://127.0.0.1:%d', 'socks5h://127.0.0.1'),
        ('all_proxy', 'socks5://proxyuser:proxy-s3cret@127.0.0.1:%d', 'socks5://127.0.0.1'),
    ])
    def test_a_proxy_that_is_not_http_is_refused_before_any_request(self, loopback_server, no_proxies, monkeypatch, variable, url, shown):
        proxy = loopback_server(keep_alive)
        monkeypatch.setenv(variable, url % proxy.port)
        with pytest.raises(StabilityConnectionError) as caught:
            StabilityClient(ConnectionSettings(KEY, api_url='https://api.example.test', timeout=2, retries=0))
        assert caught.value.msg == 'the proxy in https_proxy or all_proxy must be an http://host:port URL, got %s' % shown
        time.sleep(0.3)  # what a connection would take to reach the proxy's accept loop
        assert proxy.connections == 0

    @pytest.mark.parametrize('url, shown', [
        ('http://proxyuser:proxy-s3cret@127.0.0.1:3l28', 'http://'), ('http://proxyuser:proxy-s3cret@127.0.0.1:99999', 'http://'),
        ('http://[::1', 'http://'), ('[::1', 'http://'), ('socks5://proxyuser:proxy-s3cret@[::1', 'socks5://'),
        ('http://proxyuser:proxy-s3cret@:3128', 'http://'), ('http://127.0.0.1:0', 'http://127.0.0.1')])
    def test_a_proxy_url_that_does_not_parse_is_refused_in_one_line(self, no_proxies, monkeypatch, url, shown):
        """Named by what could be read of it, scheme (http when none is written) and host, never the rest."""
        monkeypatch.setenv('https_proxy', url)
        with pytest.raises(StabilityConnectionError) as caught:
            StabilityClient(ConnectionSettings(KEY, api_url='https://api.example.test', timeout=2, retries=0))
        assert caught.value.msg == 'the proxy in https_proxy or all_proxy must be an http://host:port URL, got %s' % shown

    def test_a_long_proxy_host_is_cut_to_80_characters(self, no_proxies, monkeypatch):
        monkeypatch.setenv('https_proxy', 'socks5://%s:1080' % ('h' * 100))
        with pytest.raises(StabilityConnectionError) as caught:
            StabilityClient(ConnectionSettings(KEY, api_url='https://api.example.test', timeout=2, retries=0))
        assert caught.value.msg == 'the proxy in https_proxy or all_proxy must be an http://host:port URL, got socks5://%s...' % ('h' * 68)

    @pytest.mark.parametrize('variable', ['no_proxy', 'NO_PROXY'])
    def test_a_host_that_no_proxy_names_is_reached_directly(self, loopback_server, proxy, tls_ca, monkeypatch, variable):
        api = loopback_server(keep_alive, tls=tls_ca.server_context('127.0.0.1'))
        monkeypatch.setenv(variable, 'api.stability.ai,127.0.0.1')
        settings = ConnectionSettings(KEY, api_url='https://127.0.0.1:%d' % api.port, ca_path=tls_ca.path, timeout=2, retries=0)
        with StabilityClient(settings) as client:
            assert client.fetch_balance() == 2.5
        assert proxy.seen == [] and proxy.connections == 0
        assert api.connections == 1


class TestAddresses:
    """The host and port of api_url as written, an IPv6 address included, with or without a port."""

    @pytest.mark.parametrize('scheme, port', [('http', 80), ('https', 443)])
    def test_an_ipv6_address_without_a_port_is_reached_on_the_schemes_port(self, loopback_server, tls_ca, no_proxies, monkeypatch, scheme, port):
        """Given no port, http.client took the digits after the address's last colon for one (``[::1]`` was host ``:``, port 1)."""
        seen = []
        api = loopback_server(recording(seen), tls=tls_ca.server_context('::1') if scheme == 'https' else None)
        addresses = []
        create_connection = socket.create_connection

        def to_the_loopback_server(address, *args, **kwargs):
            addresses.append(address)
            return create_connection(('127.0.0.1', api.port), *args, **kwargs)
        monkeypatch.setattr(socket, 'create_connection', to_the_loopback_server)
        settings = ConnectionSettings(KEY, api_url='%s://[::1]' % scheme, ca_path=tls_ca.path, timeout=2, retries=0)
        with StabilityClient(settings) as client:
            assert client.fetch_balance() == 2.5
        assert addresses == [('::1', port)]
        assert b'\r\nHost: [::1]\r\n' in seen[0]


class TestCertificates:
    """The server's certificate is checked against the system's CAs or ``ca_path``, or not at all with ``validate_certs: false``."""

    def test_ca_path_is_the_authority_the_certificate_is_checked_against(self, loopback_server, tls_ca, no_proxies):
        api = loopback_server(keep_alive, tls=tls_ca.server_context('127.0.0.1'))
        settings = ConnectionSettings(KEY, api_url='https://127.0.0.1:%d' % api.port, ca_path=tls_ca.path, timeout=2, retries=0)
        with StabilityClient(settings) as client:
            assert client.fetch_balance() == 2.5
            assert client.warnings == []

    @pytest.mark.parametrize('with_ca_path, names', [(False, ('127.0.0.1',)), (True, ('api.example.test',))])
    def test_a_certificate_that_does_not_check_out_is_a_tls_error_never_retried(self, loopback_server, tls_ca, no_proxies, with_ca_path, names):
        """Signed by a CA the system does not know, or for another host than the one asked: refused, pointing at the two ways out."""
        api = loopback_server(keep_alive, tls=tls_ca.server_context(*names))
        elapsed, msg = timed_fetch(api_url='https://127.0.0.1:%d' % api.port, ca_path=tls_ca.path if with_ca_path else None,
                                   timeout=2, retries=2)
        assert api.connections == 1
        assert msg.startswith('GET https://127.0.0.1:%d/v1/user/balance failed: TLS error (' % api.port) and msg.endswith(TLS_ADVICE)
        assert 'CERTIFICATE_VERIFY_FAILED' in msg
        assert elapsed < 1.0  # no back-off: a certificate does not get better by retrying

    def test_validate_certs_false_connects_to_a_self_signed_server_and_silences_nothing(self, loopback_server, tls_ca, no_proxies):
        """urllib3 warned on every unchecked request, and the client silenced that warning; http.client says nothing, so the
        client's one warning is all the user reads, and no other Python warning is hidden."""
        api = loopback_server(keep_alive, tls=tls_ca.server_context('127.0.0.1'))
        api_url = 'https://127.0.0.1:%d' % api.port
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            with StabilityClient(ConnectionSettings(KEY, api_url=api_url, validate_certs=False, timeout=2, retries=0)) as client:
                assert client.fetch_balance() == 2.5
                warnings.warn('something else', UserWarning)
        assert ['%s' % warning.message for warning in caught] == ['something else']
        assert client.warnings == ['validate_certs is false: the TLS certificate of %s is not checked' % api_url]


def test_a_refused_connection_reads_as_the_system_words_it():
    """http.client adds nothing to the system's words: no connection object, no prefix."""
    settings = ConnectionSettings(KEY, api_url='http://127.0.0.1:1', timeout=2, retries=0)
    with StabilityClient(settings) as client:
        with pytest.raises(StabilityConnectionError) as caught:
            client.fetch_balance()
    assert caught.value.msg == 'GET http://127.0.0.1:1/v1/user/balance failed after 1 attempt: [Errno 111] Connection refused'


class TestWhatTheUserReads:
    """Network errors, waits and warnings as the user meets them."""

    def test_a_long_network_error_is_cut_to_200_characters(self, fake_api):
        fake_api.answer(exc=ConnectionResetError('x' * 300))
        msg = timed_fetch(api_url='https://api.stability.ai', retries=0)[1]
        assert msg == 'GET https://api.stability.ai/v1/user/balance failed after 1 attempt: ' + 'x' * 197 + '...'

    @pytest.mark.parametrize('answer, wording', [
        ({'exc': ConnectionResetError('x' * 190 + KEY)}, 'failed after 1 attempt: ' + 'x' * 190),
        ({'exc': ssl.SSLCertVerificationError(1, 'x' * 190 + KEY)}, 'failed: TLS error (' + 'x' * 190),
        # A cut of the header alone (it was 40 characters) would leave 'sk-unit', too short for redact to know it.
        ({'payload': {'credits': 1}, 'headers': {'Content-Encoding': 'x' * 30 + KEY}},
         'failed: the answer could not be read (Content-Encoding ' + 'x' * 30),
    ], ids=['network', 'tls', 'unreadable'])
    def test_a_key_in_a_network_error_is_redacted_before_the_cut(self, fake_api, answer, wording):
        """Cut first, a limit would leave a fragment of the key too short to match it."""
        fake_api.answer(**answer)
        msg = timed_fetch(api_url='https://api.stability.ai', retries=0)[1]
        assert KEY[:4] not in msg and msg.startswith('GET https://api.stability.ai/v1/user/balance ' + wording)

    def test_a_network_error_without_text_is_named_by_its_type(self, fake_api):
        fake_api.answer(exc=ConnectionResetError())
        msg = timed_fetch(api_url='https://api.stability.ai', retries=0)[1]
        assert msg == 'GET https://api.stability.ai/v1/user/balance failed after 1 attempt: ConnectionResetError'

    def test_a_retry_after_under_a_second_is_waited_as_sent(self, fake_api, sleeps):
        fake_api.answer(status=503, headers={'Retry-After': '0.25'}).answer(payload={'credits': 1})
        with StabilityClient(ConnectionSettings(KEY, retries=1)) as client:
            assert client.fetch_balance() == 1.0
        assert sleeps == [0.25]

    def test_an_http_date_retry_after_counts_from_the_time_given(self):
        when = calendar.timegm((2015, 10, 21, 7, 28, 0))
        assert _failures.parse_retry_after('Wed, 21 Oct 2015 07:28:00 GMT', now=when - 30) == 30.0
