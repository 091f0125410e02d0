#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is PRIVATE test tooling of the stabilityai.platform collection.
# It is not part of the collection's public API and may change in any release.

"""Start and stop the Stability API simulator in a process of its own: the one launcher.

Whatever needs the simulator outside its own Python process (the integration targets, molecule,
the demo, the benchmark, the runner test, your own playbooks) starts it here, the same way:
``stability_simulator.py --daemon`` on 127.0.0.1, port 0 (the kernel picks a free port), with its
files in a state directory, and with the simulator's one default lifetime of 900 s (``--lifetime``
changes it), so that a run that dies leaves nothing behind for long. ``start`` returns once the
simulator listens; ``stop`` ends it by the pid it wrote, and does nothing when it is not running.

State directory: ``url`` (``http://127.0.0.1:PORT``, or ``https://`` with ``--tls-cert``),
``port``, ``pid`` (both removed by the simulator when it stops) and ``simulator.log``.

Command line (``start`` prints the URL; further arguments go to the simulator)::

    python tests/simulator/launcher.py start STATE_DIR [--latency 0.1 --tls-cert PEM --lifetime S ...]
    python tests/simulator/launcher.py stop STATE_DIR

Python::

    with running_simulator(['--rate-limit', '0']) as simulator:
        requests.get(simulator.url + '/v1/user/balance', headers=...)
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import collections
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SIMULATOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'stability_simulator.py')
ANNOUNCEMENT = re.compile(r'listening on (\S+) \(pid (\d+)\)')
STOP_GRACE = 10.0

RunningSimulator = collections.namedtuple('RunningSimulator', 'url pid state_dir log_path')


class LaunchError(RuntimeError):
    """The simulator did not start."""


def start(state_dir, options=(), python=None):
    """Start the simulator as a daemon with its files in ``state_dir``; return a RunningSimulator."""
    if not os.path.isdir(state_dir):
        os.makedirs(state_dir)
    state_dir = os.path.abspath(state_dir)
    log_path = os.path.join(state_dir, 'simulator.log')
    command = [python or sys.executable, SIMULATOR, '--daemon', '--port-file', os.path.join(state_dir, 'port'),
               '--pid-file', os.path.join(state_dir, 'pid'), '--log-file', log_path] + list(options)
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            timeout=60, check=False)
    announced = ANNOUNCEMENT.search(result.stdout)
    if result.returncode != 0 or not announced:
        raise LaunchError((result.stderr.strip() or result.stdout.strip() or 'exit code %d' % result.returncode))
    with open(os.path.join(state_dir, 'url'), 'w') as handle:
        handle.write(announced.group(1))
    return RunningSimulator(announced.group(1), int(announced.group(2)), state_dir, log_path)


def stop(state_dir, grace=STOP_GRACE):
    """Stop the simulator whose pid file is in ``state_dir``; True when there was one to stop."""
    try:
        with open(os.path.join(state_dir, 'pid')) as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        return False  # never started, or it stopped and removed its pid file
    return stop_process(pid, grace)


def stop_process(pid, grace=STOP_GRACE):
    """SIGTERM ``pid``, wait up to ``grace`` seconds for it to go, then SIGKILL; True when it was running."""
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if process_gone(pid):
            return True
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    return True


def process_gone(pid):
    """Whether ``pid`` has exited (a zombie, whose parent has not reaped it yet, counts as gone)."""
    try:
        os.kill(pid, 0)
    except OSError:
        return True
    try:
        with open('/proc/%d/stat' % pid) as stat:
            return stat.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except OSError:
        return os.path.isdir('/proc')  # it went in between; without /proc, kill(pid, 0) is all we know


@contextlib.contextmanager
def running_simulator(options=(), state_dir=None, python=None):
    """Start the simulator for the ``with`` block and stop it after; a temporary state directory unless given."""
    scratch = None
    if state_dir is None:
        state_dir = scratch = tempfile.mkdtemp(prefix='stability-sim-')
    try:
        simulator = start(state_dir, options, python)
        try:
            yield simulator
        finally:
            stop(state_dir)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='launcher.py', description=__doc__.split('\n\n', maxsplit=1)[0])
    commands = parser.add_subparsers(dest='command', required=True)
    start_parser = commands.add_parser('start', help='start the simulator and print its URL; other arguments go to the simulator')
    start_parser.add_argument('state_dir', help='directory for its url, port, pid and log files (created if needed)')
    stop_parser = commands.add_parser('stop', help='stop the simulator of a state directory, if it runs')
    stop_parser.add_argument('state_dir')
    args, options = parser.parse_known_args(argv)
    if args.command == 'stop':
        if options:
            parser.error('stop takes no simulator options: %s' % ' '.join(options))
        stop(args.state_dir)
        return 0
    try:
        print(start(args.state_dir, options).url)
    except (LaunchError, OSError, subprocess.SubprocessError) as exc:
        sys.stderr.write('launcher.py: error: the simulator did not start: %s\n' % exc)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
