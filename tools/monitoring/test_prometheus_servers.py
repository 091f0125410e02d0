# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The metrics in real servers: a playbook run with the credit_recap callback, the preflight, a Pushgateway and node_exporter.

Every sample is read back from the servers' own /metrics with prometheus-client's parser.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import threading
import urllib.request

import prometheus_client
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.stabilityai.platform.plugins.module_utils import _metrics
from conftest import FIXTURE, HOSTILE_NAME, SHOWN_NAME, ansible_playbook, running, free_port, scrape, stability_samples

# The bcrypt hash of 'pa55-w0rd' for the Pushgateway's web config: made once with crypt.crypt(...,
# METHOD_BLOWFISH) and kept as text, since the crypt module is gone from Python 3.13.
PASSWORD_BCRYPT = '$2b$12$HFRwXBCB5mmpD3xnCUUf6eL.CbD6AmU2Sj78JaswLsbqbxsYjhiXO'

STUDIO, LAB, FARM = 'org-alice-studio', 'org-alice-lab', 'org-render-farm'


def fixture_credits():
    with open(FIXTURE) as handle:
        organizations = json.load(handle)['organizations']
    return dict((organization, organizations[organization]['credits']) for organization in (STUDIO, LAB, FARM))


def test_the_shown_name_is_still_hostile_to_the_text_format():
    assert all(part in SHOWN_NAME for part in ('"x"', '\\', '} stability_credits{organization_id="forged"} 1e9'))


def expected_after_spending(spend):
    """The callback's gauges after one run that spent ``spend`` ({organization: credits}) from the fixture's balances."""
    names = {STUDIO: 'Alice Studio', LAB: SHOWN_NAME, FARM: 'Render Farm'}
    expected = {}
    for organization, credits in fixture_credits().items():
        expected[('stability_credits', organization, names[organization])] = credits - spend.get(organization, 0.0)
        expected[('stability_run_spent_credits', organization, names[organization])] = spend.get(organization, 0.0)
    return expected


def without_timestamps(samples):
    return dict((key, value) for key, value in samples.items() if key[0] != 'stability_last_reading_timestamp_seconds')


def recap_env(env, **values):
    env = dict(env, ANSIBLE_CALLBACKS_ENABLED='stabilityai.platform.credit_recap', STABILITY_RECAP_ORGANIZATIONS='all')
    env.update(values)
    return env


def assert_no_key(text, key):
    assert not [key[start:start + 8] for start in range(len(key) - 7) if key[start:start + 8] in text]


def test_a_run_that_spends_reaches_the_pushgateway_and_the_textfile_collector(pushgateway, node_exporter, ansible_env, demo_key):
    exporter, directory = node_exporter
    path = directory / 'stability.prom'
    env = recap_env(ansible_env, STABILITY_METRICS_FILE=str(path), STABILITY_PUSHGATEWAY_URL=pushgateway,
                    STABILITY_PUSHGATEWAY_GROUPING='pipeline=nightly')
    spend = {STUDIO: 25.0, LAB: 2.5}
    code, output = ansible_playbook(env, 'spend.yml', '-e', json.dumps({'spend': spend}))
    assert code == 0, output
    assert '[WARNING]' not in output, output
    expected = expected_after_spending(spend)

    pushed = stability_samples(scrape(pushgateway + '/metrics'), job='stabilityai_platform', pipeline='nightly')
    assert without_timestamps(pushed) == expected
    served = scrape(exporter + '/metrics')
    assert without_timestamps(stability_samples(served)) == expected
    assert [value for name, labels, value in served if name == 'node_textfile_scrape_error'] == [0.0]
    stamps = [value for key, value in pushed.items() if key[0] == 'stability_last_reading_timestamp_seconds']
    assert len(stamps) == 3 and len(set(stamps)) == 1
    assert oct(path.stat().st_mode & 0o777) == '0o644'
    assert_no_key(path.read_text(), demo_key)
    with urllib.request.urlopen(pushgateway + '/metrics', timeout=10) as answer:
        assert_no_key(answer.read().decode('utf-8'), demo_key)


def test_two_pipelines_keep_their_own_groups(pushgateway, ansible_env):
    env = recap_env(ansible_env, STABILITY_PUSHGATEWAY_URL=pushgateway)
    code, output = ansible_playbook(env, 'spend.yml', '-e', json.dumps({'spend': {STUDIO: 10.0}}))
    assert code == 0 and '[WARNING]' not in output, output
    code, output = ansible_playbook(dict(env, STABILITY_PUSHGATEWAY_GROUPING='pipeline=other, runner=ci/7'), 'spend.yml')
    assert code == 0 and '[WARNING]' not in output, output
    samples = scrape(pushgateway + '/metrics')
    first = stability_samples(samples, job='stabilityai_platform', playbook='spend.yml')  # the default grouping key
    second = stability_samples(samples, job='stabilityai_platform', pipeline='other', runner='ci/7')
    assert first[('stability_run_spent_credits', STUDIO, 'Alice Studio')] == 10.0
    assert second[('stability_run_spent_credits', STUDIO, 'Alice Studio')] == 0.0
    assert first[('stability_credits', STUDIO, 'Alice Studio')] == second[('stability_credits', STUDIO, 'Alice Studio')]


