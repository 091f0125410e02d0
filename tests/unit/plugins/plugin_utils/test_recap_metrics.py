# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The credit recap's metrics: the file and the push at the end of a run, checked at its start, never failing it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os
import stat
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.stabilityai.platform.plugins.module_utils import _metrics
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import PLACEHOLDER, StabilityError
from ansible_collections.stabilityai.platform.plugins.plugin_utils._recap import CreditRecap
from ansible_collections.stabilityai.platform.tests.unit.plugins.plugin_utils.test_recap import KEY, LAB, STUDIO, T0, Clock, options

HOSTILE = 'Lab "x"\\\n} stability_credits{organization_id="forged"} 1\x1b[2J'
# The name as the client hands it on: control characters replaced (_errors.server_data); quotes and backslashes stay.
SHOWN = HOSTILE.replace('\n', PLACEHOLDER).replace('\x1b', PLACEHOLDER)


def raw(values):
    """The callback's raw_option: each value as written in the environment variable STABILITY_<NAME>."""
    return lambda name: (values.get(name), 'the environment variable STABILITY_%s' % name.upper() if name in values else None)


def run_recap(fake_api, credits_before, credits_after, warnings, metrics, account=None, **values):
    """One run: the start reads ``credits_before``, the end ``credits_after``, an hour apart."""
    clock = Clock()
    run = CreditRecap(options(**values), warnings.append, 'site.yml', now=clock, raw_option=raw(metrics))
    fake_api.serve(credits_before, account)
    run.start()
    clock.now = T0 + datetime.timedelta(hours=1)
    fake_api.serve(credits_after, account)
    return run, run.finish()


def _raise(exc):
    raise exc


def read(path):
    with open(str(path)) as handle:
        return dict(((sample.name, sample.labels['organization_id'], sample.labels['organization_name']), sample.value)
                    for family in text_string_to_metric_families(handle.read()) for sample in family.samples)


@pytest.fixture(autouse=True)
def no_pushgateway_environment(monkeypatch):
    for name in ('GITHUB_STEP_SUMMARY', _metrics.USERNAME_ENV, _metrics.PASSWORD_ENV):
        monkeypatch.delenv(name, raising=False)


def test_the_file_holds_credits_spend_and_time_per_organization(fake_api, tmp_path, demo_account):
    path = tmp_path / 'stability.prom'
    demo_account['organizations'][1]['name'] = HOSTILE
    warnings = []
    run_recap(fake_api, {STUDIO: 100.0, LAB: 50.0, 'org-render-farm': 0.0}, {STUDIO: 75.5, LAB: 60.0, 'org-render-farm': 0.0}, warnings,
              {'metrics_path': str(path)}, account=demo_account, organizations=['all'])
    assert warnings == []
    end = (T0 + datetime.timedelta(hours=1)).timestamp()
    assert read(path) == {
        ('stability_credits', STUDIO, 'Alice Studio'): 75.5,
        ('stability_run_spent_credits', STUDIO, 'Alice Studio'): 24.5,
        ('stability_last_reading_timestamp_seconds', STUDIO, 'Alice Studio'): end,
        ('stability_credits', LAB, SHOWN): 60.0,
        ('stability_run_spent_credits', LAB, SHOWN): -10.0,
        ('stability_last_reading_timestamp_seconds', LAB, SHOWN): end,
        ('stability_credits', 'org-render-farm', 'Render Farm'): 0.0,
        ('stability_run_spent_credits', 'org-render-farm', 'Render Farm'): 0.0,
        ('stability_last_reading_timestamp_seconds', 'org-render-farm', 'Render Farm'): end,
    }
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644
    assert KEY[:8] not in path.read_text()


