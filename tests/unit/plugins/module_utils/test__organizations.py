# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError
from ansible_collections.stabilityai.platform.plugins.module_utils._organizations import ALL_ORGANIZATIONS, parse_organizations


@pytest.mark.parametrize('value', [None, '', '   ', [], (), [''], [' ', ''], ' , '])
def test_nothing_in_it_means_the_default_organization(value):
    assert parse_organizations('organizations', value) is None


@pytest.mark.parametrize('value', ['all', 'ALL', ' All ', ['all'], [' aLL '], ('all',)])
def test_all_in_any_case(value):
    assert parse_organizations('organizations', value) == ALL_ORGANIZATIONS == 'all'


@pytest.mark.parametrize('value, expected', [
    ('org-a', ['org-a']),
    (' org-a , org-b ', ['org-a', 'org-b']),
    ('org-a,org-b,org-a', ['org-a', 'org-b']),
    ([' org-b ', 'org-a', 'org-b'], ['org-b', 'org-a']),
    (('org-a',), ['org-a']),
    ([123], ['123']),
    (['org-a, org-b', 'org-c'], ['org-a', 'org-b', 'org-c']),
    ('org-all', ['org-all']),
])
def test_ids_from_a_list_or_a_comma_separated_string(value, expected):
    assert parse_organizations('organizations', value) == expected


@pytest.mark.parametrize('value, message', [
    ('org-a,,org-b', "^stability_organizations has an empty item in 'org-a,,org-b'; give organization ids separated by commas$"),
    ('org-a,', "^stability_organizations has an empty item in 'org-a,'; give organization ids separated by commas$"),
    (['org-a', ' '], r"^stability_organizations has an empty item in \['org-a', ' '\]; give organization ids separated by commas$"),
    ('all,org-a', "^stability_organizations is \"all\" or a list of organization ids, not both: got 'all,org-a'$"),
    (['ALL', 'org-a'], "^stability_organizations is \"all\" or a list of organization ids, not both: got \\['ALL', 'org-a'\\]$"),
    ('org-a\nX: y', r"^stability_organizations contains a control character \(such as a line break\); nothing was sent \(in 'org-a\\nX: y'\)$"),
    (['org-\u00e9'], r"^stability_organizations contains a character that is not printable ASCII; nothing was sent \(in \['org-\u00e9'\]\)$"),
    (12, '^stability_organizations must be "all", a list of organization ids or a comma-separated string of them, got 12$'),
    ({'org-a': 1}, "^stability_organizations must be \"all\", a list of organization ids or a comma-separated string of them, got \\{'org-a': 1\\}$"),
    ([['org-a']], r"^stability_organizations must be .*; the item \['org-a'\] is not an id \(got \[\['org-a'\]\]\)$"),
    ([None], r"^stability_organizations must be .*; the item None is not an id \(got \[None\]\)$"),
    ([True], r"^stability_organizations must be .*; the item True is not an id \(got \[True\]\)$"),
])
def test_refused_with_one_line_naming_the_option_and_the_value(value, message):
    with pytest.raises(StabilityOptionError, match=message) as caught:
        parse_organizations('stability_organizations', value)
    assert caught.value.option == 'stability_organizations'
    assert '\n' not in caught.value.msg


def test_a_long_value_is_cut_in_the_message():
    with pytest.raises(StabilityOptionError) as caught:
        parse_organizations('organizations', 'org-a,,' + 'b' * 500)
    assert len(caught.value.msg) < 200 and "...; give organization ids" in caught.value.msg
