# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible_collections.stabilityai.platform.plugins.modules import stability_balance_info

KEY = 'sk-unit-balance-key-7'
ACCOUNT = {
    'id': 'user-1234',
    'email': 'alice@example.com',
    'organizations': [
        {'id': 'org-studio', 'name': 'Alice Studio', 'role': 'OWNER', 'is_default': True},
        {'id': 'org-lab', 'name': 'Alice Lab', 'role': 'MEMBER', 'is_default': False},
        {'id': 'org-farm', 'name': 'Render Farm', 'role': 'ACCOUNTANT', 'is_default': False},
    ],
}
CREDITS = {None: 1532.5, 'org-studio': 1532.5, 'org-lab': 12.5, 'org-farm': 0.0}


@pytest.fixture
def fake_account_api(fake_api):
    """Answers account and balance by URL and Organization header, from any thread."""
    return fake_api.serve(CREDITS, account=ACCOUNT)


def balance_requests(api):
    return [request.headers.get('Organization') for request in api.requests if request.url.endswith('/balance')]


def test_default_organization_balance(fake_api, run_module):
    fake_api.answer(payload={'credits': 0.6336833840314097})
    result, failed, warnings = run_module(stability_balance_info, {'api_key': KEY})
    assert not failed and warnings == []
    assert result == {'changed': False, 'credits': 0.6336833840314097, 'organization': None}
    assert 'Organization' not in fake_api.requests[0].headers


def test_one_organization(fake_api, run_module):
    fake_api.answer(payload={'credits': 12.5})
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'organization': ' org-lab '})
    assert not failed and result['credits'] == 12.5 and result['organization'] == 'org-lab'
    assert fake_api.requests[0].headers['Organization'] == 'org-lab'


def test_all_organizations_reads_the_account_then_each_balance(fake_account_api, run_module):
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'all_organizations': True})
    assert not failed
    assert result['credits'] == 1532.5 and result['organization'] is None
    assert result['balances'] == [
        {'organization_id': 'org-studio', 'organization_name': 'Alice Studio', 'role': 'OWNER', 'is_default': True, 'credits': 1532.5},
        {'organization_id': 'org-lab', 'organization_name': 'Alice Lab', 'role': 'MEMBER', 'is_default': False, 'credits': 12.5},
        {'organization_id': 'org-farm', 'organization_name': 'Render Farm', 'role': 'ACCOUNTANT', 'is_default': False, 'credits': 0.0},
    ]
    assert sorted(balance_requests(fake_account_api)) == ['org-farm', 'org-lab', 'org-studio']


@pytest.mark.parametrize('bad_id', ['org-x\r\nInjected: yes', 'org-\u00e9', ''])
def test_an_organization_id_the_server_sent_that_cannot_be_sent_back_is_the_server_s_fault(fake_api, run_module, bad_id):
    account = dict(ACCOUNT, organizations=ACCOUNT['organizations'][:1] + [dict(ACCOUNT['organizations'][1], id=bad_id)])
    fake_api.serve(CREDITS, account=account)
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'all_organizations': True})
    assert failed and result['status'] == 200
    assert result['msg'] == (
        'GET https://api.stability.ai/v1/user/account returned an account body that organizations[1] has an "id" that cannot be '
        'sent in an Organization header (empty, or with a control character or a character that is not printable ASCII), '
        'so no balance was read')
    assert 'nothing was sent' not in result['msg']
    assert balance_requests(fake_api) == []


def test_organizations_in_the_order_given_with_duplicates_removed(fake_account_api, run_module):
    args = {'api_key': KEY, 'organizations': ['org-farm', 'org-lab', 'org-farm'], 'organization': 'org-lab', 'all_organizations': False}
    result, failed, dummy = run_module(stability_balance_info, args)
    assert not failed
    assert [item['organization_id'] for item in result['balances']] == ['org-farm', 'org-lab']
    assert result['credits'] == 12.5 and result['organization'] == 'org-lab'
    assert sorted(balance_requests(fake_account_api)) == ['org-farm', 'org-lab']


def test_credits_of_the_default_organization_outside_the_list_is_read_too(fake_account_api, run_module):
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'organizations': ['org-lab']})
    assert not failed and result['credits'] == 1532.5
    assert sorted(balance_requests(fake_account_api)) == ['org-lab', 'org-studio']


def test_unknown_organization_in_the_list_fails_before_any_balance_is_read(fake_account_api, run_module):
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'organizations': ['org-lab', 'org-nope']})
    assert failed
    assert result['msg'] == ('organizations names org-nope, not an organization of this account '
                             '(its organizations: org-farm, org-lab, org-studio)')
    assert balance_requests(fake_account_api) == []


def test_min_credits_fails_naming_each_organization_and_keeps_the_readings(fake_account_api, run_module):
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'all_organizations': True, 'min_credits': 100})
    assert failed
    assert result['msg'] == ('2 balances are below min_credits 100: org-lab (Alice Lab) has 12.5; '
                             'org-farm (Render Farm) has 0')
    assert result['credits'] == 1532.5
    assert len(result['balances']) == 3


def test_min_credits_on_the_default_organization(fake_api, run_module):
    fake_api.answer(payload={'credits': 99.99})
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'min_credits': 100})
    assert failed
    assert result['msg'] == "Credits are below min_credits 100: the key's default organization has 99.99"
    assert result['credits'] == 99.99


def test_min_credits_met_exactly_passes(fake_api, run_module):
    fake_api.answer(payload={'credits': 100.0})
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'min_credits': 100})
    assert not failed


def test_warn_below_warns_and_does_not_fail(fake_api, run_module):
    fake_api.answer(payload={'credits': 12.5})
    result, failed, warnings = run_module(stability_balance_info, {'api_key': KEY, 'organization': 'org-lab', 'warn_below': 50})
    assert not failed
    assert warnings == ['Credits are below warn_below 50: org-lab has 12.5']


@pytest.mark.parametrize('args, message', [
    ({'organization': 'org-1\nInjected: yes'}, 'organization contains a control character'),
    ({'organization': '  '}, 'organization is empty'),
    ({'organizations': []}, 'organizations is an empty list'),
    ({'organizations': ['org-lab', 'org\r\nX: 1']}, 'organizations contains a control character'),
    ({'min_credits': float('inf')}, 'min_credits must be a finite number'),
    ({'warn_below': float('nan')}, 'warn_below must be a finite number'),
    ({'timeout': 0}, 'timeout must be a number of seconds greater than 0'),
    ({'retries': -1}, 'retries must be a whole number from 0 to 10'),
    ({'organizations': ['org-lab'], 'all_organizations': True}, 'organizations and all_organizations exclude each other'),
])
def test_bad_input_is_refused_before_any_request(fake_api, run_module, args, message):
    args = dict(args, api_key=KEY)
    result, failed, dummy = run_module(stability_balance_info, args)
    assert failed
    assert message in result['msg']
    assert fake_api.requests == []


def test_api_error_keeps_status_and_error_body(fake_api, run_module):
    fake_api.answer(status=403, payload={'id': 'f00', 'name': 'permission_denied', 'message': 'no access to org-stranger'})
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'organization': 'org-stranger'})
    assert failed
    assert result['status'] == 403 and result['error']['id'] == 'f00'
    assert result['msg'].startswith('GET https://api.stability.ai/v1/user/balance for organization org-stranger failed with HTTP 403')
    assert KEY not in json.dumps(result)
