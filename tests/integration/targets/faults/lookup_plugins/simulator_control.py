# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Test helper of the faults target: not part of the collection.

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: simulator_control
short_description: Call the control API of the collection's Stability API simulator from the controller
description:
  - Sends one request to C(/_sim/...) of the simulator on loopback and returns its JSON answer.
  - The faults target queues faults before each of its forty-odd cases; doing that here, without starting a
    module, keeps the target fast.
options:
  _terms:
    description: The URL, on a loopback address.
    required: true
  method:
    description: The HTTP method.
    default: POST
  body:
    description: The JSON body, if any.
'''

import json

from urllib.parse import urlsplit
from urllib.request import Request, build_opener, ProxyHandler

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        url = terms[0]
        if urlsplit(url).hostname not in ('127.0.0.1', 'localhost', '::1'):
            raise AnsibleLookupError('simulator_control only talks to a simulator on loopback, not %s' % url)
        body = self.get_option('body')
        data = None if body is None else json.dumps(body).encode('utf-8')
        request = Request(url, data=data, method=self.get_option('method'), headers={'Content-Type': 'application/json'})
        try:
            with build_opener(ProxyHandler({})).open(request, timeout=10) as response:
                return [json.loads(response.read().decode('utf-8'))]
        except (OSError, ValueError) as exc:
            raise AnsibleLookupError('simulator_control %s %s failed: %s' % (self.get_option('method'), url, exc))
