# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_metrics: readings as Prometheus metrics, read back with prometheus-client's own parser; the file; the push."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import contextlib
import http.server
import os
import socket
import ssl
import stat
import sys
import threading
import time

import prometheus_client
import pytest
import trustme
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.stabilityai.platform.plugins.module_utils import _metrics
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError, server_data

KEY = 'sk-unit-metrics-key-Zq81XbT0'
HOSTILE = 'Studio "A"\\ \n} stability_credits{organization_id="forged"} 1e9\r\x1b[31m #'


def samples(data):
    """{(metric name, organization_id, organization_name): value} as prometheus-client's parser reads ``data``."""
    found = {}
    for family in text_string_to_metric_families(data.decode('utf-8')):
        for sample in family.samples:
            key = (sample.name, sample.labels['organization_id'], sample.labels['organization_name'])
            assert key not in found
            found[key] = sample.value
    return found


def exposition(readings, secret=None):
    return prometheus_client.generate_latest(_metrics.registry_of(prometheus_client, readings, secret))


def test_every_gauge_of_every_reading_reads_back():
    data = exposition([
        dict(organization_id='org-a', organization_name='Alice', credits=1532.25, time=1700000000.5, spent=12.5, days_left=36.9, runs_left=61),
        dict(organization_id='org-b', organization_name='Lab', credits=7.0, time=1700000001.0),
    ])
    assert samples(data) == {
        ('stability_credits', 'org-a', 'Alice'): 1532.25,
        ('stability_run_spent_credits', 'org-a', 'Alice'): 12.5,
        ('stability_runway_days_left', 'org-a', 'Alice'): 36.9,
        ('stability_runway_runs_left', 'org-a', 'Alice'): 61.0,
        ('stability_last_reading_timestamp_seconds', 'org-a', 'Alice'): 1700000000.5,
        ('stability_credits', 'org-b', 'Lab'): 7.0,
        ('stability_last_reading_timestamp_seconds', 'org-b', 'Lab'): 1700000001.0,
    }
    assert b'# TYPE stability_credits gauge' in data


def test_an_unknown_organization_has_empty_labels():
    assert samples(exposition([dict(organization_id=None, organization_name=None, credits=3.0, time=1.0)])) == {
        ('stability_credits', '', ''): 3.0, ('stability_last_reading_timestamp_seconds', '', ''): 1.0}


@pytest.mark.parametrize('name', [HOSTILE, 'emoji \U0001f680 and \u202e bidi', 'lone \ud800 surrogate'])
def test_a_hostile_name_stays_one_label_value(name):
    data = exposition([dict(organization_id='org-a', organization_name=name, credits=5.0, time=2.0)])
    expected = server_data(name, None).encode('utf-8', 'replace').decode('utf-8')
    assert b'\r' not in data and b'\x1b' not in data  # a reader in text mode (universal newlines) sees the same samples
    assert samples(data) == {('stability_credits', 'org-a', expected): 5.0, ('stability_last_reading_timestamp_seconds', 'org-a', expected): 2.0}


def test_the_key_never_reaches_a_label():
    data = exposition([dict(organization_id='org-%s' % KEY, organization_name='named %s' % KEY, credits=1.0, time=1.0)], secret=KEY)
    assert KEY.encode() not in data and KEY[:8].encode() not in data
    assert samples(data)[('stability_credits', 'org-********', 'named ********')] == 1.0


def test_runway_fields():
    assert _metrics.runway_fields(None) == dict(days_left=None, runs_left=None)
    assert _metrics.runway_fields(dict(days_left=2.5, runs_left=3, reason=None)) == dict(days_left=2.5, runs_left=3)


def test_without_the_library_the_error_names_the_option_and_the_pip_package(monkeypatch):
    monkeypatch.setitem(sys.modules, 'prometheus_client', None)  # import raises ImportError
    with pytest.raises(_metrics.MetricsError) as caught:
        _metrics.load_client('metrics_path')
    assert caught.value.msg == ('metrics_path needs the Python library prometheus-client (pip install prometheus-client); '
                                'no metrics were written')


def test_the_library_is_not_imported_with_the_module():
    with open(_metrics.__file__) as handle:
        top_level = [line for line in handle if line.startswith(('import ', 'from '))]
    assert not [line for line in top_level if 'prometheus' in line]


# -- the file -------------------------------------------------------------------------------


