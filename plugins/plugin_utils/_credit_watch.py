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
import logging
from urllib.parse import urlsplit

from ansible_collections.stabilityai.platform.plugins.module_utils._account import chosen_memberships, default_membership
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import (
    StabilityError,
    StabilityOptionError,
    one_line,
    redact,
)
from ansible_collections.stabilityai.platform.plugins.module_utils._ledger import LedgerError, read_readings
from ansible_collections.stabilityai.platform.plugins.module_utils._organizations import ALL_ORGANIZATIONS, parse_organizations
from ansible_collections.stabilityai.platform.plugins.module_utils._runway import runway
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import (
    ENVIRONMENT_VARIABLES,
    ConnectionSettings,
    clean_path_text,
    clean_seconds,
    is_loopback_as_written,
)
from ansible_collections.stabilityai.platform.plugins.module_utils._thresholds import (
    clean_runway_threshold,
    clean_threshold,
    format_credits,
    format_threshold,
    organization_label,
)

DEFAULT_INTERVAL = 300.0
# A source that reads less than once a day cannot warn in time of credits that a day of CI can
# spend; and the wait must stay one that asyncio can schedule (``interval: 1e308`` used to be
# accepted, and then the source never read again).
MAX_INTERVAL = 86400.0
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

# (option, what it is compared with, kind of the event when the value goes below it), in the
# order a draining balance crosses them.
GATES = (
    ('warn_below', 'credits', 'below_warn_below'),
    ('min_credits', 'credits', 'below_min_credits'),
    ('min_days_left', 'days_left', 'below_min_days_left'),
    ('min_runs_left', 'runs_left', 'below_min_runs_left'),
)
logger = logging.getLogger('stabilityai.platform.credit_balance')

CONNECTION_OPTIONS = ('api_key', 'api_url', 'api_version', 'timeout', 'retries', 'validate_certs', 'ca_path', 'rate_limit')
SOURCE_OPTIONS = CONNECTION_OPTIONS + (
    'organizations', 'interval', 'min_credits', 'warn_below', 'ledger_path', 'min_days_left', 'min_runs_left', 'emit')
# Added to the arguments by ansible-rulebook itself, not by the user.
RULEBOOK_ARGUMENTS = ('eda_feedback_queue',)


def _environment_default(args, environ, option):
    """The argument ``option``, else the first of its environment variables that is set and not empty, else None."""
    if args.get(option) is not None:
        return args[option]
    for name in ENVIRONMENT_VARIABLES.get(option, ()):
        if environ.get(name):
            return environ[name]
    return None


def clean_interval(value, api_url):
    """Seconds between readings: at least MIN_INTERVAL, except against a loopback API, and at most MAX_INTERVAL.

    ``api_url`` is the cleaned one of ``ConnectionSettings``, which always has a host name.
    """
    interval = DEFAULT_INTERVAL if value is None else clean_seconds('interval', value, MAX_INTERVAL)
    floor = MIN_LOOPBACK_INTERVAL if is_loopback_as_written(urlsplit(api_url).hostname) else MIN_INTERVAL
    if interval < floor:
        raise StabilityOptionError('interval', 'must be at least %g seconds, got %r (so no rulebook polls the API too often; only '
                                               'a loopback api_url such as the simulator may go down to %g)' % (
                                                   floor, value, MIN_LOOPBACK_INTERVAL))
    return interval


