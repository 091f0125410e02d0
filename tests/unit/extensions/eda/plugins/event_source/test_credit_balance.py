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
import threading
import time

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils._client import StabilityClient
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import StabilityOptionError

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
