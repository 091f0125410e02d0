# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test helper of the tls target: a throw-away CA, and a server certificate for 127.0.0.1 it signed.

Usage: python make_ca.py DIR. Writes DIR/ca.pem (the CA to trust), DIR/server.pem (the server's
certificate chain and private key) and DIR/other-ca.pem (a second CA that signed nothing here).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

import trustme


def main(directory):
    authority = trustme.CA()
    authority.cert_pem.write_to_path(os.path.join(directory, 'ca.pem'))
    server = authority.issue_cert(u'127.0.0.1', u'localhost')
    server.private_key_and_cert_chain_pem.write_to_path(os.path.join(directory, 'server.pem'))
    trustme.CA().cert_pem.write_to_path(os.path.join(directory, 'other-ca.pem'))


if __name__ == '__main__':
    main(sys.argv[1])
