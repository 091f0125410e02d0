# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""The argument spec of the connection options, shared by every module.

``api_url``, ``api_version`` and ``rate_limit`` carry no ``default`` here on purpose: Ansible applies a default
before an environment fallback, so the environment variable would never be read.  The defaults
live in ``ConnectionSettings`` instead, and the docs say so (a unit test holds the docs to it).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils.basic import env_fallback

from ansible_collections.stabilityai.platform.plugins.module_utils._settings import (
    API_VERSIONS,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    ENVIRONMENT_VARIABLES,
)


def connection_argument_spec(**extra):
    """The shared options (see the ``stabilityai.platform._connection`` doc fragment) plus ``extra``."""
    spec = dict(
        api_key=dict(type='str', no_log=True),
        api_url=dict(type='str'),
        api_version=dict(type='str', choices=list(API_VERSIONS)),
        timeout=dict(type='float', default=DEFAULT_TIMEOUT),
        retries=dict(type='int', default=DEFAULT_RETRIES),
        validate_certs=dict(type='bool', default=True),
        ca_path=dict(type='path'),
        rate_limit=dict(type='str'),
    )
    for name, variables in ENVIRONMENT_VARIABLES.items():
        spec[name]['fallback'] = (env_fallback, list(variables))
    spec.update(extra)
    return spec
