# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""The private per-user directory the collection keeps state in on the controller.

The lookup's balance cache and the shared request budget both live there, so they share one
definition of where it is, how it is checked and how its secret (the HMAC key that names files
after an API key without storing it) is made.  Standard library only: modules use it too.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import hashlib
import hmac
import json
import os
import stat
import time

SECRET_FILE = 'secret'
SECRET_BYTES = 32


class PrivateDirectoryUnavailable(Exception):
    """The directory (or a file in it) cannot be used safely; the caller works without it."""


def default_cache_dir():
    """``$XDG_CACHE_HOME/stabilityai.platform``, or ``~/.cache/stabilityai.platform``."""
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'stabilityai.platform')


# O_NONBLOCK: opening a FIFO someone planted must not hang the caller (fstat then refuses it).
OPEN_FLAGS = getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0) | getattr(os, 'O_NONBLOCK', 0)


_IS_KIND = {'directory': stat.S_ISDIR, 'regular file': stat.S_ISREG}


def check_private(path, info, kind):
    """Refuse ``path`` (its ``lstat``/``fstat`` in ``info``) unless it is a ``kind`` of ours that only we can use.

    ``kind``: ``'directory'`` or ``'regular file'``.
    """
    if not _IS_KIND[kind](info.st_mode):
        raise PrivateDirectoryUnavailable('%s is not a %s' % (path, kind))
    if info.st_uid != os.geteuid():
        raise PrivateDirectoryUnavailable('%s belongs to another user' % path)
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise PrivateDirectoryUnavailable(
            '%s is open to other users (mode %04o); it is left as it is: use a directory only you can use (mode 0700), '
            'or one that does not exist yet' % (path, stat.S_IMODE(info.st_mode)))


def private_directory(path):
    """Create ``path`` 0700 if it does not exist; use an existing one only if it is ours and private.

    An existing directory is never changed: a shared one (``/tmp``, a team folder) pointed at by
    mistake must keep its permissions, and what others may have planted in it is not trusted.
    """
    try:
        os.makedirs(path, 0o700)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise PrivateDirectoryUnavailable('cannot create the directory %s: %s' % (path, exc.strerror))
    check_private(path, os.lstat(path), 'directory')
    return path


def open_private(path, flags, create=True):
    """Open a file of the directory without following a link or blocking, and check that it is ours, private and regular.

    ``create``: create it 0600 if missing.  Anything else found in its place raises PrivateDirectoryUnavailable.
    """
    fd = os.open(path, flags | OPEN_FLAGS | (os.O_CREAT if create else 0), 0o600)
    try:
        check_private(path, os.fstat(fd), 'regular file')
    except PrivateDirectoryUnavailable:
        os.close(fd)
        raise
    return fd


def load_secret(directory):
    """The directory's random secret, created on first use; the same for every process."""
    path = os.path.join(directory, SECRET_FILE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | OPEN_FLAGS, 0o600)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise PrivateDirectoryUnavailable('cannot create %s: %s' % (path, exc.strerror))
    else:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(os.urandom(SECRET_BYTES))
    for dummy in range(50):
        try:
            fd = open_private(path, os.O_RDONLY, create=False)
            try:
                secret = os.read(fd, SECRET_BYTES + 1)  # one byte more tells a longer file from ours
            finally:
                os.close(fd)
        except OSError as exc:
            raise PrivateDirectoryUnavailable('cannot read %s: %s' % (path, exc.strerror))
        if len(secret) == SECRET_BYTES:
            return secret
        time.sleep(0.01)  # another process created it a moment ago and is still writing
    raise PrivateDirectoryUnavailable('%s is damaged; remove it' % path)


def keyed_name(secret, identity):
    """A file name for ``identity`` (a list of strings, the key among them) that reveals none of it."""
    text = json.dumps(identity, separators=(',', ':')).encode()  # UTF-8
    return hmac.new(secret, text, hashlib.sha256).hexdigest()
