# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""stability_balance_info with ``metrics_path``: the balances read as a Prometheus textfile, and never the task's outcome."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat
import sys
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.stabilityai.platform.plugins.modules import stability_balance_info
from ansible_collections.stabilityai.platform.tests.unit.plugins.modules.test_stability_balance_info_runway import history

KEY = 'sk-unit-metrics-module-key-P7wq'


def read_metrics(path):
    """{(name, organization_id, organization_name): value} through prometheus-client's parser."""
    with open(path) as handle:
        return dict(((sample.name, sample.labels['organization_id'], sample.labels['organization_name']), sample.value)
                    for family in text_string_to_metric_families(handle.read()) for sample in family.samples)


def credits_of(metrics):
    return dict((key[1:], value) for key, value in metrics.items() if key[0] == 'stability_credits')


def test_every_organization_read_is_in_the_file(fake_api, run_module, demo_account, demo_credits, tmp_path):
    fake_api.serve(demo_credits, account=demo_account)
    path = str(tmp_path / 'stability.prom')
    before = time.time()
    result, failed, warnings = run_module(stability_balance_info, {'api_key': KEY, 'all_organizations': True, 'metrics_path': path})
    assert not failed and warnings == []
    metrics = read_metrics(path)
    assert credits_of(metrics) == {('org-alice-studio', 'Alice Studio'): demo_credits['org-alice-studio'],
                                   ('org-alice-lab', 'Alice Lab'): 12.5, ('org-render-farm', 'Render Farm'): 0.0}
    stamps = [value for key, value in metrics.items() if key[0] == 'stability_last_reading_timestamp_seconds']
    assert len(stamps) == 3 and all(before <= value <= time.time() for value in stamps)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert 'metrics_path' not in result


def test_the_default_organization_alone_is_labelled_by_its_id_and_name(fake_api, run_module, demo_account, demo_credits, tmp_path):
    # The series the callback writes for the same organization, not one with an empty id that two keys' defaults would share.
    fake_api.serve(demo_credits, account=demo_account)
    path = str(tmp_path / 'stability.prom')
    result, failed, warnings = run_module(stability_balance_info, {'api_key': KEY, 'metrics_path': path})
    assert not failed and warnings == [] and result['organization'] is None
    assert credits_of(read_metrics(path)) == {('org-alice-studio', 'Alice Studio'): demo_credits[None]}
    assert [request.url.rsplit('/', 1)[1] for request in fake_api.requests] == ['balance', 'account']


def test_an_organization_by_id_gets_its_name(fake_api, run_module, demo_account, demo_credits, tmp_path):
    fake_api.serve(demo_credits, account=demo_account)
    path = str(tmp_path / 'stability.prom')
    result, failed, warnings = run_module(stability_balance_info, {'api_key': KEY, 'organization': 'org-alice-lab', 'metrics_path': path})
    assert not failed and warnings == []
    assert credits_of(read_metrics(path)) == {('org-alice-lab', 'Alice Lab'): 12.5}


def test_an_account_that_cannot_be_read_leaves_the_labels_empty_and_the_task_alone(fake_api, run_module, tmp_path):
    fake_api.answer(payload={'credits': 7.25}).answer(status=403, payload={'id': 'e1', 'name': 'forbidden', 'message': 'no account for you'})
    path = str(tmp_path / 'stability.prom')
    result, failed, warnings = run_module(stability_balance_info, {'api_key': KEY, 'metrics_path': path, 'min_credits': 1})
    assert not failed and result['credits'] == 7.25
    assert len(warnings) == 1 and warnings[0].startswith('metrics_path: the account could not be read to name the organization in the metrics (')
    assert warnings[0].endswith('); its labels are left empty')
    assert credits_of(read_metrics(path)) == {('', ''): 7.25}


def test_the_file_is_written_when_a_gate_fails(fake_api, run_module, demo_account, tmp_path):
    fake_api.answer(payload={'credits': 3.0}).answer(payload=demo_account)
    path = str(tmp_path / 'stability.prom')
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'organization': 'org-lab', 'min_credits': 100, 'metrics_path': path})
    assert failed and result['msg'].startswith('Credits are below min_credits')
    assert credits_of(read_metrics(path)) == {('org-lab', ''): 3.0}


def test_an_unwritable_file_is_a_warning_not_a_failure(fake_api, run_module, demo_account, tmp_path):
    fake_api.answer(payload={'credits': 3.0}).answer(payload=demo_account)
    path = str(tmp_path / 'missing' / 'stability.prom')
    result, failed, warnings = run_module(stability_balance_info, {'api_key': KEY, 'metrics_path': path})
    assert not failed and result['credits'] == 3.0
    assert warnings == ['metrics_path: cannot write %s: No such file or directory; the balances were read and the gates checked' % path]


def test_without_prometheus_client_the_task_warns_naming_the_package(fake_api, run_module, demo_account, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'prometheus_client', None)
    fake_api.answer(payload={'credits': 3.0}).answer(payload=demo_account)
    path = tmp_path / 'stability.prom'
    result, failed, warnings = run_module(stability_balance_info, {'api_key': KEY, 'metrics_path': str(path)})
    assert not failed and result['credits'] == 3.0
    assert warnings == ['metrics_path needs the Python library prometheus-client (pip install prometheus-client); no metrics were written; '
                        'the balances were read and the gates checked']
    assert not path.exists()


def test_without_metrics_path_prometheus_client_is_not_needed(fake_api, run_module, monkeypatch):
    monkeypatch.setitem(sys.modules, 'prometheus_client', None)
    fake_api.answer(payload={'credits': 3.0})
    result, failed, warnings = run_module(stability_balance_info, {'api_key': KEY})
    assert not failed and warnings == []


@pytest.mark.parametrize('value, message', [('', 'metrics_path is empty; leave it unset for the default'),
                                            ('/tmp/a\nb.prom', 'metrics_path contains a control character (such as a line break)')])
def test_a_bad_metrics_path_is_refused_before_any_request(fake_api, run_module, value, message):
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'metrics_path': value})
    assert failed and result['msg'] == message
    assert fake_api.requests == []


def test_the_key_is_in_no_file(fake_api, run_module, demo_account, demo_credits, tmp_path):
    demo_account['organizations'][1]['name'] = 'echo %s' % KEY
    fake_api.serve(demo_credits, account=demo_account)
    path = tmp_path / 'stability.prom'
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'all_organizations': True, 'metrics_path': str(path)})
    assert not failed
    assert KEY[:8] not in path.read_text() and ('org-alice-lab', 'echo ********') in credits_of(read_metrics(str(path)))


def test_the_runway_joins_the_file_when_the_ledger_knows_it(fake_api, run_module, demo_account, tmp_path):
    fake_api.answer(payload={'credits': 100.0}).answer(payload=demo_account)
    ledger = tmp_path / 'ledger.jsonl'
    ledger.write_text(history('org-lab', 100.0))
    path = str(tmp_path / 'stability.prom')
    result, failed, warnings = run_module(stability_balance_info, {'api_key': KEY, 'organization': 'org-lab', 'ledger_path': str(ledger),
                                                                   'metrics_path': path})
    assert not failed and warnings == []
    metrics = read_metrics(path)
    assert metrics[('stability_runway_runs_left', 'org-lab', '')] == result['runway']['runs_left'] == 10
    assert metrics[('stability_runway_days_left', 'org-lab', '')] == pytest.approx(result['runway']['days_left'])
