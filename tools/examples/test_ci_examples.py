# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The CI examples of docs/examples/ci/ are valid for their services and use the collection's real names.

Each file is checked with check-jsonschema against the public schema of its service, bundled with
check-jsonschema so the check runs offline; a copy with a mistake must fail the same check, so a
broken validator cannot pass them.  Run by ``tests/run-tests.sh examples`` (pytest from the collection root).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import sys

import pytest

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(COLLECTION_ROOT, 'docs', 'examples', 'ci')
SCHEMAS = [
    ('github-actions.yml', 'vendor.github-workflows', ('runs-on: ubuntu-latest', 'runs_on: ubuntu-latest')),
    ('gitlab-ci.yml', 'vendor.gitlab-ci', ('stage: generate', 'stage: {when: 3}')),
]
# What the examples must say, as the collection names it (callback, environment, preflight variables).
NAMES = ('stabilityai.platform.credit_recap', 'ANSIBLE_CALLBACKS_ENABLED', 'STABILITY_LEDGER', 'STABILITY_RECAP_REPORT',
         'STABILITY_RECAP_ORGANIZATIONS', 'stabilityai.platform.preflight', 'stability_ledger=', 'stability_min_runs=',
         'stability_min_days=', 'STABILITY_API_KEY', 'STABILITY_PUSHGATEWAY_URL', 'STABILITY_PUSHGATEWAY_GROUPING',
         'STABILITY_PUSHGATEWAY_USERNAME', 'STABILITY_PUSHGATEWAY_PASSWORD', 'prometheus-client')


def check_jsonschema(schema, path):
    tool = os.path.join(os.path.dirname(sys.executable), 'check-jsonschema')
    return subprocess.run([tool, '--builtin-schema', schema, path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)


@pytest.mark.parametrize('name, schema, mistake', SCHEMAS)
def test_the_example_is_valid_for_its_service(name, schema, mistake):
    result = check_jsonschema(schema, os.path.join(EXAMPLES, name))
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize('name, schema, mistake', SCHEMAS)
def test_a_broken_copy_fails_the_same_check(name, schema, mistake, tmp_path):
    with open(os.path.join(EXAMPLES, name)) as handle:
        text = handle.read()
    assert mistake[0] in text
    broken = tmp_path / name
    broken.write_text(text.replace(mistake[0], mistake[1], 1))
    assert check_jsonschema(schema, str(broken)).returncode != 0


@pytest.mark.parametrize('name', [entry[0] for entry in SCHEMAS])
def test_the_example_uses_the_collection_s_names(name):
    with open(os.path.join(EXAMPLES, name)) as handle:
        text = handle.read()
    missing = [word for word in NAMES if word not in text]
    assert not missing, '%s does not use %s' % (name, missing)