def test_the_runway_joins_when_the_ledger_knows_it(fake_api, tmp_path):
    path, ledger = tmp_path / 'stability.prom', tmp_path / 'ledger.jsonl'
    warnings = []
    for day in range(3):  # three runs a day apart that spent 10 each
        clock = Clock()
        clock.now = T0 + datetime.timedelta(days=day)
        run = CreditRecap(options(organizations=[LAB], ledger_path=str(ledger)), warnings.append, 'site.yml', now=clock,
                          raw_option=raw({'metrics_path': str(path)}))
        fake_api.serve({LAB: 100.0 - 10 * day})
        run.start()
        clock.now += datetime.timedelta(minutes=5)
        fake_api.serve({LAB: 90.0 - 10 * day})
        run.finish()
    metrics = read(path)
    assert metrics[('stability_credits', LAB, '')] == 70.0
    assert metrics[('stability_runway_runs_left', LAB, '')] == 7.0
    assert metrics[('stability_runway_days_left', LAB, '')] == pytest.approx(70.0 / (30.0 / (2 + 5 / 1440.0)))


def test_a_failed_end_reading_exports_the_start_reading_without_spend(fake_api, tmp_path):
    path = tmp_path / 'stability.prom'
    warnings = []
    clock = Clock()
    run = CreditRecap(options(organizations=[LAB]), warnings.append, 'site.yml', now=clock, raw_option=raw({'metrics_path': str(path)}))
    fake_api.serve({LAB: 40.0})
    run.start()
    clock.now = T0 + datetime.timedelta(hours=1)
    run._client.fetch_balance = lambda organization: _raise(StabilityError('the API is down'))
    run.finish()
    assert len(warnings) == 1 and 'the API is down' in warnings[0]
    assert read(path) == {('stability_credits', LAB, ''): 40.0, ('stability_last_reading_timestamp_seconds', LAB, ''): T0.timestamp()}


def test_nothing_read_leaves_the_file_as_it_was(fake_api, tmp_path, sleeps):
    path = tmp_path / 'stability.prom'
    path.write_text('stability_credits{organization_id="org-alice-lab",organization_name=""} 5.0\n')
    warnings = []
    run = CreditRecap(options(organizations=[LAB]), warnings.append, 'site.yml', now=Clock(), raw_option=raw({'metrics_path': str(path)}))
    fake_api.answer(status=500, payload={}).answer(status=500, payload={})
    run.start()
    run.finish()
    assert path.read_text() == 'stability_credits{organization_id="org-alice-lab",organization_name=""} 5.0\n'
    assert len(warnings) == 1 and 'metrics' not in warnings[0]


def test_an_unwritable_file_is_one_warning_naming_the_option(fake_api, tmp_path):
    path = tmp_path / 'stability.prom'
    os.mkfifo(str(path))
    warnings = []
    run, lines = run_recap(fake_api, {LAB: 10.0}, {LAB: 9.0}, warnings, {'metrics_path': str(path)}, organizations=[LAB])
    assert warnings == ['stabilityai.platform.credit_recap: metrics_path: %s is a FIFO (named pipe), not a regular file; no metrics were written; '
                        'the run itself is not affected' % path]
    assert lines[-1] == 'total spent: 1.00 credits'


@pytest.mark.parametrize('metrics, message', [
    ({'metrics_path': 'a\nb'}, 'metrics_path (set by the environment variable STABILITY_METRICS_PATH) contains a control character'),
    ({'pushgateway_url': 'ftp://h'}, "pushgateway_url (set by the environment variable STABILITY_PUSHGATEWAY_URL) must start with http:// or https://"),
    ({'pushgateway_url': 'http://h', 'pushgateway_grouping': 'x'}, 'pushgateway_grouping (set by the environment variable '
                                                                   "STABILITY_PUSHGATEWAY_GROUPING) items are label=value"),
    ({'pushgateway_url': 'http://h', 'pushgateway_ca_path': '/nonexistent.pem'}, 'pushgateway_ca_path (set by the environment variable '
                                                                                 'STABILITY_PUSHGATEWAY_CA_PATH) /nonexistent.pem is not a readable file'),
])
def test_a_refused_option_is_one_warning_at_the_start_before_any_request(fake_api, metrics, message):
    warnings = []
    run = CreditRecap(options(organizations=[LAB]), warnings.append, 'site.yml', now=Clock(), raw_option=raw(metrics))
    fake_api.serve({LAB: 10.0})
    run.start()
    assert len(warnings) == 1 and warnings[0].startswith('stabilityai.platform.credit_recap: ' + message)
    assert [request.url for request in fake_api.requests] == ['http://127.0.0.1:9/v1/user/balance']  # the recap itself still reads
    run.finish()
    assert len(warnings) == 1


