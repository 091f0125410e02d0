# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a module call imports: a plain call loads none of the files its options do not use.

AnsiballZ compiles every module_utils file a module call imports from source, on every call (zipimport
writes no .pyc), so a file imported for nothing costs every task its compile time
(docs/docsite/rst/performance.rst).  Each case runs a module's ``main`` in a fresh Python process
against a local HTTP server and reads that process's ``sys.modules``; the runs with the options that
need those files show that the check sees them when they are loaded.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import subprocess
import sys

import pytest

UTILS = 'ansible_collections.stabilityai.platform.plugins.module_utils.'
# Loaded only for the options that use them (and html only for text with a character reference in it,
# _failures only for a request that fails).
LAZY = [UTILS + name for name in ('_account', '_organizations', '_ledger', '_runway', '_metrics', '_failures')] + ['concurrent.futures', 'html']

# The child process: a one-thread HTTP server on a free loopback port that answers the account and
# the balance endpoints (a 403 for organization org-refused), then the module's main() with the options
# in argv[3]; prints its sys.modules.
CHILD = r'''
import json, socket, sys, threading
sys.path[:0] = json.loads(sys.argv[1])
module_name, options = sys.argv[2], json.loads(sys.argv[3])
ACCOUNT = {'id': 'user-1', 'email': 'a@example.com', 'profile_picture': '', 'organizations': [
    {'id': 'org-one', 'name': 'One', 'role': 'OWNER', 'is_default': True},
    {'id': 'org-two', 'name': 'Two', 'role': 'MEMBER', 'is_default': False}]}
server = socket.socket()
server.bind(('127.0.0.1', 0))
server.listen(8)

def serve():
    while True:
        connection, dummy = server.accept()
        request = b''
        while b'\r\n\r\n' not in request:
            request += connection.recv(65536)
        body = json.dumps(ACCOUNT if b'/account ' in request.split(b'\r\n')[0] else {'credits': 12.5}).encode()
        status = b'200 OK'
        if b'organization: org-refused' in request.lower():
            status, body = b'403 Forbidden', b'{"name": "forbidden", "message": "not a member"}'
        connection.sendall(b'HTTP/1.1 %s\r\nContent-Type: application/json\r\nConnection: close\r\n'
                           b'Content-Length: %d\r\n\r\n%s' % (status, len(body), body))
        connection.close()

threading.Thread(target=serve, daemon=True).start()
import importlib
from ansible.module_utils import basic
module = importlib.import_module('ansible_collections.stabilityai.platform.plugins.modules.' + module_name)
options = dict({'api_key': 'sk-unit-imports-key-1', 'api_url': 'http://127.0.0.1:%d' % server.getsockname()[1]}, **options)
# As the AnsiballZ loader hands a module its options (ansible-core 2.19 and later).
basic._ANSIBLE_ARGS = json.dumps({'ANSIBLE_MODULE_ARGS': options}).encode()
basic._ANSIBLE_PROFILE = 'legacy'
try:
    module.main()
except SystemExit as exc:
    code = exc.code
print('\n' + json.dumps({'exit': code, 'modules': sorted(sys.modules)}))
'''


def run_child(module_name, options, tmp_path, failed=False):
    """``(result, modules)``: the module's result and every module its process had loaded at the end."""
    env = {'XDG_CACHE_HOME': str(tmp_path / 'xdg-cache'), 'HOME': str(tmp_path), 'PATH': '/usr/bin:/bin', 'LC_ALL': 'C.UTF-8'}
    process = subprocess.run([sys.executable, '-c', CHILD, json.dumps(sys.path), module_name, json.dumps(options)],
                             capture_output=True, text=True, env=env, timeout=120, check=False)
    lines = [line for line in process.stdout.splitlines() if line.strip()]
    assert process.returncode == 0 and len(lines) >= 2, process.stdout + process.stderr
    report = json.loads(lines[-1])
    result = json.loads(lines[-2])
    assert report['exit'] == (1 if failed else 0) and bool(result.get('failed')) == failed, result
    return result, set(report['modules'])


@pytest.mark.parametrize('module_name, options, needed', [
    ('stability_balance_info', {}, []),
    ('stability_balance_info', {'organization': 'org-two', 'min_credits': 1, 'warn_below': 2}, []),
    ('stability_account_info', {}, [UTILS + '_account']),  # the account is what it reads
])
def test_a_plain_call_imports_none_of_the_lazy_files(tmp_path, module_name, options, needed):
    result, modules = run_child(module_name, options, tmp_path)
    assert 'credits' in result or 'account' in result
    assert UTILS + '_client' in modules  # the check reads the right process
    assert [name for name in LAZY if name in modules and name not in needed] == []


@pytest.mark.parametrize('options, loaded', [
    ({'organizations': 'org-one,org-two'}, ['_account', '_organizations', 'concurrent.futures']),
    ({'all_organizations': True}, ['_account', '_organizations', 'concurrent.futures']),
    ({'ledger_path': 'ledger.jsonl'}, ['_ledger', '_runway', '_account']),
    ({'metrics_path': 'balance.prom'}, ['_metrics', '_account']),
])
def test_the_options_that_need_a_lazy_file_load_it(tmp_path, options, loaded):
    """The control: the same check sees the files when an option needs them."""
    options = dict((key, str(tmp_path / value) if key.endswith('_path') else value) for key, value in options.items())
    result, modules = run_child('stability_balance_info', options, tmp_path)
    assert 'credits' in result
    assert [name for name in loaded if (name if '.' in name else UTILS + name) not in modules] == []


@pytest.mark.parametrize('options, message', [
    ({'organization': 'org-refused'}, 'failed with HTTP 403 forbidden: not a member; check that the key belongs'),
    ({'api_url': 'http://127.0.0.1:1', 'retries': 0}, 'failed after 1 attempt: '),  # nothing listens on port 1
])
def test_a_failed_request_loads_the_failures_file(tmp_path, options, message):
    """The control of _failures: a refusal and a network error are worded by it, in the same process check."""
    result, modules = run_child('stability_balance_info', options, tmp_path, failed=True)
    assert message in result['msg']
    assert UTILS + '_failures' in modules
