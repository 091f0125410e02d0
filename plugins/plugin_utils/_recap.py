# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This plugin_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""What the ``credit_recap`` callback does, apart from Ansible's hooks: read, compare, record, report.

``CreditRecap`` takes a ``get_option`` callable and a ``warn`` callable, so the callback file
only wires Ansible's events to ``start()`` and ``finish()``, and unit tests drive it directly.
It never raises: whatever fails becomes one warning (never holding the key) and a report with
``complete: false``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import math
import os
import string
import time
import uuid

from ansible_collections.stabilityai.platform.plugins.module_utils._account import chosen_memberships, default_membership
from ansible_collections.stabilityai.platform.plugins.module_utils._concurrency import map_concurrently
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityError, StabilityOptionError, one_line, redact, terminal_text
from ansible_collections.stabilityai.platform.plugins.module_utils._ledger import LedgerError, LedgerLocked, append_readings, format_time, read_readings
from ansible_collections.stabilityai.platform.plugins.module_utils._metrics import (
    checked,
    clean_metrics_path,
    load_client,
    pushgateway_from_options,
    runway_fields,
    write_metrics_file,
)
from ansible_collections.stabilityai.platform.plugins.module_utils._organizations import ALL_ORGANIZATIONS, parse_organizations
from ansible_collections.stabilityai.platform.plugins.module_utils._private_file import UnusableFile, open_private_file, write_all
from ansible_collections.stabilityai.platform.plugins.module_utils._runway import describe_runway, needs_default_organization, runway
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import DEFAULT_TIMEOUT, ConnectionSettings, clean_path_text
from ansible_collections.stabilityai.platform.plugins.module_utils._thresholds import format_credits, organization_label

PLUGIN = 'stabilityai.platform.credit_recap'
STEP_SUMMARY_ENV = 'GITHUB_STEP_SUMMARY'
_UNKNOWN = object()
# Every ASCII punctuation character is escaped, so no character of a name or a message starts
# Markdown, HTML or a new table column.  An escaped ``@`` is still an ``@`` to the autolinker,
# which makes ``a@b.c`` a mailto link: a word joiner after it keeps ``@name`` and ``a@b.c`` text.
_MARKDOWN_ESCAPES = dict((char, '\\' + char) for char in string.punctuation)
_MARKDOWN_ESCAPES['@'] = '\\@&#8288;'


def format_amount(credits):
    return '-' if credits is None else format_credits(credits)


