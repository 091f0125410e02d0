#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: stability_balance_info
short_description: Read the Stability AI credit balance and stop when it is too low
version_added: 1.0.0
description:
  - Reads the credits left from C(GET /v1/user/balance) (or C(/v1alpha/user/balance)) for the key's default
    organization or the one named in O(organization). One credit is US$0.01; Stability AI sends no low-balance
    warnings, so this is the way to know before a job runs dry.
  - With O(organizations) or O(all_organizations), also reads the account and returns the balance of each of those
    organizations in RV(balances), fetched concurrently (at most 4 requests in flight, well under the API's limit of
    150 requests per 10 seconds).
  - With O(min_credits), fails when a balance read is below it, naming each organization, its balance and the
    threshold; RV(credits) and RV(balances) are still returned so that a playbook can report them.
  - Changes nothing, so it is safe in check mode and always reports C(changed=false). It never caches; every run asks the API.
author:
  - stabilityai.platform maintainers (@stabilityai-platform)
extends_documentation_fragment:
  - stabilityai.platform._connection
  - stabilityai.platform._attributes.INFO_MODULE
options:
  organization:
    description:
      - The organization id (C(org-...)) whose balance RV(credits) reports, sent as the C(Organization) header.
      - If not set, the API answers for the key's default organization.
      - Surrounding white space is removed; an id with a control character is refused before anything is sent.
    type: str
  organizations:
    description:
      - Organization ids to read the balances of, returned in RV(balances) in this order.
      - Each must be one of the account's organizations (see M(stabilityai.platform.stability_account_info)); an unknown
        id fails before any balance is read.
    type: list
    elements: str
  all_organizations:
    description:
      - Read the balance of every organization of the account and return them in RV(balances).
      - Cannot be V(true) together with O(organizations).
    type: bool
    default: false
  min_credits:
    description:
      - Fail when a balance read is below this number of credits.
      - With O(organizations) or O(all_organizations) every balance in RV(balances) is checked, otherwise RV(credits).
      - The message names each organization below the threshold, its balance and the threshold.
    type: float
  warn_below:
    description:
      - Emit a warning, not a failure, when a balance read is below this number of credits.
      - Checked like O(min_credits); use both for a warning zone above the hard stop.
    type: float
'''

EXAMPLES = r'''
- name: Read the credits of the key's default organization
  stabilityai.platform.stability_balance_info:
  register: balance

- name: Print them in dollars
  ansible.builtin.debug:
    msg: "{{ balance.credits }} credits (US${{ '%.2f' | format(balance.credits / 100) }})"

- name: Stop the play before a generation job that needs 250 credits runs dry
  stabilityai.platform.stability_balance_info:
    min_credits: 250
    warn_below: 1000

- name: Read the balance of one organization of the account
  stabilityai.platform.stability_balance_info:
    organization: org-alice-lab
  register: lab

- name: Read every organization's balance and fail if any is below 100 credits
  stabilityai.platform.stability_balance_info:
    all_organizations: true
    min_credits: 100
  register: all_balances

- name: Report the balance of each organization
  ansible.builtin.debug:
    msg: "{{ item.organization_name }}: {{ item.credits }}"
  loop: "{{ all_balances.balances }}"
  loop_control:
    label: "{{ item.organization_id }}"
'''

RETURN = r'''
credits:
  description:
    - The credits left in O(organization), or in the key's default organization when O(organization) is not set.
    - A fractional number exactly as the API sent it, never rounded. One credit is US$0.01.
  returned: success, and on a failure of O(min_credits)
  type: float
  sample: 1532.6336833840314
organization:
  description: The organization id asked for in O(organization), or V(null) for the key's default organization.
  returned: success, and on a failure of O(min_credits)
  type: str
  sample: org-alice-lab
balances:
  description: The balance of each organization asked for with O(organizations) or O(all_organizations), in that order.
  returned: when O(organizations) or O(all_organizations) is set, on success and on a failure of O(min_credits)
  type: list
  elements: dict
  contains:
    organization_id:
      description: The organization id.
      returned: always
      type: str
      sample: org-alice-lab
    organization_name:
      description: The organization name.
      returned: always
      type: str
      sample: Alice Lab
    role:
      description: The role of the key's account in the organization.
      returned: always
      type: str
      sample: MEMBER
    is_default:
      description: Whether this is the key's default organization.
      returned: always
      type: bool
      sample: false
    credits:
      description: The credits left in the organization.
      returned: always
      type: float
      sample: 12.5
