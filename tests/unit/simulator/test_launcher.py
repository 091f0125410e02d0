# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tests/simulator/launcher.py: the one way the tests start the simulator in a process of its own."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import subprocess
import sys

import pytest
import requests

from ansible_collections.stabilityai.platform.tests.simulator import launcher
from ansible_collections.stabilityai.platform.tests.simulator.stability_simulator import DEFAULT_LIFETIME

BOB = 'sk-sim-bob-5OvJqKtyjJxXnYIQjk'
TIMEOUT = 10
LAUNCHER_SCRIPT = os.path.splitext(launcher.__file__)[0] + '.py'
TESTS_README = os.path.join(os.path.dirname(LAUNCHER_SCRIPT), '..', 'README.md')


def run_cli(*arguments):
    return subprocess.run([sys.executable, LAUNCHER_SCRIPT] + list(arguments), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60, check=False)


def test_running_simulator_serves_on_loopback_and_stops_after_the_block():
    with launcher.running_simulator(['--rate-limit', '0']) as simulator:
        assert re.match(r'^http://127\.0\.0\.1:\d+$', simulator.url)
        assert simulator.pid != os.getpid()
        response = requests.get(simulator.url + '/v1/user/balance', headers={'Authorization': 'Bearer ' + BOB}, timeout=TIMEOUT)
        assert response.json() == {'credits': 42.75}
        with open(os.path.join(simulator.state_dir, 'url')) as handle:
            assert handle.read() == simulator.url
        assert os.path.isfile(simulator.log_path)
    assert launcher.process_gone(simulator.pid)
    assert not os.path.exists(simulator.state_dir), 'a temporary state directory is removed'
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(simulator.url + '/_sim/health', timeout=TIMEOUT)


def test_a_given_state_directory_keeps_the_log(tmp_path):
    state_dir = tmp_path / 'simulator'
    with launcher.running_simulator(['--verbose'], state_dir=str(state_dir)) as simulator:
        requests.get(simulator.url + '/_sim/health', timeout=TIMEOUT)
    assert sorted(os.listdir(str(state_dir))) == ['simulator.log', 'url'], 'the simulator removes its port and pid files'
    assert 'GET /_sim/health' in (state_dir / 'simulator.log').read_text()


def test_a_simulator_that_cannot_start_raises_its_reason(tmp_path):
    with pytest.raises(launcher.LaunchError) as caught:
        launcher.start(str(tmp_path), ['--rate-limit', 'fast'])
    assert 'rate limit must look like N/S' in str(caught.value)


def test_stop_without_a_running_simulator_does_nothing(tmp_path):
    assert launcher.stop(str(tmp_path)) is False
    assert launcher.stop(str(tmp_path / 'never-made')) is False


def test_stop_process_kills_what_ignores_sigterm():
    process = subprocess.Popen([sys.executable, '-c', 'import signal, sys, time\n'
                                'signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint("ready", flush=True)\ntime.sleep(60)'],
                               stdout=subprocess.PIPE, universal_newlines=True)
    try:
        assert process.stdout.readline() == 'ready\n'
        assert launcher.stop_process(process.pid, grace=0.3) is True
        assert process.wait(timeout=10) == -9
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def test_cli_start_prints_the_url_and_stop_stops_it(tmp_path):
    state_dir = str(tmp_path / 'simulator')
    started = run_cli('start', state_dir, '--latency', '0')
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    assert re.match(r'^http://127\.0\.0\.1:\d+$', url) and started.stdout == url + '\n'
    with open(os.path.join(state_dir, 'pid')) as handle:
        pid = int(handle.read())
    try:
        assert requests.get(url + '/_sim/health', timeout=TIMEOUT).json() == {'ok': True}
        stopped = run_cli('stop', state_dir)
        assert stopped.returncode == 0 and stopped.stdout == ''
        assert launcher.process_gone(pid)
    finally:
        launcher.stop(state_dir)  # only if the test failed before: the pid file goes with the simulator
    assert run_cli('stop', state_dir).returncode == 0, 'stopping twice is fine'


@pytest.mark.parametrize('arguments, message', [
    (['start', 'STATE', '--rate-limit', 'fast'], 'the simulator did not start: '),
    (['stop', 'STATE', '--latency', '1'], 'stop takes no simulator options'),
    (['restart', 'STATE'], 'invalid choice'),
])
def test_cli_refuses_what_it_cannot_do(tmp_path, arguments, message):
    result = run_cli(*[str(tmp_path) if argument == 'STATE' else argument for argument in arguments])
    assert result.returncode != 0 and result.stdout == ''
    assert message in result.stderr


def test_the_one_default_lifetime_is_the_simulators_and_documented_as_such():
    """The launcher passes no --lifetime of its own; the launcher and tests/README.md name the simulator's."""
    with open(TESTS_README) as handle:
        readme = handle.read()
    for text in (launcher.__doc__, readme):
        assert 'default lifetime of %d s' % DEFAULT_LIFETIME in ' '.join(text.split())