class CreditRecap(object):
    """One playbook run: balances at the start and the end, and what follows from them."""

    def __init__(self, get_option, warn, playbook, now=None, check_raw=None, raw_option=None):
        self.get_option = get_option
        # (value, source) of an option as the user wrote it: the metrics options are read raw (an empty one is unset).
        self.raw_option = raw_option or (lambda name: (get_option(name), None))
        self.check_raw = check_raw  # refuses options as the user wrote them, before Ansible's conversion
        self.warn = warn
        self.playbook = playbook
        self.run_id = uuid.uuid4().hex
        self.started = self.finished = None
        self._now = now or (lambda: datetime.datetime.now(datetime.timezone.utc))
        self._client = None
        self._targets = None       # [(organization_id, name or None)], fixed at the first read
        self._default_id = _UNKNOWN  # the key's default organization's id, once the account told it (None: it has none)
        self._before = {}
        self._problem = None
        self._warned = set()
        self._secret = None
        self._prometheus = self._metrics_path = self._pushgateway = None
        self._ledger_wait = None     # seconds the run may still wait for the ledger's lock (see _with_ledger)
        self._ledger_locked = None   # the first LedgerLocked of the run, told once in its own words

    # -- the two events ---------------------------------------------------------------------

    def start(self):
        self.started = self._now()
        self._metrics_start()
        self._guard(self._start)

    def finish(self):
        """Read the balances again, record and report; returns the lines to print after PLAY RECAP."""
        self.finished = self._now()
        report = self._guard(self._finish)
        if report is None:
            report = self._report([])
        if self._client is not None:
            self._client.close()
        self._write_outputs(report)
        self._publish_metrics(report)
        return format_text(report)

    # -- the work ---------------------------------------------------------------------------

    def _start(self):
        self._client = self._make_client()
        self._before = self._read()
        self._record('start', self.started, self._before)

    def _finish(self):
        if self._client is None:
            self._client = self._make_client()
        after = self._read()
        self._record('end', self.finished, after)
        history = self._history()
        if history is not None and self._default_id is _UNKNOWN and needs_default_organization(
                history, [organization for organization, _name in self._targets or []]):
            try:
                self._learn_default(self._client.fetch_account(sendable_ids=True))
            except StabilityError as exc:  # the rows still count; readings without an id are then nobody's
                self._note(exc.msg)
        default_id = None if self._default_id is _UNKNOWN else self._default_id
        rows = []
        for organization_id, name in self._targets or []:
            before, now = self._before.get(organization_id), after.get(organization_id)
            row = dict(organization_id=organization_id, organization_name=name, before=before, after=now,
                       spent=None if before is None or now is None else self._fits(before - now, 'the spend of %s (%r before, %r after)' % (
                           organization_label(organization_id, name), before, now)))
            if history is not None and now is not None:
                row['runway'] = runway(history, organization_id, now, now=self.finished, default_organization_id=default_id)
            rows.append(row)
        return self._report(rows)

    def _make_client(self):
        key = self.get_option('api_key')
        self._secret = ('%s' % key).strip() or None if key else None
        if self.check_raw is not None:
            self.check_raw()
        settings = ConnectionSettings.from_options(self.get_option)
        from ansible_collections.stabilityai.platform.plugins.module_utils import _client  # pylint: disable=import-outside-toplevel
        client = _client.StabilityClient(settings)
        for warning in client.warnings:
            self.warn(warning)
        return client

    def _learn_default(self, account):
        default = default_membership(account)
        self._default_id = default['id'] if default else None
        return default

    def _read(self):
        """One request per watched organization (plus the account the first time for ``all`` or the default).

        The key's default organization is recorded by its id, which only the account tells. An
        organization that cannot be read is left out of the result and reported as the problem;
        the others are still read.
        """
        if self._targets is None:
            watched = parse_organizations('organizations', self.get_option('organizations'))
            if watched == ALL_ORGANIZATIONS:
                account = self._client.fetch_account(sendable_ids=True)
                self._learn_default(account)
                self._targets = [(membership['id'], membership['name']) for membership in chosen_memberships(account, None)]
            elif watched is None:
                default = self._learn_default(self._client.fetch_account(sendable_ids=True))
                if default is None:
                    raise StabilityOptionError('organizations', 'is not set and the account has no default organization; '
                                                                'name the organizations to watch')
                self._targets = [(default['id'], default['name'])]
            else:
                self._targets = [(organization, None) for organization in watched]

        def one(organization):
            try:
                return self._client.fetch_balance(organization)
            except StabilityError as exc:
                return exc
        results = map_concurrently(one, [organization for organization, _name in self._targets])
        readings = {}
        for (organization, _name), result in zip(self._targets, results):
            if isinstance(result, StabilityError):
                self._note(result.msg)
            else:
                readings[organization] = result
        return readings

    def _ledger_path(self):
        path = clean_path_text('ledger_path', self.get_option('ledger_path'))
        return os.path.expanduser(path) if path else None

    def _record(self, event, when, readings):
        ledger_path = self._ledger_path()
        if not ledger_path or not readings:
            return
        lines = [dict(time=format_time(when), organization_id=organization, credits=credits, run_id=self.run_id,
                      event=event, playbook=self.playbook)
                 for organization, credits in readings.items()]
        try:
            self._with_ledger(append_readings, ledger_path, lines)
        except LedgerError as exc:
            self._note('ledger_path: %s' % exc, always=True)

    def _history(self):
        ledger_path = self._ledger_path()
        if not ledger_path:
            return None
        try:
            readings, warnings = self._with_ledger(read_readings, ledger_path)
        except LedgerError as exc:
            self._note('ledger_path: %s' % exc, always=True)
            return None
        for warning in warnings:
            self.warn(warning)
        return readings

    def _fits(self, value, what):
        """``value`` when it is a finite number; else None and the problem, so that the report stays strict JSON."""
        if math.isfinite(value):
            return value
        self._note('%s does not fit a number; it is reported as null' % what)
        return None

    def _report(self, rows):
        spent = [row['spent'] for row in rows if row['spent'] is not None]
        total = self._fits(sum(spent), 'the total spend') if spent else None
        return dict(
            started=format_time(self.started) if self.started else None,
            finished=format_time(self.finished) if self.finished else None,
            playbook=self.playbook,
            run_id=self.run_id,
            complete=self._problem is None and bool(rows) and len(spent) == len(rows),
            spent=total,
            organizations=rows,
            problem=self._problem,
        )

    def _with_ledger(self, function, *args):
        """Read or append the ledger; all of a run's uses share ONE wait of ``timeout`` seconds for its lock.

        A ledger that another process keeps locked then holds a run up once, not at each of its three
        uses (start append, end read, end append); a use after the wait is spent still tries the lock once,
        and its failure is told in the words of the first (one warning a run).
        """
        if self._ledger_wait is None:
            self._ledger_wait = self._client.settings.timeout if self._client is not None else DEFAULT_TIMEOUT
        started = time.monotonic()
        try:
            return function(*args, lock_timeout=self._ledger_wait)
        except LedgerLocked as exc:
            self._ledger_locked = self._ledger_locked or exc
            raise self._ledger_locked
        finally:
            self._ledger_wait = max(self._ledger_wait - (time.monotonic() - started), 0.0)

    def _write_outputs(self, report):
        """The report and the step summary, each on its own: one that cannot be written does not cost the other."""
        try:
            report_path = clean_path_text('report_path', self.get_option('report_path'))
        except StabilityOptionError as exc:
            self._note(exc.msg, always=True, record=False)
            report_path = None
        if report_path:
            self._write_output('report_path', os.path.expanduser(report_path), os.O_TRUNC,
                               lambda: json.dumps(report, indent=2, sort_keys=True, allow_nan=False) + '\n')
        summary = os.environ.get(STEP_SUMMARY_ENV, '')
        if summary.strip():  # empty: unset, as a CI variable that expands to nothing
            self._write_output(STEP_SUMMARY_ENV, summary, os.O_APPEND, lambda: format_markdown(report))

    def _write_output(self, option, path, flags, render):
        """Write ``render()`` to ``path``; any failure is one warning naming ``option``, never an exception."""
        try:
            write_private(path, flags, render())
        except UnusableFile as exc:
            self._note('%s: %s' % (option, exc), always=True, record=False)
        except Exception as exc:  # pylint: disable=broad-except  # a recap must never fail a run
            self._note('%s: %s: %s' % (option, type(exc).__name__, exc), always=True, record=False)

    # -- metrics (module_utils/_metrics.py) -------------------------------------------------

    def _metrics_start(self):
        """Check the metrics options before any request; a refusal turns that output off with one warning."""
        self._metrics_path = self._metrics_step(checked, self.raw_option, 'metrics_path', clean_metrics_path)
        self._pushgateway = self._metrics_step(pushgateway_from_options, self.raw_option, self.playbook)
        if self._metrics_path or self._pushgateway:
            self._prometheus = self._metrics_step(load_client, 'metrics_path' if self._metrics_path else 'pushgateway_url')

    def _publish_metrics(self, report):
        """Write the metrics file and push to the Pushgateway, each on its own; nothing read, nothing replaced.

        Without a reading the outputs keep the last run's values, so their timestamp ages and a
        staleness alert fires, instead of the series vanishing.
        """
        readings = self._metric_readings(report) if self._prometheus else None
        if not readings:
            return
        if self._metrics_path:
            self._metrics_step(write_metrics_file, self._prometheus, self._metrics_path, readings, self._secret)
        if self._pushgateway:
            self._metrics_step(self._pushgateway.push, self._prometheus, readings, self._secret)

    def _metric_readings(self, report):
        """Each organization's latest reading (the end's, else the start's) with the run's spend and the runway."""
        readings = []
        for row in report['organizations']:
            credits, when = (row['after'], self.finished) if row['after'] is not None else (row['before'], self.started)
            if credits is not None:
                readings.append(dict(organization_id=row['organization_id'], organization_name=row['organization_name'], credits=credits,
                                     time=when.timestamp(), spent=row['spent'], **runway_fields(row.get('runway'))))
        return readings

    def _metrics_step(self, function, *args):
        """``function(*args)``, or None and one warning that starts with the option; a metrics output never fails a run."""
        try:
            return function(*args)
        except StabilityError as exc:
            message = exc.msg
        except Exception as exc:  # pylint: disable=broad-except  # a recap must never fail a run
            message = 'metrics: %s: %s' % (type(exc).__name__, exc)
        self.warn('%s: %s; the run itself is not affected' % (PLUGIN, one_line(redact(message, self._secret))))
        return None

    # -- failures ---------------------------------------------------------------------------

    def _note(self, message, always=False, record=True):
        """Remember the first problem (``record``) and warn about it, once per run.

        ``always``: warn even when another problem came first (each output fails on its own, with
        its own warning); the same warning is still given once only.
        """
        message = one_line(redact(message, self._secret))
        first = self._problem is None
        if record and first:
            self._problem = message
        if (first or always) and message not in self._warned:
            self._warned.add(message)
            self.warn('%s: %s; the run itself is not affected' % (PLUGIN, message))

    def _guard(self, function, *args):
        try:
            return function(*args)
        except StabilityError as exc:
            self._note(exc.msg)
        except Exception as exc:  # pylint: disable=broad-except  # a recap must never fail a run
            self._note('%s: %s' % (type(exc).__name__, exc))
        return None


