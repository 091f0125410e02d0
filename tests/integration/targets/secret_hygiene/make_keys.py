# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test helper of the secret_hygiene target: two fresh random API keys, and a simulator fixture that knows one.

Usage: python make_keys.py DEFAULT_FIXTURE DIR. Writes, in DIR (which the scan never reads):
fixture.json (the default fixture plus the good key, for user-alice), keys.yml (extra vars
hygiene_key and hygiene_bad_key, the second unknown to the simulator, and hygiene_key_escaped), good.key, bad.key and
needles (the random part of each key, one a line: what the scan looks for).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import secrets
import sys


def main(default_fixture, directory):
    needles = [secrets.token_hex(20), secrets.token_hex(20)]
    good, bad = 'sk-hygiene-' + needles[0], 'sk-hygiene-' + needles[1]
    with open(default_fixture) as handle:
        fixture = json.load(handle)
    fixture['keys'][good] = 'user-alice'
    files = {
        'fixture.json': json.dumps(fixture),
        # hygiene_key_escaped: the good key as JSON \u escapes, for a server that echoes it that way
        'keys.yml': json.dumps({'hygiene_key': good, 'hygiene_bad_key': bad,
                                'hygiene_key_escaped': ''.join('\\u%04x' % ord(char) for char in good)}),
        'good.key': good,
        'bad.key': bad,
        'needles': '\n'.join(needles) + '\n',
    }
    for name, text in files.items():
        descriptor = os.open(os.path.join(directory, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, 'w') as handle:
            handle.write(text)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
