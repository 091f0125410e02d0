# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Real Prometheus servers for the monitoring tests: Debian's Pushgateway and node_exporter, and promtool.

``tools/prometheus-binaries.sh`` unpacks them (``apt-get download`` and ``dpkg-deb -x``, no system
service is installed or started) into ``$STABILITY_PROMETHEUS_BINARIES``, or into
``tests/output/monitoring/prometheus`` of the collection.  Each server listens on 127.0.0.1 on a
free port, runs under ``timeout`` so that it stops by itself even if a test run is killed, and is
stopped by its fixture.  The Pushgateway keeps nothing on disk (``--persistence.file=``, empty).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS_PATH = os.environ.get('ANSIBLE_COLLECTIONS_PATH') or os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION_ROOT)))
sys.path.insert(0, os.path.join(COLLECTION_ROOT, 'tests', 'simulator'))
sys.path.insert(0, COLLECTIONS_PATH.split(os.pathsep)[0])  # ansible_collections.stabilityai.platform: the collection under test
import launcher  # noqa: E402 pylint: disable=wrong-import-position
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import server_data  # noqa: E402 pylint: disable=wrong-import-position

SERVER_LIFETIME = 600  # seconds: a server outlives no test run by more than this
FIXTURE = os.path.join(COLLECTION_ROOT, 'tests', 'simulator', 'fixtures', 'default.json')
# A name any member of an organization could give it: quotes, a backslash, a line break, a forged
# series, terminal escapes.  It must come back as one label value, exactly.
HOSTILE_NAME = 'Lab "x"\\ \n} stability_credits{organization_id="forged"} 1e9\r\x1b[2J #'
# The name as the collection hands server data on (control characters shown as U+FFFD): the quotes,
# the backslash, the brace and the forged series stay, and must come back as one label value.
SHOWN_NAME = server_data(HOSTILE_NAME, None)


@pytest.fixture(scope='session')
def prometheus_bin():
    """The folder holding prometheus-pushgateway, prometheus-node-exporter and promtool."""
    dest = os.environ.get('STABILITY_PROMETHEUS_BINARIES') or os.path.join(COLLECTION_ROOT, 'tests', 'output', 'monitoring', 'prometheus')
    subprocess.run(['bash', os.path.join(COLLECTION_ROOT, 'tools', 'prometheus-binaries.sh'), dest], check=True, timeout=600)
    return os.path.join(dest, 'usr', 'bin')


def free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running(argv, ready_url, log_path):
    """Run ``argv`` (under ``timeout``) until the block ends; wait until ``ready_url`` answers."""
    with open(log_path, 'wb') as log:
        process = subprocess.Popen(['timeout', str(SERVER_LIFETIME)] + argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(ready_url, timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # it answers (a server that requires a password says 401)
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    with open(log_path) as handle:
                        raise AssertionError('%s did not start: %s' % (argv[0], handle.read()[-2000:]))
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def pushgateway(prometheus_bin, tmp_path):
    """A Pushgateway on 127.0.0.1, in memory only; its URL."""
    url = 'http://127.0.0.1:%d' % free_port()
    argv = [os.path.join(prometheus_bin, 'prometheus-pushgateway'), '--web.listen-address=' + url[len('http://'):], '--persistence.file=']
    with running(argv, url + '/-/ready', str(tmp_path / 'pushgateway.log')):
        yield url


@pytest.fixture
def node_exporter(prometheus_bin, tmp_path):
    """A node_exporter on 127.0.0.1 with only its textfile collector: (its URL, the collector's directory)."""
    directory = tmp_path / 'textfile'
    directory.mkdir()
    url = 'http://127.0.0.1:%d' % free_port()
    argv = [os.path.join(prometheus_bin, 'prometheus-node-exporter'), '--web.listen-address=' + url[len('http://'):],
            '--collector.disable-defaults', '--collector.textfile', '--collector.textfile.directory=%s' % directory]
    with running(argv, url + '/metrics', str(tmp_path / 'node-exporter.log')):
        yield url, directory


def scrape(url):
    """Every sample ``url`` serves, parsed by prometheus-client's own parser: [(name, labels, value)]."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode('utf-8')
    return [(sample.name, sample.labels, sample.value) for family in text_string_to_metric_families(text) for sample in family.samples]


def stability_samples(samples, **labels):
    """{(name, organization_id, organization_name): value} of the ``stability_*`` samples that carry ``labels``."""
    found = {}
    for name, sample_labels, value in samples:
        if name.startswith('stability_') and all(sample_labels.get(key) == wanted for key, wanted in labels.items()):
            key = (name, sample_labels['organization_id'], sample_labels['organization_name'])
            assert key not in found, 'two samples of %s' % (key,)
            found[key] = value
    return found


@pytest.fixture(scope='session')
def demo_key():
    """Alice's key in the simulator's fixture (three organizations)."""
    with open(FIXTURE) as handle:
        keys = json.load(handle)['keys']
    return [key for key, user in keys.items() if user == 'user-alice'][0]


@pytest.fixture
def simulator(tmp_path):
    """The simulator with the default fixture, Alice Lab renamed to HOSTILE_NAME; its URL."""
    with open(FIXTURE) as handle:
        fixture = json.load(handle)
    fixture['organizations']['org-alice-lab']['name'] = HOSTILE_NAME
    path = tmp_path / 'fixture.json'
    path.write_text(json.dumps(fixture))
    with launcher.running_simulator(['--fixture', str(path), '--lifetime', str(SERVER_LIFETIME)]) as running_simulator:
        yield running_simulator.url


@pytest.fixture
def ansible_env(simulator, demo_key, tmp_path):
    """The environment of an ansible-playbook run against the simulator, with the collection under test."""
    env = dict((name, value) for name, value in os.environ.items() if not name.startswith(('STABILITY_', 'ANSIBLE_')))
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH, STABILITY_API_URL=simulator, STABILITY_API_KEY=demo_key, ANSIBLE_NOCOLOR='1',
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-tmp'), ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    env['PATH'] = os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', '')
    return env


def ansible_playbook(env, *args):
    """Run ansible-playbook; (exit code, output)."""
    result = subprocess.run(['ansible-playbook'] + list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=300, check=False, cwd=os.path.dirname(os.path.abspath(__file__)))
    return result.returncode, result.stdout
