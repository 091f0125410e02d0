# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""The credit ledger: one balance reading a line, JSON Lines, appended by every run.

The ``credit_recap`` callback appends; ``stability_balance_info`` reads (on the host the module
runs on).  Parallel CI jobs on one runner append at once, so every write holds an exclusive
``fcntl`` lock on the file and every read a shared one.  The file is created 0600 and never
followed through a symbolic link.  A reading holds only ``time``, ``organization_id``,
``credits``, ``run_id``, ``event`` and ``playbook``: never the key.

Growth is bounded: when an append leaves the file over LEDGER_MAX_BYTES, the oldest lines are
dropped, in place and under the same lock, until at most LEDGER_KEEP_BYTES remain (about 6,000
readings: months of history, where the forecast looks at 7 days).  A line that cannot be read
is skipped with one warning, never an error.  Standard library only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import json
import os
import stat
import sys

from ansible_collections.stabilityai.platform.plugins.module_utils._runway import parse_time

LEDGER_MAX_BYTES = 2 * 1024 * 1024
LEDGER_KEEP_BYTES = 1024 * 1024
LEDGER_FIELDS = ('time', 'organization_id', 'credits', 'run_id', 'event', 'playbook')
LEDGER_EVENTS = ('start', 'end')


class LedgerError(Exception):
    """The ledger cannot be opened, locked or written; the message names the path and the reason."""


def ledger_line(reading):
    """One reading as its JSON line, with the ledger's fields only (nothing else can slip in)."""
    return json.dumps(dict((field, reading.get(field)) for field in LEDGER_FIELDS), sort_keys=True) + '\n'


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


def _open(path, flags):
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW, 0o600)  # not inherited by children without O_CLOEXEC: PEP 446
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LedgerError('ledger %s is a symbolic link; refusing to follow it' % path)
        raise LedgerError('ledger %s cannot be opened: %s' % (path, exc.strerror or exc))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise LedgerError('ledger %s is not a regular file' % path)
    return fd


def append_readings(path, readings):
    """Append ``readings`` under an exclusive lock, creating the file 0600; then keep it bounded."""
    data = ''.join(ledger_line(reading) for reading in readings).encode('utf-8')
    fd = _open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, data)
        if os.fstat(fd).st_size > LEDGER_MAX_BYTES:
            _drop_oldest(path)
    except OSError as exc:
        raise LedgerError('ledger %s cannot be written: %s' % (path, exc.strerror or exc))
    finally:
        os.close(fd)  # releases the lock


def _drop_oldest(path):
    """Keep the newest whole lines that fit in LEDGER_KEEP_BYTES; the caller holds the lock."""
    with open(path, 'rb') as handle:
        handle.seek(max(os.fstat(handle.fileno()).st_size - LEDGER_KEEP_BYTES, 0))
        tail = handle.read()
    tail = tail[tail.find(b'\n') + 1:] if b'\n' in tail else b''
    # Rewritten in place (not replaced) so that writers waiting on this file's lock see the result.
    fd = _open(path, os.O_WRONLY)
    try:
        os.write(fd, tail)
        os.ftruncate(fd, len(tail))
    finally:
        os.close(fd)


def read_readings(path):
    """The well-formed readings of the ledger at ``path`` and a list of warnings.

    A missing ledger has no readings; lines that are not well-formed readings are skipped and
    counted in one warning that names the first of them, so a damaged file never stops a run.
    """
    try:
        fd = _open(path, os.O_RDONLY)
    except LedgerError:
        if not os.path.lexists(path):
            return [], []
        raise
    with os.fdopen(fd, 'rb') as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        lines = handle.read().split(b'\n')
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
