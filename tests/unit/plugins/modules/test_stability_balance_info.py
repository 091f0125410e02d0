# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils import _organizations
from ansible_collections.stabilityai.platform.plugins.modules import stability_balance_info

KEY = 'sk-unit-balance-key-7'


@pytest.fixture
def fake_account_api(fake_api, demo_account, demo_credits):
    """Answers account and balance by URL and Organization header, from any thread, with the demo account."""
    return fake_api.serve(demo_credits, account=demo_account)


def balance_requests(api):
    return [request.headers.get('Organization') for request in api.requests if request.url.endswith('/balance')]


def test_default_organization_balance(fake_api, run_module):
    fake_api.answer(payload={'credits': 0.6336833840314097})
    result, failed, warnings = run_module(stability_balance_info, {'api_key': KEY})
    assert not failed and warnings == []
    assert result == {'changed': False, 'credits': 0.6336833840314097, 'organization': None, 'failed_gates': []}
    assert 'Organization' not in fake_api.requests[0].headers


def test_one_organization(fake_api, run_module):
    fake_api.answer(payload={'credits': 12.5})
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'organization': ' org-lab '})
    assert not failed and result['credits'] == 12.5 and result['organization'] == 'org-lab'
    assert fake_api.requests[0].headers['Organization'] == 'org-lab'


def test_all_organizations_reads_the_account_then_each_balance(fake_account_api, run_module, demo_credits):
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'all_organizations': True})
    assert not failed
    assert result['credits'] == demo_credits[None] and result['organization'] is None
    assert result['balances'] == [
        {'organization_id': 'org-alice-studio', 'organization_name': 'Alice Studio', 'role': 'OWNER', 'is_default': True,
         'credits': demo_credits['org-alice-studio']},
        {'organization_id': 'org-alice-lab', 'organization_name': 'Alice Lab', 'role': 'MEMBER', 'is_default': False,
         'credits': 12.5},
        {'organization_id': 'org-render-farm', 'organization_name': 'Render Farm', 'role': 'ACCOUNTANT', 'is_default': False,
         'credits': 0.0},
    ]
    assert sorted(balance_requests(fake_account_api)) == ['org-alice-lab', 'org-alice-studio', 'org-render-farm']


def test_all_organizations_reads_a_membership_listed_twice_once(fake_api, run_module, demo_account, demo_credits):
    demo_account['organizations'].append(dict(demo_account['organizations'][1]))
    fake_api.serve(demo_credits, account=demo_account)
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'all_organizations': True})
    assert not failed
    assert [item['organization_id'] for item in result['balances']] == ['org-alice-studio', 'org-alice-lab', 'org-render-farm']
    assert sorted(balance_requests(fake_api)) == ['org-alice-lab', 'org-alice-studio', 'org-render-farm']


@pytest.mark.parametrize('credits', [-0.01, -250.0])
def test_a_negative_balance_fails_min_credits_like_any_balance_below_it(fake_api, run_module, credits):
    fake_api.answer(payload={'credits': credits})
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'min_credits': 0})
    assert failed and result['credits'] == credits
    assert result['msg'].startswith("Credits are below min_credits ")


@pytest.mark.parametrize('bad_id', ['org-x\r\nInjected: yes', 'org-\u00e9', ''])
def test_an_organization_id_the_server_sent_that_cannot_be_sent_back_is_the_server_s_fault(
        fake_api, run_module, bad_id, demo_account, demo_credits):
    demo_account['organizations'][1]['id'] = bad_id
    fake_api.serve(demo_credits, account=demo_account)
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'all_organizations': True})
    assert failed and result['status'] == 200
    assert result['msg'] == (
        'GET https://api.stability.ai/v1/user/account returned an account body that organizations[1] has an "id" that cannot be '
        'sent in an Organization header (empty, or with a control character or a character that is not printable ASCII), '
        'so no balance was read')
    assert 'nothing was sent' not in result['msg']
    assert balance_requests(fake_api) == []


