# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one bound on requests in flight: order kept, the bound held, a single item without threads."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import sys
import threading
import time

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils._concurrency import MAX_CONCURRENT_REQUESTS, map_concurrently


def test_results_come_back_in_the_order_of_the_items():
    assert map_concurrently(lambda item: item * 2, [3, 1, 2, 5, 4, 6]) == [6, 2, 4, 10, 8, 12]


def test_no_more_than_the_bound_run_at_once():
    lock = threading.Lock()
    running = [0]
    peak = [0]

    def work(item):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return item
    assert map_concurrently(work, range(3 * MAX_CONCURRENT_REQUESTS)) == list(range(3 * MAX_CONCURRENT_REQUESTS))
    assert peak[0] == MAX_CONCURRENT_REQUESTS == 4


def test_one_item_runs_in_the_calling_thread():
    assert map_concurrently(lambda item: threading.current_thread(), ['only']) == [threading.current_thread()]
    assert map_concurrently(lambda item: item, []) == []


def test_the_first_failure_is_raised():
    def work(item):
        if item == 2:
            raise ValueError('item %d failed' % item)
        return item
    with pytest.raises(ValueError, match='item 2 failed'):
        map_concurrently(work, [1, 2, 3])


def test_a_single_read_does_not_load_the_thread_pool(monkeypatch):
    monkeypatch.delitem(sys.modules, 'concurrent.futures', raising=False)
    monkeypatch.delitem(sys.modules, 'concurrent.futures.thread', raising=False)
    map_concurrently(lambda item: item, ['only'])
    assert 'concurrent.futures.thread' not in sys.modules


def test_two_items_already_run_at_the_same_time():
    both_started = threading.Barrier(2, timeout=5)
    assert map_concurrently(lambda item: both_started.wait() is not None and item, ['a', 'b']) == ['a', 'b']
