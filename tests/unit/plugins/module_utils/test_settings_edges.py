# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The edges of the connection options: documented values accepted, near misses refused, every option adapted."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pathlib

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError, one_line
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import (
    MAX_RETRIES,
    MAX_TIMEOUT,
    ConnectionSettings,
    clean_bool,
    clean_header_value,
    clean_organization,
    clean_path_text,
    clean_retries,
    clean_timeout,
    is_loopback_as_written,
    max_total_seconds,
)

KEY = 'sk-settings-edge-0123456789'


def test_the_option_adapter_passes_every_option_on(tmp_path):
    bundle = tmp_path / 'ca.pem'
    bundle.write_text(u'')
    options = {'api_key': KEY, 'api_url': 'https://gateway.example', 'api_version': 'v1alpha', 'timeout': 7,
               'retries': 5, 'validate_certs': False, 'ca_path': str(bundle)}
    settings = ConnectionSettings.from_options(options.get)
    assert (settings.api_key, settings.api_url, settings.api_version, settings.timeout, settings.retries,
            settings.validate_certs, settings.ca_path) == (
        KEY, 'https://gateway.example', 'v1alpha', 7.0, 5, False, str(bundle))


def test_the_option_adapter_defaults_validate_certs_to_true_and_keeps_an_explicit_true():
    for value in (None, True, 'yes'):
        options = {'api_key': KEY, 'validate_certs': value}
        assert ConnectionSettings.from_options(options.get).validate_certs is True


@pytest.mark.parametrize('retries', [0, 1, 10, '10', ' 3 '])
def test_every_documented_retry_count_is_accepted(retries):
    assert ConnectionSettings(api_key=KEY, retries=retries).retries == int(retries)


@pytest.mark.parametrize('retries', [11, -1, 1.5, '1.5', True, False, 'two', None])
def test_retry_counts_outside_zero_to_ten_are_refused(retries):
    with pytest.raises(StabilityOptionError) as caught:
        clean_retries(retries)
    assert caught.value.msg == 'retries must be a whole number from 0 to %d, got %r' % (MAX_RETRIES, retries)


@pytest.mark.parametrize('timeout', [0.5, '0.5', 1e-3, 600, '600'])
def test_any_positive_timeout_up_to_the_bound_is_accepted(timeout):
    assert ConnectionSettings(api_key=KEY, timeout=timeout).timeout == float(timeout)


@pytest.mark.parametrize('value', [0, -0.1, 600.001, 1e10, '1e10', float('inf'), float('nan'), 'inf', None, [1], 10 ** 400])
def test_a_timeout_that_is_not_a_positive_number_up_to_the_bound_is_refused(value):
    with pytest.raises(StabilityOptionError) as caught:
        ConnectionSettings(api_key=KEY, timeout=value) if value is not None else clean_timeout(value)
    assert caught.value.msg == 'timeout must be a number of seconds greater than 0 and at most 600, got %r' % (value,)
    assert MAX_TIMEOUT == 600


def test_a_ca_path_with_a_space_is_accepted(tmp_path):
    bundle = tmp_path / 'my certificates' / 'corporate ca.pem'
    bundle.parent.mkdir()
    bundle.write_text(u'')
    assert ConnectionSettings(api_key=KEY, ca_path=str(bundle)).ca_path == str(bundle)


def test_a_ca_path_under_home_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    (tmp_path / 'ca.pem').write_text(u'')
    assert ConnectionSettings(api_key=KEY, ca_path='~/ca.pem').ca_path == str(tmp_path / 'ca.pem')


def test_a_directory_is_refused_as_ca_path(tmp_path):
    with pytest.raises(StabilityOptionError) as caught:
        ConnectionSettings(api_key=KEY, ca_path=str(tmp_path))
    assert caught.value.msg == 'ca_path %s is not a readable file' % tmp_path


def test_ca_path_unset_means_the_system_store():
    assert ConnectionSettings(api_key=KEY).ca_path is None


@pytest.mark.parametrize('value', ['\x7f', 'a\x1fb', '\t'])
def test_header_values_refuse_delete_and_control_characters(value):
    with pytest.raises(StabilityOptionError):
        clean_header_value('organization', 'org' + value + 'x')


@pytest.mark.parametrize('value', ['~', ' !', 'org-\x20x'])
def test_header_values_keep_every_printable_ascii_character(value):
    assert clean_header_value('organization', value) == value.strip()


