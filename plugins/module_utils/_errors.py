# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""The error types of the collection.

Every failure a user can meet is one of these, so modules and lookups turn any of them into the
same one-line message and the same ``status`` / ``error`` result keys.  They import nothing
beyond the standard library so that the lookup's cache path can use them without loading the
HTTP stack.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import re
import unicodedata

_WHITESPACE = re.compile(r'\s+')
_REDACTED = '********'
# What no message prints as it came: the character is shown as this instead.
PLACEHOLDER = '\ufffd'
# A run of this many characters of the key, or more, is an echo of the key.
ECHO_MIN = 8
# Decoding rounds: each undoes one layer of escapes (``&amp;#115;`` takes two).
DECODE_ROUNDS = 4

_JSON_ESCAPE = re.compile(r'\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})|\\u([0-9a-f]{4})|\\(/)', re.IGNORECASE)
_URL_ESCAPES = re.compile(r'(?:%[0-9a-f]{2})+', re.IGNORECASE)


_HIDDEN_CATEGORIES = ('Cc', 'Cf', 'Cs', 'Zl', 'Zp')


class _HiddenCharacters(dict):
    """``str.translate`` table for any control or invisible formatting character (Unicode categories
    Cc, Cf, Cs, Zl, Zp: C0, DEL, C1 with ESC, bidirectional overrides and isolates, zero-width
    characters, line and paragraph separators): PLACEHOLDER, or a space for white space when
    ``spaces`` is true.  Other characters stay.

    Filled on demand from the running Python's Unicode database, one entry per character met.
    """

    def __init__(self, spaces):
        dict.__init__(self)
        self.spaces = spaces

    def __missing__(self, codepoint):
        char = chr(codepoint)
        value = codepoint
        if self.spaces and char.isspace():
            value = ' '
        elif unicodedata.category(char) in _HIDDEN_CATEGORIES:
            value = PLACEHOLDER
        self[codepoint] = value
        return value


_TERMINAL = _HiddenCharacters(spaces=True)
_DATA = _HiddenCharacters(spaces=False)


def terminal_text(text):
    """``text`` safe to print: no character that moves the cursor, colours, hides or reorders text.

    White space becomes a space, so lengths and columns stay; ``one_line`` also folds spacing.
    """
    return ('%s' % (text,)).translate(_TERMINAL)


def one_line(text, limit=400):
    """Fold any text (an API message, an exception, a name) into one bounded, printable line (see ``terminal_text``)."""
    text = _WHITESPACE.sub(' ', terminal_text(text)).strip()
    if len(text) > limit:
        text = text[:limit - 3].rstrip() + '...'
    return text


def secret_forms(secret):
    """``secret`` as a server might echo it: plain, and base64 of it and of ``Bearer <secret>`` (standard and URL-safe, padded or not)."""
    forms = {secret}
    for raw in (secret, 'Bearer ' + secret):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(raw.encode()).decode()  # UTF-8 both ways
            forms.update((encoded, encoded.rstrip('=')))
    return sorted(forms, key=len, reverse=True)


def _json_unescape(match):
    high, low, single, slash = match.groups()
    if slash:
        return slash
    if high:
        return chr(0x10000 + ((int(high, 16) - 0xD800) << 10) + int(low, 16) - 0xDC00)
    codepoint = int(single, 16)
    return match.group(0) if 0xD800 <= codepoint <= 0xDFFF else chr(codepoint)  # a lone half of a pair stays written


def _url_unescape(match):
    written = match.group(0)
    raw = bytes.fromhex(written.replace('%', ''))
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:  # bytes that are not UTF-8 stay written, ASCII ones are decoded
        return ''.join(chr(byte) if byte < 0x80 else written[3 * index:3 * index + 3] for index, byte in enumerate(raw))


def decode_escapes(text):
    """``text`` with JSON ``\\u`` escapes, HTML character references and URL-encoding undone, layer by layer."""
    for dummy in range(DECODE_ROUNDS):
        decoded = text
        if '\\' in decoded:
            decoded = _JSON_ESCAPE.sub(_json_unescape, decoded)
        if '&' in decoded:  # html.unescape leaves text without one as it is; html.entities is too big to import for nothing
            import html  # pylint: disable=import-outside-toplevel
            decoded = html.unescape(decoded)
        if '%' in decoded:
            decoded = _URL_ESCAPES.sub(_url_unescape, decoded)
        if decoded == text:
            break
        text = decoded
    return text


def _fold_case(text):
    """Lower case, one character for one, so that positions in the result are positions in ``text``."""
    folded = text.lower()
    if len(folded) == len(text):
        return folded
    return ''.join(char if len(char.lower()) != 1 else char.lower() for char in text)


