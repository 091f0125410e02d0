# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""The credit ledger: one balance reading a line, JSON Lines, appended by every run.

The ``credit_recap`` callback appends; ``stability_balance_info`` reads (on the host the module
runs on).  Parallel CI jobs on one runner append at once, so every write holds an exclusive
``flock`` on the file and every read a shared one, each waited for only until a deadline.  The
file is created 0600 and used only if it is a regular file (``_private_file``): a link, a FIFO
or a device in its place is refused without blocking.  A reading holds only ``time``, ``organization_id``,
``credits``, ``run_id``, ``event`` and ``playbook``: never the key.

Growth is bounded: when an append leaves the file over LEDGER_MAX_BYTES, the oldest lines are
dropped, in place and under the same lock, until at most LEDGER_KEEP_BYTES remain (about 6,000
readings: months of history, where the forecast looks at 7 days).  A line that cannot be read
is skipped with one warning, never an error.  The ledger's time format (``parse_time``, ``format_time``)
lives here with it.  Standard library only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import errno
import json
import os
import sys
import time

from ansible_collections.stabilityai.platform.plugins.module_utils._locking import LockTimeout, lock_with_deadline
from ansible_collections.stabilityai.platform.plugins.module_utils._private_file import UnusableFile, open_private_file, write_all
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import DEFAULT_TIMEOUT

LEDGER_MAX_BYTES = 2 * 1024 * 1024
LEDGER_KEEP_BYTES = 1024 * 1024
LEDGER_FIELDS = ('time', 'organization_id', 'credits', 'run_id', 'event', 'playbook')
LEDGER_EVENTS = ('start', 'end')
# How long a reader or a writer waits for another one's lock unless told (a plugin passes its ``timeout``).
LOCK_TIMEOUT = DEFAULT_TIMEOUT

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


class LedgerError(Exception):
    """The ledger cannot be opened, locked or written; the message names the path and the reason."""


class LedgerLocked(LedgerError):
    """Another process kept the ledger locked past the wait allowed."""


def ledger_line(reading):
    """One reading as its JSON line, with the ledger's fields only (nothing else can slip in)."""
    return json.dumps(dict((field, reading.get(field)) for field in LEDGER_FIELDS), sort_keys=True, allow_nan=False) + '\n'


def check_reading(reading):
    """Raise ValueError unless ``reading`` is a well-formed ledger reading."""
    if not isinstance(reading, dict):
        raise ValueError('not a JSON object')
    parse_time(reading.get('time'))
    if reading.get('organization_id') is not None and not isinstance(reading['organization_id'], str):
        raise ValueError('organization_id is not a string or null')
    credits = reading.get('credits')
    # Compared, not math.isfinite(): an integer too large for a float makes that raise OverflowError.
    if isinstance(credits, bool) or not isinstance(credits, (int, float)) or not -sys.float_info.max <= credits <= sys.float_info.max:
        raise ValueError('credits is not a finite number')
    if reading.get('event') not in LEDGER_EVENTS:
        raise ValueError('event is not start or end')
    if not isinstance(reading.get('run_id'), str) or not reading['run_id']:
        raise ValueError('run_id is not a non-empty string')


def _lock(fd, exclusive, path, lock_timeout):
    """Lock the ledger, waiting at most ``lock_timeout`` seconds for a writer that holds it."""
    try:
        lock_with_deadline(fd, exclusive, time.monotonic() + lock_timeout, path)
    except LockTimeout as exc:
        raise LedgerLocked('%s for %g s' % (exc, lock_timeout))  # the same words for a reader and a writer: one warning a run


def append_readings(path, readings, lock_timeout=LOCK_TIMEOUT):
    """Append ``readings`` under an exclusive lock, creating the file 0600; then keep it bounded.

    A file whose last line has no line break (a writer that died mid-line, an edit by hand) gets
    one first, so that the old line and the new ones stay readings of their own.
    """
    data = ''.join(ledger_line(reading) for reading in readings).encode('utf-8')
    try:
        # Not O_APPEND: the lock orders writers, and the bound is kept by rewriting through this descriptor.
        fd = open_private_file(path, os.O_RDWR)
    except UnusableFile as exc:
        raise LedgerError('%s' % exc)
    try:
        _lock(fd, True, path, lock_timeout)
        size = os.lseek(fd, 0, os.SEEK_END)
        if data and size and os.pread(fd, 1, size - 1) != b'\n':
            data = b'\n' + data
        write_all(fd, data)
        if size + len(data) > LEDGER_MAX_BYTES:
            _drop_oldest(fd)
    except OSError as exc:
        raise LedgerError('%s cannot be written: %s' % (path, exc.strerror or exc))
    finally:
        os.close(fd)  # releases the lock


def _drop_oldest(fd):
    """Keep the newest whole lines that fit in LEDGER_KEEP_BYTES; the caller holds the lock.

    Rewritten in place (not replaced) so that writers waiting on this file's lock see the result.
    """
    size = os.fstat(fd).st_size
    start = max(size - LEDGER_KEEP_BYTES, 0)
    tail = os.pread(fd, size - start, start)
    tail = tail[tail.find(b'\n') + 1:] if b'\n' in tail else b''
    os.pwrite(fd, tail, 0)
    os.ftruncate(fd, len(tail))


def read_readings(path, lock_timeout=LOCK_TIMEOUT):
    """The well-formed readings of the ledger at ``path`` and a list of warnings.

    A missing ledger has no readings; lines that are not well-formed readings are skipped and
    counted in one warning that names the first of them, so a damaged file never stops a run.
    """
    try:
        fd = open_private_file(path, os.O_RDONLY, create=False)
    except UnusableFile as exc:
        if exc.errno == errno.ENOENT:
            return [], []
        raise LedgerError('%s' % exc)
    with os.fdopen(fd, 'rb') as handle:
        try:
            _lock(fd, False, path, lock_timeout)
            lines = handle.read().split(b'\n')
        except OSError as exc:
            raise LedgerError('%s cannot be read: %s' % (path, exc.strerror or exc))
    readings = []
    bad = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            reading = json.loads(line.decode('utf-8'))
            check_reading(reading)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            bad.append((number, exc))
            continue
        readings.append(reading)
    warnings = []
    if bad:
        number, exc = bad[0]
        warnings.append('ledger %s: skipped %d line%s that %s not a reading (first: line %d, %s)' % (
            path, len(bad), '' if len(bad) == 1 else 's', 'is' if len(bad) == 1 else 'are', number,
            ('%s' % exc).splitlines()[0][:120] if '%s' % exc else type(exc).__name__))
    return readings, warnings
