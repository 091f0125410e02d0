# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Option values as the user wrote them: templated variables and ansible.cfg read the way Ansible reads them.

The plugins' refusals of such values are tested with the plugins (lookup and callback tests).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible import constants as C
from ansible.plugins.loader import lookup_loader

from ansible_collections.stabilityai.platform.plugins.plugin_utils._option_sources import (
    ini_keys,
    ini_value,
    raw_option_value,
    templated_option_variables,
    unknown_ini_keys,
)


class RecordingTemplar:
    """Templates ``{{ vault_key }}`` and records what it was asked to template."""

    def __init__(self):
        self.seen = []

    def template(self, value):
        self.seen.append(value)
        return value.replace('{{ vault_key }}', 'sk-from-vault') if isinstance(value, str) else value


@pytest.fixture
def lookup_name():
    """The name the lookup's option definitions are registered under when Ansible loads it."""
    return lookup_loader.get('stabilityai.platform.stability_balance')._load_name


def test_only_the_variables_that_set_options_are_templated(lookup_name):
    templar = RecordingTemplar()
    variables = {'stability_api_key': '{{ vault_key }}', 'stability_cache_ttl': 5,
                 'vault_key': 'sk-from-vault', 'unrelated': '{{ undefined_elsewhere }}'}
    assert templated_option_variables('lookup', lookup_name, variables, templar) == {
        'stability_api_key': 'sk-from-vault', 'stability_cache_ttl': 5}
    assert sorted(templar.seen, key=str) == [5, '{{ vault_key }}'], 'an unrelated variable may not even be defined'


@pytest.mark.parametrize('variables', [None, {}])
def test_no_variables_need_no_templar(lookup_name, variables):
    assert templated_option_variables('lookup', lookup_name, variables, RecordingTemplar()) is variables


def test_without_a_templar_the_variables_are_passed_on_as_they_are(lookup_name):
    variables = {'stability_api_key': '{{ vault_key }}'}
    assert templated_option_variables('lookup', lookup_name, variables, None) is variables


def test_an_option_the_plugin_does_not_have_is_unset(lookup_name):
    assert raw_option_value('lookup', lookup_name, 'no_such_option', {}, {}) == (None, None)


def test_an_ini_entry_without_a_section_is_read_from_defaults_as_ansible_does(tmp_path, monkeypatch):
    config = tmp_path / 'ansible.cfg'
    config.write_text(u'[defaults]\ntimeout = 7\n[other]\ntimeout = 9\n')
    monkeypatch.setattr(C.config, '_config_file', str(config))
    monkeypatch.setattr(C.config, 'get_configuration_definitions',
                        lambda plugin_type, name: {'timeout': {'ini': [{'key': 'timeout'}]}})
    assert raw_option_value('lookup', 'any', 'timeout', {}, {}) == ('7', '[defaults] timeout in %s' % config)


def test_ini_values_are_read_raw_as_ansible_reads_them(tmp_path):
    config = tmp_path / 'ansible.cfg'
    config.write_text(u'[stabilityai_platform]\nca_path = /certs/100%/ca.pem\n')
    assert ini_value(str(config), 'stabilityai_platform', 'ca_path') == '/certs/100%/ca.pem'


def test_an_edited_ansible_cfg_is_read_again(tmp_path):
    """The parsed file is reused only while its modification time and size are unchanged."""
    config = tmp_path / 'ansible.cfg'
    config.write_text(u'[stabilityai_platform]\napi_version = v1\n')
    os.utime(str(config), ns=(10 ** 18, 10 ** 18))
    assert ini_value(str(config), 'stabilityai_platform', 'api_version') == 'v1'
    config.write_text(u'[stabilityai_platform]\napi_version = v2\n')  # the same size
    os.utime(str(config), ns=(2 * 10 ** 18, 2 * 10 ** 18))
    assert ini_value(str(config), 'stabilityai_platform', 'api_version') == 'v2'
    config.write_text(u'[stabilityai_platform]\napi_version = v1alpha\n')  # the same time
    os.utime(str(config), ns=(2 * 10 ** 18, 2 * 10 ** 18))
    assert ini_value(str(config), 'stabilityai_platform', 'api_version') == 'v1alpha'


@pytest.mark.parametrize('config_file', [None, '', '/nonexistent/ansible.cfg'])
def test_no_config_file_has_no_value(config_file):
    assert ini_value(config_file, 'stabilityai_platform', 'timeout') is None


def test_an_unknown_ini_key_is_named_with_the_closest_known_one(ansible_cfg):
    cfg = ansible_cfg('api_url = https://api.stability.ai', 'timout = 0.001', '[callback_credit_recap]', 'ledger_path = /l', 'organisations = all',
                      'ledger = /x')
    assert unknown_ini_keys() == [
        '%s: [stabilityai_platform] timout is not a setting of the stabilityai.platform collection and is ignored; did you mean timeout?' % cfg,
        '%s: [callback_credit_recap] organisations is not a setting of the stabilityai.platform collection and is ignored; '
        'did you mean organizations?' % cfg,
        '%s: [callback_credit_recap] ledger is not a setting of the stabilityai.platform collection and is ignored; '
        'did you mean ledger_path?' % cfg,
    ]


def test_a_key_nothing_resembles_is_shown_the_known_keys(ansible_cfg):
    cfg = ansible_cfg('[callback_credit_recap]', 'zzz = 1')
    warnings = unknown_ini_keys()
    assert len(warnings) == 1
    assert warnings[0].startswith('%s: [callback_credit_recap] zzz is not a setting of the stabilityai.platform collection and is ignored; '
                                  'its keys are ' % cfg)
    assert 'ledger_path, ' in warnings[0] and 'organizations' in warnings[0]


def test_every_known_key_of_either_plugin_passes(ansible_cfg):
    """[stabilityai_platform] is shared by the lookup and the callback: a key of either is known to both."""
    known = set(ini_keys('lookup', 'stabilityai.platform.stability_balance', 'stabilityai_platform'))
    known |= ini_keys('callback', 'stabilityai.platform.credit_recap', 'stabilityai_platform')
    recap_keys = ini_keys('callback', 'stabilityai.platform.credit_recap', 'callback_credit_recap')
    assert {'timeout', 'api_url', 'retries', 'validate_certs', 'rate_limit'} <= known
    assert {'organizations', 'ledger_path', 'report_path'} <= recap_keys
    ansible_cfg(*(['%s = 1' % key for key in sorted(known)] + ['[callback_credit_recap]'] + ['%s = 1' % key for key in sorted(recap_keys)]))
    assert unknown_ini_keys() == []


def test_a_section_that_is_not_there_does_not_stop_the_check_of_the_next(tmp_path, monkeypatch):
    path = tmp_path / 'ansible.cfg'
    path.write_text(u'[callback_credit_recap]\norganisations = all\n')
    monkeypatch.setattr(C.config, '_config_file', str(path))
    assert [warning.split('] ')[1].split(' ')[0] for warning in unknown_ini_keys()] == ['organisations']


def test_other_sections_and_defaults_are_left_to_their_owners(ansible_cfg):
    ansible_cfg('[defaults]', 'timout = 1', '[DEFAULT]', 'shared = 1', '[callback_other]', 'ledger = 1')
    assert unknown_ini_keys() == []


@pytest.mark.parametrize('config_file', [None, '', '/nonexistent/ansible.cfg'])
def test_no_config_file_has_no_unknown_keys(monkeypatch, config_file):
    monkeypatch.setattr(C.config, '_config_file', config_file)
    assert unknown_ini_keys() == []