def test_credentials_over_plain_http_to_another_host_are_refused_without_showing_them(fake_api, monkeypatch):
    monkeypatch.setenv(_metrics.USERNAME_ENV, 'ci')
    monkeypatch.setenv(_metrics.PASSWORD_ENV, 'pa55w0rd-secret')
    warnings = []
    run = CreditRecap(options(organizations=[LAB]), warnings.append, 'site.yml', now=Clock(),
                      raw_option=raw({'pushgateway_url': 'http://pushgateway.example:9091'}))
    fake_api.serve({LAB: 10.0})
    run.start()
    assert warnings == ['stabilityai.platform.credit_recap: pushgateway_url uses plain http:// to pushgateway.example, which would send the '
                        'Pushgateway password in clear text; use https:// (http:// with credentials only to localhost, 127.x.x.x or [::1]); '
                        'the run itself is not affected']


def test_without_prometheus_client_one_warning_names_the_package_and_the_recap_goes_on(fake_api, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'prometheus_client', None)
    warnings = []
    folder = tmp_path / 'metrics'
    folder.mkdir()
    run, lines = run_recap(fake_api, {LAB: 10.0}, {LAB: 9.0}, warnings,
                           {'metrics_path': str(folder / 's.prom'), 'pushgateway_url': 'http://127.0.0.1:9'}, organizations=[LAB])
    assert warnings == ['stabilityai.platform.credit_recap: metrics_path needs the Python library prometheus-client '
                        '(pip install prometheus-client); no metrics were written; the run itself is not affected']
    assert lines[-1] == 'total spent: 1.00 credits' and os.listdir(str(folder)) == []


def test_an_empty_value_in_ansible_cfg_is_one_warning_naming_it(fake_api):
    def cfg(name):
        return ('', '[callback_credit_recap] %s in ansible.cfg' % name) if name == 'metrics_path' else (None, None)
    warnings = []
    run = CreditRecap(options(organizations=[LAB]), warnings.append, 'site.yml', now=Clock(), raw_option=cfg)
    fake_api.serve({LAB: 10.0})
    run.start()
    assert warnings == ['stabilityai.platform.credit_recap: metrics_path (set by [callback_credit_recap] metrics_path in ansible.cfg) is empty; '
                        'leave it unset for the default; the run itself is not affected']


def test_the_push_goes_to_the_playbook_s_group_and_failure_is_one_warning(fake_api, monkeypatch):
    pushed = []

    def push(self, client, readings, secret=None):
        pushed.append((self.url, self.grouping, readings, secret))
        raise _metrics.MetricsError('pushgateway_url: cannot push to %s: refused' % self.url)
    monkeypatch.setattr(_metrics.Pushgateway, 'push', push)
    warnings = []
    run_recap(fake_api, {LAB: 10.0}, {LAB: 9.0}, warnings, {'pushgateway_url': 'http://127.0.0.1:9091/'}, organizations=[LAB])
    (url, grouping, readings, secret), = pushed
    assert (url, grouping, secret) == ('http://127.0.0.1:9091', {'playbook': 'site.yml'}, KEY)
    assert readings == [dict(organization_id=LAB, organization_name=None, credits=9.0, time=(T0 + datetime.timedelta(hours=1)).timestamp(),
                             spent=1.0, days_left=None, runs_left=None)]
    assert warnings == ['stabilityai.platform.credit_recap: pushgateway_url: cannot push to http://127.0.0.1:9091: refused; '
                        'the run itself is not affected']


def test_an_unexpected_error_in_a_metrics_output_is_one_warning(fake_api, tmp_path, monkeypatch):
    monkeypatch.setattr(_metrics, 'registry_of', lambda *args: _raise(ValueError('odd %s' % KEY)))
    warnings = []
    run_recap(fake_api, {LAB: 10.0}, {LAB: 9.0}, warnings, {'metrics_path': str(tmp_path / 's.prom')}, organizations=[LAB])
    assert warnings == ['stabilityai.platform.credit_recap: metrics: ValueError: odd ********; the run itself is not affected']
