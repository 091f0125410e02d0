# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""The gates: thresholds, shortfalls and runway gates, checked and worded once for every plugin.

``min_credits``, ``warn_below``, ``min_days_left`` and ``min_runs_left`` accept the same forms in
the module, the lookup, the callback and the event source (``clean_threshold``); ``failed_gates``
says which gate failed as data, with the same test (``fails``) as the messages.  Standard
library only, so a lookup answered from its cache can gate without the HTTP stack.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import sys

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError, one_line

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


def below_threshold(value, threshold):
    """The one test of every gate: a known value below a set threshold (an unknown runway is judged by ``runway_required``)."""
    return threshold is not None and value is not None and value < threshold


def shortfall(option, threshold, readings):
    """One line naming every reading below ``threshold``, or None when all are at or above it.

    ``readings`` is a list of ``(label, credits)``; the line names the option, each organization,
    its balance and the threshold, so a CI log says at once what to top up.
    """
    if threshold is None:
        return None
    below = [(label, credits) for label, credits in readings if below_threshold(credits, threshold)]
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


def clean_threshold(option, value, unit='credits'):
    """A gate's threshold (``min_credits``, ``warn_below``, ...): None (not set) or a finite number, 0 or more.

    Modules declare thresholds ``raw`` and convert here, so a word such as ``"100 credits"`` is
    refused with the option and the value, as the lookup and the pre-flight playbook refuse it.
    """
    if value is None:
        return None
    try:
        number = None if isinstance(value, bool) else float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a whole number no float holds, refused like 1e400
        number = None
    if number is None or not math.isfinite(number) or number < 0:
        raise StabilityOptionError(option, 'must be a number of %s, 0 or more, got %r' % (unit, value))
    return number


def clean_runway_threshold(option, value):
    """``min_days_left`` / ``min_runs_left``: None (not set) or a finite number >= 0."""
    return clean_threshold(option, value, 'days' if option == 'min_days_left' else 'runs')


def as_float(value):
    """A finite number as a float; an integer beyond the float range becomes the largest float of its sign."""
    try:
        return float(value)
    except OverflowError:
        return sys.float_info.max if value > 0 else -sys.float_info.max


# option: (the forecast it checks, the rate behind it, how that runway reads)
RUNWAY_GATES = {
    'min_days_left': ('days_left', 'spent_per_day', '%.1f days left', ', spending %s credits a day'),
    'min_runs_left': ('runs_left', 'spent_per_run_max', '%d runs left', ' at up to %s credits a run'),
}


def _runway_words(option, credits, forecast):
    key, rate, left, pace = RUNWAY_GATES[option]
    text = left % forecast[key]
    if credits > 0 and forecast[rate] is not None:
        text += pace % format_credits(as_float(forecast[rate]))
    return '%s (%s credits)' % (text, format_credits(as_float(credits)))


def runway_gate(option, threshold, forecasts, required=False):
    """Check ``forecasts`` (a list of ``(label, credits, forecast)``) against one runway gate.

    Returns ``(failure, warning)``: the failure names each organization whose runway is below
    ``threshold``, that runway, its balance and the threshold.  The warning names each one whose
    runway is unknown, and why, since a gate without data warns and passes; with ``required``
    (``runway_required``) an unknown runway is a failure instead.
    """
    if threshold is None:
        return None, None
    key = RUNWAY_GATES[option][0]
    below = [(label, credits, forecast) for label, credits, forecast in forecasts if below_threshold(forecast[key], threshold)]
    unknown = '; '.join('%s: %s' % (label, forecast['reason']) for label, dummy, forecast in forecasts if forecast[key] is None)
    failures = []
    warning = None
    if below:
        failures.append('Runway below %s %g: %s' % (option, threshold, '; '.join(
            '%s has %s' % (label, _runway_words(option, credits, forecast)) for label, credits, forecast in below)))
    if unknown and required:
        failures.append('Runway unknown for %s %g and runway_required is true, too little data in the ledger: %s' % (
            option, threshold, unknown))
    elif unknown:
        warning = '%s %g not checked, too little data in the ledger: %s' % (option, threshold, unknown)
    return '; '.join(failures) or None, warning


def failed_gates(thresholds, rows, required=False):
    """Which gates failed, as data: ``[{option, organization_id, value, threshold}]``, in the order of the messages.

    ``thresholds`` maps ``min_credits`` and the runway gates to a threshold (None: not set);
    each of ``rows`` has ``organization_id``, ``credits`` and, when the ledger was read, ``runway``.
    An unknown runway fails (with ``value`` None) only with ``required``, as ``runway_gate`` says.
    """
    failed = []
    for option in ['min_credits'] + sorted(RUNWAY_GATES):
        threshold = thresholds.get(option)
        for row in rows:
            if option == 'min_credits':
                value = row['credits']
            elif row.get('runway') is None:
                continue
            else:
                value = row['runway'][RUNWAY_GATES[option][0]]
            if below_threshold(value, threshold) or (threshold is not None and value is None and required):
                failed.append(dict(option=option, organization_id=row['organization_id'], value=value, threshold=threshold))
    return failed
