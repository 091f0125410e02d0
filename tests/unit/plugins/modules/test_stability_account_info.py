# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

from ansible_collections.stabilityai.platform.plugins.modules import stability_account_info

KEY = 'sk-unit-account-key-42'


def test_returns_account_and_default_organization(fake_api, run_module, demo_account):
    demo_account['organizations'].reverse()  # the default one last: it is looked for, not taken first
    del demo_account['profile_picture']
    fake_api.answer(payload=demo_account)
    result, failed, warnings = run_module(stability_account_info, {'api_key': KEY})
    assert not failed and warnings == []
    assert result['changed'] is False
    assert 'ansible_facts' not in result
    assert result['account'] == dict(demo_account, profile_picture=None)
    assert result['default_organization'] == {'id': 'org-alice-studio', 'name': 'Alice Studio', 'role': 'OWNER', 'is_default': True}
    assert fake_api.requests[0].url == 'https://api.stability.ai/v1/user/account'


def test_no_default_organization_gives_null(fake_api, run_module, demo_account):
    demo_account['organizations'] = [membership for membership in demo_account['organizations'] if not membership['is_default']]
    fake_api.answer(payload=demo_account)
    result, failed, dummy = run_module(stability_account_info, {'api_key': KEY})
    assert not failed and result['default_organization'] is None


def test_check_mode_still_reads(fake_api, run_module, demo_account):
    fake_api.answer(payload=demo_account)
    result, failed, dummy = run_module(stability_account_info, {'api_key': KEY, '_ansible_check_mode': True})
    assert not failed and result['account']['id'] == 'user-alice' and result['changed'] is False


def test_environment_fallbacks(fake_api, run_module, monkeypatch, demo_account):
    monkeypatch.setenv('STABILITY_KEY', 'sk-from-sdk-variable')
    monkeypatch.setenv('STABILITY_API_URL', 'http://127.0.0.1:9')
    monkeypatch.setenv('STABILITY_API_VERSION', 'v1alpha')
    fake_api.answer(payload=demo_account)
    result, failed, dummy = run_module(stability_account_info, {})
    assert not failed
    assert fake_api.requests[0].url == 'http://127.0.0.1:9/v1alpha/user/account'
    assert fake_api.requests[0].headers['Authorization'] == 'Bearer sk-from-sdk-variable'


def test_stability_api_key_wins_over_stability_key(fake_api, run_module, monkeypatch, demo_account):
    monkeypatch.setenv('STABILITY_API_KEY', 'sk-primary')
    monkeypatch.setenv('STABILITY_KEY', 'sk-secondary')
    fake_api.answer(payload=demo_account)
    run_module(stability_account_info, {})
    assert fake_api.requests[0].headers['Authorization'] == 'Bearer sk-primary'


def test_missing_key_fails_naming_option_and_variable_without_a_request(fake_api, run_module):
    result, failed, dummy = run_module(stability_account_info, {})
    assert failed
    assert result['msg'] == 'api_key is not set: give the api_key option or set the STABILITY_API_KEY environment variable'
    assert fake_api.requests == []


def test_api_error_is_one_line_with_status_and_error(fake_api, run_module):
    fake_api.answer(status=401, payload={'id': 'abc123', 'name': 'unauthorized', 'message': 'the API key you provided is invalid'})
    result, failed, dummy = run_module(stability_account_info, {'api_key': KEY})
    assert failed
    assert result['status'] == 401
    assert result['error'] == {'id': 'abc123', 'name': 'unauthorized', 'message': 'the API key you provided is invalid'}
    assert 'HTTP 401 unauthorized' in result['msg'] and 'abc123' in result['msg']
    assert KEY not in json.dumps(result)


def test_bad_option_fails_before_any_request(fake_api, run_module):
    result, failed, dummy = run_module(stability_account_info, {'api_key': KEY, 'api_url': 'http://api.stability.ai'})
    assert failed and result['msg'].startswith('api_url uses plain http://')
    assert fake_api.requests == []


def test_validate_certs_false_warns(fake_api, run_module, demo_account):
    fake_api.answer(payload=demo_account)
    dummy, failed, warnings = run_module(stability_account_info, {'api_key': KEY, 'validate_certs': False})
    assert not failed
    assert warnings == ['validate_certs is false: the TLS certificate of https://api.stability.ai is not checked']
