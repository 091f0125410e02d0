# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A threshold accepts the same forms in every plugin that has one, and refuses the rest with the same line.

The module, the lookup and the event source each get one table of values for ``min_credits`` and
``warn_below``; each value must be taken as the same number everywhere, or refused everywhere
with one line naming the option and the value.  ``true`` above all: Ansible's ``float`` would make
it 1.0, a gate no one asked for.  The pre-flight playbook passes its thresholds to the module
(its integration target, credit_recap, checks the usage errors); the callback has no threshold.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import pytest
import yaml

from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import lookup_loader

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError
from ansible_collections.stabilityai.platform.plugins.modules import stability_balance_info
from ansible_collections.stabilityai.platform.plugins.plugin_utils._credit_watch import WatchOptions

KEY = 'sk-unit-threshold-forms-4242'
COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
THRESHOLDS = ('min_credits', 'warn_below', 'min_days_left', 'min_runs_left')
OTHER = {'min_credits': 'warn_below', 'warn_below': 'min_credits'}

UNSET = 'unset'
# (value, the number every plugin takes it as, UNSET, or None: refused by every plugin)
FORMS = [
    (None, UNSET),
    (0, 0.0),
    (5, 5.0),
    (12.5, 12.5),
    ('5', 5.0),
    (' 5 ', 5.0),
    ('1e3', 1000.0),
    (True, None),
    (False, None),
    ('true', None),
    ('yes', None),
    ('', None),
    ('   ', None),
    ('100 credits', None),
    ('nan', None),
    (float('nan'), None),
    ('inf', None),
    (float('inf'), None),
    ('1e400', None),
    (10 ** 400, None),  # no float holds it: refused like 1e400, not a traceback
    (-1, None),
    ('-0.5', None),
    ([5], None),
    ({'value': 5}, None),
]
CASES = [(option, value, number) for option in sorted(OTHER) for value, number in FORMS]
IDS = ['%s=%s' % (option, repr(value)[:20]) for option, value, number in CASES]


def refusal(option, value):
    return '%s must be a number of credits, 0 or more, got %r' % (option, value)


@pytest.fixture
def api(fake_api, demo_credits):
    return fake_api.serve(demo_credits)


@pytest.mark.parametrize('option, value, number', CASES, ids=IDS)
def test_the_module(api, run_module, option, value, number):
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, option: value, OTHER[option]: 1})
    if number is None:
        assert (failed, result['msg'], result.get('invalid_option')) == (True, refusal(option, value), option)
        assert api.requests == []
    else:
        assert not failed, result['msg']


@pytest.mark.parametrize('option, value, number', CASES, ids=IDS)
def test_the_lookup(api, monkeypatch, tmp_path, option, value, number):
    monkeypatch.setenv('STABILITY_CACHE_DIR', str(tmp_path / 'cache'))
    lookup = lookup_loader.get('stabilityai.platform.stability_balance')
    options = {'api_key': KEY, option: value, OTHER[option]: 1}
    if number is None:
        with pytest.raises(AnsibleLookupError) as caught:
            lookup.run([], **options)
        assert caught.value.message == refusal(option, value)
        assert api.requests == []
    else:
        assert len(lookup.run([], **options)) == 1


@pytest.mark.parametrize('option, value, number', CASES, ids=IDS)
def test_the_event_source(option, value, number):
    args = {'api_key': KEY, option: value, OTHER[option]: 1}
    if number is None:
        with pytest.raises(StabilityOptionError) as caught:
            WatchOptions(args, {})
        assert str(caught.value) == refusal(option, value)
    else:
        assert WatchOptions(args, {}).thresholds[option] == (None if number == UNSET else number)


@pytest.mark.parametrize('path', ['plugins/modules/stability_balance_info.py', 'plugins/lookup/stability_balance.py',
                                  'extensions/eda/plugins/event_source/credit_balance.py'])
def test_every_plugin_declares_its_thresholds_raw(path):
    """Declared ``float``, Ansible would turn ``true`` into 1.0 before the plugin sees it: the checks above need the value as written."""
    with open(os.path.join(COLLECTION_ROOT, path)) as handle:
        options = yaml.safe_load(re.search(r"DOCUMENTATION = r'''(.*?)'''", handle.read(), re.S).group(1))['options']
    thresholds = dict((name, option['type']) for name, option in options.items() if name in THRESHOLDS)
    assert set(thresholds) >= set(OTHER) and set(thresholds.values()) == {'raw'}
