#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the credit_balance event source as ansible-rulebook does (runpy) until its first event.

source.py ARGS_JSON: prints the first event as JSON, or "refused: <message>" when the source stops
at once on its arguments; exits 1 when neither happens within 30 seconds.
"""

import asyncio
import json
import os
import runpy
import sys

SOURCE = os.path.join(os.environ['ANSIBLE_COLLECTIONS_PATH'].split(':')[0], 'ansible_collections', 'stabilityai', 'platform',
                      'extensions', 'eda', 'plugins', 'event_source', 'credit_balance.py')


async def first_event(args):
    main = runpy.run_path(SOURCE, run_name='credit_balance')['main']
    queue = asyncio.Queue()
    source = asyncio.ensure_future(main(queue, args))
    event = asyncio.ensure_future(queue.get())
    done = (await asyncio.wait({source, event}, timeout=30, return_when=asyncio.FIRST_COMPLETED))[0]
    if event in done:
        source.cancel()
        print(json.dumps(event.result()))
        return 0
    event.cancel()
    if source in done:
        exc = source.exception()
        print('refused: %s' % getattr(exc, 'msg', exc))
        return 0
    source.cancel()
    print('no event within 30 s')
    return 1


if __name__ == '__main__':
    sys.exit(asyncio.run(first_event(json.loads(sys.argv[1]))))
