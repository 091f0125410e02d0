# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared fixtures of the unit tests: the demo account's data, a fake HTTP transport and a module runner.

The test data has one source, the simulator's default fixture (tests/simulator/fixtures/default.json):
``demo_account`` and ``demo_credits`` are its demo account (Alice's, as the integration targets, the
demo and molecule see it), as the API answers. The fake replaces http.client's two connection classes,
so everything above the socket runs for real, down to http.client's own parsing of the answer
(status line, headers, Content-Length or chunks).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import http.client
import io
import json
import os
import signal
import socket
import ssl
import threading
import time
import types

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.stabilityai.platform.plugins.module_utils import _client
from ansible_collections.stabilityai.platform.tests.simulator.stability_simulator import account_document, load_fixture

DEMO_KEY = 'sk-sim-alice-64Es19knE59ROToV'


def pytest_configure(config):
    """pytest's temporary folders (pytest-of-USER, its last three runs) go with ansible-test's own state, under
    ~/.ansible/test/tmp, instead of /tmp: ansible-test units hands pytest HOME but no TMPDIR and no option, and the nox
    sessions point HOME into .nox/scratch, so a test run leaves nothing outside the checkout."""
    if not config.option.basetemp and 'PYTEST_DEBUG_TEMPROOT' not in os.environ:
        root = os.path.join(os.path.expanduser('~'), '.ansible', 'test', 'tmp')
        os.makedirs(root, mode=0o700, exist_ok=True)
        os.environ['PYTEST_DEBUG_TEMPROOT'] = root


@pytest.fixture
def demo_account():
    """The demo account as ``GET /v1/user/account`` answers it (a fresh copy: tests may change it)."""
    fixture = load_fixture()
    return account_document(fixture, fixture['keys'][DEMO_KEY])


@pytest.fixture
def demo_credits(demo_account):
    """The credits of each organization of the demo account by id, and under None its default one's."""
    organizations = load_fixture()['organizations']
    credits = dict((membership['id'], float(organizations[membership['id']]['credits'])) for membership in demo_account['organizations'])
    credits[None] = [credits[membership['id']] for membership in demo_account['organizations'] if membership['is_default']][0]
    return credits


class FakeAnswer(object):
    """One answer of the fake API: a status, headers and a body, or ``exc`` to raise instead.

    ``stream``, a file-like object, is the body read as the client asks for it (no Content-Length:
    the answer ends when the stream does), for tests that count what the client reads.
    """

    def __init__(self, status=200, payload=None, body=None, headers=None, exc=None, stream=None):
        self.status = status
        self.body = body if body is not None else (b'' if payload is None else json.dumps(payload).encode('utf-8'))
        self.headers = headers or {}
        if payload is not None and 'Content-Type' not in self.headers:
            self.headers['Content-Type'] = 'application/json'
        self.exc = exc
        self.stream = stream


class FakeRequest(object):
    """What the client sent: ``method``, the whole ``url`` and its ``headers``."""

    def __init__(self, method, url, headers):
        self.method, self.url, self.headers = method, url, dict(headers)


class FakeAPI(object):
    """Answers requests from a queue of ``FakeAnswer`` and records each request, and in ``kwargs`` what
    the connection was made with: ``timeout``, ``verify`` (False, or True for a checked certificate),
    its TLS ``context`` and ``proxy`` (the ``host:port`` of the proxy the connection tunnels through, or None)."""

    def __init__(self):
        self.answers = []
        self.requests = []
        self.kwargs = []
        self.connections = []

    def answer(self, *args, **kwargs):
        self.answers.append(FakeAnswer(*args, **kwargs))
        return self

    def send(self, request):
        if not self.answers:
            raise AssertionError('unexpected request %s %s' % (request.method, request.url))
        return self.answers.pop(0)

    def serve(self, credits, account=None):
        """Answer by URL and Organization header instead of from the queue, safely from any thread.

        ``/account`` gets ``account``; ``/balance`` gets ``{"credits": credits[organization]}``,
        with None for the key's default organization.  For tests of concurrent reads.
        """
        def send(request):
            if not request.url.endswith('/account'):
                return FakeAnswer(payload={'credits': credits[request.headers.get('Organization')]})
            if account is not None:
                return FakeAnswer(payload=account)
            raise AssertionError('unexpected request %s %s' % (request.method, request.url))
        self.send = send
        return self


