#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Plant a state in every rate guard file (``rate-*``) of a directory, as a damaged or foreign writer would.

Usage: rate_state.py DIRECTORY lockout|slots|empty [SECONDS_AHEAD]

lockout: a lock-out SECONDS_AHEAD (default a day) ahead; slots: 1000 turns (more than any budget
holds) that far ahead; empty: a fresh state.  The files must exist (a module run makes them); they
keep their mode.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import json
import os
import sys
import time


def main(argv):
    directory, what = argv[1], argv[2]
    ahead = float(argv[3]) if len(argv) > 3 else 86400.0
    now = time.time()
    state = {'slots': [], 'lockout_until': 0.0, 'written': now}
    if what == 'lockout':
        state['lockout_until'] = now + ahead
    elif what == 'slots':
        state['slots'] = [now + ahead] * 1000
    elif what != 'empty':
        sys.exit(__doc__)
    paths = glob.glob(os.path.join(directory, 'rate-*'))
    if not paths:
        sys.exit('no rate guard state in %s: run a module first' % directory)
    for path in paths:
        with open(path, 'w') as handle:
            json.dump(state, handle)


if __name__ == '__main__':
    main(sys.argv)
