# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The CPU the ``credit_recap`` callback adds to a run, in a fresh process, for benchmark.py (bar f).

Ansible is imported first, as in a real run; then the process CPU time (user + system) is taken
around everything the callback does: importing its code (the HTTP client, ``http.client``, ``ssl``), the start
reading, and the end reading with the ledger append, the runway and the JSON report.  Prints one
JSON document: ``cpu_s``, ``wall_s`` and the recap's lines.

Usage: python recap_probe.py API_URL API_KEY WORK_DIR ORGANIZATIONS
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys
import time

import ansible.plugins.callback  # noqa: F401  # pylint: disable=unused-import  # loaded before any callback runs
from ansible.plugins.loader import init_plugin_loader


def main(api_url, api_key, work_dir, organizations):
    options = {'api_url': api_url, 'api_key': api_key, 'organizations': organizations.split(','),
               'ledger_path': os.path.join(work_dir, 'ledger.jsonl'), 'report_path': os.path.join(work_dir, 'recap.json')}
    init_plugin_loader()  # the collection loader, as ansible-playbook sets it up (ANSIBLE_COLLECTIONS_PATH)
    warnings = []
    cpu, wall = time.process_time(), time.perf_counter()
    from ansible_collections.stabilityai.platform.plugins.plugin_utils._recap import CreditRecap  # pylint: disable=import-outside-toplevel
    recap = CreditRecap(options.get, warnings.append, 'probe.yml')
    recap.start()
    lines = recap.finish()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if warnings:
        raise SystemExit('the recap warned: %s' % warnings)
    print(json.dumps({'cpu_s': cpu, 'wall_s': wall, 'lines': lines}))


if __name__ == '__main__':
    main(*sys.argv[1:])
