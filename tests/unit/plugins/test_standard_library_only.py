# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""No plugin loads a Python library from outside the standard library (and ansible-core).

requirements.txt lists nothing and the docs say the collection needs nothing: this holds them to
the code.  A fresh interpreter (the unit tests' own process has loaded requests for the simulator's
tests) imports every plugin, the HTTP client and the event source, then reports which of the
libraries the client used up to 2.0.0 got loaded.  prometheus-client is left out: it is optional
and imported only when a metrics option is set.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

COLLECTION_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))
PREFIX = 'ansible_collections.stabilityai.platform.'
PLUGINS = ['plugins.modules.stability_balance_info', 'plugins.modules.stability_account_info', 'plugins.lookup.stability_balance',
           'plugins.callback.credit_recap', 'plugins.module_utils._client', 'plugins.plugin_utils._recap', 'plugins.plugin_utils._credit_watch']
FORMER = ('requests', 'urllib3', 'charset_normalizer', 'chardet', 'certifi', 'idna', 'socks')
PROBE = '''
import importlib, json, runpy, sys
for name in %r:
    importlib.import_module(name)
runpy.run_path(%r)
print(json.dumps(sorted(set(name.split('.')[0] for name in sys.modules) & set(%r))))
'''


def test_no_plugin_loads_requests_or_what_it_brings():
    source = os.path.join(COLLECTION_ROOT, 'extensions', 'eda', 'plugins', 'event_source', 'credit_balance.py')
    code = PROBE % ([PREFIX + name for name in PLUGINS], source, FORMER)
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120, check=False,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path)))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []
