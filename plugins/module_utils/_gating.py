# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""The credit thresholds ``min_credits`` and ``warn_below``, worded once for module and lookup.

Standard library only, so a lookup answered from its cache can gate without the HTTP stack.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import one_line

DEFAULT_ORGANIZATION_LABEL = "the key's default organization"
HUGE = 1e15  # credits from here on are shown as 1.7e+308, not in hundreds of digits


def organization_label(organization_id, name=None):
    """How a message names an organization: its id, its name when known, or the key's default.

    Any member of an organization can name it: the name (and the id, which the server sends too)
    is folded into one printable line, so a message cannot carry a line break or a terminal code.
    """
    if not organization_id:
        return DEFAULT_ORGANIZATION_LABEL
    if name:
        return '%s (%s)' % (one_line(organization_id), one_line(name))
    return one_line(organization_id)


def shortfall(option, threshold, readings):
    """One line naming every reading below ``threshold``, or None when all are at or above it.

    ``readings`` is a list of ``(label, credits)``; the line names the option, each organization,
    its balance and the threshold, so a CI log says at once what to top up.
    """
    if threshold is None:
        return None
    below = [(label, credits) for label, credits in readings if credits < threshold]
    if not below:
        return None
    return '%s below %s %s: %s' % (
        'Credits are' if len(below) == 1 else '%d balances are' % len(below),
        option,
        format_threshold(threshold),
        '; '.join('%s has %s' % (label, format_credits(credits, threshold)) for label, credits in below),
    )


def format_credits(credits, threshold=None):
    """A balance for people: two decimals, like the tables (returned values stay exact).

    A balance below ``threshold`` that two decimals would round up to it (99.999 below 100) is
    shown with every decimal instead: a message must never make a shortfall look like none.  One
    of ``HUGE`` or more (either sign) is shown in three significant digits, as the runway is: two
    decimals of 1.7e308 are 309 digits, a line no one reads.
    """
    if abs(credits) >= HUGE:
        return '%.3g' % credits
    text = '%.2f' % credits
    if threshold is not None and credits < threshold <= float(text):
        return repr(float(credits))
    return text


def format_threshold(threshold):
    """A threshold for people: two decimals when that is exact, else every decimal the user gave."""
    text = '%.2f' % threshold
    return text if float(text) == threshold else repr(float(threshold))
