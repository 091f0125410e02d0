# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""The one way the collection opens a file by its path: ``open_private_file``.

Every file the collection reads or writes (the ledger, the callback's JSON report, the GitHub
step summary, the files of the private state directory) may be a path that someone else chose
or planted.  A FIFO there would block ``open()`` until a writer or reader comes, possibly never; a
device (``/dev/full``, a terminal), a directory or a socket is not a file to keep data in; a
symbolic link may point anywhere.  So a path is opened without following a link and without
blocking, and the descriptor actually opened is checked with ``fstat``: only a regular file
is used, and anything else is refused with one line that says what is there.  Files are created
0600.  Standard library only: modules use it on the managed host too.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import os
import stat

# O_NOFOLLOW: a link is refused (ELOOP), not followed.  O_NONBLOCK: a FIFO opens at once (or fails
# with ENXIO when opened for writing without a reader) instead of waiting for the other end.
OPEN_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0)

_KINDS = (
    (stat.S_ISREG, 'a regular file'),
    (stat.S_ISLNK, 'a symbolic link (it is not followed)'),
    (stat.S_ISDIR, 'a directory'),
    (stat.S_ISFIFO, 'a FIFO (named pipe)'),
    (stat.S_ISSOCK, 'a socket'),
    (stat.S_ISCHR, 'a character device'),
    (stat.S_ISBLK, 'a block device'),
)


class UnusableFile(OSError):
    """A path that cannot be used as a file: ``str()`` is one line naming the path and why; ``errno`` says why to code."""

    def __init__(self, code, path, problem):
        super(UnusableFile, self).__init__(code, problem, path)

    def __str__(self):
        return '%s %s' % (self.filename, self.strerror)


def kind_of(mode):
    """What a file of ``mode`` is, in words (``a FIFO (named pipe)``)."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return 'of unknown type'


def check_ours(path, info, what):
    """Refuse ``path`` (its ``lstat``/``fstat`` in ``info``) unless it belongs to us and no one else may use it.

    ``what`` is appended to the refusal of a mode open to others, saying what to do instead.
    """
    if info.st_uid != os.geteuid():
        raise UnusableFile(errno.EPERM, path, 'belongs to another user')
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise UnusableFile(errno.EPERM, path, 'is open to other users (mode %04o)%s' % (stat.S_IMODE(info.st_mode), what))


def open_private_file(path, flags, create=True, ours=False):
    """A descriptor of the regular file at ``path``, opened with ``flags`` without following a link or blocking.

    ``create``: create the file 0600 if it is missing.  ``ours``: also refuse a file of another
    user or one that others may read or write (the files of the private state directory).  The
    descriptor is blocking again once it is known to be a regular file (where ``O_NONBLOCK`` has
    no effect anyway).  Every failure raises UnusableFile: ``errno.ENOENT`` when the file is missing
    and ``create`` is false.
    """
    try:
        fd = os.open(path, flags | OPEN_FLAGS | (os.O_CREAT if create else 0), 0o600)
    except OSError as exc:
        raise _open_failure(path, exc) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnusableFile(errno.EINVAL, path, 'is %s, not a regular file' % kind_of(info.st_mode))
        if ours:
            check_ours(path, info, '')
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_failure(path, exc):
    """The refusal of a failed ``os.open``: what is in the way when that is the cause (a link, a FIFO without a reader, a directory)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        return UnusableFile(exc.errno, path, 'is %s, not a regular file' % kind_of(mode))
    return UnusableFile(exc.errno, path, 'cannot be opened: %s' % (exc.strerror or exc))


def write_all(fd, data):
    """Write all of ``data`` (``os.write`` may write less than asked, on a pipe or a full disk)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if not written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]