class _AnswerSocket(object):
    """The socket http.client reads an answer from: its head and body as a server would send them."""

    def __init__(self, answer):
        self.answer = answer

    def makefile(self, mode):
        return _AnswerFile(self.answer)


class _AnswerFile(object):
    """The socket file of one answer: lines of its head, then its body or its ``stream``."""

    def __init__(self, answer):
        headers = dict(answer.headers)
        if answer.stream is not None:
            headers['Connection'] = 'close'
        elif not any(name.lower() in ('content-length', 'transfer-encoding') for name in headers):
            headers['Content-Length'] = str(len(answer.body))
        head = 'HTTP/1.1 %d %s\r\n' % (answer.status, http.client.responses.get(answer.status, 'Unknown'))
        head += ''.join('%s: %s\r\n' % item for item in headers.items()) + '\r\n'
        self._data = io.BytesIO(head.encode('latin-1') + (b'' if answer.stream is not None else answer.body))
        self._stream = answer.stream

    def readline(self, limit=-1):
        return self._data.readline(limit)

    def read(self, amount=None):
        data = self._data.read(amount)
        if self._stream is not None and (amount is None or len(data) < amount):
            data += self._stream.read(None if amount is None else amount - len(data))
        return data

    def flush(self):  # the finaliser of http.client's response calls it (Python 3.13)
        pass

    def close(self):
        pass


def fake_connection_class(api, lock, scheme):
    """A stand-in for http.client's HTTP(S)Connection that records each request in ``api`` and answers from it."""

    class FakeConnection(object):
        def __init__(self, host, port=None, timeout=None, context=None):
            self.host, self.port, self.timeout, self.context = host, port, timeout, context
            self.sock = self.tunnel = self._peer = None
            self._create_connection = socket.create_connection  # never called: connect() makes a socket pair
            with lock:
                api.connections.append(self)

        def set_tunnel(self, host, port=None, headers=None):
            self.tunnel = (host, port, headers)

        def connect(self):
            # A socket the deadline can cut and the client can look at while idle: its peer never writes nor closes.
            self.sock, self._peer = socket.socketpair()

        def close(self):
            for end in (self.sock, self._peer):
                if end is not None:
                    end.close()
            self.sock = self._peer = None

        def request(self, method, path, headers=None):
            host, port = self.tunnel[:2] if self.tunnel else (self.host, self.port)
            # As http.client's Host header: no port when it is the scheme's own.
            default_port = http.client.HTTPS_PORT if scheme == 'https' else http.client.HTTP_PORT
            netloc = ('[%s]' % host if ':' in host else host) + ('' if port in (None, default_port) else ':%d' % port)
            self.sent = FakeRequest(method, '%s://%s%s' % (scheme, netloc, path), headers or {})
            verify = None if self.context is None else self.context.verify_mode != ssl.CERT_NONE
            with lock:
                api.requests.append(self.sent)
                api.kwargs.append({'timeout': self.timeout, 'verify': verify, 'context': self.context,
                                   'proxy': '%s:%d' % (self.host, self.port) if self.tunnel else None})

        def getresponse(self):
            answer = api.send(self.sent)  # looked up per call: tests may replace api.send
            if answer.exc is not None:
                raise answer.exc
            response = http.client.HTTPResponse(_AnswerSocket(answer), method=self.sent.method)
            response.begin()
            return response

    return FakeConnection


@pytest.fixture(autouse=True)
def private_cache_home(tmp_path, monkeypatch):
    """Every test gets its own per-user directory: the shared request budget and lock-out memory
    of one test (or of the user running them) never reach another."""
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg-cache'))
    monkeypatch.delenv('STABILITY_CACHE_DIR', raising=False)
    monkeypatch.delenv('STABILITY_RATE_LIMIT', raising=False)
    return tmp_path / 'xdg-cache' / 'stabilityai.platform'


