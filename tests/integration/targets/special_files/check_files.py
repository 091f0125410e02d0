#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks of the special_files target (runme.sh):

count OUTPUT N TEXT...  each TEXT occurs exactly N times in OUTPUT (white space ignored: Ansible wraps warnings)
absent OUTPUT TEXT...   no TEXT occurs in OUTPUT, and nothing that looks like a crash
readings LEDGER N       the ledger holds N readings, every line of it one
seed LEDGER             a ledger of one reading whose line has no line break at its end
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'setup_simulator', 'files'))
from checks import fail, read, run  # noqa: E402  (setup_simulator/files/checks.py: what the targets' checks share)

CRASHES = ('Traceback (most recent call last)', 'MODULE FAILURE', 'Exception:', 'Error:')


def squeeze(text):
    return re.sub(r'\s+', '', text)


def count(path, times, *texts):
    output = read(path)
    for text in texts:
        found = squeeze(output).count(squeeze(text))
        if found != int(times):
            fail('%r occurs %d times in %s, not %s' % (text, found, path, times), output)
    absent(path)


def absent(path, *texts):
    output = read(path)
    for text in texts + CRASHES:
        if squeeze(text) in squeeze(output):
            fail('%r is in %s' % (text, path), output)


def readings(path, expected):
    lines = read(path).split('\n')
    if lines[-1] != '':
        fail('the ledger %s does not end with a line break' % path)
    parsed = [json.loads(line) for line in lines[:-1]]
    if len(parsed) != int(expected):
        fail('the ledger %s holds %d readings, not %s' % (path, len(parsed), expected), read(path))


def seed(path):
    reading = {'time': '2026-01-01T00:00:00Z', 'organization_id': 'org-alice-studio', 'credits': 100.0,
               'run_id': 'seeded', 'event': 'end', 'playbook': 'seed.yml'}
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(json.dumps(reading))  # no line break: a writer that died mid-way, or an edit by hand


if __name__ == '__main__':
    run({'count': count, 'absent': absent, 'readings': readings, 'seed': seed}, sys.argv)
