# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""In-process cost of the ``stability_balance`` lookup, for benchmark.py (bar d).

Loads the lookup the way Ansible does (``lookup_loader``, collection path from
``ANSIBLE_COLLECTIONS_PATH``), calls ``run()`` repeatedly and prints one JSON document:

* ``timing``: cache hits (median of many calls), misses with ``cache_ttl=0`` alternating with a bare
  ``http.client`` GET of the same endpoint over a new connection (what a miss cannot avoid), and the
  first miss of the process, which also pays for importing the client (``http.client``, ``ssl``);
* ``hit-imports``: one cache hit in this fresh process (the entry must exist already, written with
  ``cache_scope='user'``, since this process is another run), and which of the collection's client
  and the HTTP libraries it used to need are loaded before and after it.

Usage: python lookup_probe.py MODE API_URL API_KEY CACHE_DIR [HITS] [MISSES]
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import http.client
import json
import os
import statistics
import sys
import time

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit

# What a cache hit must not load: the collection's HTTP client (so a hit never pays for its import, nor
# for http.client's and ssl's when nothing else has loaded them), and the libraries it used up to 2.0.0.
CLIENT = 'ansible_collections.stabilityai.platform.plugins.module_utils._client'
HTTP_LIBRARIES = (CLIENT, 'requests', 'urllib3')
LOOKUP = 'stabilityai.platform.stability_balance'


def load_lookup():
    from ansible.plugins.loader import init_plugin_loader, lookup_loader
    from ansible.parsing.dataloader import DataLoader
    paths = [path for path in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep) if path]
    init_plugin_loader(paths)
    lookup = lookup_loader.get(LOOKUP, loader=DataLoader(), templar=None)
    if lookup is None:
        raise SystemExit('cannot load the lookup %s from %s' % (LOOKUP, paths))
    return lookup


def loaded_http_libraries():
    return sorted(name.rsplit('.', 1)[-1] for name in HTTP_LIBRARIES if name in sys.modules)


def bare_get(api_url, api_key):
    """One GET of the balance over a new connection, the floor of a miss: seconds, credits."""
    parts = urlsplit(api_url)
    started = time.perf_counter()
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request('GET', '/v1/user/balance', headers={
            'Authorization': 'Bearer %s' % api_key, 'Accept': 'application/json'})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit('bare GET answered HTTP %d' % response.status)
        credits = json.loads(body.decode('utf-8'))['credits']
    finally:
        connection.close()
    return time.perf_counter() - started, credits


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def timing(api_url, api_key, cache_dir, hits, misses):
    lookup = load_lookup()
    options = dict(api_url=api_url, api_key=api_key, cache_dir=cache_dir)
    before = loaded_http_libraries()
    cold_miss, first = timed(lookup.run, [], variables={}, cache_ttl=0, **options)
    miss_times, bare_times = [], []
    for dummy in range(misses):
        seconds, value = timed(lookup.run, [], variables={}, cache_ttl=0, **options)
        miss_times.append(seconds)
        seconds, credits = bare_get(api_url, api_key)
        bare_times.append(seconds)
        if value != [credits]:
            raise SystemExit('the lookup read %r, the bare GET %r' % (value, credits))
    lookup.run([], variables={}, cache_ttl=3600, **options)  # fills this run's cache entry
    lookup.run([], variables={}, cache_ttl=3600, cache_scope='user', **options)  # and the one hit-imports reads in another process
    hit_times = []
    for dummy in range(hits):
        seconds, value = timed(lookup.run, [], variables={}, cache_ttl=3600, **options)
        hit_times.append(seconds)
        if value != first:
            raise SystemExit('a cache hit read %r instead of %r' % (value, first))
    return {
        'http_libraries_before': before,
        'value': first,
        'cold_miss_s': cold_miss,
        'miss_s': miss_times,
        'bare_s': bare_times,
        'hit_s': hit_times,
        'miss_median_s': statistics.median(miss_times),
        'bare_median_s': statistics.median(bare_times),
        'hit_median_s': statistics.median(hit_times),
    }


def hit_imports(api_url, api_key, cache_dir):
    lookup = load_lookup()
    before = loaded_http_libraries()
    seconds, value = timed(lookup.run, [], variables={}, api_url=api_url, api_key=api_key, cache_dir=cache_dir, cache_ttl=3600,
                           cache_scope='user')  # another process: another run
    return {'http_libraries_before': before, 'http_libraries_after': loaded_http_libraries(), 'hit_s': seconds, 'value': value}


def main(argv):
    if len(argv) < 5 or argv[1] not in ('timing', 'hit-imports'):
        sys.stderr.write(__doc__)
        return 2
    mode, api_url, api_key, cache_dir = argv[1:5]
    if mode == 'timing':
        hits = int(argv[5]) if len(argv) > 5 else 200
        misses = int(argv[6]) if len(argv) > 6 else 20
        result = timing(api_url, api_key, cache_dir, hits, misses)
    else:
        result = hit_imports(api_url, api_key, cache_dir)
    sys.stdout.write(json.dumps(result) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
