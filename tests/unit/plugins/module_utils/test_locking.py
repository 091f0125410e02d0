# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one lock-with-deadline helper: it takes a free lock at once, polls a held one, and gives up at the deadline.

Most tests hold the lock through a second descriptor of the same file (``flock`` locks belong to
the open file description, so two descriptors conflict as two processes would) and run on a fake
clock whose ``sleep`` advances it; one test waits for real.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import os
import time
import types

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils import _locking
from ansible_collections.stabilityai.platform.plugins.module_utils._locking import LockTimeout, lock_with_deadline


@pytest.fixture
def clock(fake_clock):
    return fake_clock(_locking)


@pytest.fixture
def descriptors(tmp_path):
    """Two descriptors of one file: (holder, caller); closed after the test."""
    path = str(tmp_path / 'state')
    opened = [os.open(path, os.O_RDWR | os.O_CREAT, 0o600) for dummy in range(2)]
    yield opened
    for fd in opened:
        os.close(fd)


def test_a_free_lock_is_taken_without_a_pause(descriptors, clock):
    holder, caller = descriptors
    lock_with_deadline(caller, True, clock.mono + 5.0, 'the state')
    assert clock.sleeps == []
    with pytest.raises(OSError):  # taken, and exclusive
        fcntl.flock(holder, fcntl.LOCK_SH | fcntl.LOCK_NB)


def test_a_free_lock_is_taken_even_when_the_deadline_has_passed(descriptors, clock):
    lock_with_deadline(descriptors[1], True, clock.mono - 1.0, 'the state')
    assert clock.sleeps == []


def test_a_shared_lock_admits_other_readers_and_keeps_writers_out(descriptors, clock):
    holder, caller = descriptors
    fcntl.flock(holder, fcntl.LOCK_SH)
    lock_with_deadline(caller, False, clock.mono + 5.0, 'the ledger')
    assert clock.sleeps == []
    fcntl.flock(holder, fcntl.LOCK_UN)
    with pytest.raises(OSError):
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_a_held_lock_is_polled_with_growing_pauses_until_it_is_free(descriptors, clock):
    holder, caller = descriptors
    fcntl.flock(holder, fcntl.LOCK_EX)

    def release_after_six_polls():
        if len(clock.sleeps) == 6:
            fcntl.flock(holder, fcntl.LOCK_UN)
    clock.on_sleep = release_after_six_polls
    lock_with_deadline(caller, True, clock.mono + 5.0, 'the state')
    assert clock.sleeps == [0.0005, 0.001, 0.002, 0.004, 0.005, 0.005]


def test_a_lock_held_past_the_deadline_raises_naming_what_and_never_sleeps_past_it(descriptors, clock):
    holder, caller = descriptors
    fcntl.flock(holder, fcntl.LOCK_EX)
    deadline = clock.mono + 0.012
    with pytest.raises(LockTimeout) as caught:
        lock_with_deadline(caller, True, deadline, '/x/rate-abc')
    assert str(caught.value) == '/x/rate-abc stayed locked by another process'
    assert caught.value.what == '/x/rate-abc'
    assert clock.mono == pytest.approx(deadline)
    assert clock.sleeps[:4] == [0.0005, 0.001, 0.002, 0.004] and clock.sleeps[-1] == pytest.approx(0.0045)


def test_a_held_lock_at_exactly_the_deadline_raises_without_a_pause(descriptors, clock):
    holder, caller = descriptors
    fcntl.flock(holder, fcntl.LOCK_EX)
    with pytest.raises(LockTimeout):
        lock_with_deadline(caller, False, clock.mono, 'the ledger')
    assert clock.sleeps == []


@pytest.mark.parametrize('busy', [errno.EAGAIN, errno.EACCES])
def test_both_spellings_of_busy_are_waited_on(clock, monkeypatch, busy):
    answers = [OSError(busy, os.strerror(busy)), None]
    calls = []

    def flock(fd, operation):
        calls.append(operation)
        answer = answers.pop(0)
        if answer is not None:
            raise answer
    monkeypatch.setattr(_locking, 'fcntl', types.SimpleNamespace(flock=flock, LOCK_EX=fcntl.LOCK_EX, LOCK_SH=fcntl.LOCK_SH,
                                                                 LOCK_NB=fcntl.LOCK_NB))
    lock_with_deadline(7, True, clock.mono + 1.0, 'the state')
    assert calls == [fcntl.LOCK_EX | fcntl.LOCK_NB] * 2 and clock.sleeps == [0.0005]


def test_another_failure_is_the_os_error_itself_at_once(clock, monkeypatch):
    def flock(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))
    monkeypatch.setattr(_locking, 'fcntl', types.SimpleNamespace(flock=flock, LOCK_EX=fcntl.LOCK_EX, LOCK_SH=fcntl.LOCK_SH,
                                                                 LOCK_NB=fcntl.LOCK_NB))
    with pytest.raises(OSError) as caught:
        lock_with_deadline(7, False, clock.mono + 1.0, 'the state')
    assert caught.value.errno == errno.ENOLCK and clock.sleeps == []


def test_a_real_wait_ends_at_the_deadline(descriptors):
    """On the real clock: a held lock costs the caller its deadline, not more."""
    holder, caller = descriptors
    fcntl.flock(holder, fcntl.LOCK_EX)
    started = time.monotonic()
    with pytest.raises(LockTimeout):
        lock_with_deadline(caller, True, started + 0.2, 'the state')
    assert 0.2 <= time.monotonic() - started < 2