@pytest.fixture
def fake_api(monkeypatch):
    api = FakeAPI()
    lock = threading.Lock()
    monkeypatch.setattr(http.client, 'HTTPConnection', fake_connection_class(api, lock, 'http'))
    monkeypatch.setattr(http.client, 'HTTPSConnection', fake_connection_class(api, lock, 'https'))
    return api


@pytest.fixture
def record(monkeypatch):
    """``record(target, name)`` replaces ``target.name`` (a sleep, a warning) with a recorder and returns
    the list of what it is called with, so that a test can assert on every call and none happens for real."""
    def replace(target, name):
        calls = []
        monkeypatch.setattr(target, name, calls.append)
        return calls
    return replace


@pytest.fixture
def sleeps(record):
    """Record the back-off waits instead of sleeping them."""
    return record(_client.time, 'sleep')


class FakeClock(object):
    """A wall clock and a monotonic clock that only ``sleep`` moves, recording each pause in ``sleeps``.

    The two are apart so that a test can make the wall clock jump; ``frozen`` keeps ``sleep`` from
    moving them; ``on_sleep`` runs after each pause, for a test to change the world while the code waits.
    """

    def __init__(self):
        self.wall = 1000000.0
        self.mono = 500.0
        self.sleeps = []
        self.on_sleep = None
        self.frozen = False

    def time(self):
        return self.wall

    def monotonic(self):
        return self.mono

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        if not self.frozen:
            self.wall += seconds
            self.mono += seconds
        if self.on_sleep is not None:
            self.on_sleep()


@pytest.fixture
def fake_clock(monkeypatch):
    """``fake_clock(*modules)`` gives the ``time`` of each module one new FakeClock and returns it."""
    def install(*modules):
        fake = FakeClock()
        fake_time = types.SimpleNamespace(time=fake.time, monotonic=fake.monotonic, sleep=fake.sleep)
        for module in modules:
            monkeypatch.setattr(module, 'time', fake_time)
        return fake
    return install


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super(ModuleExit, self).__init__(result)
        self.result = result
        self.failed = failed


@contextlib.contextmanager
def module_args(args):
    """Expose ``args`` to AnsibleModule, on every ansible-core the collection supports."""
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:
        payload = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = payload
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved
    else:
        with patch_module_args(args):
            yield


@pytest.fixture
def run_module(monkeypatch):
    """Run a module's ``main`` with ``args``; returns (result, failed, warnings)."""
    def fake_exit(self, **result):
        raise ModuleExit(result, False)

    def fake_fail(self, msg, **result):
        result['msg'] = msg
        raise ModuleExit(result, True)

    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', fake_exit)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fake_fail)
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, warning: warnings.append(warning))
    for name in ('STABILITY_API_KEY', 'STABILITY_KEY', 'STABILITY_API_URL', 'STABILITY_API_VERSION', 'STABILITY_RATE_LIMIT'):
        monkeypatch.delenv(name, raising=False)

    def run(module, args):
        del warnings[:]
        with module_args(args):
            with pytest.raises(ModuleExit) as caught:
                module.main()
        return caught.value.result, caught.value.failed, list(warnings)
    return run


@pytest.fixture
def local_zone(monkeypatch):
    """Set the process's local time zone (a POSIX TZ string) for one test, and put it back."""
    def set_zone(zone):
        monkeypatch.setenv('TZ', zone)
        time.tzset()
    yield set_zone
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def ansible_cfg(tmp_path, monkeypatch):
    """Point Ansible's configuration at a fresh ansible.cfg holding ``lines`` under [stabilityai_platform]."""
    from ansible import constants as C

    def write(*lines):
        path = tmp_path / 'ansible.cfg'
        path.write_text(u'[stabilityai_platform]\n' + u''.join(line + u'\n' for line in lines))
        monkeypatch.setattr(C.config, '_config_file', str(path))
        return str(path)
    return write


class TimeLimitExceeded(Exception):
    """A test that could hang (a FIFO, a lock) ran past its outer time limit."""


@pytest.fixture
def time_limit():
    """Fail the test, instead of hanging the run, if it takes more than 10 seconds (SIGALRM; main thread only)."""
    def expired(signum, frame):
        raise TimeLimitExceeded('the test took more than 10 s: something blocked')
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