def test_organizations_in_the_order_given_with_duplicates_removed(fake_account_api, run_module):
    args = {'api_key': KEY, 'organizations': ['org-render-farm', 'org-alice-lab', 'org-render-farm'], 'organization': 'org-alice-lab',
            'all_organizations': False}
    result, failed, dummy = run_module(stability_balance_info, args)
    assert not failed
    assert [item['organization_id'] for item in result['balances']] == ['org-render-farm', 'org-alice-lab']
    assert result['credits'] == 12.5 and result['organization'] == 'org-alice-lab'
    assert sorted(balance_requests(fake_account_api)) == ['org-alice-lab', 'org-render-farm']


def test_credits_of_the_default_organization_outside_the_list_is_read_too(fake_account_api, run_module, demo_credits):
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'organizations': ['org-alice-lab']})
    assert not failed and result['credits'] == demo_credits[None]
    assert sorted(balance_requests(fake_account_api)) == ['org-alice-lab', 'org-alice-studio']


def test_unknown_organization_in_the_list_fails_before_any_balance_is_read(fake_account_api, run_module):
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'organizations': ['org-alice-lab', 'org-nope']})
    assert failed
    assert result['msg'] == ('organizations names org-nope, not an organization of this account '
                             '(its organizations: org-alice-lab, org-alice-studio, org-render-farm)')
    assert balance_requests(fake_account_api) == []


def test_min_credits_fails_naming_each_organization_and_keeps_the_readings(fake_account_api, run_module, demo_credits):
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'all_organizations': True, 'min_credits': 100})
    assert failed
    assert result['msg'] == ('2 balances are below min_credits 100.00: org-alice-lab (Alice Lab) has 12.50; '
                             'org-render-farm (Render Farm) has 0.00')
    assert result['credits'] == demo_credits[None]
    assert len(result['balances']) == 3
    assert result['failed_gates'] == [
        dict(option='min_credits', organization_id='org-alice-lab', value=12.5, threshold=100.0),
        dict(option='min_credits', organization_id='org-render-farm', value=0.0, threshold=100.0),
    ]


def test_min_credits_on_the_default_organization(fake_api, run_module):
    fake_api.answer(payload={'credits': 99.99})
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'min_credits': 100})
    assert failed
    assert result['msg'] == "Credits are below min_credits 100.00: the key's default organization has 99.99"
    assert result['credits'] == 99.99
    assert result['failed_gates'] == [dict(option='min_credits', organization_id=None, value=99.99, threshold=100.0)]


def test_min_credits_met_exactly_passes(fake_api, run_module):
    fake_api.answer(payload={'credits': 100.0})
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'min_credits': 100})
    assert not failed
    assert result['failed_gates'] == []


def test_warn_below_warns_and_does_not_fail(fake_api, run_module):
    fake_api.answer(payload={'credits': 12.5})
    result, failed, warnings = run_module(stability_balance_info, {'api_key': KEY, 'organization': 'org-lab', 'warn_below': 50})
    assert not failed
    assert warnings == ['Credits are below warn_below 50.00: org-lab has 12.50']


@pytest.mark.parametrize('args, message', [
    ({'organization': 'org-1\nInjected: yes'}, 'organization contains a control character'),
    ({'organization': '  '}, 'organization is empty'),
    ({'organizations': ['org-lab', 'org\r\nX: 1']}, 'organizations contains a control character'),
    ({'organizations': 'org-lab,,org-farm'}, "organizations has an empty item in 'org-lab,,org-farm'"),
    ({'organizations': 'all, org-lab'}, "organizations is \"all\" or a list of organization ids, not both: got 'all, org-lab'"),
    ({'organizations': {'id': 'org-lab'}}, 'organizations must be "all", a list of organization ids or a comma-separated string'),
    ({'min_credits': float('inf')}, 'min_credits must be a number of credits, 0 or more, got inf'),
    ({'warn_below': float('nan')}, 'warn_below must be a number of credits, 0 or more, got nan'),
    ({'min_credits': '100 credits'}, "min_credits must be a number of credits, 0 or more, got '100 credits'"),
    ({'min_credits': -1}, 'min_credits must be a number of credits, 0 or more, got -1'),
    ({'warn_below': True}, 'warn_below must be a number of credits, 0 or more, got True'),
    ({'api_url': 'https://api.stability.ai/v1alpha'}, 'api_url ends with /v1alpha but api_version is v1: drop /v1alpha from api_url'),
    ({'min_credit': 100}, ') module: min_credit. Supported parameters include: all_organizations, api_key, '),  # Ansible's own check
    ({'timeout': 0}, 'timeout must be a number of seconds greater than 0'),
    ({'timeout': 1e10}, 'timeout must be a number of seconds greater than 0 and at most 600, got 10000000000.0'),
    ({'retries': -1}, 'retries must be a whole number from 0 to 10'),
    ({'organizations': ['org-lab'], 'all_organizations': True}, 'organizations and all_organizations exclude each other'),
])
def test_bad_input_is_refused_before_any_request(fake_api, run_module, args, message):
    option = next(iter(args))
    args = dict(args, api_key=KEY)
    result, failed, dummy = run_module(stability_balance_info, args)
    assert failed
    assert message in result['msg']
    assert fake_api.requests == []
    # The refused option as data (the pre-flight reads it); Ansible's own check of unknown options has none.
    assert result.get('invalid_option') == (None if option == 'min_credit' else option)


