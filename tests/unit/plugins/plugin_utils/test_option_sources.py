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
    ini_value,
    raw_option_value,
    templated_option_variables,
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
