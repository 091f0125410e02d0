# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""What a module process needs around the client: the module class, the one way to get a client, and the GC freeze."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import gc

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.stabilityai.platform.plugins.module_utils._client import StabilityClient
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityError
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import ConnectionSettings


class StabilityModule(AnsibleModule):
    """``AnsibleModule`` whose log line cannot fail on a NUL character in an option.

    ansible-core logs each invocation (the options, less the ``no_log`` ones) to syslog before the
    module runs.  On Python 3.12 and newer syslog refuses a message with a NUL character, and
    ansible-core then fails the module with "Failed to log to syslog (embedded null character)":
    the module's own check never gets to refuse the value with a line that names the option.  The
    NUL is logged as ``\\x00`` instead, and the module's check then refuses it by name.  (The
    invocation line reaches this method with the secrets already taken out by ansible-core.)
    """

    def log(self, msg, log_args=None):
        if isinstance(msg, str) and '\x00' in msg:
            msg = msg.replace('\x00', '\\x00')
        super().log(msg, log_args=log_args)


def freeze_loaded_objects():
    """Take every object alive now out of the garbage collector's sight; for a module process only.

    A module calls this once its imports are done (``if __name__ == '__main__'``).  Those objects,
    tens of thousands from ``ansible.module_utils.basic`` and the standard library it loads, live until
    the process ends, yet CPython walks them again in the full collections it runs at interpreter
    exit, which costs a short-lived module process a noticeable share of its run time.
    ``gc.freeze()`` moves them to the permanent generation that collections skip; whatever the
    module makes afterwards is collected as usual.  Unit tests call ``main()`` and never this.
    """
    gc.freeze()


def client_for_module(module):
    """A client for ``module``'s options; fails the module cleanly on bad input."""
    try:
        client = StabilityClient(ConnectionSettings.from_options(module.params.get))
    except StabilityError as exc:
        module.fail_json(**exc.to_result())
    for warning in client.warnings:
        module.warn(warning)
    return client
