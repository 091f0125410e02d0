# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""The account model: the documented fields of an account body and its organizations.

Apart from the HTTP client, so that the module, the callback and the event source pick
memberships the same way, and a reader that does not send requests need not import the client.
Standard library only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import clean_header_value


def check_account(payload, sendable_ids=False):
    """The account body reduced to the documented fields, all of them present and typed.

    ``sendable_ids``: the organization ids are about to be sent back as ``Organization`` headers,
    so one that cannot travel in a header is the server's fault, reported as such (and not as a
    bad option, of which nothing was sent).
    """
    if not isinstance(payload, dict):
        raise ValueError('is not a JSON object')
    for field in ('id', 'email'):
        if not isinstance(payload.get(field), str) or not payload.get(field):
            raise ValueError('has no "%s" string' % field)
    organizations = payload.get('organizations')
    if not isinstance(organizations, list):
        raise ValueError('has no "organizations" list')
    memberships = []
    for index, membership in enumerate(organizations):
        if not isinstance(membership, dict):
            raise ValueError('organizations[%d] is not an object' % index)
        for field in ('id', 'name', 'role'):
            if not isinstance(membership.get(field), str):
                raise ValueError('organizations[%d] has no "%s" string' % (index, field))
        if not isinstance(membership.get('is_default'), bool):
            raise ValueError('organizations[%d] has no "is_default" boolean' % index)
        if sendable_ids:
            try:
                clean_header_value('id', membership['id'])
            except StabilityOptionError:
                raise ValueError('organizations[%d] has an "id" that cannot be sent in an Organization header (empty, or with a '
                                 'control character or a character that is not printable ASCII), so no balance was read' % index)
        memberships.append({key: membership[key] for key in ('id', 'name', 'role', 'is_default')})
    picture = payload.get('profile_picture')
    return {
        'id': payload['id'],
        'email': payload['email'],
        'profile_picture': picture if isinstance(picture, str) and picture else None,
        'organizations': memberships,
    }


def default_membership(account):
    """The membership flagged ``is_default``, or None."""
    for membership in account['organizations']:
        if membership['is_default']:
            return membership
    return None


def chosen_memberships(account, organizations):
    """The account's memberships named in ``organizations`` (all when None), or a clear refusal.

    Each organization comes once even when the account lists a membership twice (the vendor's own
    v1alpha example does), so each balance is read once.
    """
    by_id = {}
    for membership in account['organizations']:
        by_id.setdefault(membership['id'], membership)
    if organizations is None:
        return list(by_id.values())
    unknown = [organization for organization in organizations if organization not in by_id]
    if unknown:
        raise StabilityOptionError('organizations', 'names %s, not an organization of this account (its organizations: %s)' % (
            ', '.join(unknown), ', '.join(sorted(by_id)) or 'none'))
    return [by_id[organization] for organization in organizations]
