# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This plugin_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""The options of a controller-side plugin as the user wrote them, before Ansible converts them.

Ansible's plugin configuration converts option values by their documented type, and it guesses:
any unknown word becomes ``false`` for a bool, ``true`` becomes 1.0 for a float, 1.5 becomes 1
for an int (before ansible-core 2.19), and an empty path becomes the playbook directory.  It also
ignores a keyword it does not know, so ``min_credit=5000`` would never gate.  A gate must refuse
such values, not act on a guess, so the plugins read the raw values here, from every source
(keyword, variable, environment, ``ansible.cfg``), and check them with the same ``clean_*``
functions the modules use.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import configparser
import difflib
import functools
import os

from ansible import constants as C
from ansible.config.manager import ensure_type
from ansible.plugins.loader import callback_loader, lookup_loader

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import (
    clean_api_version,
    clean_bool,
    clean_path_text,
    clean_retries,
    clean_timeout,
)
from ansible_collections.stabilityai.platform.plugins.module_utils._thresholds import clean_threshold

# The raw check of each shared option whose documented type Ansible would convert by guessing.
CONNECTION_CHECKS = {
    'api_version': clean_api_version,
    'timeout': clean_timeout,
    'retries': clean_retries,  # ansible-core before 2.19 truncates 1.5 to 1
    'validate_certs': functools.partial(clean_bool, 'validate_certs'),
    'ca_path': functools.partial(clean_path_text, 'ca_path'),
}
# The collection's own sections of ansible.cfg, and the plugins whose options they hold.
LOOKUP = ('lookup', 'stabilityai.platform.stability_balance')
CALLBACK = ('callback', 'stabilityai.platform.credit_recap')
INI_SECTIONS = (
    ('stabilityai_platform', (LOOKUP, CALLBACK)),
    ('callback_credit_recap', (CALLBACK,)),
)
_LOADERS = {'lookup': lookup_loader, 'callback': callback_loader}

THRESHOLD_CHECKS = {
    'min_credits': functools.partial(clean_threshold, 'min_credits'),
    'warn_below': functools.partial(clean_threshold, 'warn_below'),
}


def templated_option_variables(plugin_type, plugin_name, variables, templar):
    """The variables that set options of the plugin (``stability_api_key`` ...), templated.

    Ansible hands a lookup its variables untemplated, so ``stability_api_key: "{{ vault_key }}"``
    would otherwise arrive as that very text; connection plugins template theirs the same way.
    """
    if not variables or templar is None:
        return variables
    return dict((name, templar.template(variables[name]))
                for name in C.config.get_plugin_vars(plugin_type, plugin_name) if name in variables)


def check_keywords(plugin_type, plugin_name, direct, display_name):
    """Refuse a keyword the plugin has no option for, naming the closest one.

    Ansible would drop it without a word: ``organization='org-x'`` would read the default
    organization and ``min_credit=5000`` would never gate.  ``display_name`` is the plugin's name
    as users write it (``plugin_name`` is the name Ansible loaded it by).
    """
    known = sorted(name for name in C.config.get_configuration_definitions(plugin_type, plugin_name) if not name.startswith('_'))
    for name in sorted(direct):
        if name in known:
            continue
        if name in ('organization', 'organizations'):
            raise StabilityOptionError(name, "is not an option of %s: organizations are its terms, for example lookup('%s', 'org-x')" % (
                display_name, display_name))
        close = difflib.get_close_matches(name, known)  # the best match first
        hint = 'did you mean %s?' % close[0] if close else 'its options are %s' % ', '.join(known)
        raise StabilityOptionError(name, 'is not an option of %s; %s' % (display_name, hint))


def raw_option_value(plugin_type, plugin_name, name, direct, option_variables, environ=None):
    """``(value, source)``: option ``name`` as the user wrote it, and where; ``(None, None)`` when unset.

    Sources in Ansible's order of precedence: keyword (``source`` None: the keyword names itself),
    then variables, then environment (``environ``, by default ``os.environ``), then ``ansible.cfg``.
    """
    if direct.get(name) is not None:
        return direct[name], None
    definition = C.config.get_configuration_definitions(plugin_type, plugin_name).get(name, {})
    for source, entries, label in ((option_variables or {}, definition.get('vars'), 'the variable %s'),
                                   (os.environ if environ is None else environ, definition.get('env'), 'the environment variable %s')):
        found = [entry['name'] for entry in entries or () if entry['name'] in source]
        if found:
            return source[found[-1]], label % found[-1]
    config_file = C.config.get_config_value('CONFIG_FILE')
    for entry in reversed(definition.get('ini') or ()):
        value = ini_value(config_file, entry.get('section', 'defaults'), entry['key'])
        if value is not None:
            return value, '[%s] %s in %s' % (entry.get('section', 'defaults'), entry['key'], config_file)
    return None, None