def write_private(path, flags, text):
    """Write ``text`` (UTF-8) to the regular file ``path``, created 0600; ``flags``: ``os.O_TRUNC`` (replace) or ``os.O_APPEND``.

    Truncated only once the file is known to be a regular file (a FIFO or device is refused first).
    """
    fd = open_private_file(path, os.O_WRONLY | (flags & os.O_APPEND))
    try:
        if flags & os.O_TRUNC:
            os.ftruncate(fd, 0)
        write_all(fd, text.encode('utf-8'))
    except OSError as exc:
        raise UnusableFile(exc.errno, path, 'cannot be written: %s' % (exc.strerror or exc))
    finally:
        os.close(fd)


def _spent_text(row):
    if row['spent'] is None:
        return '-'
    if row['spent'] < 0:
        return '%s (topped up)' % format_amount(row['spent'])
    return format_amount(row['spent'])


def _runway_text(row):
    return describe_runway(row['runway']) if row.get('runway') else '-'


def _total_text(report):
    text = '%s credits' % format_amount(report['spent'])
    if any(row['spent'] is not None and row['spent'] < 0 for row in report['organizations']):
        text += ' (includes a top-up)'
    if not report['complete']:
        text += ' (incomplete)'
    return text


def markdown_text(text):
    """``text`` (a name, an id, a message) as Markdown that renders as that literal text, on one line.

    No heading, emphasis, image, link, autolink (``https://...``, ``www.``, ``a@b.c``), mention,
    raw HTML, line break or extra table column: the text is folded into one printable line
    (``one_line``) and every ASCII punctuation character is escaped (see _MARKDOWN_ESCAPES).
    """
    return ''.join(_MARKDOWN_ESCAPES.get(char, char) for char in one_line(text, 2000))


