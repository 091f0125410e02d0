# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The pre-flight playbook's variables, as its tasks read them, are those its header and its reference page document.

The playbook runs end to end in the integration, molecule and runner tests; this file holds its
documentation to it: a variable added to the tasks without a line on docs/docsite/rst/preflight.rst
(or the other way round) fails here.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
PLAYBOOK = os.path.join(COLLECTION_ROOT, 'playbooks', 'preflight.yml')
PAGE = os.path.join(COLLECTION_ROOT, 'docs', 'docsite', 'rst', 'preflight.rst')
# A variable name, not a module (stabilityai.platform.stability_balance_info) nor part of a longer word.
VARIABLE = re.compile(r'(?<![\w.])stability_[a-z_]+\b')


def read_lines(path):
    with open(path) as handle:
        return handle.read().splitlines()


def variables_the_tasks_read():
    return set(name for line in read_lines(PLAYBOOK) if not line.lstrip().startswith('#') for name in VARIABLE.findall(line))


def variables_of_the_header():
    header = []
    for line in read_lines(PLAYBOOK)[1:]:
        if not line.startswith('#'):
            break
        header.append(line)
    return set(name for line in header if re.match(r'^#   stability_', line) for name in VARIABLE.findall(line.split('  optional')[0]))


def variables_of_the_page():
    lines = read_lines(PAGE)
    start = lines.index('Variables')
    end = next(index for index in range(start + 2, len(lines)) if re.match(r'^-+$', lines[index])) - 1
    terms = [line for line in lines[start:end] if line.startswith('``stability_')]
    return set(name for term in terms for name in re.findall(r'``(stability_[a-z_]+)``', term))


def test_the_tasks_read_variables():
    assert {'stability_min_credits', 'stability_organizations', 'stability_api_key'} <= variables_the_tasks_read()


def test_the_header_documents_every_variable_the_tasks_read():
    assert variables_of_the_header() == variables_the_tasks_read()


def test_the_reference_page_documents_every_variable_the_tasks_read():
    assert variables_of_the_page() == variables_the_tasks_read()
