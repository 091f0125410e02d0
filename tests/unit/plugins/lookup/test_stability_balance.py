# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The stability_balance lookup: terms, options, thresholds and its use of the cache."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest

from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import lookup_loader

from ansible_collections.stabilityai.platform.plugins.lookup import stability_balance
from ansible_collections.stabilityai.platform.plugins.module_utils import _client
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityError, StabilityOptionError
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import ConnectionSettings
from ansible_collections.stabilityai.platform.plugins.plugin_utils import _cache
from ansible_collections.stabilityai.platform.plugins.plugin_utils._playbook_run import RunUnknown

KEY = 'sk-unit-lookup-key-31337'


@pytest.fixture
def api(fake_api, demo_credits):
    """Answers balance requests with the demo account's credits."""
    return fake_api.serve(demo_credits)


@pytest.fixture
def lookup(tmp_path, monkeypatch):
    for name in ('STABILITY_API_KEY', 'STABILITY_KEY', 'STABILITY_API_URL', 'STABILITY_API_VERSION', 'STABILITY_CACHE_TTL', 'STABILITY_CACHE_SCOPE'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('STABILITY_CACHE_DIR', str(tmp_path / 'cache'))
    return lookup_loader.get('stabilityai.platform.stability_balance')


@pytest.fixture
def warnings(record):
    return record(stability_balance.display, 'warning')


def organizations(api):
    return [request.headers.get('Organization') for request in api.requests]


def test_no_term_reads_the_default_organization(api, lookup, demo_credits):
    assert lookup.run([], api_key=KEY) == [demo_credits[None]]
    assert organizations(api) == [None]
    assert api.requests[0].url == 'https://api.stability.ai/v1/user/balance'
    assert api.requests[0].headers['Authorization'] == 'Bearer ' + KEY


def test_terms_give_one_float_each_in_order(api, lookup, demo_credits):
    assert lookup.run(['org-render-farm', ' org-alice-lab ', 'org-alice-studio'], api_key=KEY) == [0.0, 12.5, demo_credits['org-alice-studio']]
    assert sorted(organizations(api)) == ['org-alice-lab', 'org-alice-studio', 'org-render-farm']


def test_the_second_evaluation_is_answered_by_the_cache_without_a_client(api, lookup, monkeypatch):
    lookup.run(['org-alice-lab'], api_key=KEY)

    def no_client(*args, **kwargs):
        raise AssertionError('a cache hit must not build an HTTP client')
    monkeypatch.setattr(_client, 'StabilityClient', no_client)
    assert lookup.run(['org-alice-lab'], api_key=KEY) == [12.5]
    assert organizations(api) == ['org-alice-lab']


def test_cache_ttl_zero_asks_every_time(api, lookup):
    lookup.run(['org-alice-lab'], api_key=KEY, cache_ttl=0)
    lookup.run(['org-alice-lab'], api_key=KEY, cache_ttl=0)
    assert organizations(api) == ['org-alice-lab', 'org-alice-lab']


def test_another_key_is_another_cache_entry(api, lookup):
    lookup.run(['org-alice-lab'], api_key=KEY)
    lookup.run(['org-alice-lab'], api_key='sk-another-key')
    assert len(api.requests) == 2


def test_options_come_from_variables_and_environment(api, lookup, monkeypatch):
    monkeypatch.setenv('STABILITY_KEY', 'sk-from-the-sdk-variable')
    monkeypatch.setenv('STABILITY_API_VERSION', 'v1alpha')
    variables = {'stability_api_url': 'http://127.0.0.1:9', 'stability_cache_ttl': 0}
    assert lookup.run(['org-alice-lab'], variables) == [12.5]
    request = api.requests[0]
    assert request.url == 'http://127.0.0.1:9/v1alpha/user/balance'
    assert request.headers['Authorization'] == 'Bearer sk-from-the-sdk-variable'
    lookup.run(['org-alice-lab'], {'stability_api_key': 'sk-from-a-variable', 'stability_cache_ttl': 0})
    assert api.requests[1].headers['Authorization'] == 'Bearer sk-from-a-variable'


def test_min_credits_fails_naming_organizations_balances_and_threshold(api, lookup):
    with pytest.raises(AnsibleLookupError) as caught:
        lookup.run(['org-alice-studio', 'org-alice-lab', 'org-render-farm'], api_key=KEY, min_credits=100)
    assert caught.value.message == '2 balances are below min_credits 100.00: org-alice-lab has 12.50; org-render-farm has 0.00'


def test_warn_below_warns_once_without_failing(api, lookup, warnings, demo_credits):
    assert lookup.run([], api_key=KEY, warn_below=2000, min_credits=1000) == [demo_credits[None]]
    assert warnings == ["Credits are below warn_below 2000.00: the key's default organization has 1532.63"]


@pytest.mark.parametrize('terms, options, message', [
    ([], {}, 'api_key is not set: give the api_key option or set the STABILITY_API_KEY environment variable'),
    (['org-a\r\nX: 1'], {'api_key': KEY}, 'organization contains a control character (such as a line break); nothing was sent'),
    ([], {'api_key': KEY, 'api_url': 'http://api.stability.ai'}, 'api_url uses plain http:// to api.stability.ai'),
    ([], {'api_key': KEY, 'timeout': -1}, 'timeout must be a number of seconds greater than 0 and at most 600, got -1'),
    ([], {'api_key': KEY, 'timeout': 1e10}, 'timeout must be a number of seconds greater than 0 and at most 600, got 10000000000.0'),
    ([], {'api_key': KEY, 'retries': 99}, 'retries must be a whole number from 0 to 10, got 99'),
    ([], {'api_key': KEY, 'cache_ttl': -1}, 'cache_ttl must be a number of seconds, 0 or more'),
    ([], {'api_key': KEY + '\n'}, None),
    ([], {'api_key': KEY, 'validate_certs': 'maybe'}, "validate_certs must be true or false, got 'maybe'"),
    ([], {'api_key': KEY, 'validate_certs': 'no'}, None),
    ([], {'api_key': KEY, 'cache_dir': ''}, 'cache_dir is empty; leave it unset for the default'),
    ([], {'api_key': KEY, 'cache_dir': '   '}, 'cache_dir is empty'),
    ([], {'api_key': KEY, 'cache_dir': '/tmp/a\nb'}, 'cache_dir contains a control character'),
    ([], {'api_key': KEY, 'ca_path': ''}, 'ca_path is empty'),
    ([], {'api_key': KEY, 'min_credits': True}, 'min_credits must be a number of credits, 0 or more, got True'),
    ([], {'api_key': KEY, 'warn_below': False}, 'warn_below must be a number of credits, 0 or more, got False'),
    ([], {'api_key': KEY, 'min_credits': '100 credits'}, "min_credits must be a number of credits, 0 or more, got '100 credits'"),
    ([], {'api_key': KEY, 'min_credits': -5}, 'min_credits must be a number of credits, 0 or more, got -5'),
    ([], {'api_key': KEY, 'warn_below': 'nan'}, "warn_below must be a number of credits, 0 or more, got 'nan'"),
    ([], {'api_key': KEY, 'timeout': 'soon'}, "timeout must be a number of seconds greater than 0 and at most 600, got 'soon'"),
    ([], {'api_key': KEY, 'timeout': True}, 'timeout must be a number of seconds greater than 0 and at most 600, got True'),
    ([], {'api_key': KEY, 'cache_ttl': 'a minute'}, "cache_ttl must be a number of seconds, 0 or more (0 turns the cache off), got 'a minute'"),
    ([], {'api_key': KEY, 'api_version': 'v2'}, "api_version must be one of v1, v1alpha, got 'v2'"),
    ([], {'api_key': KEY, 'api_url': 'https://api.stability.ai/v1alpha'}, 'api_url ends with /v1alpha but api_version is v1'),
    ([], {'api_key': KEY, 'cache_ttl': True}, 'cache_ttl must be a number of seconds, 0 or more'),
])
def test_bad_input_is_refused_before_any_request(api, lookup, terms, options, message, demo_credits):
    if message is None:  # a trailing line break is white space: stripped, not refused
        assert lookup.run(terms, **options) == [demo_credits[None]]
        return
    with pytest.raises(AnsibleLookupError) as caught:
        lookup.run(terms, **options)
    assert message in caught.value.message
    assert len(caught.value.message.splitlines()) == 1
    assert api.requests == []


@pytest.mark.parametrize('options, message', [
    ({'min_credit': 5000},
     'min_credit is not an option of stabilityai.platform.stability_balance; did you mean min_credits?'),
    ({'warn_bellow': 5000, 'min_credits': 10},
     'warn_bellow is not an option of stabilityai.platform.stability_balance; did you mean warn_below?'),
    ({'validate_cert': False},
     'validate_cert is not an option of stabilityai.platform.stability_balance; did you mean validate_certs?'),
    ({'organization': 'org-lab'},
     "organization is not an option of stabilityai.platform.stability_balance: organizations are its terms, "
     "for example lookup('stabilityai.platform.stability_balance', 'org-x')"),
    ({'organizations': ['org-lab']},
     "organizations is not an option of stabilityai.platform.stability_balance: organizations are its terms, "
     "for example lookup('stabilityai.platform.stability_balance', 'org-x')"),
    ({'zzz': 1}, 'zzz is not an option of stabilityai.platform.stability_balance; its options are api_key, api_url, api_version, '
                 'ca_path, cache_dir, cache_scope, cache_ttl, min_credits, rate_limit, retries, timeout, validate_certs, warn_below'),
])
def test_an_unknown_keyword_is_refused_naming_the_closest_option(api, lookup, options, message):
    """Ansible drops unknown keywords: organization= read the default organization, min_credit= never gated."""
    with pytest.raises(AnsibleLookupError) as caught:
        lookup.run([], api_key=KEY, **options)
    assert caught.value.message == message
    assert api.requests == []


@pytest.mark.parametrize('line, message', [
    ('validate_certs = maybe', "validate_certs (set by [stabilityai_platform] validate_certs in {cfg}) must be true or false, got 'maybe'"),
    ('retries = 1.5', "retries (set by [stabilityai_platform] retries in {cfg}) must be a whole number from 0 to 10, got '1.5'"),
    ('timeout = soon', "timeout (set by [stabilityai_platform] timeout in {cfg}) must be a number of seconds greater than 0 and at most 600, got 'soon'"),
    ('cache_ttl = true', "cache_ttl (set by [stabilityai_platform] cache_ttl in {cfg}) must be a number of seconds, 0 or more"),
    ('ca_path =', 'ca_path (set by [stabilityai_platform] ca_path in {cfg}) is empty; leave it unset for the default'),
    ('cache_dir = ', 'cache_dir (set by [stabilityai_platform] cache_dir in {cfg}) is empty'),
    ('api_version = v2', "api_version (set by [stabilityai_platform] api_version in {cfg}) must be one of v1, v1alpha, got 'v2'"),
])
def test_values_from_ansible_cfg_are_checked_and_the_message_names_the_file(api, lookup, ansible_cfg, monkeypatch, line, message):
    monkeypatch.delenv('STABILITY_CACHE_DIR')
    cfg = ansible_cfg(line)
    with pytest.raises(AnsibleLookupError) as caught:
        lookup.run([], api_key=KEY)
    assert caught.value.message.startswith(message.format(cfg=cfg))
    assert api.requests == []


def test_a_good_value_in_ansible_cfg_is_the_one_ansible_uses(api, lookup, ansible_cfg):
    ansible_cfg('validate_certs = no', 'timeout = 7.5', 'cache_ttl = 0')
    lookup.run([], api_key=KEY)
    assert (api.kwargs[0]['verify'], api.kwargs[0]['timeout']) == (False, 7.5)


def test_a_misspelt_key_in_ansible_cfg_is_a_warning_naming_the_closest_key(api, lookup, ansible_cfg, warnings):
    cfg = ansible_cfg('timout = 0.001', 'cache_ttl = 0')
    lookup.run([], api_key=KEY)
    assert warnings == ['%s: [stabilityai_platform] timout is not a setting of the stabilityai.platform collection and is ignored; '
                        'did you mean timeout?' % cfg]
    assert api.kwargs[0]['timeout'] == 30.0


def test_a_variable_wins_over_ansible_cfg_as_in_ansible(api, lookup, ansible_cfg):
    ansible_cfg('validate_certs = maybe', 'cache_ttl = 0')
    lookup.run([], {'stability_api_key': KEY, 'stability_validate_certs': 'yes'})
    assert api.kwargs[0]['verify'] is True


def test_the_environment_is_named_as_the_source(api, lookup, monkeypatch):
    monkeypatch.setenv('STABILITY_CACHE_TTL', 'soon')
    with pytest.raises(AnsibleLookupError) as caught:
        lookup.run([], api_key=KEY)
    assert caught.value.message.startswith('cache_ttl (set by the environment variable STABILITY_CACHE_TTL) must be a number of seconds')


@pytest.mark.parametrize('variables, environment, message', [
    ({'stability_validate_certs': 'maybe'}, {}, "validate_certs (set by the variable stability_validate_certs) must be true or false, got 'maybe'"),
    ({'stability_cache_dir': ' '}, {}, 'cache_dir (set by the variable stability_cache_dir) is empty'),
    ({'stability_ca_path': ''}, {}, 'ca_path (set by the variable stability_ca_path) is empty'),
    ({'stability_timeout': 'true'}, {},
     "timeout (set by the variable stability_timeout) must be a number of seconds greater than 0 and at most 600, got 'true'"),
    ({}, {'STABILITY_CACHE_DIR': ''}, 'cache_dir (set by the environment variable STABILITY_CACHE_DIR) is empty'),
])
def test_raw_values_from_variables_and_environment_are_checked(api, lookup, monkeypatch, tmp_path, variables, environment, message):
    monkeypatch.chdir(tmp_path)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(AnsibleLookupError) as caught:
        lookup.run([], dict(variables, stability_api_key=KEY))
    assert message in caught.value.message
    assert api.requests == []
    assert sorted(path.name for path in tmp_path.iterdir()) == []  # nothing written where an empty path would resolve


@pytest.mark.parametrize('direct, message', [
    ({'retries': 1.5}, 'retries must be a whole number from 0 to 10, got 1.5'),  # ansible-core < 2.19 would make it 1
    ({'validate_certs': 'maybe'}, "validate_certs must be true or false, got 'maybe'"),  # Ansible would make it false
    ({'min_credits': True}, 'min_credits must be a number of credits, 0 or more, got True'),  # Ansible would make it 1.0
    ({'timeout': True}, 'timeout must be a number of seconds greater than 0 and at most 600, got True'),  # Ansible would make it 1.0
])
def test_raw_values_are_checked_whatever_ansible_converts_them_to(lookup, direct, message):
    with pytest.raises(StabilityOptionError) as caught:
        lookup._check_raw_options(direct, {})
    assert caught.value.msg == message


def test_api_errors_become_lookup_errors_without_the_key(fake_api, lookup):
    fake_api.answer(status=401, payload={'id': 'e7', 'name': 'unauthorized', 'message': 'the API key you provided is invalid'})
    with pytest.raises(AnsibleLookupError) as caught:
        lookup.run([], api_key=KEY)
    assert 'HTTP 401 unauthorized' in caught.value.message and '(error id e7)' in caught.value.message
    assert KEY not in caught.value.message


def test_an_unusable_cache_directory_warns_and_reads_live(api, lookup, warnings, tmp_path, demo_credits):
    blocker = tmp_path / 'not-a-directory'
    blocker.write_text(u'')
    assert lookup.run([], api_key=KEY, cache_dir=str(blocker)) == [demo_credits[None]]
    assert lookup.run([], api_key=KEY, cache_dir=str(blocker)) == [demo_credits[None]]
    assert len(api.requests) == 2
    assert warnings and 'reads without a cache' in warnings[0]


DEMO_ORGANIZATIONS = ['org-alice-studio', 'org-alice-lab', 'org-render-farm']


def test_a_shared_cache_directory_is_left_as_it_is_with_one_warning(api, lookup, warnings, tmp_path, demo_credits):
    shared = tmp_path / 'shared'
    shared.mkdir()
    os.chmod(str(shared), 0o1777)
    expected = [demo_credits[organization] for organization in DEMO_ORGANIZATIONS]
    assert lookup.run(DEMO_ORGANIZATIONS, api_key=KEY, cache_dir=str(shared)) == expected
    assert stat.S_IMODE(os.stat(str(shared)).st_mode) == 0o1777
    assert os.listdir(str(shared)) == []
    assert len(warnings) == 1 and 'reads without a cache: %s is open to other users (mode 1777)' % shared in warnings[0]


def test_a_planted_entry_warns_once_and_the_lookup_reads_live(api, lookup, warnings, tmp_path, demo_credits):
    directory = tmp_path / 'cache'
    expected = [demo_credits[organization] for organization in DEMO_ORGANIZATIONS]
    assert lookup.run(DEMO_ORGANIZATIONS, api_key=KEY, cache_dir=str(directory)) == expected
    for entry in directory.glob('*.json'):
        os.chmod(str(entry), 0o644)
    assert lookup.run(DEMO_ORGANIZATIONS, api_key=KEY, cache_dir=str(directory)) == expected
    assert len(api.requests) == 6
    assert len(warnings) == 1 and 'is open to other users (mode 0644)' in warnings[0]


# --- cache_scope: a fresh reading per run --------------------------------------------------

@pytest.fixture
def runs(monkeypatch):
    """The ansible-playbook run the lookup believes it is in: set ``runs[0]``."""
    current = ['boot/100/5000']
    monkeypatch.setattr(_cache, 'run_identity', lambda: current[0])
    return current


def test_a_later_run_reads_the_balance_again_and_gates_on_it(fake_api, lookup, runs):
    fake_api.serve({None: 100.0})
    assert lookup.run([], api_key=KEY, min_credits=50) == [100.0]
    fake_api.serve({None: 40.0})
    assert lookup.run([], api_key=KEY, min_credits=50) == [100.0]  # the same run: its hosts share one reading
    runs[0] = 'boot/101/5100'  # the next ansible-playbook from the same shell, within cache_ttl
    with pytest.raises(AnsibleLookupError) as caught:
        lookup.run([], api_key=KEY, min_credits=50)
    assert 'below min_credits 50.00' in caught.value.message and '40.00' in caught.value.message


@pytest.mark.parametrize('how', ['keyword', 'variable', 'environment'])
def test_cache_scope_user_lets_a_later_run_reuse_a_reading(fake_api, lookup, runs, monkeypatch, how):
    fake_api.serve({None: 100.0})
    direct, variables = {}, {'stability_api_key': KEY}
    if how == 'keyword':
        direct['cache_scope'] = 'user'
    elif how == 'variable':
        variables['stability_cache_scope'] = 'user'
    else:
        monkeypatch.setenv('STABILITY_CACHE_SCOPE', 'user')
    assert lookup.run([], variables, **direct) == [100.0]
    fake_api.serve({None: 40.0})
    runs[0] = 'boot/101/5100'
    assert lookup.run([], variables, **direct) == [100.0]
    assert len(fake_api.requests) == 1


@pytest.mark.parametrize('source, message', [
    ({'cache_scope': 'playbook'}, "cache_scope must be run or user, got 'playbook'"),
    ({'cache_scope': True}, 'cache_scope must be run or user, got True'),
    ({'stability_cache_scope': 'User'}, "cache_scope (set by the variable stability_cache_scope) must be run or user, got 'User'"),
    ({'STABILITY_CACHE_SCOPE': 'shared'}, "cache_scope (set by the environment variable STABILITY_CACHE_SCOPE) must be run or user, got 'shared'"),
])
def test_a_bad_cache_scope_is_refused_in_one_line_before_any_request(api, lookup, monkeypatch, source, message):
    direct, variables = {}, {'stability_api_key': KEY}
    for name, value in source.items():
        if name.startswith('STABILITY_'):
            monkeypatch.setenv(name, value)
        elif name.startswith('stability_'):
            variables[name] = value
        else:
            direct[name] = value
    with pytest.raises(AnsibleLookupError) as caught:
        lookup.run([], variables, **direct)
    assert caught.value.message == message
    assert api.requests == []


def test_a_bad_cache_scope_in_ansible_cfg_names_the_file(api, lookup, ansible_cfg):
    cfg = ansible_cfg('cache_scope = forever')
    with pytest.raises(AnsibleLookupError) as caught:
        lookup.run([], api_key=KEY)
    assert caught.value.message == "cache_scope (set by [stabilityai_platform] cache_scope in %s) must be run or user, got 'forever'" % cfg
    assert api.requests == []


def test_a_bad_cache_scope_is_refused_even_with_the_cache_off(api, lookup):
    with pytest.raises(AnsibleLookupError):
        lookup.run([], api_key=KEY, cache_ttl=0, cache_scope='all')
    assert api.requests == []


def test_a_run_that_cannot_be_told_apart_reads_live_with_one_warning(api, lookup, warnings, monkeypatch, demo_credits):
    def unknown():
        raise RunUnknown('/proc cannot tell one ansible-playbook run from another (gone)')
    monkeypatch.setattr(_cache, 'run_identity', unknown)
    assert lookup.run(DEMO_ORGANIZATIONS, api_key=KEY) == [demo_credits[organization] for organization in DEMO_ORGANIZATIONS]
    assert len(api.requests) == 3
    assert warnings == ['stabilityai.platform.stability_balance reads without a cache: /proc cannot tell one ansible-playbook run from '
                        'another (gone); cache_scope=user would share readings between runs']


# --- one directory, one budget ------------------------------------------------------------

def test_the_lookup_and_a_module_in_the_same_environment_share_one_budget(api, lookup, tmp_path, private_cache_home, demo_credits):
    """STABILITY_CACHE_DIR (the fixture sets it) holds the lookup's cache and the rate state of both."""
    assert lookup.run([], api_key=KEY, rate_limit='1/3600', cache_ttl=0) == [demo_credits[None]]
    assert [name for name in os.listdir(str(tmp_path / 'cache')) if name.startswith('rate-')]
    with pytest.raises(StabilityError) as caught:
        _client.StabilityClient(ConnectionSettings(api_key=KEY, rate_limit='1/3600')).fetch_balance()
    assert 'its turn under rate_limit 1/3600 comes at' in caught.value.msg
    assert len(api.requests) == 1 and not private_cache_home.exists()


def test_stability_api_key_wins_over_stability_key_as_in_the_modules(api, lookup, monkeypatch):
    monkeypatch.setenv('STABILITY_API_KEY', 'sk-from-the-first-variable')
    monkeypatch.setenv('STABILITY_KEY', 'sk-from-the-sdk-variable')
    lookup.run(['org-alice-lab'], {'stability_cache_ttl': 0})
    assert api.requests[0].headers['Authorization'] == 'Bearer sk-from-the-first-variable'
