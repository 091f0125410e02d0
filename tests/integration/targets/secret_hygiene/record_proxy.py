# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test helper of the secret_hygiene target: a proxy that records what reaches it and forwards nothing.

Usage: python record_proxy.py DIR. Listens on 127.0.0.1 (a free port, written to DIR/port), appends
each request it gets, raw, to DIR/requests (so the scan can look for the key in it), answers
502 and exits by itself after 300 seconds. Its pid is in DIR/pid.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import socket
import sys
import time

LIFETIME = 300.0


def main(directory):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(16)
    listener.settimeout(1.0)
    with open(os.path.join(directory, 'pid'), 'w') as handle:
        handle.write('%d' % os.getpid())
    with open(os.path.join(directory, 'port'), 'w') as handle:
        handle.write('%d' % listener.getsockname()[1])
    stop = time.monotonic() + LIFETIME
    while time.monotonic() < stop:
        try:
            connection, dummy = listener.accept()
        except socket.timeout:
            continue
        with connection:
            connection.settimeout(5)
            try:
                request = connection.recv(65536)
                with open(os.path.join(directory, 'requests'), 'ab') as handle:
                    handle.write(request + b'\n')
                connection.sendall(b'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
            except OSError:
                pass


if __name__ == '__main__':
    if os.fork() == 0:
        os.setsid()
        main(sys.argv[1])
        os._exit(0)  # pylint: disable=protected-access
