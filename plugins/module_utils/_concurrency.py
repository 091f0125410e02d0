# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils is PRIVATE to the stabilityai.platform collection.
# It may change or disappear in any release; do not import it from other content.

"""How many requests of one plugin run are in flight at once, decided in one place.

Several balances are read concurrently to cut the wall time of a large account, but never more
than MAX_CONCURRENT_REQUESTS at once, so one run cannot burst the vendor's rate limit.
Standard library only: the lookup uses it before it knows whether it needs the HTTP stack.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

MAX_CONCURRENT_REQUESTS = 4


def map_concurrently(function, items):
    """``[function(item) for item in items]``, in order, with at most MAX_CONCURRENT_REQUESTS at once.

    One item runs in the calling thread, so the common single read never loads the thread pool.
    The first exception raised by ``function`` is raised here.
    """
    items = list(items)
    if len(items) <= 1:
        return [function(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor  # pylint: disable=import-outside-toplevel
    with ThreadPoolExecutor(max_workers=min(MAX_CONCURRENT_REQUESTS, len(items))) as pool:
        return list(pool.map(function, items))
