# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The callback checks its options as written, from the environment and ansible.cfg, as the lookup does."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import types

import pytest

from ansible.plugins.loader import callback_loader

from ansible_collections.stabilityai.platform.plugins.callback import credit_recap
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError


@pytest.fixture
def callback():
    plugin = callback_loader.get('stabilityai.platform.credit_recap')
    assert plugin is not None
    return plugin


@pytest.mark.parametrize('line, message', [
    ('validate_certs = maybe', "validate_certs (set by [stabilityai_platform] validate_certs in {cfg}) must be true or false, got 'maybe'"),
    ('retries = 1.5', "retries (set by [stabilityai_platform] retries in {cfg}) must be a whole number from 0 to 10, got '1.5'"),
    ('timeout = 1e10',
     "timeout (set by [stabilityai_platform] timeout in {cfg}) must be a number of seconds greater than 0 and at most 600, got '1e10'"),
    ('timeout = soon', "timeout (set by [stabilityai_platform] timeout in {cfg}) must be a number of seconds greater than 0 and at most 600, got 'soon'"),
])
def test_a_value_ansible_would_guess_at_is_refused_naming_its_source(callback, ansible_cfg, line, message):
    cfg = ansible_cfg(line)
    with pytest.raises(StabilityOptionError) as caught:
        callback._check_raw_options()
    assert caught.value.msg == message.format(cfg=cfg)


def test_the_environment_is_named_as_the_source(callback, ansible_cfg, monkeypatch):
    ansible_cfg()
    monkeypatch.setenv('STABILITY_API_VERSION', 'v2')
    with pytest.raises(StabilityOptionError) as caught:
        callback._check_raw_options()
    assert caught.value.msg == "api_version (set by the environment variable STABILITY_API_VERSION) must be one of v1, v1alpha, got 'v2'"


def test_good_values_pass(callback, ansible_cfg, monkeypatch):
    monkeypatch.delenv('STABILITY_API_VERSION', raising=False)
    ansible_cfg('validate_certs = no', 'timeout = 7.5', 'retries = 2')
    callback._check_raw_options()


def test_the_metrics_options_are_read_as_written_from_the_environment_and_ansible_cfg(callback, ansible_cfg, monkeypatch):
    for name in ('STABILITY_METRICS_FILE', 'STABILITY_PUSHGATEWAY_URL', 'STABILITY_PUSHGATEWAY_GROUPING', 'STABILITY_PUSHGATEWAY_CA_PATH'):
        monkeypatch.delenv(name, raising=False)
    cfg = ansible_cfg('[callback_credit_recap]', 'metrics_path = ', 'pushgateway_grouping = pipeline=nightly, runner=7')
    monkeypatch.setenv('STABILITY_PUSHGATEWAY_URL', 'http://127.0.0.1:9091')
    assert callback._raw_option('metrics_path') == ('', '[callback_credit_recap] metrics_path in %s' % cfg)
    assert callback._raw_option('pushgateway_grouping') == ('pipeline=nightly, runner=7', '[callback_credit_recap] pushgateway_grouping in %s' % cfg)
    assert callback._raw_option('pushgateway_url') == ('http://127.0.0.1:9091', 'the environment variable STABILITY_PUSHGATEWAY_URL')
    assert callback._raw_option('pushgateway_ca_path') == (None, None)


@pytest.mark.parametrize('option, variable', [('ledger_path', 'STABILITY_LEDGER'), ('report_path', 'STABILITY_RECAP_REPORT')])
def test_an_empty_environment_variable_means_unset(callback, ansible_cfg, monkeypatch, option, variable):
    """Ansible makes an empty path the current directory: the ledger would be a directory."""
    ansible_cfg()
    monkeypatch.setenv(variable, '')
    callback.set_options()
    assert callback.get_option(option) not in (None, '')
    assert callback._option(option) is None


@pytest.mark.parametrize('option, variable', [('ledger_path', 'STABILITY_LEDGER'), ('report_path', 'STABILITY_RECAP_REPORT')])
def test_an_empty_environment_variable_gives_way_to_ansible_cfg(callback, ansible_cfg, monkeypatch, tmp_path, option, variable):
    """Read as Ansible reads the file when the variable is not set: relative to the file's directory."""
    ansible_cfg('[callback_credit_recap]', '%s = recap/out.json' % option)
    monkeypatch.setenv(variable, ' ')
    callback.set_options()
    assert callback._option(option) == str(tmp_path / 'recap' / 'out.json')
    monkeypatch.delenv(variable)
    callback.set_options()
    assert callback._option(option) == callback.get_option(option) == str(tmp_path / 'recap' / 'out.json')


def test_a_set_environment_variable_is_used_as_ansible_gives_it(callback, ansible_cfg, monkeypatch, tmp_path):
    ansible_cfg()
    monkeypatch.setenv('STABILITY_LEDGER', str(tmp_path / 'ledger.jsonl'))
    callback.set_options()
    assert callback._option('ledger_path') == str(tmp_path / 'ledger.jsonl')
    assert callback._option('organizations') == callback.get_option('organizations')


def test_a_misspelt_key_in_ansible_cfg_is_one_warning_at_the_start(callback, ansible_cfg, monkeypatch, record):
    cfg = ansible_cfg('[callback_credit_recap]', 'organisations = all')
    warnings = record(callback._display, 'warning')
    monkeypatch.setattr(credit_recap, 'CreditRecap', lambda *args, **kwargs: types.SimpleNamespace(start=lambda: None))
    callback.v2_playbook_on_start(types.SimpleNamespace(_file_name='site.yml'))
    assert warnings == ['%s: [callback_credit_recap] organisations is not a setting of the stabilityai.platform collection and is ignored; '
                        'did you mean organizations?' % cfg]


def test_an_empty_metrics_variable_means_unset_and_ansible_cfg_counts(callback, ansible_cfg, monkeypatch):
    cfg = ansible_cfg('[callback_credit_recap]', 'metrics_path = /var/lib/node-exporter/stability.prom')
    monkeypatch.setenv('STABILITY_METRICS_FILE', ' ')
    monkeypatch.setenv('STABILITY_PUSHGATEWAY_URL', '')
    assert callback._raw_option('metrics_path') == ('/var/lib/node-exporter/stability.prom', '[callback_credit_recap] metrics_path in %s' % cfg)
    assert callback._raw_option('pushgateway_url') == (None, None)
    monkeypatch.setenv('STABILITY_METRICS_FILE', '/tmp/stability.prom')
    assert callback._raw_option('metrics_path') == ('/tmp/stability.prom', 'the environment variable STABILITY_METRICS_FILE')


def test_stability_api_key_wins_over_stability_key_as_in_the_modules(callback, ansible_cfg, monkeypatch):
    ansible_cfg()
    monkeypatch.setenv('STABILITY_API_KEY', 'sk-from-the-first-variable')
    monkeypatch.setenv('STABILITY_KEY', 'sk-from-the-sdk-variable')
    callback.set_options()
    assert callback.get_option('api_key') == 'sk-from-the-first-variable'
    assert callback._raw_option('api_key') == ('sk-from-the-first-variable', 'the environment variable STABILITY_API_KEY')
