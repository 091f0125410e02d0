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
runway gates (``min_days_left``, ``min_runs_left``) are worded here too.  Standard library only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import math

from ansible_collections.stabilityai.platform.plugins.module_utils._settings import clean_threshold

RUNWAY_WINDOW_DAYS = 7
# Fewer days of readings than this say too little about a daily rate to forecast from it.
MIN_OBSERVED_DAYS = 1.0

_UTC = datetime.timezone.utc


def parse_time(text):
    """A ledger ``time`` (ISO 8601; ``Z`` or an offset; naive means UTC) as an aware datetime, or ValueError."""
    if not isinstance(text, str):
        raise ValueError('time is not a string')
    value = datetime.datetime.fromisoformat(text[:-1] + '+00:00' if text.endswith(('Z', 'z')) else text)
    return value.replace(tzinfo=_UTC) if value.tzinfo is None else value


def format_time(when):
    """The ledger's own spelling of a time: UTC, ISO 8601, microseconds, ``Z``."""
    return when.astimezone(_UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def _median(values):
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2.0


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
      start and an end reading; a run during which the balance rose (a top-up) says nothing of
      what it spent and is left out.  ``runs_left``: ``floor(credits / spent_per_run)``.
    * ``runs_recorded``: how many complete runs the median is taken over.
    * ``reason``: why a forecast is missing (None when both are there); gates then warn and pass.

    An overdrawn or empty balance has 0 days and 0 runs left whenever a rate is known.
    """
    now = datetime.datetime.now(_UTC) if now is None else now
    since = now - datetime.timedelta(days=window_days)
    points = []
    for reading in organization_history(readings, organization_id, default_organization_id):
        when = parse_time(reading['time'])
        if since <= when <= now:
            points.append((when, float(reading['credits']), reading.get('run_id'), reading.get('event')))
    points.sort(key=lambda point: point[0])

    series = [point[:2] for point in points] + [(now, float(credits))]
    spent = sum(max(earlier[1] - later[1], 0.0) for earlier, later in zip(series, series[1:]))
    observed_days = (now - series[0][0]).total_seconds() / 86400.0

    runs = {}
    for when, value, run_id, event in points:
        if run_id and event in ('start', 'end'):
            runs.setdefault(run_id, {}).setdefault(event, value)  # the first start and end of a run count
    run_spends = [run['start'] - run['end'] for run in runs.values() if 'start' in run and 'end' in run]
    run_spends = [value for value in run_spends if value >= 0]

    result = dict(spent_per_day=None, days_left=None, spent_per_run=None, runs_left=None,
                  runs_recorded=len(run_spends), window_days=window_days, reason=None)
    reasons = []
    if observed_days < MIN_OBSERVED_DAYS:
        reasons.append('the ledger holds less than %s of readings in the last %d days' % (
            'a day' if MIN_OBSERVED_DAYS == 1 else '%g days' % MIN_OBSERVED_DAYS, window_days))
    else:
        result['spent_per_day'] = spent / observed_days
        if spent > 0:
            result['days_left'] = max(credits, 0.0) / result['spent_per_day']
        else:
            reasons.append('nothing was spent in the last %d days' % window_days)
    if not run_spends:
        reasons.append('no complete run (a start and an end reading) in the last %d days' % window_days)
    else:
        result['spent_per_run'] = _median(run_spends)
        if result['spent_per_run'] > 0:
            result['runs_left'] = int(math.floor(max(credits, 0.0) / result['spent_per_run']))
        else:
            reasons.append('the runs of the last %d days spent nothing' % window_days)
    if reasons:
        result['reason'] = '; '.join(reasons)
    return result


def clean_runway_threshold(option, value):
    """``min_days_left`` / ``min_runs_left``: None (not set) or a finite number >= 0."""
    return clean_threshold(option, value, 'days' if option == 'min_days_left' else 'runs')


def describe_runway(forecast):
    """The runway in words: ``12.3 days, 40 runs left`` or the reason it is unknown."""
    parts = []
    if forecast.get('days_left') is not None:
        parts.append('%.1f days' % forecast['days_left'])
    if forecast.get('runs_left') is not None:
        parts.append('%d run%s' % (forecast['runs_left'], '' if forecast['runs_left'] == 1 else 's'))
    text = '%s left' % ', '.join(parts) if parts else 'unknown'
    if forecast.get('reason') and parts:
        text += ' (%s)' % forecast['reason']
    elif forecast.get('reason'):
        text += ': %s' % forecast['reason']
    return text


RUNWAY_GATES = {
    'min_days_left': ('days_left', 'spent_per_day', '%.1f days left, spending %.2f credits a day'),
    'min_runs_left': ('runs_left', 'spent_per_run', '%d runs left at %.2f credits a run'),
}


def runway_gate(option, threshold, forecasts):
    """Check ``forecasts`` (a list of ``(label, forecast)``) against one runway gate.

    Returns ``(failure, warning)``: the failure names each organization whose runway is below
    ``threshold``, that runway and the threshold; the warning names each one whose runway is
    unknown, and why, since a gate without data warns and passes.
    """
    if threshold is None:
        return None, None
    key, rate, wording = RUNWAY_GATES[option]
    below = [(label, forecast) for label, forecast in forecasts if forecast[key] is not None and forecast[key] < threshold]
    unknown = [(label, forecast) for label, forecast in forecasts if forecast[key] is None]
    failure = warning = None
    if below:
        failure = 'Runway below %s %g: %s' % (option, threshold, '; '.join(
            '%s has %s' % (label, wording % (forecast[key], forecast[rate])) for label, forecast in below))
    if unknown:
        warning = '%s %g not checked, too little data in the ledger: %s' % (option, threshold, '; '.join(
            '%s: %s' % (label, forecast['reason']) for label, forecast in unknown))
    return failure, warning
