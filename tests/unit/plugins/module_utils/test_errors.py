# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Redaction of the API key (the client's use of it is tested in test_client.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import redact


def test_a_longer_form_is_replaced_before_a_key_found_inside_it():
    """The key ``Vh`` is found inside the base64 of its own header, ``QmVhcmVyIFZo``: replacing the
    short form first would leave the rest of the header's base64 readable."""
    header = base64.b64encode(b'Bearer Vh').decode('ascii')
    assert header == 'QmVhcmVyIFZo' and 'Vh' in header
    assert redact('sent %s back' % header, 'Vh') == 'sent ******** back'


def test_base64_of_the_key_is_redacted_with_or_without_its_padding():
    key = 'sk-unit-key-1'  # 13 bytes: its base64 ends in ==
    encoded = base64.b64encode(key.encode('ascii')).decode('ascii')
    assert encoded.endswith('==')
    assert redact('a %s b %s c' % (encoded, encoded.rstrip('=')), key) == 'a ******** b ******** c'
