# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""The argument spec every module shares, and the one way a module gets a client.

``api_url`` and ``api_version`` carry no ``default`` here on purpose: Ansible applies a default
before an environment fallback, so the environment variable would never be read.  The defaults
live in ``ConnectionSettings`` instead, and the docs say so.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import gc

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.stabilityai.platform.plugins.module_utils._client import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    StabilityClient,
)
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityError
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import (
    API_KEY_ENV,
    API_URL_ENV,
    API_VERSION_ENV,
    API_VERSIONS,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    ConnectionSettings,
)


def connection_argument_spec(**extra):
    """The shared options (see the ``stabilityai.platform.connection`` doc fragment) plus ``extra``."""
    spec = dict(
        api_key=dict(type='str', no_log=True, fallback=(env_fallback, list(API_KEY_ENV))),
        api_url=dict(type='str', fallback=(env_fallback, [API_URL_ENV])),
        api_version=dict(type='str', choices=list(API_VERSIONS), fallback=(env_fallback, [API_VERSION_ENV])),
        timeout=dict(type='float', default=DEFAULT_TIMEOUT),
        retries=dict(type='int', default=DEFAULT_RETRIES),
        validate_certs=dict(type='bool', default=True),
        ca_path=dict(type='path'),
    )
    spec.update(extra)
    return spec


def freeze_loaded_objects():
    """Take every object alive now out of the garbage collector's sight; for a module process only.

    A module calls this once its imports are done (``if __name__ == '__main__'``).  Those objects,
    tens of thousands from ``ansible.module_utils.basic``, ``requests`` and ``urllib3``, live until
    the process ends, yet CPython walks them again in the full collections it runs at interpreter
    exit: about 25 ms of a module run on the benchmark machine (``tests/benchmarks``, bar a).
    ``gc.freeze()`` moves them to the permanent generation that collections skip; whatever the
    module makes afterwards is collected as usual.  Unit tests call ``main()`` and never this.
    """
    gc.freeze()


def client_for_module(module):
    """A client for ``module``'s options; fails the module cleanly on a missing library or bad input."""
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    try:
        client = StabilityClient(ConnectionSettings.from_options(module.params.get))
    except StabilityError as exc:
        module.fail_json(**exc.to_result())
    for warning in client.warnings:
        module.warn(warning)
    return client
