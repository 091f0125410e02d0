# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This plugin_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""What the ``credit_balance`` event source decides, apart from the event loop.

The source (``extensions/eda/plugins/event_source/credit_balance.py``) only schedules readings
and puts events on the rulebook's queue.  Everything it decides lives here, free of asyncio, so
unit tests can drive it reading by reading:

* ``WatchOptions``: the source's arguments, checked once, before any request;
* ``take_reading``: one reading of the watched organizations through ``StabilityClient`` (so the
  client's retries, error wording and rate-limit guard apply);
* ``CreditWatch``: edge-triggered crossings with hysteresis, one ``error`` event per outage, and
  the wait before the next reading (bounded back-off while the API fails).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import difflib
import json
import math
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from ansible_collections.stabilityai.platform.plugins.module_utils._client import chosen_memberships, default_membership
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import (
    StabilityError,
    StabilityOptionError,
    one_line,
    redact,
)
from ansible_collections.stabilityai.platform.plugins.module_utils._gating import format_credits, organization_label
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import (
    API_KEY_ENV,
    API_URL_ENV,
    API_VERSION_ENV,
    ConnectionSettings,
    clean_organization,
    clean_path_text,
    clean_positive_number,
    clean_threshold,
    is_loopback_as_written,
)

DEFAULT_INTERVAL = 300.0
# No rulebook can poll the real API more often than this; one reading is 1 + N requests.
MIN_INTERVAL = 60.0
# A loopback api_url (the simulator) may go this low, so tests run in seconds.
MIN_LOOPBACK_INTERVAL = 0.5
# While readings fail, the wait starts at interval / 2**BACKOFF_STEPS and doubles up to interval.
BACKOFF_STEPS = 3
# A gate that fired recovers only once its value is back this fraction above the threshold, so a
# value hovering at the threshold (a runway estimate moving with each reading) cannot flap.
RECOVERY_MARGIN = 0.05
EMIT_MODES = ('crossings', 'every')
ALL_ORGANIZATIONS = 'all'
# Runway window of the ledger adapter (design.md: "the window, default 7 days").
RUNWAY_WINDOW_DAYS = 7

# (option, what it is compared with, kind of the event when the value goes below it), in the
# order a draining balance crosses them.
GATES = (
    ('warn_below', 'credits', 'below_warn_below'),
    ('min_credits', 'credits', 'below_min_credits'),
    ('min_days_left', 'days_left', 'below_min_days_left'),
    ('min_runs_left', 'runs_left', 'below_min_runs_left'),
)
UNITS = {'credits': 'credits', 'days_left': 'days of runway', 'runs_left': 'runs of runway'}

CONNECTION_OPTIONS = ('api_key', 'api_url', 'api_version', 'timeout', 'retries', 'validate_certs', 'ca_path')
SOURCE_OPTIONS = CONNECTION_OPTIONS + (
    'organizations', 'interval', 'min_credits', 'warn_below', 'ledger_path', 'min_days_left', 'min_runs_left', 'emit')
# Added to the arguments by ansible-rulebook itself, not by the user.
RULEBOOK_ARGUMENTS = ('eda_feedback_queue',)


def _environment_default(args, environ, option, names):
    if args.get(option) is not None:
        return args[option]
    for name in names:
        if environ.get(name):
            return environ[name]
    return None


def clean_gate(option, value):
    """A threshold: not set, or a finite number of 0 or more."""
    number = clean_threshold(option, value)
    if number is not None and number < 0:
        raise StabilityOptionError(option, 'must be 0 or more, got %r' % (value,))
    return number


def clean_organizations(value):
    """None (the key's default organization), ``all``, or a list of organization ids."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.strip().lower() == ALL_ORGANIZATIONS:
            return ALL_ORGANIZATIONS
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise StabilityOptionError('organizations', 'must be "all" or a non-empty list of organization ids, got %r' % (value,))
    return [clean_organization('organizations', item) for item in value]


def clean_interval(value, api_url):
    """Seconds between readings: at least MIN_INTERVAL, except against a loopback API."""
    interval = DEFAULT_INTERVAL if value is None else clean_positive_number('interval', value)
    floor = MIN_LOOPBACK_INTERVAL if is_loopback_as_written(urlsplit(api_url).hostname or '') else MIN_INTERVAL
    if interval < floor:
        raise StabilityOptionError('interval', 'must be at least %s seconds, got %r (so no rulebook polls the API too often; only '
                                               'a loopback api_url such as the simulator may go down to %s)' % (
                                                   format_credits(floor), value, format_credits(MIN_LOOPBACK_INTERVAL)))
    return interval


class WatchOptions(object):
    """The arguments of the source, validated once; its repr never shows the key."""

    def __init__(self, args, environ):
        args = dict((name, value) for name, value in (args or {}).items() if name not in RULEBOOK_ARGUMENTS)
        unknown = sorted(set(args) - set(SOURCE_OPTIONS))
        if unknown:
            close = difflib.get_close_matches(unknown[0], SOURCE_OPTIONS, n=1)
            raise StabilityOptionError(unknown[0], 'is not an argument of stabilityai.platform.credit_balance%s (known: %s)' % (
                '; did you mean %s?' % close[0] if close else '', ', '.join(sorted(SOURCE_OPTIONS))))
        connection = dict((name, args.get(name)) for name in CONNECTION_OPTIONS)
        connection['api_key'] = _environment_default(args, environ, 'api_key', API_KEY_ENV)
        connection['api_url'] = _environment_default(args, environ, 'api_url', (API_URL_ENV,))
        connection['api_version'] = _environment_default(args, environ, 'api_version', (API_VERSION_ENV,))
        if connection['validate_certs'] is None:
            connection['validate_certs'] = True
        self.connection = ConnectionSettings(**connection)
        self.organizations = clean_organizations(args.get('organizations'))
        self.interval = clean_interval(args.get('interval'), self.connection.api_url)
        self.thresholds = dict((option, clean_gate(option, args.get(option))) for option, _value, _kind in GATES)
        self.ledger_path = clean_path_text('ledger_path', args.get('ledger_path'))
        for option in ('min_days_left', 'min_runs_left'):
            if self.thresholds[option] is not None and self.ledger_path is None:
                raise StabilityOptionError(option, 'needs ledger_path: the runway is computed from the ledger')
        self.emit = 'crossings' if args.get('emit') is None else ('%s' % args['emit']).strip()
        if self.emit not in EMIT_MODES:
            raise StabilityOptionError('emit', 'must be one of %s, got %r' % (', '.join(EMIT_MODES), args['emit']))
        if self.emit == 'crossings' and all(value is None for value in self.thresholds.values()):
            raise StabilityOptionError('emit', 'is crossings but no threshold is set: give min_credits, warn_below, '
                                               'min_days_left or min_runs_left, or emit: every')

    def __repr__(self):
        return 'WatchOptions(connection=%r, organizations=%r, interval=%r, thresholds=%r, ledger_path=%r, emit=%r)' % (
            self.connection, self.organizations, self.interval, self.thresholds, self.ledger_path, self.emit)


def watched_memberships(account, organizations):
    """The memberships to read: the key's default one (None), every one (``all``), or those named."""
    if organizations is None:
        default = default_membership(account)
        if default is None:
            raise StabilityOptionError('organizations', 'is not set and the account has no default organization; name the organizations to watch')
        return [default]
    return chosen_memberships(account, None if organizations == ALL_ORGANIZATIONS else organizations)


def take_reading(client, options, now=None):
    """One reading: ``[{organization_id, organization_name, credits, runway}]``; blocking, run in a thread.

    The account is read each time, so ``all`` follows organizations joining or leaving.
    """
    now = datetime.now(timezone.utc) if now is None else now
    memberships = watched_memberships(client.fetch_account(), options.organizations)
    ids = [membership['id'] for membership in memberships]
    readings = []
    for membership, credits in zip(memberships, client.fetch_balances(ids)):
        runway = None
        if options.ledger_path is not None:
            runway = ledger_runway(options.ledger_path, membership['id'], credits, now)
        readings.append({'organization_id': membership['id'], 'organization_name': membership['name'],
                         'credits': credits, 'runway': runway})
    return readings


def failure_message(exc, secret):
    """The one line an ``error`` event carries: the collection's own wording, never the key."""
    if isinstance(exc, StabilityError):
        return redact(exc.msg, secret)
    return redact(one_line('reading the balances failed: %s: %s' % (type(exc).__name__, exc)), secret)


def _event(kind, **fields):
    body = dict(kind=kind, gate=None, organization_id=None, organization_name=None, credits=None,
                previous=None, threshold=None, runway=None, message=None)
    body.update(fields)
    return {'stability': body}


class CreditWatch(object):
    """The memory of the source between readings: which gates fired, the last credits, outages.

    ``record(readings)`` and ``fail(message)`` return the events to emit; ``next_delay()`` the
    seconds until the next reading.
    """

    def __init__(self, options):
        self.options = options
        self.failures = 0
        self._below = {}
        self._previous = {}

    def record(self, readings):
        self.failures = 0
        events = []
        for reading in readings:
            events.extend(self._observe(reading))
        return events

    def fail(self, message):
        """One ``error`` event per outage: for the first failed reading after a good one (or at start)."""
        self.failures += 1
        if self.failures > 1:
            return []
        return [_event('error', message=message)]

    def next_delay(self):
        """interval; while failing, interval / 2**BACKOFF_STEPS doubling with each failure up to interval."""
        interval = self.options.interval
        if not self.failures:
            return interval
        return min(interval, interval / 2 ** BACKOFF_STEPS * 2 ** (self.failures - 1))

    def _observe(self, reading):
        organization = reading['organization_id']
        previous = self._previous.get(organization)
        self._previous[organization] = reading['credits']
        label = organization_label(organization, reading['organization_name'])
        common = dict(organization_id=organization, organization_name=reading['organization_name'],
                      credits=reading['credits'], previous=previous, runway=reading['runway'])
        events = []
        if self.options.emit == 'every':
            events.append(_event('reading', message='%s has %s credits' % (label, format_credits(reading['credits'])), **common))
        for option, measure, kind in GATES:
            threshold = self.options.thresholds[option]
            value = reading['credits'] if measure == 'credits' else (reading['runway'] or {}).get(measure)
            if threshold is None or value is None:
                continue
            key = (organization, option)
            described = '%s %s' % (format_credits(value), UNITS[measure])
            if not self._below.get(key) and value < threshold:
                self._below[key] = True
                events.append(_event(kind, gate=option, threshold=threshold, message='%s has %s, below %s %s' % (
                    label, described, option, format_credits(threshold)), **common))
            elif self._below.get(key) and value >= threshold * (1 + RECOVERY_MARGIN):
                self._below[key] = False
                events.append(_event('recovered', gate=option, threshold=threshold, message='%s has %s again, above %s %s' % (
                    label, described, option, format_credits(threshold)), **common))
        return events


# ----------------------------------------------------------------------------------------------
# RUNWAY ADAPTER: the one place the source reads the ledger.  Issue 12 brings the shared pure
# ``runway()`` (plugins/module_utils/_runway.py) and the ledger reader (_ledger.py); when they
# are merged, this function becomes a call to them with the same arguments and result keys.
# ----------------------------------------------------------------------------------------------
def ledger_runway(path, organization_id, credits, now, window_days=RUNWAY_WINDOW_DAYS):
    """The runway of one organization from the JSON Lines ledger of design.md plus the reading now.

    ``spent_per_day``: decreases between consecutive readings in the window (top-ups are not
    negative spend) over the time they span; ``spent_per_run``: the median of complete runs
    (``start`` and ``end`` of one ``run_id``); ``reason`` says why a figure is missing.
    """
    result = dict(spent_per_day=None, days_left=None, spent_per_run=None, runs_left=None, runs_recorded=0, reason=None)
    since = now - timedelta(days=window_days)
    points, runs = [], {}
    try:
        with open(path) as handle:
            lines = handle.readlines()
    except (OSError, UnicodeDecodeError) as exc:
        result['reason'] = one_line('the ledger %s cannot be read: %s' % (path, getattr(exc, 'strerror', None) or exc))
        return result
    for line in lines:
        try:
            entry = json.loads(line)
            when = datetime.fromisoformat(entry['time'].replace('Z', '+00:00'))
            value = float(entry['credits'])
        except (ValueError, TypeError, KeyError, AttributeError):
            continue  # a line it cannot read is skipped
        if when.tzinfo is None or entry.get('organization_id') != organization_id or not math.isfinite(value) or when < since:
            continue
        points.append((when, value))
        if entry.get('event') in ('start', 'end') and entry.get('run_id'):
            runs.setdefault(entry['run_id'], {})[entry['event']] = value
    points.sort(key=lambda point: point[0])
    points.append((now, credits))
    spent = sum(max(0.0, before[1] - after[1]) for before, after in zip(points, points[1:]))
    span_days = (points[-1][0] - points[0][0]).total_seconds() / 86400.0
    per_run = sorted(max(0.0, run['start'] - run['end']) for run in runs.values() if 'start' in run and 'end' in run)
    result['runs_recorded'] = len(per_run)
    if spent > 0 and span_days > 0:
        result['spent_per_day'] = spent / span_days
        result['days_left'] = credits / result['spent_per_day']
    if per_run:
        middle = len(per_run) // 2
        result['spent_per_run'] = per_run[middle] if len(per_run) % 2 else (per_run[middle - 1] + per_run[middle]) / 2
        if result['spent_per_run'] > 0:
            result['runs_left'] = credits / result['spent_per_run']
    if result['days_left'] is None or result['runs_left'] is None:
        result['reason'] = 'the ledger holds too little spend of %s in the last %d days to forecast %s' % (
            organization_id, window_days, 'days or runs' if result['days_left'] is None and result['runs_left'] is None
            else 'days' if result['days_left'] is None else 'runs')
    return result
