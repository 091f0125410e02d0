# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The credit_balance source's event loop, loaded the way ansible-rulebook loads it.

ansible-rulebook runs the file with ``runpy.run_path``; under ansible-test the collection loader's
path hook claims every path inside the collection, so run_path would look for a ``__main__`` in
it.  ``run_source_file`` does what run_path does for a plain file: execute it in a fresh namespace.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import asyncio
import os
import re
import textwrap
import threading
import time

import pytest
import yaml

from ansible_collections.stabilityai.platform.plugins.module_utils._client import StabilityClient
from ansible_collections.stabilityai.platform.plugins.doc_fragments._connection import ModuleDocFragment
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError
from ansible_collections.stabilityai.platform.plugins.module_utils._settings import ENVIRONMENT_VARIABLES
from ansible_collections.stabilityai.platform.plugins.plugin_utils import _credit_watch

COLLECTION_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), *['..'] * 6))
REFERENCE_PAGE = os.path.join(COLLECTION_ROOT, 'docs', 'docsite', 'rst', 'credit_balance.rst')
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), *(['..'] * 6 + ['extensions', 'eda', 'plugins', 'event_source', 'credit_balance.py']))
KEY = 'sk-unit-source-0000000000000'
ACCOUNT = {'id': 'user-1', 'email': 'a@example.com', 'organizations': [{'id': 'org-a', 'name': 'A', 'role': 'OWNER', 'is_default': True}]}
ARGS = {'api_key': KEY, 'api_url': 'http://127.0.0.1:9', 'interval': 0.5, 'retries': 0, 'min_credits': 100}


def run_source_file(path):
    namespace = {'__name__': '<run_path>', '__file__': path}
    with open(path) as handle:
        exec(compile(handle.read(), path, 'exec'), namespace)  # pylint: disable=exec-used  # nosec: the collection's own file
    return namespace


@pytest.fixture(scope='module')
def source():
    return run_source_file(os.path.normpath(SOURCE))


@pytest.fixture
def closed(monkeypatch):
    calls = []
    original = StabilityClient.close
    monkeypatch.setattr(StabilityClient, 'close', lambda self: calls.append(self) or original(self))
    return calls


async def next_event(queue, timeout=10):
    return (await asyncio.wait_for(queue.get(), timeout))['stability']


async def cancel(task):
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)


def test_crossing_top_up_and_clean_cancellation(source, fake_api, closed):
    credits = {'org-a': 500.0}
    fake_api.serve(credits, account=ACCOUNT)

    async def scenario():
        queue = asyncio.Queue()
        task = asyncio.ensure_future(source['main'](queue, dict(ARGS)))
        await asyncio.sleep(0.3)
        assert queue.empty()
        credits['org-a'] = 50.0
        below = await next_event(queue)
        credits['org-a'] = 1000.0
        recovered = await next_event(queue)
        await cancel(task)
        return below, recovered

    below, recovered = asyncio.run(scenario())
    assert (below['kind'], below['credits'], below['previous']) == ('below_min_credits', 50.0, 500.0)
    assert (recovered['kind'], recovered['credits'], recovered['previous']) == ('recovered', 1000.0, 50.0)
    assert len(closed) == 1


def test_a_bad_key_gives_one_error_event_and_the_source_keeps_reading(source, fake_api, closed):
    """Decided: a refused key is an outage like any other (EDA would restart a source that exits into the same key)."""
    refused = {'id': 'e1', 'name': 'unauthorized', 'message': 'authentication failed'}
    for dummy in range(4):
        fake_api.answer(status=401, payload=refused)
    for dummy in range(3):
        fake_api.answer(payload=ACCOUNT).answer(payload={'credits': 5.0})

    async def scenario():
        queue = asyncio.Queue()
        task = asyncio.ensure_future(source['main'](queue, dict(ARGS)))
        error = await next_event(queue)
        below = await next_event(queue)
        await cancel(task)
        return error, below

    error, below = asyncio.run(scenario())
    assert error['kind'] == 'error'
    assert error['message'] == ('GET http://127.0.0.1:9/v1/user/account failed with HTTP 401 unauthorized: '
                                'authentication failed (error id e1); check api_key (or STABILITY_API_KEY)')
    assert KEY not in repr(error)
    assert below['kind'] == 'below_min_credits'
    assert [request.url.rsplit('/', 1)[1] for request in fake_api.requests[:6]] == ['account'] * 5 + ['balance']


def test_wrong_arguments_stop_the_source_before_any_request(source, fake_api):
    with pytest.raises(StabilityOptionError, match='interval must be at least 60 seconds'):
        asyncio.run(source['main'](asyncio.Queue(), dict(ARGS, api_url='https://api.stability.ai', interval=1)))
    assert fake_api.requests == []