def test_the_file_never_holds_the_key(tmp_path):
    path = tmp_path / 'stability.prom'
    _metrics.write_metrics_file(prometheus_client, str(path), [dict(organization_id='org-a', organization_name=KEY, credits=1.0, time=1.0)], KEY)
    assert KEY not in path.read_text() and 'organization_name="********"' in path.read_text()


def test_the_file_is_written_0644_whatever_the_umask(tmp_path):
    path = str(tmp_path / 'stability.prom')
    old = os.umask(0o077)
    try:
        _metrics.write_metrics_file(prometheus_client, path, [dict(organization_id='org-a', credits=4.0, time=3.0)])
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    with open(path, 'rb') as handle:
        assert samples(handle.read())[('stability_credits', 'org-a', '')] == 4.0
    assert os.listdir(str(tmp_path)) == ['stability.prom']  # no temporary file left


def test_the_file_is_replaced_by_rename_so_a_reader_keeps_a_whole_file(tmp_path):
    path = tmp_path / 'stability.prom'
    _metrics.write_textfile(str(path), b'old 1\n')
    with open(str(path), 'rb') as reader:
        inode = os.fstat(reader.fileno()).st_ino
        _metrics.write_textfile(str(path), b'new 2\n')
        assert reader.read() == b'old 1\n'  # the reader's file was never rewritten in place
    assert path.read_bytes() == b'new 2\n' and os.stat(str(path)).st_ino != inode


def planted_link(path):
    os.symlink('/etc/passwd', path)


@pytest.mark.parametrize('make, kind', [(os.mkfifo, 'a FIFO (named pipe)'), (planted_link, 'a symbolic link (it is not followed)'),
                                        (os.mkdir, 'a directory')])
def test_only_a_regular_file_or_nothing_is_replaced(tmp_path, make, kind):
    path = str(tmp_path / 'stability.prom')
    make(path)
    with pytest.raises(_metrics.MetricsError) as caught:
        _metrics.write_textfile(path, b'x 1\n')
    assert caught.value.msg == 'metrics_path: %s is %s, not a regular file; no metrics were written' % (path, kind)
    assert os.listdir(str(tmp_path)) == ['stability.prom']


def test_the_temporary_file_is_hidden_beside_the_target_and_not_a_prom_file(tmp_path, monkeypatch):
    renamed = []
    real_replace = os.replace
    monkeypatch.setattr(_metrics.os, 'replace', lambda source, target: renamed.append(source) or real_replace(source, target))
    monkeypatch.chdir(str(tmp_path))
    os.mkdir('other')
    _metrics.write_textfile('stability.prom', b'x 1\n')
    _metrics.write_textfile(os.path.join('other', 'stability.prom'), b'x 2\n')
    first, second = renamed
    assert os.path.dirname(first) == str(tmp_path) and os.path.dirname(second) == str(tmp_path / 'other')
    for name in (os.path.basename(first), os.path.basename(second)):
        assert name.startswith('.stability.prom.') and name.endswith('.tmp') and len(name) > len('.stability.prom..tmp')


def test_a_path_under_a_file_is_one_line_naming_the_option(tmp_path):
    (tmp_path / 'file').write_text('x')
    path = str(tmp_path / 'file' / 'stability.prom')
    with pytest.raises(_metrics.MetricsError) as caught:
        _metrics.write_textfile(path, b'x 1\n')
    assert caught.value.msg == 'metrics_path: cannot use %s: Not a directory' % path


def test_a_missing_directory_is_one_line_naming_the_option(tmp_path):
    path = str(tmp_path / 'missing' / 'stability.prom')
    with pytest.raises(_metrics.MetricsError) as caught:
        _metrics.write_textfile(path, b'x 1\n')
    assert caught.value.msg == 'metrics_path: cannot write %s: No such file or directory' % path


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def full(*args):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(_metrics.os, 'replace', full)
    with pytest.raises(_metrics.MetricsError) as caught:
        _metrics.write_textfile(str(tmp_path / 'stability.prom'), b'x 1\n')
    assert caught.value.msg == 'metrics_path: cannot write %s: No space left on device' % (tmp_path / 'stability.prom')
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize('value, expected', [(None, None), ('~/stability.prom', os.path.expanduser('~/stability.prom'))])
def test_clean_metrics_path(value, expected):
    assert _metrics.clean_metrics_path(value) == expected


