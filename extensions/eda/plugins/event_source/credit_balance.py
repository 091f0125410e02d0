# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""stabilityai.platform.credit_balance: an Event-Driven Ansible source for credit thresholds and runway.

Reads the credit balance of the watched organizations every ``interval`` seconds and puts
events under one key, ``stability``, on the rulebook's queue::

    sources:
      - stabilityai.platform.credit_balance:
          organizations: all          # or a list of ids; default: the key's default organization
          interval: 300               # at least 60 seconds; a loopback api_url may go lower
          warn_below: 1000
          min_credits: 250
          ledger_path: /var/lib/stability/ledger.jsonl   # optional: runway, min_days_left, min_runs_left
          emit: crossings             # or every

``event.stability.kind`` is ``below_warn_below``, ``below_min_credits``, ``below_min_days_left``,
``below_min_runs_left``, ``recovered``, ``reading`` (``emit: every``) or ``error``.  Crossings are
edge-triggered: one event when a value goes below a threshold, none while it stays there, one
``recovered`` once it is back at least 5 % above it.  A failed reading gives one ``error`` event per outage
and the source keeps reading, sooner at first (an eighth of ``interval``, doubling up to it).  A
bad key is treated like an outage, since EDA would restart a source that exits into the same key.
Arguments that are wrong stop the source at once with one line naming the argument.

Connection arguments are those of the collection's modules (``api_key`` or env
``STABILITY_API_KEY`` / ``STABILITY_KEY``, ``api_url``, ``api_version``, ``timeout``, ``retries``,
``validate_certs``, ``ca_path``, ``rate_limit``); readings go through the collection's one client,
so the shared rate-limit guard and lock-out memory apply.  See docs/docsite/rst/eda.rst.
"""

import asyncio
import logging
import os
import sys
import threading


def _import_collection_code():
    """The collection's own Python code, whichever way ansible-rulebook loaded this file.

    ansible-rulebook runs a source with ``runpy.run_path`` and does not put the collections tree
    on ``sys.path``; the file lives in ``<root>/ansible_collections/stabilityai/platform/...``, so
    that ``<root>`` is added when ``ansible_collections`` is not importable yet.
    """
    try:
        from ansible_collections.stabilityai.platform.plugins.plugin_utils import _credit_watch  # pylint: disable=import-outside-toplevel
    except ImportError:
        parts = os.path.abspath(__file__).split(os.sep)
        if parts[-8:-5] != ['ansible_collections', 'stabilityai', 'platform']:
            raise
        sys.path.insert(0, os.sep.join(parts[:-8]) or os.sep)
        from ansible_collections.stabilityai.platform.plugins.plugin_utils import _credit_watch  # pylint: disable=import-outside-toplevel
    from ansible_collections.stabilityai.platform.plugins.module_utils import _client  # pylint: disable=import-outside-toplevel
    return _credit_watch, _client


credit_watch, client_module = _import_collection_code()
logger = logging.getLogger('stabilityai.platform.credit_balance')


def in_daemon_thread(function, *args):
    """Await ``function(*args)`` run in a daemon thread.

    Unlike ``asyncio.to_thread``, a request still in flight when the rulebook stops does not hold
    up the interpreter's exit (the default executor is joined at shutdown).
    """
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(outcome, failed):
        if future.done():
            return
        if failed:
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    def work():
        try:
            outcome, failed = function(*args), False
        except BaseException as exc:  # pylint: disable=broad-exception-caught
            outcome, failed = exc, True
        try:
            loop.call_soon_threadsafe(settle, outcome, failed)
        except RuntimeError:
            pass  # the loop closed meanwhile: nobody waits for this reading any more

    threading.Thread(target=work, name='credit_balance reading', daemon=True).start()
    return future


async def main(queue, args):
    """The source: read, emit what ``CreditWatch`` decides, wait, until the rulebook cancels it."""
    options = credit_watch.WatchOptions(args, os.environ)
    if not client_module.HAS_REQUESTS:
        raise RuntimeError('stabilityai.platform.credit_balance needs the Python library requests; install it in the '
                           'decision environment (the collection declares it in requirements.txt)')
    watch = credit_watch.CreditWatch(options)
    client = client_module.StabilityClient(options.connection)
    for warning in client.warnings:
        logger.warning('%s', warning)
    try:
        while True:
            try:
                readings = await in_daemon_thread(credit_watch.take_reading, client, options)
            except Exception as exc:  # pylint: disable=broad-exception-caught  # the source never dies on a failed reading
                message = credit_watch.failure_message(exc, options.connection.api_key)
                events = watch.fail(message)
                logger.warning('reading failed (%d in a row), next try in %g s: %s', watch.failures, watch.next_delay(), message)
            else:
                events = watch.record(readings)
            for event in events:
                await queue.put(event)
            await asyncio.sleep(watch.next_delay())
    finally:
        client.close()


if __name__ == '__main__':
    # Try it by hand: python credit_balance.py (with STABILITY_API_KEY set) prints every reading.
    class PrintQueue(object):
        async def put(self, event):
            print(event)

    asyncio.run(main(PrintQueue(), {'emit': 'every', 'interval': float(os.environ.get('INTERVAL', credit_watch.DEFAULT_INTERVAL))}))
