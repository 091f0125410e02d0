# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Redaction of the API key and the one-line sanitiser (the client's use of them is tested in test_client.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import html
import json
import sys
import unicodedata
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.stabilityai.platform.plugins.module_utils._errors import (
    PLACEHOLDER,
    decode_escapes,
    one_line,
    redact,
    server_data,
    terminal_text,
)

KEY = 'sk-unit-Q7vLm2XpR9tZc4WbN8yK'


def pieces(key, length=8):
    """Every run of ``length`` characters of ``key``, lower-cased."""
    key = key.lower()
    return set(key[start:start + length] for start in range(len(key) - length + 1))


def leaked(text, key=KEY, length=8):
    """The runs of ``length`` key characters found in ``text``, in any case, as written or decoded."""
    return sorted(piece for piece in pieces(key, length) if piece in text.lower() or piece in decode_escapes(text).lower())


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


# -- partial echoes: the forms several vendors and a red team used --------------------------------

@pytest.mark.parametrize('text, expected', [
    pytest.param('Incorrect API key provided: %s...***' % KEY[:20], 'Incorrect API key provided: ********...***', id='prefix of 20'),
    pytest.param('{"errors": ["invalid key %s"]}' % KEY.upper(), '{"errors": ["invalid key ********"]}', id='upper-cased in errors'),
    pytest.param('key %s' % KEY.swapcase(), 'key ********', id='case swapped'),
    pytest.param('<title>bad key %s&#%d;%s</title>' % (KEY[:5], ord(KEY[5]), KEY[6:]), '<title>bad key ********</title>', id='HTML decimal reference'),
    pytest.param('<title>%s&#x%x;%s</title>' % (KEY[:9], ord(KEY[9]), KEY[10:]), '<title>********</title>', id='HTML hex reference'),
    pytest.param('%s&amp;#%d;%s' % (KEY[:3], ord(KEY[3]), KEY[4:]), '********', id='HTML reference in a named one'),
    pytest.param('%s\\u%04x%s' % (KEY[:12], ord(KEY[12]), KEY[13:]), '********', id='JSON escape'),
    pytest.param('%s%%%02X%s' % (KEY[:2], ord(KEY[2]), KEY[3:]), '********', id='URL encoding'),
    pytest.param(quote(quote(KEY, safe='')), '********', id='URL encoding twice'),
    pytest.param('tail %s.' % KEY[-8:], 'tail ********.', id='last 8'),
])
def test_a_partial_or_escaped_echo_is_redacted_and_the_text_decoded(text, expected):
    assert redact(text, KEY) == expected


def test_a_key_split_between_the_error_id_and_message_leaves_no_run_of_8():
    body = {'id': KEY[:13], 'name': 'unauthorized', 'message': 'key %s rejected' % KEY[13:]}
    assert server_data(body, KEY) == {'id': '********', 'name': 'unauthorized', 'message': 'key ******** rejected'}


def test_seven_characters_of_the_key_are_not_an_echo_eight_are():
    assert redact('id %s-x' % KEY[3:10], KEY) == 'id %s-x' % KEY[3:10]
    assert redact('id %s-x' % KEY[3:11], KEY) == 'id ********-x'


def test_a_run_longer_than_8_is_replaced_whole_and_the_rest_kept():
    assert redact('a%sb%sc' % (KEY[:10], KEY[15:25]), KEY) == 'a********b********c'


def test_a_key_shorter_than_8_is_redacted_whole_in_any_case():
    assert redact('token ABC1 and abc', 'abc1') == 'token ******** and abc'


def test_a_key_holding_escape_like_characters_is_found_as_written():
    key = 'sk-%41%42&amp;-\\u0041x'
    assert redact('echo %s!' % key, key) == 'echo ********!'


def test_text_without_an_echo_comes_back_as_it_was_escapes_included():
    text = 'error id 00000000-0000 see https://example.com/a%20b?x=1&amp;y=2 \\u00e9'
    assert redact(text, KEY) is text


def test_server_data_is_made_terminal_safe_character_for_character():
    assert server_data({'name': 'A\x1b[31m\u202eB\r\n C'}, KEY) == {'name': 'A%s[31m%sB%s%s C' % ((PLACEHOLDER,) * 4)}


def test_data_keeps_its_shape_and_numbers():
    payload = {'credits': 1.5, 'organizations': [{'id': 'org-1', 'name': 'team %s' % KEY[4:16], 'is_default': True}],
               KEY: None, 'picture': 'https://example.com/a%20b.png'}
    assert server_data(payload, KEY) == {'credits': 1.5, 'organizations': [{'id': 'org-1', 'name': 'team ********', 'is_default': True}],
                                         '********': None, 'picture': 'https://example.com/a%20b.png'}


