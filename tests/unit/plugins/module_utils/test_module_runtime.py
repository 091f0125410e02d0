# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a module process does around the client: the GC freeze runs only in a real module process; failures become fail_json."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import gc
import runpy

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils import _module_runtime


@pytest.mark.parametrize('module', ['stability_balance_info', 'stability_account_info'])
def test_only_a_module_process_freezes_what_it_imported(module, monkeypatch):
    """``main()`` (what unit tests and ansible-doc call) leaves the collector alone; ``__main__`` does not."""
    frozen = []
    monkeypatch.setattr(gc, 'freeze', lambda: frozen.append(True))
    name = 'ansible_collections.stabilityai.platform.plugins.modules.%s' % module

    def stop(*args, **kwargs):
        raise SystemExit(0)
    from ansible.module_utils import basic
    monkeypatch.setattr(basic.AnsibleModule, '__init__', stop)
    runpy.run_module(name, run_name='not_main')
    assert frozen == []
    with pytest.raises(SystemExit):
        runpy.run_module(name, run_name='__main__')
    assert frozen == [True]


class FakeModule(object):
    def __init__(self, params):
        self.params = params
        self.warnings = []

    def fail_json(self, **result):
        raise SystemExit(result)

    def warn(self, warning):
        self.warnings.append(warning)


def test_bad_options_fail_the_module_with_the_one_line_error():
    with pytest.raises(SystemExit) as caught:
        _module_runtime.client_for_module(FakeModule({'api_key': 'sk-x', 'retries': 11}))
    assert caught.value.args[0] == {'msg': 'retries must be a whole number from 0 to 10, got 11', 'invalid_option': 'retries'}


def test_client_warnings_reach_the_module():
    module = FakeModule({'api_key': 'sk-x', 'validate_certs': False})
    client = _module_runtime.client_for_module(module)
    client.close()
    assert module.warnings == ['validate_certs is false: the TLS certificate of https://api.stability.ai is not checked']


class StrictSyslog(object):
    """syslog as Python 3.12 and newer have it: a message with a NUL character is refused."""

    LOG_USER = 8
    LOG_INFO = 6

    def __init__(self):
        self.lines = []

    def openlog(self, *args):
        pass

    def syslog(self, priority, message):
        if '\x00' in message:
            raise ValueError('embedded null character')
        self.lines.append(message)


@pytest.fixture
def strict_syslog(monkeypatch):
    from ansible.module_utils import basic
    log = StrictSyslog()
    monkeypatch.setattr(basic, 'syslog', log, raising=False)
    monkeypatch.setattr(basic, 'HAS_SYSLOG', True)
    monkeypatch.setattr(basic, 'has_journal', False)
    return log


NUL_KEY = 'sk-unit-nul-key-0123456789'


@pytest.mark.parametrize('module, option, value, message', [
    ('stability_balance_info', 'organization', 'org-lab\x00', 'organization contains a control character'),
    ('stability_account_info', 'api_url', 'https://api.stability.ai\x00/', 'api_url contains white space, a control character'),
])
def test_a_nul_in_an_option_is_refused_by_name_not_by_syslog(module, option, value, message, strict_syslog, run_module, fake_api):
    """The invocation is logged with the NUL written as \\x00, so the module's own check answers."""
    plugin = __import__('ansible_collections.stabilityai.platform.plugins.modules.%s' % module, fromlist=['main'])
    result, failed, dummy = run_module(plugin, {'api_key': NUL_KEY, option: value})
    assert failed and result['msg'].startswith(message), result['msg']
    assert fake_api.requests == []
    assert [line for line in strict_syslog.lines if value.replace('\x00', '\\x00') in line]