def ini_value(config_file, section, key):
    """``key`` of ``[section]`` in ``config_file`` as written, read the way Ansible reads it; None if absent."""
    parser = _ini_file(config_file)
    return None if parser is None else parser.get(section, key, raw=True, fallback=None)


def _ini_file(config_file):
    """``config_file`` parsed as Ansible parses it (read again when it changes), or None when there is none."""
    if not config_file:
        return None
    try:
        stat = os.stat(config_file)
    except OSError:
        return None
    return _ini_parser(config_file, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _ini_parser(config_file, mtime_ns, size):  # pylint: disable=unused-argument  # the file's version is the cache key
    parser = configparser.ConfigParser(inline_comment_prefixes=(';',))
    try:
        with open(config_file, 'rb') as handle:
            parser.read_string(handle.read().decode('utf-8', errors='replace'))
    except (OSError, configparser.Error):
        pass  # Ansible itself reports a file it cannot read or parse
    return parser


def option_unless_empty_environment(plugin_type, plugin_name, name, value):
    """``value`` (the option as Ansible gives it), unless it came from an environment variable that is empty.

    Ansible takes an empty variable as a value: an empty path becomes the current directory, so
    ``STABILITY_LEDGER=`` (a CI variable that expands to nothing) would make the ledger a
    directory.  Empty means unset here: the option is what ``ansible.cfg`` says, converted the
    way Ansible converts it, else None.
    """
    definition = C.config.get_configuration_definitions(plugin_type, plugin_name)[name]
    found = [entry['name'] for entry in definition.get('env') or () if entry['name'] in os.environ]
    if not found or os.environ[found[-1]].strip():
        return value
    config_file = C.config.get_config_value('CONFIG_FILE')
    for entry in reversed(definition.get('ini') or ()):
        raw = ini_value(config_file, entry['section'], entry['key'])  # the collection's path options name their section
        if raw is not None:
            return ensure_type(raw, definition.get('type'), origin=config_file, origin_ftype='ini')
    return None


def ini_keys(plugin_type, plugin_name, section):
    """The keys of ``[section]`` that options of the plugin ``plugin_name`` (its name as users write it) are read from."""
    plugin = _LOADERS[plugin_type].get_with_context(plugin_name, class_only=True)  # registers its options with Ansible
    if plugin.object is None:
        return set()
    definitions = C.config.get_configuration_definitions(plugin_type, plugin.plugin_load_context.plugin_resolved_name)
    return set(entry['key'] for definition in definitions.values() for entry in definition.get('ini') or ()
               if entry.get('section') == section)  # without one: [defaults], never the collection's


def unknown_ini_keys():
    """One warning for each key of the collection's ansible.cfg sections that no option of its plugins knows.

    Ansible ignores such a key without a word, so ``timout = 5`` or ``organisations = all`` would
    quietly leave the default in force.  ansible.cfg is shared with other tools, so this warns
    rather than refuses; Ansible shows a warning given in every host's task once.
    """
    config_file = C.config.get_config_value('CONFIG_FILE')
    parser = _ini_file(config_file)
    warnings = []
    for section, plugins in INI_SECTIONS:
        if parser is None or not parser.has_section(section):
            continue
        known = sorted(set().union(*(ini_keys(plugin_type, name, section) for plugin_type, name in plugins)))
        for key in parser.options(section):
            if key in known or key in parser.defaults():
                continue
            close = difflib.get_close_matches(key, known)  # the best match first
            hint = 'did you mean %s?' % close[0] if close else 'its keys are %s' % ', '.join(known)
            warnings.append('%s: [%s] %s is not a setting of the stabilityai.platform collection and is ignored; %s' % (
                config_file, section, key, hint))
    return warnings


def check_raw_options(raw_option, checks):
    """Run ``checks`` (option name: ``clean_*`` callable) on the raw values ``raw_option(name)`` gives.

    A refusal of a value that did not come from a keyword says where it came from, so a bad
    ``validate_certs`` in ``ansible.cfg`` is found at once.
    """
    for name, check in checks.items():
        value, source = raw_option(name)
        if value is None:
            continue
        try:
            check(value)
        except StabilityOptionError as exc:
            if source is None:
                raise
            raise StabilityOptionError('%s (set by %s)' % (name, source), exc.problem) from None
