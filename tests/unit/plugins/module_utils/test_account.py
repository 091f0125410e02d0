# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The account model (_account): the documented fields of an account body, and the memberships a run reads.

How the client words a refused body ("GET ... returned an account body that ...") is test_client.py's.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils._account import check_account, chosen_memberships, default_membership
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError


def test_an_account_is_reduced_to_the_documented_fields(demo_account):
    studio = demo_account['organizations'][0]
    account = check_account(dict(demo_account, extra='ignored', organizations=[dict(studio, payment_method='card')]))
    assert account == dict(demo_account, organizations=[studio])
    assert default_membership(account) == studio


@pytest.mark.parametrize('picture', [{}, {'profile_picture': ''}, {'profile_picture': 42}, {'profile_picture': None}],
                         ids=['absent', 'empty', 'a number', 'null'])
def test_an_account_without_profile_picture_gives_null(demo_account, picture):
    del demo_account['profile_picture']
    assert check_account(dict(demo_account, **picture))['profile_picture'] is None


@pytest.mark.parametrize('mutate, problem', [
    (lambda a: a.pop('id'), 'has no "id" string'),
    (lambda a: a.pop('email'), 'has no "email" string'),
    (lambda a: a.update(id=''), 'has no "id" string'),
    (lambda a: a.update(email=5), 'has no "email" string'),
    (lambda a: a.pop('organizations'), 'has no "organizations" list'),
    (lambda a: a.update(organizations={}), 'has no "organizations" list'),
    (lambda a: a['organizations'][1].pop('name'), 'organizations[1] has no "name" string'),
    (lambda a: a['organizations'][0].update(is_default='yes'), 'organizations[0] has no "is_default" boolean'),
    (lambda a: a['organizations'].append('org-x'), 'organizations[3] is not an object'),
])
def test_account_bodies_that_break_the_contract(demo_account, mutate, problem):
    mutate(demo_account)
    with pytest.raises(ValueError) as caught:
        check_account(demo_account)
    assert '%s' % caught.value == problem


@pytest.mark.parametrize('memberships, known', [
    ([{'id': 'org-b', 'name': 'B', 'role': 'MEMBER', 'is_default': True}, {'id': 'org-a', 'name': 'A', 'role': 'OWNER', 'is_default': False}],
     'org-a, org-b'),
    ([], 'none'),
])
def test_unknown_organizations_are_all_named_with_the_known_ones(memberships, known):
    account = {'id': 'user-1', 'email': 'a@example.com', 'profile_picture': None, 'organizations': memberships}
    with pytest.raises(StabilityOptionError) as caught:
        chosen_memberships(account, ['org-x', 'org-a', 'org-y'] if memberships else ['org-x', 'org-y'])
    assert caught.value.msg == ('organizations names org-x, org-y, not an organization of this account (its organizations: %s)' % known)