@pytest.mark.parametrize('value', ['1e3', 1000, 1e3, '1000.0'])
def test_every_spelling_of_a_number_is_a_threshold(fake_api, run_module, value):
    fake_api.answer(payload={'credits': 999.5})
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'min_credits': value})
    assert failed and result['msg'] == "Credits are below min_credits 1000.00: the key's default organization has 999.50"


def test_api_error_keeps_status_and_error_body(fake_api, run_module):
    fake_api.answer(status=403, payload={'id': 'f00', 'name': 'permission_denied', 'message': 'no access to org-stranger'})
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'organization': 'org-stranger'})
    assert failed
    assert result['status'] == 403 and result['error']['id'] == 'f00'
    assert result['msg'].startswith('GET https://api.stability.ai/v1/user/balance for organization org-stranger failed with HTTP 403')
    assert KEY not in json.dumps(result)


def test_rate_limit_comes_from_the_environment_and_is_checked_before_any_request(fake_api, run_module, monkeypatch):
    monkeypatch.setenv('STABILITY_RATE_LIMIT', '150')
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY})
    assert failed and result['msg'].startswith('rate_limit must be N/S') and result['msg'].endswith("got '150'")
    assert fake_api.requests == []


def test_the_module_shares_the_budget_of_the_user_s_other_processes(fake_api, run_module, private_cache_home, sleeps):
    fake_api.answer(payload={'credits': 1.5}).answer(payload={'credits': 1.5})
    for dummy in range(2):
        result, failed, warnings = run_module(stability_balance_info, {'api_key': KEY, 'rate_limit': '1/30'})
        assert not failed and warnings == []
    assert sleeps == [pytest.approx(30.25, abs=1.0)]  # two module runs, one budget
    assert [name for name in private_cache_home.iterdir() if name.name.startswith('rate-')]


def test_organizations_uses_the_shared_parser(fake_account_api, run_module, monkeypatch):
    """The module hands the option as written to _organizations.parse_organizations (one set of rules)."""
    seen = []
    real = _organizations.parse_organizations
    monkeypatch.setattr(_organizations, 'parse_organizations', lambda option, value: seen.append((option, value)) or real(option, value))
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'organizations': ' org-alice-lab , org-render-farm,org-alice-lab'})
    assert not failed, result
    assert seen == [('organizations', ' org-alice-lab , org-render-farm,org-alice-lab')]
    assert [item['organization_id'] for item in result['balances']] == ['org-alice-lab', 'org-render-farm']


@pytest.mark.parametrize('value', ['all', 'ALL', ['All']])
def test_organizations_all_reads_every_organization(fake_account_api, run_module, value):
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'organizations': value})
    assert not failed, result
    assert [item['organization_id'] for item in result['balances']] == ['org-alice-studio', 'org-alice-lab', 'org-render-farm']


@pytest.mark.parametrize('value', ['', ' ', [], ['']])
def test_an_empty_organizations_means_the_default_organization(fake_api, run_module, value):
    fake_api.answer(payload={'credits': 7.5})
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'organizations': value})
    assert not failed and result == {'changed': False, 'credits': 7.5, 'organization': None, 'failed_gates': []}
