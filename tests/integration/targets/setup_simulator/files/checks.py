# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the check scripts of the integration targets share: failing with what was seen, reading a file, the
simulator's control routes, the scan for the key, and the sub-command of the command line.

A script in a target's folder imports it from this folder, as its runme.sh sources simulator.sh:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'setup_simulator', 'files'))
    from checks import check, read, run  # noqa: E402
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys
import urllib.request


def fail(message, *texts):
    """Exit 1 with the script's name and ``message`` on standard error, then the end of each text it is about."""
    sys.stderr.write('%s: %s\n' % (os.path.basename(sys.argv[0]), message))
    for text in texts:
        sys.stderr.write('%s\n' % text[-4000:])
    sys.exit(1)


def check(condition, message, *texts):
    if not condition:
        fail(message, *texts)


def read(path):
    """The text of a file; bytes that are not UTF-8 read as U+FFFD, so that a check can still show what is there."""
    with open(path, encoding='utf-8', errors='replace') as handle:
        return handle.read()


def control(url, method, path, payload=None):
    """Call one of the simulator's control routes (``/_sim/...``) with ``payload`` as JSON; its JSON answer."""
    data = None if payload is None else json.dumps(payload).encode('utf-8')
    request = urllib.request.Request(url + path, data=data, method=method, headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read().decode('utf-8'))


def secrets_in(texts, key):
    """Fail if any of ``texts`` holds 8 characters of ``key`` in a row, in any case."""
    pieces = set(key.lower()[start:start + 8] for start in range(len(key) - 7))
    for text in texts:
        found = sorted(piece for piece in pieces if piece in text.lower())
        check(not found, '8 characters of the key in a row: %r' % found, text)


def run(commands, argv):
    """``SCRIPT COMMAND ARGUMENT...``: call ``commands[COMMAND](*ARGUMENTS)``; an unknown command fails naming it."""
    if len(argv) < 2 or argv[1] not in commands:
        fail('unknown command %s; one of %s' % (' '.join(argv[1:2]) or '(none)', ', '.join(sorted(commands))))
    commands[argv[1]](*argv[2:])