@pytest.mark.parametrize('value, message', [('', 'metrics_path is empty; leave it unset for the default'),
                                            ('a\nb.prom', 'metrics_path contains a control character (such as a line break)')])
def test_clean_metrics_path_refuses(value, message):
    with pytest.raises(StabilityOptionError) as caught:
        _metrics.clean_metrics_path(value)
    assert caught.value.msg == message


# -- the Pushgateway options -----------------------------------------------------------------


@pytest.mark.parametrize('value, expected', [
    (None, None),
    ('http://pushgateway.example:9091/', 'http://pushgateway.example:9091'),
    (' https://metrics.example/pushgateway ', 'https://metrics.example/pushgateway'),
    ('http://[::1]:9091', 'http://[::1]:9091'),
    ('https://metrics.example/PUSHX/', 'https://metrics.example/PUSHX'),
])
def test_clean_pushgateway_url(value, expected):
    assert _metrics.clean_pushgateway_url(value) == expected


@pytest.mark.parametrize('value, expected', [
    ('pipeline=nightly', {'pipeline': 'nightly'}),
    ('pipeline = nightly, runner=ci/7', {'pipeline': 'nightly', 'runner': 'ci/7'}),
    (['pipeline=a=b'], {'pipeline': 'a=b'}),
    ('pipeline=nightly renders', {'pipeline': 'nightly renders'}),
])
def test_clean_grouping(value, expected):
    assert _metrics.clean_grouping(value) == expected


@pytest.mark.parametrize('clean, value, message', [
    (_metrics.clean_pushgateway_url, '', 'pushgateway_url is empty; leave it unset to push nothing'),
    (_metrics.clean_pushgateway_url, 'pushgateway:9091', "pushgateway_url must start with http:// or https://, got 'pushgateway:9091'"),
    (_metrics.clean_pushgateway_url, 'ftp://host', "pushgateway_url must start with http:// or https://, got 'ftp://host'"),
    (_metrics.clean_pushgateway_url, 'http://user:s3cret@host',
     'pushgateway_url must not contain credentials; set STABILITY_PUSHGATEWAY_USERNAME and STABILITY_PUSHGATEWAY_PASSWORD'),
    (_metrics.clean_pushgateway_url, 'http://user@host',
     'pushgateway_url must not contain credentials; set STABILITY_PUSHGATEWAY_USERNAME and STABILITY_PUSHGATEWAY_PASSWORD'),
    (_metrics.clean_pushgateway_url, 'http://host:99999', 'pushgateway_url is not a valid URL (Port out of range 0-65535)'),
    (_metrics.clean_pushgateway_url, 'http://', "pushgateway_url has no host name or a malformed one, got 'http://'"),
    (_metrics.clean_pushgateway_url, 'http://[::1]evil', "pushgateway_url has no host name or a malformed one, got 'http://[::1]evil'"),
    (_metrics.clean_pushgateway_url, 'http://host/?a=1', "pushgateway_url must not contain a query or a fragment, got 'http://host/?a=1'"),
    (_metrics.clean_pushgateway_url, 'http://ho st', 'pushgateway_url contains white space, a control character or a character that is not ASCII'),
    (_metrics.clean_grouping, 'nightly', "pushgateway_grouping items are label=value with a value, got 'nightly'"),
    (_metrics.clean_grouping, 'pipeline=', "pushgateway_grouping items are label=value with a value, got 'pipeline='"),
    (_metrics.clean_grouping, 'job=x',
     "pushgateway_grouping has 'job', which is not a label name of its own (letters, digits, _; not job, organization_id, organization_name)"),
    (_metrics.clean_grouping, 'organization_id=x', "pushgateway_grouping has 'organization_id', which is not a label name"),
    (_metrics.clean_grouping, '__name__=x', "pushgateway_grouping has '__name__', which is not a label name"),
    (_metrics.clean_grouping, '9pipe=x', "pushgateway_grouping has '9pipe', which is not a label name"),
    (_metrics.clean_grouping, 'a=1,a=2', 'pushgateway_grouping names a twice'),
    (_metrics.clean_grouping, ['a=x\ny'], 'pushgateway_grouping has a control character in the value of a'),
    (_metrics.clean_grouping, ['a=x\x7f'], 'pushgateway_grouping has a control character in the value of a'),
    (_metrics.clean_grouping, [], 'pushgateway_grouping is empty; leave it unset for playbook=<the playbook name>'),
    (_metrics.clean_grouping, ' , ', 'pushgateway_grouping is empty; leave it unset for playbook=<the playbook name>'),
    (_metrics.clean_grouping, [' '], 'pushgateway_grouping is empty; leave it unset for playbook=<the playbook name>'),
    (_metrics.clean_grouping, {'a': 'b'}, "pushgateway_grouping must be a list of label=value items, got {'a': 'b'}"),
])
def test_pushgateway_options_are_refused_in_one_line_naming_the_option(clean, value, message):
    with pytest.raises(StabilityOptionError) as caught:
        clean(value)
    assert caught.value.msg.startswith(message)
    assert 's3cret' not in caught.value.msg


