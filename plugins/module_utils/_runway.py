# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""How long the credits of an organization will last, forecast from the ledger's readings.

``runway`` is the one forecast every reader shares (the ``credit_recap`` callback, the
``stability_balance_info`` module, the preflight playbook through the module): a pure function of
the readings, the current balance and the time, so it is tested on hand-made ledgers.  The
runway gates (``min_days_left``, ``min_runs_left``) are checked in ``_thresholds``.  Standard library only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import math

from ansible_collections.stabilityai.platform.plugins.module_utils._ledger import parse_time
from ansible_collections.stabilityai.platform.plugins.module_utils._thresholds import as_float

RUNWAY_WINDOW_DAYS = 7
# Fewer days of readings than this say too little about a daily rate to forecast from it.
MIN_OBSERVED_DAYS = 1.0

_UTC = datetime.timezone.utc


def _half_sum(low, high):
    """The mean of two floats without overflowing where their sum would (1.7e308 + 1.7e308)."""
    return low / 2.0 + high / 2.0


def _median(values):
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else _half_sum(values[middle - 1], values[middle])


def _finite(value):
    """``value`` when it is a finite float, else None: a number that does not fit is not reported."""
    return value if value is not None and math.isfinite(value) else None


def _left(credits, rate):
    """``credits / rate``, or 0.0 when that overflows (a tiny rate and a huge balance): the gates fail closed."""
    if rate is None or math.isinf(rate):
        return 0.0
    try:
        value = credits / rate
    except (OverflowError, ZeroDivisionError):
        return 0.0
    return value if math.isfinite(value) else 0.0


def organization_history(readings, organization_id, default_organization_id=None):
    """The ledger ``readings`` of one organization: the one reader of an organization's history.

    ``organization_id`` is the organization asked for, None for the key's default organization.
    Readings with its id count, and so do readings written without an id: the ``credit_recap``
    callback of 1.x recorded the key's default organization as ``organization_id: null``, so those
    belong to the default organization of the key that reads them now, ``default_organization_id``
    (None when the reader does not know it; then they count only for ``organization_id`` None).
    Since 2.0.0 the callback records every organization by its id, so a ledger shared by several
    keys stays right; a 1.x ledger shared by keys with different default organizations cannot be.
    """
    wanted = default_organization_id if organization_id is None else organization_id
    is_default = organization_id is None or organization_id == default_organization_id
    return [reading for reading in readings
            if (reading.get('organization_id') is None and is_default)
            or (wanted is not None and reading.get('organization_id') == wanted)]


def needs_default_organization(readings, organization_ids):
    """Whether the history of ``organization_ids`` (None: the key's default) depends on which is the key's default.

    True when a reading without an id could belong to an organization asked for by id, or when
    the default organization is asked for (None) and the ledger names organizations by id: only
    then must a reader that does not know the default organization's id read the account.
    """
    ids = set(reading.get('organization_id') for reading in readings)
    return (None in ids and any(organization is not None for organization in organization_ids)) or (
        None in organization_ids and bool(ids - {None}))


