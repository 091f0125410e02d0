# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The connection settings (plugins/module_utils/_settings.py): defaults, and each option refused by name."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils._client import StabilityClient
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import (
    COLLECTION_VERSION,
    ConnectionSettings,
    attempts_seconds,
    clean_bool,
    max_total_seconds,
)

KEY = 'sk-unit-test-0123456789abcdef'


def test_defaults():
    settings = ConnectionSettings(api_key=' %s\t' % KEY)
    assert (settings.api_key, settings.api_url, settings.api_version, settings.timeout, settings.retries, settings.validate_certs) == (
        KEY, 'https://api.stability.ai', 'v1', 30.0, 3, True)
    assert KEY not in repr(settings)


@pytest.mark.parametrize('api_key', [None, ''])
def test_missing_key_names_the_option_and_the_variable(api_key):
    with pytest.raises(StabilityOptionError) as caught:
        ConnectionSettings(api_key=api_key)
    assert caught.value.option == 'api_key'
    assert 'api_key' in caught.value.msg and 'STABILITY_API_KEY' in caught.value.msg


@pytest.mark.parametrize('options, option, words', [
    (dict(api_key='   '), 'api_key', 'is empty'),
    (dict(api_key='sk-abc\r\nX-Injected: 1'), 'api_key', 'control character'),
    (dict(api_key='sk-abc\x00'), 'api_key', 'control character'),
    (dict(api_key='sk-\u00e9t\u00e9'), 'api_key', 'not printable ASCII'),
    (dict(api_url=''), 'api_url', 'is empty'),
    (dict(api_url='ftp://api.stability.ai'), 'api_url', 'must start with https://'),
    (dict(api_url='api.stability.ai'), 'api_url', 'must start with https://'),
    (dict(api_url='https://'), 'api_url', 'has no host name'),
    (dict(api_url='https://:443/'), 'api_url', 'has no host name'),
    (dict(api_url='http://api.stability.ai'), 'api_url', 'plain http:// to api.stability.ai'),
    (dict(api_url='http://10.0.0.5:8080'), 'api_url', 'plain http:// to 10.0.0.5'),
    (dict(api_url='http://localhost.example.com'), 'api_url', 'plain http://'),
    (dict(api_url='http://127.1'), 'api_url', 'plain http://'),
    (dict(api_url='https://user:secret@api.stability.ai'), 'api_url', 'must not contain credentials'),
    (dict(api_url='https://api.stability.ai/?x=1'), 'api_url', 'must not contain a query'),
    (dict(api_url='https://api.stability.ai:99999'), 'api_url', 'is not a valid URL'),
    (dict(api_url='https://api.stability.ai/\r\nX: 1'), 'api_url', 'control character'),
    (dict(api_version='v2'), 'api_version', "must be one of v1, v1alpha, got 'v2'"),
    (dict(timeout=0), 'timeout', 'greater than 0'),
    (dict(timeout=-1.5), 'timeout', 'greater than 0'),
    (dict(timeout=True), 'timeout', 'greater than 0 and at most 600, got True'),
    (dict(api_url='https://api.stability.ai/v1alpha'), 'api_url',
     'ends with /v1alpha but api_version is v1: drop /v1alpha from api_url (the version goes in api_version)'),
    (dict(api_url='https://api.stability.ai/v1/', api_version='v1alpha'), 'api_url',
     'ends with /v1 but api_version is v1alpha: drop /v1 from api_url'),
    (dict(timeout='soon'), 'timeout', 'greater than 0'),
    (dict(timeout=float('nan')), 'timeout', 'greater than 0'),
    (dict(retries=-1), 'retries', 'whole number from 0 to 10'),
    (dict(retries=11), 'retries', 'whole number from 0 to 10'),
    (dict(retries='two'), 'retries', 'whole number from 0 to 10'),
    (dict(retries=True), 'retries', 'whole number from 0 to 10, got True'),
    (dict(retries=1.5), 'retries', 'whole number from 0 to 10, got 1.5'),
    (dict(ca_path='/nonexistent/ca.pem'), 'ca_path', 'is not a readable file'),
    (dict(ca_path=''), 'ca_path', 'is empty'),
    (dict(ca_path='  '), 'ca_path', 'is empty'),
    (dict(ca_path='/etc/ssl/ca.pem\r\n'), 'ca_path', 'control character'),
    (dict(validate_certs='maybe'), 'validate_certs', "must be true or false, got 'maybe'"),
    (dict(validate_certs=2), 'validate_certs', 'must be true or false, got 2'),
    (dict(validate_certs=None), 'validate_certs', 'must be true or false, got None'),
])
def test_bad_input_is_refused_naming_the_option(options, option, words):
    options.setdefault('api_key', KEY)
    with pytest.raises(StabilityOptionError) as caught:
        ConnectionSettings(**options)
    assert caught.value.option == option
    assert caught.value.msg.startswith(option + ' ')
    assert words in caught.value.msg
    assert KEY not in caught.value.msg