def test_a_non_ascii_header_value_is_refused_with_its_own_reason():
    with pytest.raises(StabilityOptionError) as caught:
        clean_header_value('organization', 'org-\x80')
    assert caught.value.msg == 'organization contains a character that is not printable ASCII; nothing was sent'


def test_an_organization_of_any_type_travels_as_text():
    assert clean_organization('organization', 1234) == '1234'
    assert clean_organization('organization', None) is None


@pytest.mark.parametrize('host, loopback', [
    ('localhost', True), ('LocalHost', True), ('127.0.0.1', True), ('127.255.0.9', True), ('::1', True),
    ('10.0.0.1', False), ('localhost.example', False), ('example.com', False), ('::2', False),
])
def test_loopback_is_decided_as_written(host, loopback):
    assert is_loopback_as_written(host) is loopback


@pytest.mark.parametrize('value', ['x\ny', 'x\x7fy', 'x\x00'])
def test_path_options_refuse_control_characters(value):
    with pytest.raises(StabilityOptionError) as caught:
        clean_path_text('cache_dir', value)
    assert caught.value.msg == 'cache_dir contains a control character (such as a line break)'


def test_path_options_keep_their_text_and_none():
    assert clean_path_text('cache_dir', ' /tmp/a b ') == ' /tmp/a b '
    assert clean_path_text('cache_dir', None) is None


def test_the_documented_worst_case_of_a_call():
    assert max_total_seconds(2, 0) == 60 + 2
    assert max_total_seconds(0.5, 10) == 60 + 11 * 0.5 + 10 * 60


def test_the_repr_shows_every_setting_but_the_key():
    settings = ConnectionSettings(api_key=KEY, api_url='http://127.0.0.1:9', timeout=2, retries=1, validate_certs=False)
    assert repr(settings) == ("ConnectionSettings(api_url='http://127.0.0.1:9', api_version='v1', timeout=2.0, retries=1, "
                              "validate_certs=False, ca_path=None, rate_limit=(100, 10))")


@pytest.mark.parametrize('length', [399, 400])
def test_one_line_keeps_a_text_up_to_the_limit_whole(length):
    assert one_line('x' * length) == 'x' * length


def test_one_line_cuts_a_longer_text_to_the_limit_with_an_ellipsis():
    assert one_line('x' * 401) == 'x' * 397 + '...'
    assert one_line('  ab  ' + 'y' * 13 + '\n' + 'z' * 20, 20) == 'ab ' + 'y' * 13 + '...'  # no space before the dots
    assert one_line('abcdef', 5) == 'ab...'


@pytest.mark.parametrize('url, problem', [
    ('  ', 'is empty'),
    ('https://api.example/\x7f', 'contains white space, a control character or a character that is not ASCII'),
    ('https://api.example:http/', "is not a valid URL (Port could not be cast to integer value as 'http')"),
    ('ftp://api.example', "must start with https:// (or http:// for a loopback address), got 'ftp:'"),
    ('api.example', "must start with https:// (or http:// for a loopback address), got 'api.example'"),
    ('https://', 'has no host name'),
    ('https://user@api.example', 'must not contain credentials; use api_key'),
    ('https://api.example/#top', 'must not contain a query or a fragment'),
    ('http://api.example', 'uses plain http:// to api.example, which would send the API key in clear text; use https:// '
                           '(http:// is accepted only for localhost, 127.x.x.x and [::1])'),
])
def test_each_refused_api_url_says_why_in_one_line(url, problem):
    with pytest.raises(StabilityOptionError) as caught:
        ConnectionSettings(api_key=KEY, api_url=url)
    assert caught.value.msg == 'api_url ' + problem


@pytest.mark.parametrize('url', ['https://api.example/!x', 'https://api.example/~user', 'https://api.example/a"b'])
def test_every_printable_ascii_character_may_appear_in_api_url(url):
    assert ConnectionSettings(api_key=KEY, api_url=url).api_url == url


def test_api_url_loses_only_its_trailing_slashes():
    assert ConnectionSettings(api_key=KEY, api_url='https://api.example/x//').api_url == 'https://api.example/x'


def test_only_text_is_read_as_a_boolean_word():
    with pytest.raises(StabilityOptionError):
        clean_bool('validate_certs', pathlib.PurePath('true'))
