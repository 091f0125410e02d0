# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This plugin_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""The options of a controller-side plugin as the user wrote them, before Ansible converts them.

Ansible's plugin configuration converts option values by their documented type, and it guesses:
any unknown word becomes ``false`` for a bool, ``true`` becomes 1.0 for a float, 1.5 becomes 1
for an int (before ansible-core 2.19), and an empty path becomes the playbook directory.  A gate
must refuse such values, not act on a guess, so the plugins read the raw values here and check
them with the same ``clean_*`` functions the modules use.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible import constants as C

from ansible_collections.stabilityai.platform.plugins.module_utils._settings import (
    clean_bool,
    clean_path_text,
    clean_retries,
    clean_threshold,
)


def templated_option_variables(plugin_type, plugin_name, variables, templar):
    """The variables that set options of the plugin (``stability_api_key`` ...), templated.

    Ansible hands a lookup its variables untemplated, so ``stability_api_key: "{{ vault_key }}"``
    would otherwise arrive as that very text; connection plugins template theirs the same way.
    """
    if not variables or templar is None:
        return variables
    return dict((name, templar.template(variables[name]))
                for name in C.config.get_plugin_vars(plugin_type, plugin_name) if name in variables)


def raw_option_value(plugin_type, plugin_name, name, direct, option_variables):
    """The value of option ``name`` as the user wrote it; None when no source sets it.

    Sources in Ansible's order of precedence: keyword, then variables, then environment.
    """
    if name in direct:
        return direct[name]
    definition = C.config.get_configuration_definitions(plugin_type, plugin_name).get(name, {})
    for source, entries in ((option_variables or {}, definition.get('vars')), (os.environ, definition.get('env'))):
        found = [entry['name'] for entry in entries or () if entry['name'] in source]
        if found:
            return source[found[-1]]
    return None


def check_raw_connection_options(raw_value):
    """Refuse the shared options whose conversion would silently change them.

    ``raw_value(name)`` gives what the user wrote for ``name`` (see ``raw_option_value``).
    """
    validate_certs = raw_value('validate_certs')
    if validate_certs is not None:
        clean_bool('validate_certs', validate_certs)
    retries = raw_value('retries')
    if retries is not None:  # ansible-core before 2.19 truncates 1.5 to 1
        clean_retries(retries)
    clean_path_text('ca_path', raw_value('ca_path'))


def check_raw_thresholds(raw_value, names=('min_credits', 'warn_below')):
    """A boolean threshold would become 1.0 or 0.0: refuse it as the module does."""
    for name in names:
        value = raw_value(name)
        if isinstance(value, bool):
            clean_threshold(name, value)