class _Echoes(object):
    """What ``redact`` looks for, worked out once per key: its base64 forms and its ECHO_MIN-character pieces.

    Every run of ECHO_MIN or more consecutive characters of the key is covered by those pieces,
    so a set of them is looked up at each position; only runs of characters the key holds are
    scanned at all.  A key shorter than ECHO_MIN is looked for whole.
    """

    def __init__(self, secret):
        self.secret = secret
        self.forms = secret_forms(secret)
        self.size = min(ECHO_MIN, len(secret))
        key = _fold_case(secret)
        self.pieces = frozenset(key[start:start + self.size] for start in range(len(key) - self.size + 1))
        self.runs = re.compile('[%s]{%d,}' % (re.escape(''.join(sorted(set(key)))), self.size))
        # A key that holds escape-like text (%41, &amp;) no longer reads as itself once decoded.
        self.escapable = decode_escapes(secret) != secret

    def replace(self, text):
        """``text`` with the key's base64 forms and every stretch made of pieces of the key, in any letter case, replaced."""
        for form in self.forms:
            text = text.replace(form, _REDACTED)
        folded = _fold_case(text)
        size, pieces, spans = self.size, self.pieces, []
        for run in self.runs.finditer(folded):
            for start in range(run.start(), run.end() - size + 1):
                if folded[start:start + size] in pieces:
                    if spans and spans[-1][1] >= start:
                        spans[-1][1] = start + size
                    else:
                        spans.append([start, start + size])
        parts, last = [], 0
        for start, end in spans:
            parts.extend((text[last:start], _REDACTED))
            last = end
        parts.append(text[last:])
        return ''.join(parts)


_LAST_ECHOES = [None]  # the last key's _Echoes: a client redacts many strings with one key


def _echoes(secret):
    echoes = _LAST_ECHOES[0]
    if echoes is None or echoes.secret != secret:
        echoes = _LAST_ECHOES[0] = _Echoes(secret)
    return echoes


def redact(text, secret):
    """``text`` without any echo of ``secret``, however a server wrote it.

    Escapes are decoded (``decode_escapes``: JSON ``\\u``, HTML character references, URL
    encoding); the base64 forms of the key (``secret_forms``) and every run of ECHO_MIN or more
    consecutive characters of the key, in any letter case, are replaced in the decoded text (and,
    for a key holding escape-like text such as ``%41``, in the text as sent too).  When something was replaced the decoded, redacted text comes back (an escape
    left in place could hide a piece of the key); otherwise ``text`` as it was, so data without an
    echo (a URL, a name) is unchanged.

    Call it before any cut: a cut first would leave a fragment of the key that no longer matches.
    """
    if not secret or not text:
        return text
    echoes = _echoes(secret)
    as_sent = echoes.replace(text) if echoes.escapable else text
    decoded = decode_escapes(as_sent)
    redacted = echoes.replace(decoded)
    if as_sent == text and redacted == decoded:
        return text
    return redacted


def server_data(value, secret):
    """Decoded JSON from a server as the collection hands it on: every string, keys included, redacted and terminal-safe.

    Results, events and reports keep the server's data, but Ansible prints results as they are
    (``-v``, ``debug``) and JSON leaves C1, bidirectional and zero-width characters raw: each
    string is redacted and its control and invisible characters (line breaks and tabs too: an id
    with one must stay an id no header can carry) become PLACEHOLDER, character for character.
    """
    if isinstance(value, str):
        return redact(value, secret).translate(_DATA)
    if isinstance(value, dict):
        return dict((server_data(key, secret), server_data(item, secret)) for key, item in value.items())
    if isinstance(value, list):
        return [server_data(item, secret) for item in value]
    return value


class StabilityError(Exception):
    """Base of all collection errors; ``msg`` is the single line shown to the user."""

    def __init__(self, msg):
        super(StabilityError, self).__init__(msg)
        self.msg = msg

    def to_result(self):
        """The keyword arguments for ``fail_json`` (``msg`` plus what the API told us)."""
        return {'msg': self.msg}


class StabilityOptionError(StabilityError):
    """An option has a value the collection refuses; raised before any request is sent."""

    def __init__(self, option, problem):
        super(StabilityOptionError, self).__init__('%s %s' % (option, problem))
        self.option = option
        self.problem = problem

    def to_result(self):
        """``msg`` plus ``invalid_option``, so a playbook tells which option was refused without parsing the message."""
        return {'msg': self.msg, 'invalid_option': self.option}


class StabilityRequestError(StabilityError):
    """A request to the API did not give a usable answer.

    ``status`` is the HTTP status (None when no answer came back) and ``error`` the API's error
    body reduced to ``id``, ``name`` and ``message`` (None when the body was not an API error).
    """

    def __init__(self, msg, status=None, error=None):
        super(StabilityRequestError, self).__init__(msg)
        self.status = status
        self.error = error

    def to_result(self):
        result = {'msg': self.msg}
        if self.status is not None:
            result['status'] = self.status
        if self.error is not None:
            result['error'] = self.error
        return result


class StabilityAPIError(StabilityRequestError):
    """The API answered with an HTTP error status (after any retries)."""


class StabilityConnectionError(StabilityRequestError):
    """No HTTP answer: refused, reset, timed out or a TLS failure (after any retries)."""


class StabilityResponseError(StabilityRequestError):
    """The API answered 200 with a body that breaks the contract (not JSON, fields missing, too big)."""
