# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""One request budget per API key for every process of one user on one host, and the memory of a lock-out.

The vendor allows 150 requests per 10 s per account and then refuses the caller for 60 s.  Ansible
runs every module in a process of its own and every lookup in a forked worker, so a budget inside
one client bounds one task, not a play: 300 hosts with forks 40 would each bring their own.  So:

* the state of a key lives in the private per-user directory (see ``_private_dir``), in a 0600 file
  named by a keyed hash of (api_url, key): the send times reserved lately and the end of a lock-out;
* a request takes the file's ``flock`` (polled, for at most LOCK_WAIT_SECONDS), reads the state,
  reserves the earliest time that keeps any ``S`` seconds (plus SEND_MARGIN) at ``N`` requests,
  writes, unlocks, and only then sleeps until that time.  A turn further away than TURN_WAIT_MAX
  (the vendor's own lock-out), or than the call's time bound allows, is not reserved: the request
  fails at once, naming ``rate_limit`` and the time of the turn (``rate_limit: 1/3600`` must not
  make a second call sleep for an hour);
* a 429 whose body says the caller "has been timed out for N seconds" is written down, so that no
  process sends with the key before the end (no turn is reserved while it lasts); a process whose
  own time bound ends earlier fails at once with the end time instead of waiting or asking again;
* times this guard cannot have written (a lock-out further ahead than MAX_LOCKOUT_SECONDS, a turn
  further ahead than TURN_WAIT_MAX) are damage, dropped with one warning: a planted lock-out a day
  ahead must not refuse every call for a day;
* times are the wall clock (processes share no other).  When it went back since the last write,
  the stored times move back with it, so nobody waits for lost time; a jump forward makes them look
  old, which lets at most one more budget through;
* state that is damaged, a directory that cannot be used, or a lock held too long make the client
  keep a budget of its own (``RequestBudget``) with one warning: never a crash, never a hang.

Standard library only: modules running on the controller use it as much as the lookup.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import bisect
import collections
import datetime
import json
import math
import os
import re
import threading
import time

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityRequestError
from ansible_collections.stabilityai.platform.plugins.module_utils._locking import LockTimeout, lock_with_deadline
from ansible_collections.stabilityai.platform.plugins.module_utils._private_dir import (
    PrivateDirectoryUnavailable,
    default_cache_dir,
    keyed_name,
    load_secret,
    private_directory,
)
from ansible_collections.stabilityai.platform.plugins.module_utils._private_file import UnusableFile, open_private_file
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import (
    DEFAULT_RATE_LIMIT,
    TURN_WAIT_MAX,
    VENDOR_REQUESTS_PER_WINDOW,
    VENDOR_WINDOW_SECONDS,
)

RATE_LIMIT_HINT = 'the API allows %d requests per %d seconds; cache or spread the reads' % (VENDOR_REQUESTS_PER_WINDOW, VENDOR_WINDOW_SECONDS)
STATE_PREFIX = 'rate-'
LOCK_WAIT_SECONDS = 5.0
MAX_STATE_BYTES = 1024 * 1024
MAX_LOCKOUT_SECONDS = 3600.0
# Turns ``S`` seconds apart are kept this much further apart: between its turn and the API reading
# it, a request is delayed by a busy CPU, by a varying amount, and two requests can close up.
SEND_MARGIN = 0.25
_LOCKOUT = re.compile(r'timed out for (\d+(?:\.\d+)?) seconds?', re.IGNORECASE)


class StateUnusable(Exception):
    """The shared state cannot be trusted or written; the client falls back to a budget of its own."""


def lockout_seconds(body, retry_after=None):
    """How long a 429 answer says the key is refused, or None when it does not say so.

    The vendor's rate limiter writes "has been timed out for N seconds" and sends no Retry-After;
    when an answer has both, the header is the more precise statement and wins.
    """
    match = _LOCKOUT.search(body[:4096].decode('utf-8', 'replace'))
    if match is None:
        return None
    seconds = float(match.group(1)) if retry_after is None else retry_after
    return min(max(seconds, 0.0), MAX_LOCKOUT_SECONDS)


def utc_text(timestamp):
    """A wall-clock time as users read it in a message: UTC, ISO 8601, whole seconds rounded up."""
    return datetime.datetime.fromtimestamp(math.ceil(timestamp), datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


class RequestBudget(object):
    """At most ``limit`` requests in any ``window`` seconds, shared by the threads of one client.

    What a client keeps when the shared state cannot be used.  Each request takes a slot no
    earlier than ``window`` seconds after the one ``limit`` places before it, and waits for it.
    """

    def __init__(self, limit=DEFAULT_RATE_LIMIT[0], window=DEFAULT_RATE_LIMIT[1]):
        self.window = window
        self._slots = collections.deque(maxlen=limit)
        self._lock = threading.Lock()

    def wait(self, may_wait):
        """Wait for a turn; ``may_wait(seconds)`` raises when the turn is further away than the caller waits, and no turn is taken."""
        with self._lock:
            now = time.monotonic()
            slot = now
            if len(self._slots) == self._slots.maxlen:
                slot = max(now, self._slots[0] + self.window)
            may_wait(slot - now)
            self._slots.append(slot)
        if slot > now:
            time.sleep(slot - now)


def parse_state(data, now):
    """The state a file holds (empty: a fresh one) and what of it was dropped as damage; else StateUnusable.

    The times are moved back with the clock if it went back.  A lock-out or a turn further ahead
    than this guard ever writes is dropped, and named in the list of damage.
    """
    if not data.strip():
        return {'slots': [], 'lockout_until': 0.0, 'written': now}, []
    try:
        state = json.loads(data.decode('utf-8'))
        slots, lockout_until, written = state['slots'], state['lockout_until'], state['written']
        numbers = slots + [lockout_until, written]
        finite = set(map(type, numbers)) <= {int, float} and math.isfinite(sum(numbers))  # type(): no booleans
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, OverflowError):
        finite = False
    if not finite:
        raise StateUnusable('is damaged')
    shift = min(now - written, 0.0)  # the clock went back by that much since the last write
    if shift:
        slots = [value + shift for value in slots]
        lockout_until += shift
    damage = []
    if lockout_until > now + MAX_LOCKOUT_SECONDS:
        damage.append('a lock-out %.0f s ahead, more than %d s' % (lockout_until - now, MAX_LOCKOUT_SECONDS))
        lockout_until = 0.0
    near = sorted(slot for slot in slots if slot <= now + TURN_WAIT_MAX)
    if len(near) < len(slots):
        damage.append('%d turn%s more than %d s ahead' % (len(slots) - len(near), '' if len(slots) - len(near) == 1 else 's', TURN_WAIT_MAX))
    return {'slots': near, 'lockout_until': lockout_until, 'written': now}, damage


class RateGuard(object):
    """Every request of one client asks ``wait`` first; every 429 answer goes to ``record_lockout``.

    ``settings.rate_limit`` None turns the guard off: no budget, no lock-out memory.
    ``warnings`` is the client's list: the one warning of a fallback goes there.
    """

    def __init__(self, settings, warnings, directory=None):
        self.settings = settings
        self.rate_limit = settings.rate_limit
        self._warnings = warnings
        self._path = None
        self._fallback = None
        self._lockout_until = 0.0  # this process's own memory, used once the shared state is not
        self._damage_told = False
        self._thread_lock = threading.Lock()
        if self.rate_limit is None:
            return
        try:
            directory = private_directory(directory or default_cache_dir())
            self._path = os.path.join(directory, STATE_PREFIX + keyed_name(load_secret(directory), ['rate', settings.api_url, settings.api_key]))
            self._update(lambda state, now: None)  # any trouble shows now, with the client's other warnings
        except (PrivateDirectoryUnavailable, StateUnusable) as exc:
            self._give_up(exc)

    @property
    def shared(self):
        return self._path is not None

    def _give_up(self, reason):
        self._path = None
        self._fallback = RequestBudget(*self.rate_limit)
        self._warnings.append('requests with this API key are not coordinated with the other processes on this host (%s); '
                              'this task keeps to rate_limit %s on its own' % (reason, self._rate_text()))

    def _rate_text(self):
        return '%d/%g' % self.rate_limit

    def _update(self, change, write=True):
        """Run ``change(state, now)`` on the shared state under its lock, write the state back, return what ``change`` did.

        Threads of this process queue on a lock of their own first, so ``flock`` only ever waits for
        other processes.  The file is overwritten in place, padded with spaces (white space JSON
        allows) to its old length: truncating a file costs milliseconds on ext4, a write of a few
        kilobytes into the page cache microseconds.
        """
        path = self._path
        with self._thread_lock:
            try:
                fd = open_private_file(path, os.O_RDWR, ours=True)
            except UnusableFile as exc:
                raise StateUnusable('%s' % exc)
            try:
                try:
                    lock_with_deadline(fd, True, time.monotonic() + LOCK_WAIT_SECONDS, path)
                except LockTimeout as exc:
                    raise StateUnusable('%s for %g s' % (exc, LOCK_WAIT_SECONDS))
                now = time.time()
                data = os.read(fd, MAX_STATE_BYTES + 1)
                try:
                    state, damage = parse_state(data, now)
                except StateUnusable as exc:
                    raise StateUnusable('%s %s; remove it' % (path, exc))
                if damage and not self._damage_told:
                    self._damage_told = True
                    self._warnings.append('ignored what %s holds that this collection cannot have written: %s' % (path, '; '.join(damage)))
                result = change(state, now)
                if write:
                    written = json.dumps(state, separators=(',', ':')).encode('utf-8')
                    if len(written) > MAX_STATE_BYTES:
                        raise StateUnusable('%s would grow over %d bytes' % (path, MAX_STATE_BYTES))
                    os.pwrite(fd, written.ljust(len(data)), 0)
                return result
            except OSError as exc:
                raise StateUnusable('cannot use %s: %s' % (path, exc.strerror))
            finally:
                os.close(fd)  # closing the descriptor releases the lock

    def wait(self, deadline, what):
        """Wait until this request may go, a wait that must end by ``deadline`` (time.monotonic()); else refuse it at once.

        ``what`` names the request in the refusal.  While a lock-out lasts no turn is taken: the
        request sleeps until its end and then asks for a turn, counting from that end.  After a
        sleep for a turn the lock-out is read again: a 429 another process met meanwhile moves the
        request behind the new end.
        """
        if self.rate_limit is None:
            return
        slept_until = 0.0
        while self._path is not None:
            try:
                slot, turn = self._update(lambda state, now: self._reserve(state, max(now, slept_until), deadline, what))
                pause = slot - max(time.time(), slept_until)
                if turn and pause <= 0:
                    return
                if pause > 0:
                    time.sleep(pause)
                slept_until = slot
                if turn and self._update(lambda state, now: state['lockout_until'], write=False) <= slot:
                    return
            except StateUnusable as exc:
                self._give_up(exc)
        self._wait_alone(deadline, what)

    def _reserve(self, state, now, deadline, what):
        """(when this request may go, whether that is a turn it took): the end of a lock-out, or its turn of the budget."""
        lockout_end = max(state['lockout_until'], self._lockout_until)
        if lockout_end > now:
            self._refuse_beyond(lockout_end, now, deadline, what)
            return lockout_end, False
        limit, window = self.rate_limit
        slots = state['slots'][bisect.bisect_right(state['slots'], now - window - SEND_MARGIN):]
        slot = now
        if len(slots) >= limit:
            slot = max(now, slots[-limit] + window + SEND_MARGIN)
        self._refuse_turn(slot - now, slot, deadline, what)
        bisect.insort(slots, slot)
        state['slots'] = slots
        return slot, True

    def _refuse_beyond(self, lockout_end, now, deadline, what):
        """Refuse a request whose call cannot wait until the lock-out ends."""
        if lockout_end - now <= deadline - time.monotonic():
            return
        raise StabilityRequestError('%s was not sent: the API refuses this key until %s after a 429 answer that said so, later than '
                                    'this call may take (timeout %g s, retries %d); %s' % (
                                        what, utc_text(lockout_end), self.settings.timeout, self.settings.retries, RATE_LIMIT_HINT))

    def _refuse_turn(self, pause, turn, deadline, what):
        """Refuse a request whose turn (``pause`` seconds away, at the wall-clock time ``turn``) is further than a call waits.

        A call waits at most TURN_WAIT_MAX for a turn, and only within its own time bound: 300 hosts
        under the default budget still wait their turns, while ``rate_limit: 1/3600`` fails a second
        call at once instead of putting it to sleep for an hour.
        """
        if pause <= 0 or (pause <= TURN_WAIT_MAX and pause <= deadline - time.monotonic()):
            return
        if pause > TURN_WAIT_MAX:
            reason = 'more than %d s away, the longest a call waits for its turn' % TURN_WAIT_MAX
        else:
            reason = 'later than this call may take (timeout %g s, retries %d)' % (self.settings.timeout, self.settings.retries)
        raise StabilityRequestError('%s was not sent: its turn under rate_limit %s comes at %s, %s' % (
            what, self._rate_text(), utc_text(turn), reason))

    def _wait_alone(self, deadline, what):
        now = time.time()
        if self._lockout_until > now:
            self._refuse_beyond(self._lockout_until, now, deadline, what)
            time.sleep(self._lockout_until - now)
        self._fallback.wait(lambda pause: self._refuse_turn(pause, time.time() + pause, deadline, what))

    def record_lockout(self, body, retry_after=None):
        """Write down the end of a lock-out a 429 answer announced, for every process of the user."""
        if self.rate_limit is None:
            return
        seconds = lockout_seconds(body, retry_after)
        if seconds is None:
            return
        until = time.time() + seconds
        self._lockout_until = max(self._lockout_until, until)
        if self._path is not None:
            try:
                self._update(lambda state, now: state.update(lockout_until=max(state['lockout_until'], until)))
            except StateUnusable as exc:
                self._give_up(exc)