@pytest.mark.parametrize('url', ['https://pushgateway.example', 'http://127.0.0.1:9091', 'http://localhost:9091', 'http://[::1]:9091'])
def test_credentials_travel_over_https_or_loopback(url):
    assert _metrics.clean_credentials(url, 'ci', 'pa55') == ('ci', 'pa55')
    assert _metrics.clean_credentials(url, 'ci', 'pass phrase') == ('ci', 'pass phrase')
    assert _metrics.clean_credentials(url, '', None) is None


@pytest.mark.parametrize('url, username, password, message', [
    ('http://pushgateway.example', 'ci', 'pa55', 'pushgateway_url uses plain http:// to pushgateway.example, which would send the Pushgateway '
                                                 'password in clear text'),
    ('https://p.example', 'ci', None, 'STABILITY_PUSHGATEWAY_PASSWORD is not set, but STABILITY_PUSHGATEWAY_USERNAME is: set both or neither'),
    ('https://p.example', None, 'pa55', 'STABILITY_PUSHGATEWAY_USERNAME is not set, but STABILITY_PUSHGATEWAY_PASSWORD is: set both or neither'),
    ('https://p.example', 'c:i', 'pa55', 'STABILITY_PUSHGATEWAY_USERNAME or STABILITY_PUSHGATEWAY_PASSWORD holds a colon'),
    ('https://p.example', 'ci', 'pa55\r\nX: y', 'STABILITY_PUSHGATEWAY_USERNAME or STABILITY_PUSHGATEWAY_PASSWORD holds a colon'),
    ('https://p.example', 'ci', 'pa55\x7f', 'STABILITY_PUSHGATEWAY_USERNAME or STABILITY_PUSHGATEWAY_PASSWORD holds a colon'),
])
def test_credentials_refused(url, username, password, message):
    with pytest.raises(StabilityOptionError) as caught:
        _metrics.clean_credentials(url, username, password)
    assert caught.value.msg.startswith(message)
    assert 'pa55' not in caught.value.msg


def test_clean_ca_path(tmp_path):
    ca = tmp_path / 'ca.pem'
    ca.write_text('x')
    assert _metrics.clean_ca_path('https://p.example', str(ca)) == str(ca)
    assert _metrics.clean_ca_path('https://p.example', None) is None
    for url, value, message in (('https://p.example', str(tmp_path / 'no.pem'), 'pushgateway_ca_path %s is not a readable file' % (tmp_path / 'no.pem')),
                                ('https://p.example', str(tmp_path), 'pushgateway_ca_path %s is not a readable file' % tmp_path),
                                ('https://p.example', 'ca\n.pem', 'pushgateway_ca_path contains a control character (such as a line break)'),
                                ('http://p.example', str(ca), 'pushgateway_ca_path is set but pushgateway_url is not https://')):
        with pytest.raises(StabilityOptionError) as caught:
            _metrics.clean_ca_path(url, value)
        assert caught.value.msg == message


def raw(values):
    """A raw_option callable: every value comes from the environment variable STABILITY_<NAME>."""
    return lambda name: (values.get(name), 'the environment variable STABILITY_%s' % name.upper() if name in values else None)


def test_pushgateway_from_options_defaults_to_the_playbook_group():
    target = _metrics.pushgateway_from_options(raw({'pushgateway_url': 'http://127.0.0.1:9091'}), 'site.yml', environ={})
    assert (target.url, target.grouping, target.credentials, target.ca_path) == ('http://127.0.0.1:9091', {'playbook': 'site.yml'}, None, None)
    assert _metrics.pushgateway_from_options(raw({}), 'site.yml', environ={}) is None


