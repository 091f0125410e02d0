# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The private per-user directory: its secret and the file names made from it.

The cache's and the rate guard's use of it (refusals of shared, planted or foreign files) are
tested in tests/unit/plugins/plugin_utils/test_cache.py and test_rate_guard.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils import _private_dir
from ansible_collections.stabilityai.platform.plugins.module_utils._private_dir import (
    PrivateDirectoryUnavailable,
    keyed_name,
    load_secret,
    private_directory,
)


def plant_secret(tmp_path, content):
    """A private directory whose secret file (0600, ours) holds ``content``; returns (directory, secret path)."""
    directory = private_directory(str(tmp_path / 'state'))
    secret = os.path.join(directory, 'secret')
    with os.fdopen(os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), 'wb') as handle:
        handle.write(content)
    return directory, secret


def test_a_secret_that_stays_short_is_reported_damaged_after_half_a_second(tmp_path, record):
    directory, secret = plant_secret(tmp_path, b'short')
    waits = record(_private_dir.time, 'sleep')
    with pytest.raises(PrivateDirectoryUnavailable) as caught:
        load_secret(directory)
    assert str(caught.value) == '%s is damaged; remove it' % secret
    assert len(waits) == 50 and sum(waits) == pytest.approx(0.5), 'a writer gets half a second, in 10 ms steps'


def test_a_secret_longer_than_ours_is_damaged_too(tmp_path, monkeypatch):
    directory, dummy = plant_secret(tmp_path, b'k' * (_private_dir.SECRET_BYTES + 1))
    monkeypatch.setattr(_private_dir.time, 'sleep', lambda seconds: None)
    with pytest.raises(PrivateDirectoryUnavailable, match='is damaged; remove it$'):
        load_secret(directory)


def test_a_shared_directory_is_refused_with_what_to_do_instead(tmp_path):
    directory = tmp_path / 'shared'
    directory.mkdir(mode=0o755)
    os.chmod(str(directory), 0o755)
    with pytest.raises(PrivateDirectoryUnavailable) as caught:
        private_directory(str(directory))
    assert str(caught.value) == (
        '%s is open to other users (mode 0755); it is left as it is: use a directory only you can use (mode 0700), '
        'or one that does not exist yet' % directory)


def test_something_else_in_place_of_the_directory_is_named(tmp_path):
    (tmp_path / 'state').write_text(u'')
    with pytest.raises(PrivateDirectoryUnavailable) as caught:
        private_directory(str(tmp_path / 'state'))
    assert str(caught.value) == '%s is a regular file, not a directory' % (tmp_path / 'state')


def test_something_else_in_place_of_the_secret_is_refused(tmp_path):
    directory = private_directory(str(tmp_path / 'state'))
    os.mkdir(os.path.join(directory, 'secret'), 0o700)
    with pytest.raises(PrivateDirectoryUnavailable) as caught:
        load_secret(directory)
    assert str(caught.value) == '%s is a directory, not a regular file' % os.path.join(directory, 'secret')


def test_file_names_stay_the_same_across_releases():
    """Every process and every installed release of the collection must find the same cache entry
    and the same request budget for one key: the name is a format, pinned here."""
    name = keyed_name(b'\x07' * 32, ['https://api.stability.ai', 'v1', 'sk-unit'])
    assert name == '3083eddd74997b77363da148c76a3db31b8b308cf58cd83efce53008df33b99f'
    assert 'sk-unit' not in name


# --- where the directory is ----------------------------------------------------------------

def test_stability_cache_dir_names_the_directory_for_modules_and_lookups(monkeypatch, tmp_path):
    monkeypatch.setenv('STABILITY_CACHE_DIR', str(tmp_path / 'shared'))
    assert _private_dir.default_cache_dir() == str(tmp_path / 'shared')


def test_a_relative_or_home_stability_cache_dir_is_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    monkeypatch.setenv('STABILITY_CACHE_DIR', 'relative/cache')
    assert _private_dir.default_cache_dir() == str(tmp_path / 'relative' / 'cache')
    monkeypatch.setenv('STABILITY_CACHE_DIR', '~/cache')
    assert _private_dir.default_cache_dir() == str(tmp_path / 'home' / 'cache')


@pytest.mark.parametrize('value', ['', '  '])
def test_an_empty_stability_cache_dir_means_unset(monkeypatch, tmp_path, value):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    monkeypatch.setenv('STABILITY_CACHE_DIR', value)
    assert _private_dir.default_cache_dir() == str(tmp_path / 'xdg' / 'stabilityai.platform')


def test_without_either_variable_the_directory_is_under_the_home_cache(monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    monkeypatch.delenv('XDG_CACHE_HOME')
    assert _private_dir.default_cache_dir() == str(tmp_path / 'home' / '.cache' / 'stabilityai.platform')