def runway(readings, organization_id, credits, now=None, window_days=RUNWAY_WINDOW_DAYS, default_organization_id=None):
    """The runway of ``organization_id`` with ``credits`` left at ``now``, from the ledger ``readings``.

    ``readings`` are ledger lines (dicts with ``time``, ``organization_id``, ``credits``,
    ``run_id``, ``event``) in any order and for any organizations; only those of
    ``organization_id`` (see ``organization_history``; None: the key's default organization,
    whose id is ``default_organization_id`` when the reader knows it) from the last
    ``window_days`` days up to ``now`` count.  The current balance joins them as the newest
    reading, so quiet days since the last run lower the daily rate.

    * ``spent_per_day``: the decreases between consecutive readings, over the days from the first
      reading to ``now``; an increase is a top-up, not negative spend, and is left out.
    * ``days_left``: ``credits / spent_per_day``.
    * ``spent_per_run``: the median spend (start minus end) of the complete runs, those with a
      start and an end reading, for display; a run during which the balance rose (a top-up) says
      nothing of what it spent and is left out.  ``spent_per_run_max``: the costliest of them,
      which ``runs_left`` is computed from (``floor(credits / spent_per_run_max)``), so a gate on
      it holds for the dearest run seen, not for a typical one.
    * ``runs_recorded``: how many complete runs count.
    * ``reason``: why a forecast is missing (None when both are there), only ever for too little
      data; gates then warn and pass, or fail with ``runway_required``.

    Conservative, for gates: credits at or below zero give 0 days and 0 runs left whatever the
    readings; any finite input gives finite numbers and never raises.  A quotient too large for a
    float (1.7e308 credits at 1e-310 a day) is 0, which fails a gate rather than pass it; a rate
    too large for a float (a spend from 1.7e308 to -1.7e308) is reported as None.
    """
    now = datetime.datetime.now(_UTC) if now is None else now
    since = now - datetime.timedelta(days=window_days)
    credits = as_float(credits)
    points = []
    for reading in organization_history(readings, organization_id, default_organization_id):
        when = parse_time(reading['time'])
        if since <= when <= now:
            points.append((when, as_float(reading['credits']), reading.get('run_id'), reading.get('event')))
    points.sort(key=lambda point: point[0])

    series = [point[:2] for point in points] + [(now, credits)]
    spent = sum(max(earlier[1] - later[1], 0.0) for earlier, later in zip(series, series[1:]))  # may be inf, never nan
    observed_days = (now - series[0][0]).total_seconds() / 86400.0

    runs = {}
    for when, value, run_id, event in points:
        if run_id and event in ('start', 'end'):
            runs.setdefault(run_id, {}).setdefault(event, value)  # the first start and end of a run count
    run_spends = [run['start'] - run['end'] for run in runs.values() if 'start' in run and 'end' in run]
    run_spends = [value for value in run_spends if value >= 0]

    overdrawn = credits <= 0
    result = dict(spent_per_day=None, days_left=0.0 if overdrawn else None, spent_per_run=None, spent_per_run_max=None,
                  runs_left=0 if overdrawn else None, runs_recorded=len(run_spends), window_days=window_days, reason=None)
    reasons = []
    if observed_days >= MIN_OBSERVED_DAYS:
        rate = spent / observed_days
        result['spent_per_day'] = _finite(rate)
        if spent > 0 and not overdrawn:
            result['days_left'] = _left(credits, rate)
    if result['days_left'] is None:
        reasons.append('the ledger holds less than %s of readings in the last %d days' % (
            'a day' if MIN_OBSERVED_DAYS == 1 else '%g days' % MIN_OBSERVED_DAYS, window_days)
            if observed_days < MIN_OBSERVED_DAYS else 'nothing was spent in the last %d days' % window_days)
    if run_spends:
        result['spent_per_run'] = _finite(_median(run_spends))
        costliest = max(run_spends)
        result['spent_per_run_max'] = _finite(costliest)
        if costliest > 0 and not overdrawn:
            result['runs_left'] = int(math.floor(_left(credits, costliest)))
    if result['runs_left'] is None:
        reasons.append('no complete run (a start and an end reading) in the last %d days' % window_days
                       if not run_spends else 'the runs of the last %d days spent nothing' % window_days)
    if reasons:
        result['reason'] = '; '.join(reasons)
    return result


def describe_runway(forecast):
    """The runway in words: ``12.3 days, 40 runs left`` or the reason it is unknown."""
    parts = []
    if forecast.get('days_left') is not None:
        days = forecast['days_left']
        parts.append('%s days' % ('%.1f' % days if days < 1e6 else '%.3g' % days))  # not hundreds of digits for a huge balance
    if forecast.get('runs_left') is not None:
        runs = forecast['runs_left']
        parts.append('%s run%s' % ('%d' % runs if runs < 10 ** 6 else '%.3g' % runs, '' if runs == 1 else 's'))
    text = '%s left' % ', '.join(parts) if parts else 'unknown'
    if forecast.get('reason') and parts:
        text += ' (%s)' % forecast['reason']
    elif forecast.get('reason'):
        text += ': %s' % forecast['reason']
    return text