def test_an_empty_value_as_written_is_refused_naming_its_source():
    with pytest.raises(StabilityOptionError) as caught:
        _metrics.pushgateway_from_options(raw({'pushgateway_url': ' '}), 'site.yml', environ={})
    assert caught.value.msg == 'pushgateway_url (set by the environment variable STABILITY_PUSHGATEWAY_URL) is empty; leave it unset to push nothing'


def test_pushgateway_from_options_takes_the_grouping_and_the_ca(tmp_path):
    ca = tmp_path / 'ca.pem'
    ca.write_text('x')
    target = _metrics.pushgateway_from_options(raw({'pushgateway_url': 'https://p.example', 'pushgateway_grouping': 'pipeline=a',
                                                    'pushgateway_ca_path': str(ca)}), None, environ={})
    assert (target.grouping, target.ca_path, target.timeout) == ({'pipeline': 'a'}, str(ca), 10.0)
    assert repr(target) == "Pushgateway(url='https://p.example', grouping={'pipeline': 'a'}, credentials=None, ca_path='%s')" % ca
    assert _metrics.pushgateway_from_options(raw({'pushgateway_url': 'https://p.example'}), None, environ={}).grouping == {}


def test_pushgateway_from_options_says_where_a_refused_value_came_from():
    with pytest.raises(StabilityOptionError) as caught:
        _metrics.pushgateway_from_options(raw({'pushgateway_url': 'http://h', 'pushgateway_grouping': 'job=x'}), 'site.yml', environ={})
    assert caught.value.msg.startswith("pushgateway_grouping (set by the environment variable STABILITY_PUSHGATEWAY_GROUPING) has 'job'")


def test_the_credentials_never_show_in_the_target():
    target = _metrics.pushgateway_from_options(raw({'pushgateway_url': 'https://p.example'}), 'site.yml',
                                               environ={_metrics.USERNAME_ENV: 'ci', _metrics.PASSWORD_ENV: 'pa55w0rd'})
    assert target.credentials == ('ci', 'pa55w0rd')
    assert repr(target) == "Pushgateway(url='https://p.example', grouping={'playbook': 'site.yml'}, credentials=set, ca_path=None)"


# -- the push --------------------------------------------------------------------------------


