#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: stability_account_info
short_description: Read the Stability AI account that an API key belongs to
version_added: 1.0.0
description:
  - Reads the account of the API key from C(GET /v1/user/account) (or C(/v1alpha/user/account)),
    that is its id, e-mail address, profile picture and the organizations it is a member of.
  - Returns the default organization separately, since that is the one whose credits a key spends
    when a request names no organization.
  - Changes nothing, so it is safe in check mode and always reports C(changed=false).
author:
  - stabilityai.platform maintainers (@stabilityai-platform)
extends_documentation_fragment:
  - stabilityai.platform._connection
  - stabilityai.platform._attributes.INFO_MODULE
'''

EXAMPLES = r'''
- name: Read the account of the key in STABILITY_API_KEY
  stabilityai.platform.stability_account_info:
  register: stability

- name: Show the organizations the key can spend credits of
  ansible.builtin.debug:
    msg: "{{ stability.account.organizations | map(attribute='name') | join(', ') }}"

- name: Set the credentials once for every module of the collection
  module_defaults:
    group/stabilityai.platform.stability:
      api_key: "{{ vault_stability_api_key }}"
  block:
    - name: Read the account with the key from the vault
      stabilityai.platform.stability_account_info:
      register: stability

    - name: Name the organization a request without an Organization header is billed to
      ansible.builtin.debug:
        msg: "Default organization: {{ stability.default_organization.name | default('none') }}"

- name: Read the account through the deprecated v1alpha endpoints
  stabilityai.platform.stability_account_info:
    api_version: v1alpha
  register: stability_v1alpha
'''

RETURN = r'''
account:
  description: The account of the API key.
  returned: success
  type: dict
  contains:
    id:
      description: The user id.
      returned: success
      type: str
      sample: user-1234
    email:
      description: The e-mail address of the account.
      returned: success
      type: str
      sample: alice@example.com
    profile_picture:
      description: URL of the profile picture, or V(null) when the account has none.
      returned: success
      type: str
      sample: https://example.com/alice.png
    organizations:
      description: The organizations the account is a member of.
      returned: success
      type: list
      elements: dict
      contains:
        id:
          description: The organization id, the value to give as O(stabilityai.platform.stability_balance_info#module:organization).
          returned: success
          type: str
          sample: org-5678
        name:
          description: The organization name.
          returned: success
          type: str
          sample: Alice Studio
        role:
          description: The role of the account in the organization, for example V(MEMBER), V(ACCOUNTANT) or V(OWNER).
          returned: success
          type: str
          sample: OWNER
        is_default:
          description: Whether this is the organization billed when a request names none.
          returned: success
          type: bool
          sample: true
default_organization:
  description:
    - The membership of RV(account.organizations) with C(is_default=true), or V(null) when there is none.
  returned: success
  type: dict
  sample:
    id: org-5678
    name: Alice Studio
    role: OWNER
    is_default: true
invalid_option:
  description: The option whose value was refused before any request was sent (the message names it and the value).
  returned: failure, when an option was refused
  type: str
  version_added: 2.0.0
  sample: api_url
status:
  description: The HTTP status of the failed request, when the API answered.
  returned: failure
  type: int
  sample: 401
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
      sample: unauthorized
    message:
      description: The error message, or the API's C(errors) joined with C(; ).
      returned: when the API sent one
      type: str
      sample: missing authorization header
'''

from ansible_collections.stabilityai.platform.plugins.module_utils._argspec import connection_argument_spec
from ansible_collections.stabilityai.platform.plugins.module_utils._account import default_membership
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityError
from ansible_collections.stabilityai.platform.plugins.module_utils._module_runtime import StabilityModule, client_for_module, freeze_loaded_objects


def main():
    module = StabilityModule(argument_spec=connection_argument_spec(), supports_check_mode=True)
    with client_for_module(module) as client:
        try:
            account = client.fetch_account()
        except StabilityError as exc:
            module.fail_json(**exc.to_result())
    module.exit_json(changed=False, account=account, default_organization=default_membership(account))


if __name__ == '__main__':
    freeze_loaded_objects()
    main()