class WatchOptions(object):
    """The arguments of the source, validated once; its repr never shows the key."""

    def __init__(self, args, environ):
        args = dict((name, value) for name, value in (args or {}).items() if name not in RULEBOOK_ARGUMENTS)
        unknown = sorted(set(args) - set(SOURCE_OPTIONS))
        if unknown:
            close = difflib.get_close_matches(unknown[0], SOURCE_OPTIONS)  # best first: close[0] is the one to suggest
            raise StabilityOptionError(unknown[0], 'is not an argument of stabilityai.platform.credit_balance%s (known: %s)' % (
                '; did you mean %s?' % close[0] if close else '', ', '.join(sorted(SOURCE_OPTIONS))))
        connection = dict((name, _environment_default(args, environ, name)) for name in CONNECTION_OPTIONS)
        if connection['validate_certs'] is None:
            connection['validate_certs'] = True
        self.connection = ConnectionSettings(**connection)
        self.organizations = parse_organizations('organizations', args.get('organizations'))
        self.interval = clean_interval(args.get('interval'), self.connection.api_url)
        self.thresholds = dict((option, clean_threshold(option, args.get(option))) for option in ('warn_below', 'min_credits'))
        self.thresholds.update((option, clean_runway_threshold(option, args.get(option))) for option in ('min_days_left', 'min_runs_left'))
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

    The account is read each time, so ``all`` follows organizations joining or leaving.  With
    ``ledger_path`` each organization gets the shared ``runway`` forecast of ``_runway`` from
    the ledger's readings plus this one, at ``now`` (None: ``runway`` reads the clock).
    """
    account = client.fetch_account(sendable_ids=True)
    memberships = watched_memberships(account, options.organizations)
    credits = client.fetch_balances([membership['id'] for membership in memberships])
    history = None if options.ledger_path is None else ledger_history(options.ledger_path, options.connection.timeout)
    default = default_membership(account)
    readings = []
    for membership, balance in zip(memberships, credits):
        forecast = None
        if history is not None:
            forecast = runway(history, membership['id'], balance, now=now, default_organization_id=default['id'] if default else None)
        readings.append({'organization_id': membership['id'], 'organization_name': membership['name'],
                         'credits': balance, 'runway': forecast})
    return readings


def ledger_history(path, lock_timeout):
    """The ledger's readings; lines it cannot read are skipped with a logged warning, as the module warns.

    Its lock is waited for at most ``lock_timeout`` seconds (the source's ``timeout``).
    """
    try:
        history, warnings = read_readings(path, lock_timeout=lock_timeout)
    except LedgerError as exc:
        raise StabilityError('ledger_path: %s' % exc)  # the module's wording
    for warning in warnings:
        logger.warning('%s', warning)
    return history


def failure_message(exc, secret):
    """The one line an ``error`` event carries: the collection's own wording, never the key (redacted before the cut)."""
    if isinstance(exc, StabilityError):
        return one_line(redact(exc.msg, secret))
    return one_line(redact('reading the balances failed: %s: %s' % (type(exc).__name__, exc), secret))


def describe(measure, value, threshold=None):
    """``212.50 credits``, ``3.5 days of runway``, ``1 run of runway``; never rounded up to ``threshold``."""
    if measure == 'credits':
        return '%s credits' % format_credits(value, threshold)
    if measure == 'days_left':
        text = '%.1f' % value
        if threshold is not None and value < threshold <= float(text):
            text = repr(float(value))
        return '%s days of runway' % text
    return '%d run%s of runway' % (value, '' if value == 1 else 's')


def _event(kind, message, **fields):
    """Every event has every field of the contract; ``message`` is never missing and is one printable line.

    The data fields keep what the server sent (redacted by the client); the message, which
    rulebooks print and log, holds no line break and no terminal control character.
    """
    body = dict(kind=kind, gate=None, organization_id=None, organization_name=None, credits=None,
                previous=None, threshold=None, runway=None, message=one_line(message))
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
        self._below = set()  # the (organization, gate) pairs that fired and have not recovered
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
            events.append(_event('reading', message='%s has %s' % (label, describe('credits', reading['credits'])), **common))
        for option, measure, kind in GATES:
            threshold = self.options.thresholds[option]
            value = reading['credits'] if measure == 'credits' else (reading['runway'] or {}).get(measure)
            if threshold is None or value is None:
                continue
            key = (organization, option)
            described = describe(measure, value, threshold)
            if key not in self._below and value < threshold:
                self._below.add(key)
                events.append(_event(kind, gate=option, threshold=threshold, message='%s has %s, below %s %s' % (
                    label, described, option, format_threshold(threshold)), **common))
            elif key in self._below and value >= threshold * (1 + RECOVERY_MARGIN):
                self._below.discard(key)
                events.append(_event('recovered', gate=option, threshold=threshold, message='%s has %s again, above %s %s' % (
                    label, described, option, format_threshold(threshold)), **common))
        return events
