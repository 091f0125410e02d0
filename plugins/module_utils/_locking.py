# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""The one way the collection takes a file lock: ``flock`` with a deadline.

A blocking ``flock`` waits as long as the holder likes, and a holder can be a hung process or a
file someone else keeps locked on purpose.  Every lock the collection takes (the rate guard's
state, the lookup's cache entries, the ledger) is polled without blocking until a deadline, so a
call never waits past the bound it documents.  Standard library only: modules use it too.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import time

FIRST_PAUSE = 0.0005
LONGEST_PAUSE = 0.005


class LockTimeout(Exception):
    """The lock on ``what`` was still held by someone else at the deadline."""

    def __init__(self, what):
        super(LockTimeout, self).__init__('%s stayed locked by another process' % what)
        self.what = what


def lock_with_deadline(fd, exclusive, deadline, what):
    """Take ``flock`` on ``fd`` (exclusive or shared), polling until ``deadline``, a ``time.monotonic()`` value.

    Tries at least once, however early the deadline; pauses grow from FIRST_PAUSE to LONGEST_PAUSE,
    so a lock held a moment costs a moment and a lock held long costs few wake-ups.  Raises
    LockTimeout naming ``what`` at the deadline; any other failure (a file system without locks)
    is the OSError itself.  Closing ``fd`` releases the lock.
    """
    operation = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    pause = FIRST_PAUSE
    while True:
        try:
            fcntl.flock(fd, operation)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        left = deadline - time.monotonic()
        if left <= 0:
            raise LockTimeout(what)
        time.sleep(min(pause, left))
        pause = min(pause * 2, LONGEST_PAUSE)
