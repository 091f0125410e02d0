# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""In-process cost of the shared request budget (``_rate_guard``), for benchmark.py (bar g).

Times ``RateGuard.wait`` over a fresh private directory with budgets that never make a request
wait, so what is measured is the turn itself: lock, read, reserve, write, unlock.

* ``typical``: the state holds 100 to 200 turns (the default ``100/10`` keeps at most 100 plus the
  requests queued), one key per round of 100 measured turns;
* ``large``: the state holds 800 to 1000 turns, the most ``rate_limit`` allows;
* ``contended``: PROCESSES forked processes take 100 turns each at once; the wall time per turn,
  which includes waiting for each other's locks.

Usage: python rate_guard_probe.py DIRECTORY [ROUNDS] [PROCESSES]
Prints one JSON document.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import multiprocessing
import os
import statistics
import sys
import time


def load_guard():
    from ansible.plugins.loader import init_plugin_loader
    init_plugin_loader([path for path in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep) if path])
    from ansible_collections.stabilityai.platform.plugins.module_utils._rate_guard import RateGuard
    from ansible_collections.stabilityai.platform.plugins.module_utils._settings import ConnectionSettings
    return RateGuard, ConnectionSettings


def make_guard(directory, key, budget):
    rate_guard, connection_settings = load_guard()
    warnings = []
    guard = rate_guard(connection_settings(api_key=key, api_url='http://127.0.0.1:9', rate_limit=budget), warnings, directory=directory)
    if not guard.shared or warnings:
        raise SystemExit('the guard did not share its budget: %s' % warnings)
    return guard


def take_turns(directory, key, budget, warmup, turns):
    guard = make_guard(directory, key, budget)
    deadline = time.monotonic() + 3600
    for dummy in range(warmup):
        guard.wait(deadline, 'probe')
    times = []
    for dummy in range(turns):
        started = time.perf_counter()
        guard.wait(deadline, 'probe')
        times.append(time.perf_counter() - started)
    return times


def summary(times):
    times = sorted(times)
    return {'turns': len(times), 'median_s': statistics.median(times), 'p95_s': times[int(len(times) * 0.95)], 'max_s': times[-1]}


def _child(directory):
    take_turns(directory, 'sk-probe-contended-000000000000', '1000/3600', 0, 100)


def main(argv):
    directory = argv[0]
    rounds = int(argv[1]) if len(argv) > 1 else 5
    processes = int(argv[2]) if len(argv) > 2 else 4
    typical = []
    for index in range(rounds):
        typical.extend(take_turns(directory, 'sk-probe-typical-%04d' % index, '200/3600', 100, 100))
    large = take_turns(directory, 'sk-probe-large-0000000000000000', '1000/3600', 800, 200)
    context = multiprocessing.get_context('fork')
    workers = [context.Process(target=_child, args=(directory,)) for dummy in range(processes)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if any(worker.exitcode != 0 for worker in workers):
        raise SystemExit('a contending process failed')
    print(json.dumps({
        'typical': summary(typical),
        'large': summary(large),
        'processes': processes,
        'contended_per_turn_s': (time.perf_counter() - started) / (processes * 100),
    }))


if __name__ == '__main__':
    main(sys.argv[1:])
