# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Helper of the hostile_text target: a fixture whose names attack Markdown and terminals, and the checks.

    hostile.py fixture DEFAULT_FIXTURE DIR    DIR/fixture.json (the default plus user-hostile) and DIR/key
    hostile.py fault URL                      from now on, balances of org-hostile-tty fail with a 401 whose
                                              message is a Markdown link and partial echoes of the key
    hostile.py summary FILE                   the step summary, rendered by cmark-gfm, holds no markup from a name
    hostile.py terminal FILE                  the playbook's output holds no control character and no forged line
    hostile.py events URL                     the event source's events (faults cleared first, then the 401 again):
                                              data kept, every text free of control characters, message one line
    hostile.py secrets FILE...                no 8 characters of the key in a row, in any case, in any FILE

The key is read from STABILITY_API_KEY, never from the command line (Ansible prints a command's argv).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import asyncio
import importlib.util
import json
import os
import re
import secrets
import sys
from html import unescape

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'setup_simulator', 'files'))
from checks import check, control, read, run, secrets_in  # noqa: E402  (setup_simulator/files/checks.py: what the targets' checks share)

MARKDOWN_NAME = ('A\r# Injected heading\r![px](https://evil.example/p.png) [Top up here](https://evil.example/phish) '
                 'https://evil.example/x www.evil.example root@evil.example @octocat <b>bold</b> *em* | extra | column')
TERMINAL_NAME = '\nok: [localhost] => spoof\x1b[31m\u202eevil\u2066\u200b\x9b2J\x7f\u2028end'
NAMES = {'org-hostile-md': MARKDOWN_NAME, 'org-hostile-tty': TERMINAL_NAME}
PHISH = '[Top up here](https://evil.example/phish)'
HIDDEN = set(chr(code) for code in range(0x20) if chr(code) not in '\n') | set(chr(code) for code in range(0x7f, 0xa0)) | set(
    '\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u200e\u200f')


def fixture(default, directory):
    key = 'sk-' + secrets.token_hex(16)  # random: no 8 characters in a row shared with the ids and names below
    with open(default) as handle:
        data = json.load(handle)
    data['keys'][key] = 'user-hostile'
    data['accounts']['user-hostile'] = {'email': 'hostile@example.com', 'organizations': [
        {'id': 'org-hostile-md', 'role': 'OWNER', 'is_default': True},
        {'id': 'org-hostile-tty', 'role': 'MEMBER', 'is_default': False}]}
    data['organizations'].update((org, {'name': name, 'credits': 100.0}) for org, name in NAMES.items())
    for name, text in (('fixture.json', json.dumps(data)), ('key', key)):
        with open(os.path.join(directory, name), 'w') as handle:
            handle.write(text)


def fault(url, key=None):
    key = key or os.environ['STABILITY_API_KEY']
    message = '%s Incorrect API key provided: %s...*** (%s)' % (PHISH, key[:20], key.upper())
    faults = [{'match': {'endpoint': 'balance', 'organization': 'org-hostile-tty'}, 'status': 401, 'times': -1,
               'payload': {'id': key[-12:], 'name': 'unauthorized', 'message': message}}]
    control(url, 'POST', '/_sim/faults', faults)


def summary(path):
    import cmarkgfm  # pylint: disable=import-outside-toplevel  # tests/integration/requirements.txt
    markdown = read(path)
    html = cmarkgfm.github_flavored_markdown_to_html(markdown)
    # cmark-gfm writes every '<' of the text as &lt;, so a tag in its HTML is a tag it made.
    tags = re.findall(r'<([a-z][a-z0-9]*)[\s>]', html)
    rows = [[unescape(cell) for cell in re.findall(r'<t[dh][^>]*>(.*?)</t[dh]>', row, re.DOTALL)]
            for row in re.findall(r'<tr>(.*?)</tr>', html, re.DOTALL)]
    text = unescape(re.sub(r'<[^>]*>', '', html))
    check(set(tags) <= {'h3', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'p', 'strong'}, 'markup from a name: %s' % sorted(set(tags)), html)
    check(tags.count('h3') == 1 and 'img' not in tags and 'a' not in tags, 'a heading, image or link', html)
    check([len(row) for row in rows] == [5, 5, 5], 'a row with other than 5 cells: %r' % rows, html)
    cells = [row[0] for row in rows[1:]]
    check(any('# Injected heading\ufffd![px](https://evil.example/p.png) [Top up here](https://evil.example/phish)' in cell for cell in cells),
          'the name is not shown literally', html)
    check(PHISH in text, 'the API message is not shown literally', html)
    check(not HIDDEN & set(text), 'a control character in the rendered summary', html)


def terminal(path):
    output = read(path)
    check(not HIDDEN & set(output), 'a control character in the output: %r' % sorted(HIDDEN & set(output)), output)
    check('\nok: [localhost] => spoof' not in output, 'a forged Ansible line', output)
    recap = output[output.index('STABILITY AI CREDITS'):]
    check('spoof\ufffd[31m\ufffdevil' in recap, 'the name is not in the recap with its controls replaced', recap)
    check('incomplete: ' in recap and PHISH in recap, 'no incomplete line naming the API message', recap)


def events(url):
    key = os.environ['STABILITY_API_KEY']
    control(url, 'DELETE', '/_sim/faults')
    path = os.path.join(os.environ['ANSIBLE_COLLECTIONS_PATH'].split(':')[0], 'ansible_collections', 'stabilityai', 'platform',
                        'extensions', 'eda', 'plugins', 'event_source', 'credit_balance.py')
    spec = importlib.util.spec_from_file_location('credit_balance', path)
    source = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(source)
    collected = []

    class Queue(object):
        async def put(self, event):
            collected.append(event['stability'])
            if len(collected) == 2:
                fault(url, key)
            if collected[-1]['kind'] == 'error':
                raise asyncio.CancelledError()

    args = {'api_url': url, 'api_key': key, 'organizations': 'all', 'emit': 'every', 'interval': 0.5, 'retries': 0}
    try:
        asyncio.run(asyncio.wait_for(source.main(Queue(), args), 60))
    except asyncio.CancelledError:
        pass
    readings = [event for event in collected if event['kind'] == 'reading']
    shown = dict((org, ''.join('\ufffd' if char in HIDDEN or char in '\r\n' else char for char in name)) for org, name in NAMES.items())
    check(sorted((event['organization_id'], event['organization_name']) for event in readings[:2]) == sorted(shown.items()),
          'the events do not keep the names as data: %r' % readings)
    for event in collected:
        check(not HIDDEN & set(json.dumps(event, ensure_ascii=False)), 'a control character in an event: %r' % event)
    for event in collected:
        check('\n' not in event['message'], 'an event message on more than one line: %r' % event['message'])
    error = collected[-1]
    check(error['kind'] == 'error' and PHISH in error['message'], 'no error event naming the API message: %r' % error)
    secrets_in([json.dumps(collected, ensure_ascii=False)], key)


if __name__ == '__main__':
    run({
        'fixture': fixture,
        'fault': fault,
        'summary': summary,
        'terminal': terminal,
        'events': events,
        'secrets': lambda *paths: secrets_in([read(path) for path in paths], os.environ['STABILITY_API_KEY']),
    }, sys.argv)
