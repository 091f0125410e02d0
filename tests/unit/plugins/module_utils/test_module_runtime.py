# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a module process does around the client: the GC freeze runs only in a real module process."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import gc
import runpy

import pytest


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
