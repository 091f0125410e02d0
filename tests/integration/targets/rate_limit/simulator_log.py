#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The simulator's side of the rate_limit target (STABILITY_API_URL, STABILITY_API_KEY from the environment).

clear: forget the request log and the rate-limit state.
trip:  lock the key out the way another user of it would, by sending past the simulator's limit.
check: the balance requests logged since the last clear: how many were answered 200 (--ok), the
       most in any --window seconds (--most), and the answers of 429 (--least-429, --most-429).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

URL = os.environ['STABILITY_API_URL']


def control(method, path):
    request = urllib.request.Request(URL + path, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read().decode('utf-8'))


def trip():
    request = urllib.request.Request(URL + '/v1/user/balance', headers={'Authorization': 'Bearer ' + os.environ['STABILITY_API_KEY']})
    for dummy in range(1000):
        try:
            urllib.request.urlopen(request, timeout=30).close()
        except urllib.error.HTTPError as exc:
            if exc.code == 429:
                return
            raise
    sys.exit('the simulator never answered 429: is its rate limit on?')


def check(options):
    log = [entry for entry in control('GET', '/_sim/requests') if entry['endpoint'] == 'balance']
    times = sorted(entry['time'] for entry in log)
    refused = sum(1 for entry in log if entry['status'] == 429)
    most = max(sum(1 for other in times if start <= other < start + options.window) for start in times) if times else 0
    print('%d balance requests, %d answered 429, at most %d in any %g s' % (len(log), refused, most, options.window))
    if options.most is not None and len(times) > options.most:
        print('the shortest span of %d logged requests: %.3f s' % (
            options.most + 1, min(later - earlier for earlier, later in zip(times, times[options.most:]))))
    problems = []
    answered = sum(1 for entry in log if entry['status'] == 200)
    if options.ok is not None and answered != options.ok:
        problems.append('%d answers of 200, expected %d' % (answered, options.ok))
    if options.most is not None and most > options.most:
        problems.append('%d requests in %g s, more than the budget of %d' % (most, options.window, options.most))
    if refused > options.most_429:
        problems.append('%d answers of 429, more than %d' % (refused, options.most_429))
    if refused < options.least_429:
        problems.append('%d answers of 429, fewer than %d: the lock-out was over before the play met it' % (refused, options.least_429))
    if problems:
        sys.exit('; '.join(problems))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('action', choices=('clear', 'trip', 'check'))
    parser.add_argument('--ok', type=int)
    parser.add_argument('--most', type=int)
    parser.add_argument('--window', type=float, default=2.0)
    parser.add_argument('--most-429', type=int, default=0)
    parser.add_argument('--least-429', type=int, default=0)
    options = parser.parse_args()
    if options.action == 'clear':
        control('DELETE', '/_sim/requests')
    elif options.action == 'trip':
        trip()
    else:
        check(options)


if __name__ == '__main__':
    main()