def test_the_preflight_writes_the_balance_of_every_organization_it_checked(node_exporter, ansible_env, demo_key):
    exporter, directory = node_exporter
    path = directory / 'preflight.prom'
    code, output = ansible_playbook(ansible_env, 'stabilityai.platform.preflight', '-e', 'stability_organizations=all',
                                    '-e', 'stability_min_credits=1', '-e', 'stability_metrics_file=%s' % path)
    assert code == 2 and 'org-render-farm (Render Farm) has 0.00' in output, output  # the gate fails; the metrics are still written
    credits = dict((key[1:], value) for key, value in stability_samples(scrape(exporter + '/metrics')).items() if key[0] == 'stability_credits')
    assert credits == {(STUDIO, 'Alice Studio'): fixture_credits()[STUDIO], (LAB, SHOWN_NAME): 12.5, (FARM, 'Render Farm'): 0.0}
    assert_no_key(path.read_text(), demo_key)


def test_an_unreachable_pushgateway_is_one_warning_and_the_run_succeeds(ansible_env, tmp_path):
    env = recap_env(ansible_env, STABILITY_PUSHGATEWAY_URL='http://127.0.0.1:%d' % free_port(), STABILITY_METRICS_FILE=str(tmp_path / 's.prom'))
    code, output = ansible_playbook(env, 'spend.yml')
    assert code == 0, output
    assert output.count('[WARNING]') == 1 and 'pushgateway_url: cannot push to http://127.0.0.1:' in output, output
    assert (tmp_path / 's.prom').is_file()  # the file does not depend on the push


def test_basic_auth_reaches_a_pushgateway_that_requires_it(prometheus_bin, ansible_env, tmp_path):
    config = tmp_path / 'web.yml'
    config.write_text('basic_auth_users:\n  ci: %s\n' % PASSWORD_BCRYPT)
    url = 'http://127.0.0.1:%d' % free_port()
    argv = [os.path.join(prometheus_bin, 'prometheus-pushgateway'), '--web.listen-address=' + url[len('http://'):], '--persistence.file=',
            '--web.config.file=%s' % config]
    with running(argv, url + '/-/ready', str(tmp_path / 'pushgateway.log')):
        env = recap_env(ansible_env, STABILITY_PUSHGATEWAY_URL=url, STABILITY_PUSHGATEWAY_USERNAME='ci')
        code, output = ansible_playbook(dict(env, STABILITY_PUSHGATEWAY_PASSWORD='wrong'), 'spend.yml')
        assert code == 0 and output.count('[WARNING]') == 1 and 'HTTP Error 401: Unauthorized' in output, output
        assert 'wrong' not in output.replace('[WARNING]', '')
        code, output = ansible_playbook(dict(env, STABILITY_PUSHGATEWAY_PASSWORD='pa55-w0rd'), 'spend.yml')
        assert code == 0 and '[WARNING]' not in output, output
        request = urllib.request.Request(url + '/metrics', headers={'Authorization': 'Basic Y2k6cGE1NS13MHJk'})  # ci:pa55-w0rd
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read().decode('utf-8')
        assert 'pa55' not in output
    samples = [(sample.name, sample.labels) for family in text_string_to_metric_families(text) for sample in family.samples]
    assert ('stability_credits', {'job': 'stabilityai_platform', 'playbook': 'spend.yml', 'instance': '', 'organization_id': STUDIO,
                                  'organization_name': 'Alice Studio'}) in samples


def test_the_file_is_whole_at_every_moment(node_exporter):
    """Readers (a loop on the file, and node_exporter's scrapes) see every organization of one write or another, never half a file."""
    exporter, directory = node_exporter
    path = str(directory / 'stability.prom')
    organizations = 100

    def readings(run):
        return [dict(organization_id='org-%03d' % number, organization_name='Team %d "%s"' % (number, HOSTILE_NAME), credits=run + number / 1000.0,
                     time=1e9 + run, spent=run % 7) for number in range(organizations)]

    _metrics.write_metrics_file(prometheus_client, path, readings(0))
    seen, problems, done = [], [], threading.Event()

    def read_file():
        while not done.is_set():
            with open(path, newline='') as handle:  # a carriage return in a name is data, not a line end
                text = handle.read()
            try:
                credits = [sample for family in text_string_to_metric_families(text) for sample in family.samples if sample.name == 'stability_credits']
            except ValueError as exc:
                problems.append('%s: %s' % (exc, text[-200:]))
                continue
            if len(credits) != organizations or len(set(int(sample.value) for sample in credits)) != 1:
                problems.append(text[-200:])
            seen.append(int(credits[0].value) if credits else None)

    def scrape_exporter():
        while not done.is_set():
            samples = scrape(exporter + '/metrics')
            errors = [value for name, labels, value in samples if name == 'node_textfile_scrape_error']
            credits = [value for name, labels, value in samples if name == 'stability_credits']
            if errors != [0.0] or len(credits) != organizations or len(set(int(value) for value in credits)) != 1:
                problems.append('node_exporter: errors %s, %d credits samples' % (errors, len(credits)))

    readers = [threading.Thread(target=read_file), threading.Thread(target=scrape_exporter)]
    for reader in readers:
        reader.start()
    try:
        for run in range(1, 151):
            _metrics.write_metrics_file(prometheus_client, path, readings(run))
    finally:
        done.set()
        for reader in readers:
            reader.join(30)
    assert problems == []
    assert len(set(seen)) > 10, 'the reader saw too few of the writes to test anything'
    assert os.listdir(str(directory)) == ['stability.prom']