def test_the_loop_stays_responsive_while_a_reading_blocks(source, monkeypatch, closed):
    started, release = threading.Event(), threading.Event()

    def slow_reading(client, options, now=None):
        started.set()
        release.wait(10)
        return []
    monkeypatch.setattr(source['credit_watch'], 'take_reading', slow_reading)

    async def scenario():
        task = asyncio.ensure_future(source['main'](asyncio.Queue(), dict(ARGS)))
        while not started.is_set():
            await asyncio.sleep(0.01)
        began = time.monotonic()
        ticks = 0
        while time.monotonic() - began < 0.2:
            await asyncio.sleep(0.01)
            ticks += 1
        await cancel(task)
        return ticks

    try:
        assert asyncio.run(scenario()) >= 5
    finally:
        release.set()
    assert len(closed) == 1


# --- DOCUMENTATION, the code, and the reference page docs/docsite/rst/credit_balance.rst ---------

def documented_options(source):
    return yaml.safe_load(source['DOCUMENTATION'])['options']


def test_documentation_names_every_argument_in_order(source):
    assert list(documented_options(source)) == list(_credit_watch.SOURCE_OPTIONS)
    for name, option in documented_options(source).items():
        assert option['description'] and option['type'], name


def test_connection_options_are_documented_as_the_modules_have_them(source):
    modules = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
    controller = yaml.safe_load(ModuleDocFragment.CONTROLLER)['options']
    for name in _credit_watch.CONNECTION_OPTIONS:
        documented = documented_options(source)[name]
        assert documented['type'] == modules[name]['type'], name
        assert documented.get('choices') == modules[name].get('choices'), name
        assert documented.get('default', modules[name].get('default')) == controller[name].get('default', modules[name].get('default')), name
        # In the order of precedence, as ENVIRONMENT_VARIABLES has them (the CONTROLLER fragment lists them in Ansible's)
        assert [entry['name'] for entry in documented.get('env', ())] == list(ENVIRONMENT_VARIABLES.get(name, ())), name


def test_source_defaults_and_choices_are_the_code_s(source):
    options = documented_options(source)
    assert options['interval']['default'] == _credit_watch.DEFAULT_INTERVAL
    assert options['emit']['choices'] == list(_credit_watch.EMIT_MODES)
    assert options['emit']['default'] == _credit_watch.WatchOptions({'api_key': KEY, 'emit': None, 'min_credits': 1}, {}).emit
    assert _credit_watch.WatchOptions({'api_key': KEY, 'min_credits': 1}, {}).interval == options['interval']['default']


def test_examples_are_rulebooks_whose_source_arguments_are_accepted(source):
    rulebooks = yaml.safe_load(source['EXAMPLES'])
    arguments = [source_entry['stabilityai.platform.credit_balance'] for rulebook in rulebooks for source_entry in rulebook['sources']]
    assert len(arguments) == len(rulebooks) == 2
    for args in arguments:
        _credit_watch.WatchOptions(args, {'STABILITY_API_KEY': KEY})


MARKUP = [
    (re.compile(r'[COVE]\(([^()]*)\)'), r'``\1``'),
    (re.compile(r'I\(([^()]*)\)'), r'*\1*'),
]


def rst_text(text):
    for pattern, replacement in MARKUP:
        text = pattern.sub(replacement, text)
    return text


def rst_value(value):
    return ('%s' % value).lower() if isinstance(value, bool) else '%g' % value if isinstance(value, float) else '%s' % value


def render_reference(documentation, examples):
    """The generated part of the reference page: every option of DOCUMENTATION, then EXAMPLES."""
    lines = ['.. Generated from DOCUMENTATION and EXAMPLES of extensions/eda/plugins/event_source/credit_balance.py:',
             '.. tests/unit/extensions/eda/plugins/event_source/test_credit_balance.py fails when this part differs.',
             '', 'Options', '-------', '']
    for name, option in yaml.safe_load(documentation)['options'].items():
        facts = ['*%s*' % option['type']]
        if option.get('choices'):
            facts.append('one of %s' % ', '.join('``%s``' % rst_value(choice) for choice in option['choices']))
        if option.get('default') is not None:
            facts.append('default ``%s``' % rst_value(option['default']))
        if option.get('env'):
            facts.append('environment %s' % ' then '.join('``%s``' % entry['name'] for entry in option['env']))
        lines.extend(['``%s``' % name, '  ' + '; '.join(facts) + '.', ''])
        for paragraph in option['description']:
            lines.extend(textwrap.wrap(rst_text(paragraph), 100, initial_indent='  ', subsequent_indent='  ', break_on_hyphens=False))
            lines.append('')
    lines.extend(['Examples', '--------', '', '.. code-block:: yaml', ''])
    lines.extend(('  ' + line).rstrip() for line in examples.strip('\n').splitlines())
    lines.extend(['', '.. End of the generated part.'])
    return '\n'.join(lines) + '\n'


def test_reference_page_shows_the_documentation(source):
    expected = render_reference(source['DOCUMENTATION'], source['EXAMPLES'])
    with open(REFERENCE_PAGE) as handle:
        page = handle.read()
    assert expected in page, 'update docs/docsite/rst/credit_balance.rst: its generated part must read\n' + expected