def test_no_secret_means_nothing_to_redact():
    assert redact('a &#115; b', None) == 'a &#115; b'
    assert redact('', KEY) == ''


def test_decoding_undoes_each_layer_of_escapes():
    assert decode_escapes('\\u0026#x25;73 %26amp%3B &lt;b&gt; \\ud83d\\ude00 \\/') == 's & <b> \U0001f600 /'


def test_decoding_leaves_what_does_not_decode_as_written():
    assert decode_escapes('\\ud800 lone %ff%fe 100% \\uzzzz &nosuch;') == '\\ud800 lone %ff%fe 100% \\uzzzz &nosuch;'


def test_a_megabyte_of_key_characters_is_redacted():
    """The worst case for the scan: every position starts a piece; every piece matches."""
    text = (KEY.upper() + ' ') * (1024 * 1024 // (len(KEY) + 1))
    assert redact(text, KEY) == '******** ' * (1024 * 1024 // (len(KEY) + 1))


# -- the property: any run of 8 or more key characters, any case, any escaping, never survives ---

def _escaped(char, how):
    if how == 'json':
        return '\\u%04x' % ord(char)
    if how == 'decimal':
        return '&#%d;' % ord(char)
    if how == 'hex':
        return '&#x%X;' % ord(char)
    if how == 'named':
        return html.escape(char, quote=True) if char in '&<>"\'' else '&#%d;' % ord(char)
    if how == 'url':
        return '%%%02x' % ord(char)
    return char


@st.composite
def echoes(draw):
    # Printable ASCII, as the settings require; without '*', the character of the placeholder itself.
    key = draw(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e, exclude_characters='*'), min_size=8, max_size=64))
    start = draw(st.integers(0, len(key) - 8))
    end = draw(st.integers(start + 8, len(key)))
    run = ''.join(_escaped(char.upper() if upper else char.lower(), how) for char, upper, how in zip(
        key[start:end],
        draw(st.lists(st.booleans(), min_size=end - start, max_size=end - start)),
        draw(st.lists(st.sampled_from(['plain', 'json', 'decimal', 'hex', 'named', 'url']), min_size=end - start, max_size=end - start))))
    return key, draw(st.text(max_size=40)) + run + draw(st.text(max_size=40))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(echoes())
def test_no_run_of_8_key_characters_survives_in_any_case_or_escaping(echo):
    key, text = echo
    assert leaked(redact(text, key), key) == []


# -- one line, nothing for a terminal to obey -----------------------------------------------------

def test_a_forged_line_and_terminal_codes_become_one_visible_line():
    name = 'A\r# Injected heading\nok: [localhost] => spoof\x1b[31m\u202eevil\u2066x\u200by\x7fz\x9b1m\u2028\u2029end'
    assert one_line(name) == 'A # Injected heading ok: [localhost] => spoof%s[31m%sevil%sx%sy%sz%s1m end' % ((PLACEHOLDER,) * 6)


@pytest.mark.parametrize('char', [chr(code) for code in list(range(0x20)) + list(range(0x7f, 0xa0))] + [
    '\u061c', '\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\u2028', '\u2029', '\u202a', '\u202b', '\u202c', '\u202d',
    '\u202e', '\u2060', '\u2066', '\u2067', '\u2068', '\u2069', '\ufeff'])
def test_each_control_or_invisible_formatting_character_is_replaced(char):
    cleaned = one_line('a%sb' % char)
    assert cleaned in ('a b', 'a%sb' % PLACEHOLDER)
    assert terminal_text('a%sb' % char) in ('a b', 'a%sb' % PLACEHOLDER)


def test_every_character_the_unicode_database_calls_control_or_format_is_replaced():
    """Checked against the running Python's own Unicode database, so new format characters are covered too."""
    hidden = [chr(code) for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code)) in ('Cc', 'Cf', 'Cs', 'Zl', 'Zp')]
    cleaned = terminal_text(''.join(hidden))
    assert len(cleaned) == len(hidden)
    assert set(cleaned) <= {' ', PLACEHOLDER}


def test_terminal_text_keeps_spacing_and_other_text():
    assert terminal_text('a  b\tc é 日本 😀') == 'a  b c é 日本 😀'


def test_one_line_is_json_safe_for_any_text():
    assert json.loads(json.dumps(one_line('\ud800x'))) == PLACEHOLDER + 'x'