class Recorder(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_PUT(self):  # pylint: disable=invalid-name
        body = self.rfile.read(int(self.headers['Content-Length']))
        self.server.seen.append((self.command, self.path, self.headers.get('Authorization'), body))
        self.send_response(self.server.status)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    server = http.server.HTTPServer(('127.0.0.1', 0), Recorder)
    server.seen, server.status = [], 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


READINGS = [dict(organization_id='org-a', organization_name=HOSTILE, credits=9.5, time=5.0, spent=0.5)]


def test_a_push_puts_the_group_of_the_job_and_grouping_key(gateway):
    url = 'http://127.0.0.1:%d' % gateway.server_port
    _metrics.Pushgateway(url, {'playbook': 'site.yml', 'runner': 'ci/7'}).push(prometheus_client, READINGS)
    (method, path, authorization, body), = gateway.seen
    assert (method, authorization) == ('PUT', None)
    assert path == '/metrics/job/stabilityai_platform/playbook/site.yml/runner@base64/%s' % base64.urlsafe_b64encode(b'ci/7').decode()
    assert samples(body)[('stability_credits', 'org-a', server_data(HOSTILE, None))] == 9.5


def test_a_push_never_holds_the_key(gateway):
    url = 'http://127.0.0.1:%d' % gateway.server_port
    _metrics.Pushgateway(url, {}).push(prometheus_client, [dict(organization_id='org-a', organization_name=KEY, credits=1.0, time=1.0)], KEY)
    assert KEY.encode() not in gateway.seen[0][3] and b'organization_name="********"' in gateway.seen[0][3]


def test_a_push_sends_basic_auth_when_set(gateway):
    url = 'http://localhost:%d' % gateway.server_port
    _metrics.Pushgateway(url, {}, credentials=('ci', 'pa55')).push(prometheus_client, READINGS)
    assert gateway.seen[0][1] == '/metrics/job/stabilityai_platform'
    assert gateway.seen[0][2] == 'Basic ' + base64.b64encode(b'ci:pa55').decode()


def test_a_loopback_push_bypasses_a_proxy(gateway, monkeypatch):
    monkeypatch.setenv('http_proxy', 'http://127.0.0.1:9')  # nothing listens there
    monkeypatch.delenv('no_proxy', raising=False)
    monkeypatch.delenv('NO_PROXY', raising=False)
    _metrics.Pushgateway('http://127.0.0.1:%d' % gateway.server_port, {}, credentials=('ci', 'pa55')).push(prometheus_client, READINGS)
    assert len(gateway.seen) == 1


def test_a_refused_push_is_one_line_naming_the_option_without_the_password(gateway):
    gateway.status = 401
    url = 'http://127.0.0.1:%d' % gateway.server_port
    with pytest.raises(_metrics.MetricsError) as caught:
        _metrics.Pushgateway(url, {}, credentials=('ci', 'pa55')).push(prometheus_client, READINGS)
    assert caught.value.msg == 'pushgateway_url: cannot push to %s: HTTP Error 401: Unauthorized' % url


def test_an_unreachable_gateway_is_one_line_naming_the_option(gateway):
    url = 'http://127.0.0.1:%d' % gateway.server_port
    gateway.shutdown()
    gateway.server_close()
    with pytest.raises(_metrics.MetricsError) as caught:
        _metrics.Pushgateway(url, {}, timeout=2).push(prometheus_client, READINGS)
    assert caught.value.msg.startswith('pushgateway_url: cannot push to %s: <urlopen error [Errno 111] Connection refused>' % url)


def test_a_push_gives_up_after_its_timeout():
    with contextlib.closing(socket.socket()) as silent:  # accepts connections (backlog) and never answers
        silent.bind(('127.0.0.1', 0))
        silent.listen(1)
        started = time.monotonic()
        with pytest.raises(_metrics.MetricsError) as caught:
            _metrics.Pushgateway('http://127.0.0.1:%d' % silent.getsockname()[1], {}, timeout=0.5).push(prometheus_client, READINGS)
    assert time.monotonic() - started < 5
    assert 'timed out' in caught.value.msg


def test_a_long_error_is_cut_to_one_line(monkeypatch):
    def fail(*args, **kwargs):
        raise OSError('line\n' * 200)
    monkeypatch.setattr(prometheus_client, 'push_to_gateway', fail)
    with pytest.raises(_metrics.MetricsError) as caught:
        _metrics.Pushgateway('https://p.example', {}).push(prometheus_client, READINGS)
    assert caught.value.msg.startswith('pushgateway_url: cannot push to https://p.example: line line ')
    assert caught.value.msg.endswith('...') and '\n' not in caught.value.msg and len(caught.value.msg) < 500


def test_an_error_echoing_the_password_is_redacted(monkeypatch):
    def fail(*args, **kwargs):
        raise OSError('auth ci:pa55w0rd-long rejected for %s' % KEY)
    monkeypatch.setattr(prometheus_client, 'push_to_gateway', fail)
    with pytest.raises(_metrics.MetricsError) as caught:
        _metrics.Pushgateway('https://p.example', {}, credentials=('ci-user', 'pa55w0rd-long')).push(prometheus_client, READINGS, secret=KEY)
    assert 'pa55w0rd' not in caught.value.msg and KEY not in caught.value.msg


@pytest.fixture
def tls_gateway(tmp_path):
    authority = trustme.CA()
    server = http.server.HTTPServer(('127.0.0.1', 0), Recorder)
    server.seen, server.status = [], 200
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert('127.0.0.1').configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ca = tmp_path / 'ca.pem'
    authority.cert_pem.write_to_path(str(ca))
    yield server, str(ca)
    server.shutdown()
    server.server_close()


def test_https_trusts_pushgateway_ca_path_and_otherwise_the_system(tls_gateway):
    server, ca = tls_gateway
    url = 'https://127.0.0.1:%d' % server.server_port
    _metrics.Pushgateway(url, {}, ca_path=ca, timeout=5).push(prometheus_client, READINGS)
    assert len(server.seen) == 1
    with pytest.raises(_metrics.MetricsError) as caught:
        _metrics.Pushgateway(url, {}, timeout=5).push(prometheus_client, READINGS)
    assert 'CERTIFICATE_VERIFY_FAILED' in caught.value.msg
    assert len(server.seen) == 1
