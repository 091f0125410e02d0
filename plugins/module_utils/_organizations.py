# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""Which organizations to read: the one parser every plugin and the preflight share.

``stability_balance_info`` (``organizations``), the ``credit_recap`` callback (``organizations``,
from ``ansible.cfg`` or ``STABILITY_RECAP_ORGANIZATIONS``), the ``credit_balance`` event source
(``organizations``) and the preflight playbook (``stability_organizations``, passed through to the
module) all call ``parse_organizations``, so one spelling means one thing everywhere:

* not set (None), an empty or blank string, an empty list, or a list of blank strings (which is
  what Ansible makes of an empty ``ansible.cfg`` value or environment variable): the key's default
  organization, returned as None.  An empty environment variable means unset, as everywhere in the
  collection.
* a list of organization ids, or one string of them separated by commas (environment variables,
  ``-e`` on the command line and rulebook arguments can only give a string; an item of a list is
  split on commas too, since no id holds one and a YAML list item ``org-a, org-b`` is the same
  mistake as a string): each id stripped of
  surrounding white space, refused if it holds a control character or anything that cannot travel
  in an HTTP header (``_settings.clean_organization``), duplicates dropped (the first one keeps its
  place).  An empty item beside ids (``org-a,,org-b``) is refused: it is a typo or a template that
  rendered nothing, and guessing would change what a gate checks.
* ``all``, in any case (``ALL``, ``All``), alone: every organization of the account.  Case does not
  matter because it is a keyword people type in environment variables and ``ansible.cfg``, and no
  organization id can be spelled that way (the API's ids are ``org-`` followed by more); ``all``
  beside ids is refused rather than guessed at.

Errors are one line that names the option and the value.  Standard library only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import clean_organization

ALL_ORGANIZATIONS = 'all'
# A value shown in an error is cut to this many characters of its repr.
SHOWN_CHARACTERS = 80


def _shown(value):
    text = repr(value)
    return text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS - 3] + '...'


def _items(option, value):
    if isinstance(value, str):
        return value.split(',')
    if isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, bool) or not isinstance(item, (str, int)):
                raise StabilityOptionError(option, 'must be "all", a list of organization ids or a comma-separated string of them; '
                                                   'the item %s is not an id (got %s)' % (_shown(item), _shown(value)))
        return [part for item in value for part in ('%s' % item).split(',')]
    raise StabilityOptionError(option, 'must be "all", a list of organization ids or a comma-separated string of them, got %s' % _shown(value))


def parse_organizations(option, value):
    """``value`` of the option named ``option`` as None (the key's default), ``ALL_ORGANIZATIONS`` or a list of ids.

    Raises ``StabilityOptionError`` (one line naming ``option`` and the value) for anything else;
    see the module docstring for the rules.
    """
    if value is None:
        return None
    items = [item.strip() for item in _items(option, value)]
    if not any(items):
        return None
    if not all(items):
        raise StabilityOptionError(option, 'has an empty item in %s; give organization ids separated by commas' % _shown(value))
    if any(item.lower() == ALL_ORGANIZATIONS for item in items):
        if len(items) > 1:
            raise StabilityOptionError(option, 'is "all" or a list of organization ids, not both: got %s' % _shown(value))
        return ALL_ORGANIZATIONS
    organizations = []
    for item in items:
        try:
            organizations.append(clean_organization(option, item))
        except StabilityOptionError as exc:
            raise StabilityOptionError(option, '%s (in %s)' % (exc.problem, _shown(value)))
    return list(dict.fromkeys(organizations))
