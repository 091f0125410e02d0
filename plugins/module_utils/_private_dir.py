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

from ansible_collections.stabilityai.platform.plugins.module_utils._private_file import UnusableFile, check_ours, kind_of, open_private_file

SECRET_FILE = 'secret'
SECRET_BYTES = 32
CACHE_DIR_ENV = 'STABILITY_CACHE_DIR'


class PrivateDirectoryUnavailable(Exception):
    """The directory (or a file in it) cannot be used safely; the caller works without it."""


def default_cache_dir():
    """``$STABILITY_CACHE_DIR``, else ``$XDG_CACHE_HOME/stabilityai.platform``, else ``~/.cache/stabilityai.platform``.

    Modules and lookups see the same environment, so the rate guard's state lands in one
    directory for both and the budget stays one; the lookup's ``cache_dir`` given any other way
    (keyword, variable, ansible.cfg) moves only its balance cache.  Empty means unset.
    """
    chosen = os.environ.get(CACHE_DIR_ENV, '')
    if chosen.strip():
        return os.path.abspath(os.path.expanduser(chosen))
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'stabilityai.platform')


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
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise PrivateDirectoryUnavailable('%s is %s, not a directory' % (path, kind_of(info.st_mode)))
    try:
        check_ours(path, info, '; it is left as it is: use a directory only you can use (mode 0700), or one that does not exist yet')
    except UnusableFile as exc:
        raise PrivateDirectoryUnavailable('%s' % exc)
    return path


def load_secret(directory):
    """The directory's random secret, created on first use; the same for every process."""
    path = os.path.join(directory, SECRET_FILE)
    try:
        fd = open_private_file(path, os.O_WRONLY | os.O_EXCL, ours=True)
    except UnusableFile as exc:
        if exc.errno != errno.EEXIST:
            raise PrivateDirectoryUnavailable('%s' % exc)
    else:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(os.urandom(SECRET_BYTES))
    for dummy in range(50):
        try:
            fd = open_private_file(path, os.O_RDONLY, create=False, ours=True)
            try:
                secret = os.read(fd, SECRET_BYTES + 1)  # one byte more tells a longer file from ours
            finally:
                os.close(fd)
        except UnusableFile as exc:
            raise PrivateDirectoryUnavailable('%s' % exc)
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