@pytest.mark.parametrize('value, expected', [
    (True, True), (False, False), (1, True), (0, False), ('yes', True), (' No ', False), ('TRUE', True), ('off', False),
    ('1', True), ('0', False), ('y', True), ('f', False),
])
def test_booleans_as_ansible_spells_them(value, expected):
    assert clean_bool('validate_certs', value) is expected
    assert ConnectionSettings(api_key=KEY, validate_certs=value).validate_certs is expected


@pytest.mark.parametrize('url, expected', [
    ('http://localhost:8080', 'http://localhost:8080'),
    ('http://LOCALHOST/', 'http://localhost'),
    ('http://127.0.0.1:1234/', 'http://127.0.0.1:1234'),
    ('http://127.9.8.7', 'http://127.9.8.7'),
    ('http://[::1]:8080', 'http://[::1]:8080'),
    ('https://gateway.example.com/stability/', 'https://gateway.example.com/stability'),
    ('https://gateway.example.com/Stability-AIX//', 'https://gateway.example.com/Stability-AIX'),  # the path keeps its case
])
def test_accepted_urls(url, expected):
    assert ConnectionSettings(api_key=KEY, api_url=url).api_url == expected


@pytest.mark.parametrize('url, version', [
    ('https://api.stability.ai/v1', 'v1'),
    ('https://api.stability.ai/v1/', 'v1'),
    ('https://api.stability.ai/v1alpha//', 'v1alpha'),
    ('https://gateway.example.com/stability/v1', 'v1'),
])
def test_a_trailing_version_that_repeats_api_version_is_dropped(fake_api, url, version):
    """As the vendor's docs write the URL; sent as it is, every request went to /v1/v1/... (404)."""
    settings = ConnectionSettings(api_key=KEY, api_url=url, api_version=version)
    assert settings.api_url == url.rstrip('/')[:-len('/' + version)]
    fake_api.answer(payload={'credits': 1})
    StabilityClient(settings).fetch_balance()
    assert fake_api.requests[0].url == settings.api_url + '/%s/user/balance' % version


@pytest.mark.parametrize('url', ['https://v1', 'https://api.stability.ai/v10', 'https://api.stability.ai/v1/extra'])
def test_a_version_anywhere_else_is_left_alone(url):
    assert ConnectionSettings(api_key=KEY, api_url=url).api_url == url


@pytest.mark.parametrize('url, expected', [
    ('HTTPS://API.Stability.AI/', 'https://api.stability.ai'),
    ('Http://[::1]:8080/Path/', 'http://[::1]:8080/Path'),
])
def test_scheme_and_host_are_written_in_lower_case(url, expected):
    assert ConnectionSettings(api_key=KEY, api_url=url).api_url == expected


def test_https_in_capitals_still_warns_that_certificates_are_not_checked():
    client = StabilityClient(ConnectionSettings(api_key=KEY, api_url='HTTPS://api.stability.ai', validate_certs=False))
    assert client.warnings == ['validate_certs is false: the TLS certificate of https://api.stability.ai is not checked']


@pytest.mark.parametrize('url, host', [
    ('http://[::1]evil.invalid', '[::1]evil.invalid'),
    ('https://[::1]evil.invalid:443/v1', '[::1]evil.invalid:443'),
    ('https://-api.example.com', '-api.example.com'),
    ('https://api.example.com:44x3', None),
])
def test_a_malformed_host_is_refused_up_front(url, host):
    with pytest.raises(StabilityOptionError) as caught:
        ConnectionSettings(api_key=KEY, api_url=url)
    assert caught.value.option == 'api_url' and len(caught.value.msg.splitlines()) == 1
    if host:
        assert caught.value.msg == ("api_url has a malformed host %r: give a host name or a bracketed IPv6 address, "
                                    "and an optional port" % host)


def test_option_adapter_reads_any_get_option():
    options = {'api_key': KEY, 'api_url': 'http://127.0.0.1:1', 'api_version': 'v1alpha', 'timeout': 2, 'retries': 0,
               'validate_certs': None, 'ca_path': None}
    settings = ConnectionSettings.from_options(options.get)
    assert (settings.api_url, settings.api_version, settings.timeout, settings.retries, settings.validate_certs) == (
        'http://127.0.0.1:1', 'v1alpha', 2.0, 0, True)


def test_collection_version_matches_galaxy_yml():
    galaxy = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'galaxy.yml')
    with open(galaxy) as handle:
        versions = [line.split(':', 1)[1].strip() for line in handle if line.startswith('version:')]
    assert versions == [COLLECTION_VERSION]


def test_worst_case_time_of_a_call():
    assert attempts_seconds(30, 3) == 4 * 30 + 3 * 60
    assert max_total_seconds(30, 3) == 60 + 4 * 30 + 3 * 60  # a minute at most waiting for a turn, then the attempts
