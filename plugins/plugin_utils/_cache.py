# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This plugin_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""The balance cache of the ``stability_balance`` lookup.

Ansible evaluates a lookup once per host, each time in a freshly forked worker, so a play that
gates 200 hosts on the balance would send 200 requests and trip the vendor's rate limit (150
per 10 s, then a 60 s lock-out).  This cache makes that one request:

* one small file per (api_url, api_version, organization, key) and, in the default scope
  ``run``, per ``ansible-playbook`` run (see ``_playbook_run``), holding only the credits and the
  time they were read; the file name is an HMAC of those under a random per-cache secret, so the
  key is never on disk, not even as a plain hash.  A run never reads what an earlier run cached:
  a gate must see the credits that run starts with.  Scope ``user`` shares entries between runs;
* a miss takes an exclusive ``flock`` on the entry's lock file, looks again, and only then asks
  the API: concurrent misses in forked workers coalesce into exactly one request;
* the directory is created 0700 and the files 0600; a directory or a file of the cache that is
  not ours, not private or not of the right kind (a FIFO, a link) is refused, never changed or
  waited on (the lookup then warns and reads without a cache);
* unreadable, corrupt, future-dated or expired entries are ignored and replaced, and entries
  nobody wrote for a day (earlier runs' ones) are removed when a new one is written.

Standard library only: a cache hit never imports the HTTP stack.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import math
import os
import re
import tempfile
import time

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError
from ansible_collections.stabilityai.platform.plugins.module_utils._locking import LockTimeout, lock_with_deadline
from ansible_collections.stabilityai.platform.plugins.module_utils._private_dir import (
    PrivateDirectoryUnavailable,
    keyed_name,
    load_secret,
    private_directory,
)
from ansible_collections.stabilityai.platform.plugins.module_utils._private_file import UnusableFile, open_private_file
from ansible_collections.stabilityai.platform.plugins.plugin_utils._playbook_run import RunUnknown, run_identity

CACHE_TTL_PROBLEM = 'must be a number of seconds, 0 or more (0 turns the cache off), got %r'
CACHE_SCOPES = ('run', 'user')
CLOCK_SKEW = 5.0
PRUNE_AFTER = 86400.0
_ENTRY_FILE = re.compile(r'^([0-9a-f]{64})[.](?:json|lock)$')


def clean_cache_ttl(value):
    """``cache_ttl`` as a finite number of seconds >= 0 (0: no cache); a boolean is a mistake, not 1."""
    try:
        ttl = -1.0 if isinstance(value, bool) else float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a whole number no float holds
        ttl = -1.0
    if not 0 <= ttl < float('inf'):
        raise StabilityOptionError('cache_ttl', CACHE_TTL_PROBLEM % (value,))
    return ttl


def clean_cache_scope(value):
    """``cache_scope``: ``run`` (a reading serves one ansible-playbook run) or ``user`` (every run of the user)."""
    if value not in CACHE_SCOPES:
        raise StabilityOptionError('cache_scope', 'must be %s, got %r' % (' or '.join(CACHE_SCOPES), value))
    return value


# The cache cannot be used safely; the lookup then reads without a cache.
CacheUnavailable = PrivateDirectoryUnavailable


class BalanceCache(object):
    """Credits per organization for one connection, shared by the processes of one run (``scope`` ``run``) or of the user (``user``)."""

    def __init__(self, directory, ttl, settings, lock_timeout, scope='run'):
        self.directory = private_directory(directory)
        self.ttl = ttl
        self.lock_timeout = lock_timeout
        self._identity = [settings.api_url, settings.api_version, settings.api_key]
        if scope == 'run':
            try:
                self._identity.append(run_identity())
            except RunUnknown as exc:
                raise CacheUnavailable('%s; cache_scope=user would share readings between runs' % exc)
        self._secret = load_secret(self.directory)

    def entry_stem(self, organization):
        """The path of ``organization``'s entry without its ending: ``.json`` holds it, ``.lock`` guards it."""
        return os.path.join(self.directory, keyed_name(self._secret, self._identity + [organization]))  # the default one is null

    def read(self, stem, now=None):
        """The cached credits of the entry ``stem`` if fresh, else None; anything odd counts as a miss."""
        now = time.time() if now is None else now
        try:
            fd = open_private_file(stem + '.json', os.O_RDONLY, create=False, ours=True)
        except UnusableFile as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise CacheUnavailable('%s' % exc)
        try:
            with os.fdopen(fd, 'rb') as handle:
                entry = json.loads(handle.read(4096).decode())  # UTF-8
            credits, stored = entry['credits'], entry['time']
        except (OSError, ValueError, KeyError, TypeError):
            return None
        for value in (credits, stored):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return None
        if stored > now + CLOCK_SKEW or now - stored >= self.ttl:
            return None
        return float(credits)

    def write(self, stem, credits):
        """Replace the entry atomically, so a reader sees the old file or the new one, never half.

        A write that fails (disk full, say) only costs the next caller a request: it is not an error.
        """
        temporary = None
        try:
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix='.tmp-')
            with os.fdopen(fd, 'w') as handle:
                json.dump({'credits': credits, 'time': time.time()}, handle)
            os.replace(temporary, stem + '.json')
        except OSError:
            if temporary is not None and os.path.exists(temporary):
                os.unlink(temporary)

    def prune(self, now=None):
        """Remove the entries (with their lock files) that nobody wrote for PRUNE_AFTER seconds, or ``ttl`` if longer.

        Every run writes entries of its own that no later run reads: without this a CI runner's
        cache would grow by a few files a run, for ever.  An entry and its lock go together, by
        the newer of the two times, so that a lock in use is never removed from under its entry.
        Anything else in the directory (the secret, the rate guard's state) is left alone.
        """
        horizon = (time.time() if now is None else now) - max(self.ttl, PRUNE_AFTER)
        newest = {}
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return  # a cache that cannot be tidied still works; the next write tries again
        for entry in entries:
            match = _ENTRY_FILE.match(entry.name)
            try:
                if match:
                    stem = os.path.join(self.directory, match.group(1))
                    newest[stem] = max(newest.get(stem, 0.0), entry.stat(follow_symlinks=False).st_mtime)
            except OSError:
                continue  # removed meanwhile: another run tidies too
        for stem, written in newest.items():
            if written < horizon:
                for ending in ('.json', '.lock'):
                    try:
                        os.unlink(stem + ending)
                    except OSError:
                        pass  # one of the two was never there, or is gone already

    def get_or_fetch(self, organization, fetch):
        """The fresh cached credits of ``organization``, or ``fetch(organization)`` stored for the others.

        Only one process at a time fetches an entry; the others wait on its lock and then read
        what it stored.  A failed fetch stores nothing, so the next caller tries again.
        """
        stem = self.entry_stem(organization)
        credits = self.read(stem)
        if credits is not None:
            return credits
        try:
            lock_fd = open_private_file(stem + '.lock', os.O_RDWR, ours=True)
        except UnusableFile as exc:
            raise CacheUnavailable('%s' % exc)
        try:
            self._wait_for_lock(lock_fd)
            credits = self.read(stem)
            if credits is None:
                credits = fetch(organization)
                self.write(stem, credits)
                self.prune()
            return credits
        finally:
            os.close(lock_fd)  # closing the descriptor releases the lock

    def _wait_for_lock(self, fd):
        """Wait for the entry's lock for at most ``lock_timeout`` seconds (the worst case of one fetch).

        A holder that outlives that bound (a hung process) is not waited for any longer: the caller
        goes on without the lock, uses what the holder may have stored, and else fetches on its own.
        """
        try:
            lock_with_deadline(fd, True, time.monotonic() + self.lock_timeout, 'a cache entry')
        except LockTimeout:
            pass
        except OSError as exc:
            raise CacheUnavailable('cannot lock the cache entry: %s' % exc.strerror)
