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
          interval: 300               # 60 to 86400 seconds; a loopback api_url may go lower
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

DOCUMENTATION = r'''
---
name: credit_balance
short_description: Events when Stability AI credits or their runway go below a threshold
version_added: 1.1.0
description:
  - An Event-Driven Ansible event source. Every O(interval) seconds it reads the account (one request) and the
    balance of each watched organization (one request each), through the same client as the collection's modules,
    with the same retries, error messages and rate-limit guard.
  - It puts events under one key, C(stability), on the rulebook's queue. C(event.stability.kind) is
    C(below_warn_below), C(below_min_credits), C(below_min_days_left), C(below_min_runs_left), C(recovered),
    C(reading) (with O(emit=every)) or C(error).
  - Crossings are edge-triggered. One event when a value goes below a threshold, none while it stays there, and one
    C(recovered) once it is back at least 5 % above it.
  - A failed reading gives one C(error) event per outage and the source keeps reading, sooner at first. Wrong
    arguments stop the source at once, before any request, with one line naming the argument.
options:
  api_key:
    description:
      - The Stability AI API key, as for the modules. Prefer the environment, since a rulebook is a file that others
        read.
    type: str
    env:
      - name: STABILITY_API_KEY
      - name: STABILITY_KEY
  api_url:
    description:
      - Base URL of the Stability API, with the same checks as the modules' option.
    type: str
    default: https://api.stability.ai
    env:
      - name: STABILITY_API_URL
  api_version:
    description:
      - Version of the user endpoints.
    type: str
    choices: [v1, v1alpha]
    default: v1
    env:
      - name: STABILITY_API_VERSION
  timeout:
    description:
      - Seconds one request may take, as for the modules; greater than 0 and at most 600 (ten minutes).
    type: float
    default: 30
  retries:
    description:
      - How many times a request is repeated after a connection error, a time-out or a retryable HTTP status, as for
        the modules.
    type: int
    default: 3
  validate_certs:
    description:
      - Whether to verify the TLS certificate of O(api_url).
    type: bool
    default: true
  ca_path:
    description:
      - Path to a PEM file of CA certificates to verify the server against instead of the system's CA store.
    type: path
  rate_limit:
    description:
      - The request budget per API key, C(N/S), shared with every other process of the same user on the host, as for
        the modules. The source never adds to a lock-out that a playbook caused, nor the other way round.
    type: str
    default: 100/10
    env:
      - name: STABILITY_RATE_LIMIT
  organizations:
    description:
      - V(all) (in any case), or organization ids as a list or as one comma-separated string (C(org-a, org-b)).
      - Not set or empty, the key's default organization.
      - White space around an id is removed and a repeated id is watched once. An empty item beside ids, V(all) beside
        ids, or an id with a control character stops the source, naming O(organizations). These are the rules of every
        plugin of the collection.
      - The account is read each time, so V(all) follows organizations that join or leave.
    type: raw
  interval:
    description:
      - Seconds between readings.
      - Anything below 60 seconds is refused, so no rulebook can poll the API too often. Only a loopback O(api_url)
        (such as the collection's simulator) may go down to 0.5 seconds, for tests.
      - At most 86400 seconds (one day). A source that reads less often could not warn in time of credits that a day of
        CI can spend.
    type: float
    default: 300
  min_credits:
    description:
      - Threshold in credits (finite, 0 or more); C(below_min_credits) when a balance goes below it.
      - The same forms as in the C(stability_balance_info) module (a number, or a string of one); anything else, V(true)
        included, is refused.
    type: raw
  warn_below:
    description:
      - Threshold in credits (finite, 0 or more); C(below_warn_below) when a balance goes below it.
    type: raw
  ledger_path:
    description:
      - The credit ledger that the C(credit_recap) callback writes. Each event then carries C(runway), the forecast
        that C(stability_balance_info) returns (C(spent_per_day), C(days_left), C(spent_per_run),
        C(spent_per_run_max), C(runs_left), C(runs_recorded), C(window_days), and C(reason) when the data is too
        thin), and O(min_days_left) and O(min_runs_left) work.
      - Readings that the callback of 1.x wrote without an organization id count for the key's default organization.
      - Lines that cannot be read are skipped with a warning in the rulebook's log. A ledger that cannot be opened, is
        not a regular file (a FIFO, a directory, a device, a symbolic link; refused without blocking) or stays locked
        by a writer for O(timeout) seconds makes the reading fail (an C(error) event naming O(ledger_path)).
    type: path
  min_days_left:
    description:
      - Days of credits left (finite, 0 or more); C(below_min_days_left) when the forecast goes below it. Needs
        O(ledger_path).
      - While the ledger is too thin for a forecast, the threshold neither fires nor recovers.
    type: raw
  min_runs_left:
    description:
      - Runs of credits left (finite, 0 or more); C(below_min_runs_left) when the forecast goes below it. Needs
        O(ledger_path).
      - It compares C(runs_left), which the costliest run of the window gives. Credits at or below zero have 0 days and
        0 runs left, so O(min_days_left) and O(min_runs_left) both fire on an overdrawn organization whatever the
        ledger holds.
      - While the ledger is too thin for a forecast, the threshold neither fires nor recovers.
    type: raw
  emit:
    description:
      - V(crossings), an event only when a value crosses a threshold; at least one threshold must then be set.
      - V(every), also a C(reading) event for each organization at each reading.
    type: str
    choices: [crossings, every]
    default: crossings
'''

EXAMPLES = r'''
- name: Warn, then stop the generation jobs, before the credits run out
  hosts: localhost
  sources:
    - name: Stability AI balances
      stabilityai.platform.credit_balance:
        organizations: all
        interval: 300
        warn_below: 1000
        min_credits: 250
  rules:
    - name: Credits below the hard floor
      condition: event.stability.kind == "below_min_credits"
      action:
        run_playbook:
          name: stop_generation.yml

- name: Runway from the credit_recap ledger
  hosts: localhost
  sources:
    - stabilityai.platform.credit_balance:
        ledger_path: /var/lib/stability/ledger.jsonl
        min_days_left: 3
        min_runs_left: 10
  rules:
    - name: Fewer than 3 days of credits left
      condition: event.stability.kind == "below_min_days_left"
      action:
        debug:
          msg: "{{ event.stability.message }}"
'''

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
