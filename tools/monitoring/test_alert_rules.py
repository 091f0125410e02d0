# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The alert rules of docs/examples/prometheus/ under Debian's promtool: valid, and each one fires where its test says.

A copy in which one alert can never fire must fail the same tests, so no rule passes by never firing.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess

import pytest
import yaml

from conftest import COLLECTION_ROOT

RULES = os.path.join(COLLECTION_ROOT, 'docs', 'examples', 'prometheus', 'stability-alerts.yml')
RULE_TESTS = os.path.join(COLLECTION_ROOT, 'tools', 'monitoring', 'stability-alerts.test.yml')


def alert_names():
    with open(RULES) as handle:
        return [rule['alert'] for group in yaml.safe_load(handle)['groups'] for rule in group['rules']]


def promtool(prometheus_bin, *args):
    return subprocess.run([os.path.join(prometheus_bin, 'promtool')] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=120, check=False)


def test_the_rules_are_valid_and_pass_their_tests(prometheus_bin):
    checked = promtool(prometheus_bin, 'check', 'rules', RULES)
    assert checked.returncode == 0 and 'SUCCESS: 3 rules found' in checked.stdout, checked.stdout
    tested = promtool(prometheus_bin, 'test', 'rules', RULE_TESTS)
    assert tested.returncode == 0, tested.stdout


def test_every_alert_is_tested():
    with open(RULE_TESTS) as handle:
        tests = yaml.safe_load(handle)['tests']
    fired = set(case['alertname'] for test in tests for case in test['alert_rule_test'] if case['exp_alerts'])
    quiet = set(case['alertname'] for test in tests for case in test['alert_rule_test'] if not case['exp_alerts'])
    assert fired == quiet == set(alert_names())


@pytest.mark.parametrize('alert', alert_names())
def test_an_alert_that_never_fires_fails_the_tests(prometheus_bin, tmp_path, alert):
    with open(RULES) as handle:
        rules = yaml.safe_load(handle)
    for group in rules['groups']:
        for rule in group['rules']:
            if rule['alert'] == alert:
                rule['expr'] = 'vector(1) == 0'
    (tmp_path / 'rules.yml').write_text(yaml.safe_dump(rules))
    with open(RULE_TESTS) as handle:
        tests = yaml.safe_load(handle)
    tests['rule_files'] = ['rules.yml']
    (tmp_path / 'tests.yml').write_text(yaml.safe_dump(tests))
    tested = promtool(prometheus_bin, 'test', 'rules', str(tmp_path / 'tests.yml'))
    assert tested.returncode != 0 and 'alertname: %s,' % alert in tested.stdout, tested.stdout