status:
  description: The HTTP status of the failed request, when the API answered.
  returned: failure
  type: int
  sample: 403
error:
  description: The API's error body, for support requests.
  returned: failure, when the API sent an error body
  type: dict
  contains:
    id:
      description: The error id to quote to Stability AI support.
      returned: when the API sent one
      type: str
      sample: 9160aa70222f5ca4a61a42a5ac4aeda2
    name:
      description: The error name.
      returned: when the API sent one
      type: str
      sample: permission_denied
    message:
      description: The error message, or the API's C(errors) joined with C(; ).
      returned: when the API sent one
      type: str
      sample: you do not have access to organization org-stranger
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stabilityai.platform.plugins.module_utils._argspec import connection_argument_spec
from ansible_collections.stabilityai.platform.plugins.module_utils._client import default_membership
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityError, StabilityOptionError
from ansible_collections.stabilityai.platform.plugins.module_utils._gating import organization_label, shortfall
from ansible_collections.stabilityai.platform.plugins.module_utils._module_runtime import client_for_module, freeze_loaded_objects
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import clean_organization, clean_threshold


def chosen_memberships(account, organizations):
    """The account's memberships named in ``organizations`` (all when None), or a clear refusal."""
    memberships = account['organizations']
    if organizations is None:
        return memberships
    by_id = dict((membership['id'], membership) for membership in memberships)
    unknown = [organization for organization in organizations if organization not in by_id]
    if unknown:
        raise StabilityOptionError('organizations', 'names %s, not an organization of this account (its organizations: %s)' % (
            ', '.join(unknown), ', '.join(sorted(by_id)) or 'none'))
    return [by_id[organization] for organization in organizations]


def read_balances(client, organization, organizations):
    """``credits`` of ``organization`` plus a ``balances`` entry per chosen membership, fetched together."""
    account = client.fetch_account(sendable_ids=True)
    memberships = chosen_memberships(account, organizations)
    targets = [membership['id'] for membership in memberships]
    if organization is None:
        default = default_membership(account)
        credits_target = default['id'] if default else None
    else:
        credits_target = organization
    extra = [] if credits_target in targets else [credits_target]
    readings = dict(zip(targets + extra, client.fetch_balances(targets + extra)))
    balances = [dict(
        organization_id=membership['id'],
        organization_name=membership['name'],
        role=membership['role'],
        is_default=membership['is_default'],
        credits=readings[membership['id']],
    ) for membership in memberships]
    return readings[credits_target], balances


def main():
    module = AnsibleModule(
        argument_spec=connection_argument_spec(
            organization=dict(type='str'),
            organizations=dict(type='list', elements='str'),
            all_organizations=dict(type='bool', default=False),
            min_credits=dict(type='float'),
            warn_below=dict(type='float'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        organization = clean_organization('organization', params['organization'])
        min_credits = clean_threshold('min_credits', params['min_credits'])
        warn_below = clean_threshold('warn_below', params['warn_below'])
        organizations = None
        if params['organizations'] is not None and params['all_organizations']:
            raise StabilityOptionError('organizations', 'and all_organizations exclude each other: name organizations or ask for all of them')
        if params['organizations'] is not None:
            organizations = [clean_organization('organizations', item) for item in params['organizations']]
            if not organizations:
                raise StabilityOptionError('organizations', 'is an empty list; name at least one organization id or use all_organizations')
            organizations = list(dict.fromkeys(organizations))
    except StabilityError as exc:
        module.fail_json(**exc.to_result())

    result = dict(changed=False, organization=organization)
    with client_for_module(module) as client:
        try:
            if organizations is not None or params['all_organizations']:
                result['credits'], result['balances'] = read_balances(client, organization, organizations)
            else:
                result['credits'] = client.fetch_balance(organization)
        except StabilityError as exc:
            module.fail_json(**exc.to_result())

    if 'balances' in result:
        readings = [(organization_label(item['organization_id'], item['organization_name']), item['credits']) for item in result['balances']]
    else:
        readings = [(organization_label(organization), result['credits'])]
    warning = shortfall('warn_below', warn_below, readings)
    if warning:
        module.warn(warning)
    failure = shortfall('min_credits', min_credits, readings)
    if failure:
        module.fail_json(msg=failure, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    freeze_loaded_objects()
    main()