def format_text(report):
    """The recap printed after PLAY RECAP: one line per organization, the total, any problem.

    Names and messages come from the server: each line is made safe for a terminal (``terminal_text``).
    """
    lines = []
    for row in report['organizations']:
        lines.append('%s : before %s  after %s  spent %s  runway %s' % (
            organization_label(row['organization_id'], row['organization_name']), format_amount(row['before']),
            format_amount(row['after']), _spent_text(row), _runway_text(row)))
    lines.append('total spent: %s' % _total_text(report))
    if report['problem']:
        lines.append('incomplete: %s' % report['problem'])
    return [terminal_text(line) for line in lines]


def format_markdown(report):
    """The recap as a GitHub job summary: a heading, a table, the total.

    Every text from outside (the playbook's file name, organization ids and names, the problem)
    is escaped (``markdown_text``); amounts and runways are the collection's own words and numbers.
    """
    lines = ['### Stability AI credits: %s' % markdown_text(report['playbook'] or 'playbook'), '',
             '| organization | before | after | spent | runway |', '|---|---:|---:|---:|---|']
    for row in report['organizations']:
        lines.append('| %s | %s | %s | %s | %s |' % (
            markdown_text(organization_label(row['organization_id'], row['organization_name'])), format_amount(row['before']),
            format_amount(row['after']), _spent_text(row), _runway_text(row)))
    lines.extend(['', '**Total spent:** %s' % _total_text(report)])
    if report['problem']:
        lines.extend(['', 'Incomplete: %s' % markdown_text(report['problem'])])
    return '\n'.join(lines) + '\n\n'
