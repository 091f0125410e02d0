# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""stability_balance_info with a ledger: ``runway`` beside each balance, and the runway gates."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import math

import pytest

from ansible_collections.stabilityai.platform.plugins.module_utils._ledger import format_time
from ansible_collections.stabilityai.platform.plugins.modules import stability_balance_info

KEY = 'sk-unit-runway-key-3'
STUDIO = 'org-alice-studio'  # the demo account's default organization
SPENT_PER_RUN = 10.0
DAYS_RECORDED = 3 + 5 / 1440.0  # from the first run's start to the last run's end


def history(organization, left):
    """Three daily runs that spent 10 each, the last one ending a day ago with ``left`` credits."""
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = []
    for days_ago, before in ((3, left + 30), (2, left + 20), (1, left + 10)):
        end = now - datetime.timedelta(days=days_ago)
        for event, when, credits in (('start', end - datetime.timedelta(minutes=5), before), ('end', end, before - 10)):
            lines.append(json.dumps(dict(time=format_time(when), organization_id=organization, credits=credits,
                                         run_id='run-%d' % days_ago, event=event, playbook='generate.yml')))
    return '\n'.join(lines) + '\n'


def runs_left(credits):
    return int(math.floor(credits / SPENT_PER_RUN))


def days_left(credits):
    return credits / (3 * SPENT_PER_RUN / DAYS_RECORDED)


@pytest.fixture
def ledger(tmp_path, demo_credits):
    """The default organization's runs as the callback of 1.x recorded them: without an id."""
    path = tmp_path / 'ledger.jsonl'
    path.write_text(history(None, demo_credits[None]))
    return str(path)


@pytest.fixture
def ledger_by_id(tmp_path, demo_credits):
    """The default organization's runs as the callback of 2.0.0 records them: by its id."""
    path = tmp_path / 'ledger-by-id.jsonl'
    path.write_text(history(STUDIO, demo_credits[STUDIO]))
    return str(path)


def requested(api):
    return [(request.url.rsplit('/', 1)[-1], request.headers.get('Organization')) for request in api.requests]


def test_runway_at_the_top_and_in_each_balance(fake_api, run_module, ledger, demo_account, demo_credits):
    fake_api.serve(demo_credits, account=demo_account)
    result, failed, warnings = run_module(stability_balance_info, {'api_key': KEY, 'all_organizations': True, 'ledger_path': ledger})
    assert not failed
    studio, lab, farm = result['balances']
    assert studio['organization_id'] == STUDIO
    assert result['runway'] == studio['runway']  # credits are the default organization's, whose id the account told
    assert studio['runway']['runs_left'] == runs_left(demo_credits[STUDIO]) and studio['runway']['runs_recorded'] == 3
    assert studio['runway']['days_left'] == pytest.approx(days_left(demo_credits[STUDIO]), rel=1e-3)
    assert lab['runway']['runs_left'] is None and 'no complete run' in lab['runway']['reason']
    assert farm['credits'] == 0 and (farm['runway']['runs_left'], farm['runway']['days_left'], farm['runway']['reason']) == (0, 0, None)
    assert warnings == []


def test_the_default_organization_without_the_account_matches_readings_without_an_id(fake_api, run_module, ledger, demo_credits):
    fake_api.answer(payload={'credits': demo_credits[None]})
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'ledger_path': ledger})
    assert not failed and result['runway']['runs_left'] == runs_left(demo_credits[None]) and result['runway']['runs_recorded'] == 3
    assert requested(fake_api) == [('balance', None)]  # nothing in the ledger needs the default organization's id


def test_written_without_an_id_read_by_the_default_organizations_id(fake_api, run_module, ledger, demo_account, demo_credits):
    fake_api.serve(demo_credits, account=demo_account)
    result, failed, warnings = run_module(stability_balance_info, {
        'api_key': KEY, 'organization': STUDIO, 'ledger_path': ledger, 'min_runs_left': runs_left(demo_credits[STUDIO]) + 1})
    assert failed and result['runway']['runs_recorded'] == 3 and result['runway']['runs_left'] == runs_left(demo_credits[STUDIO])
    assert result['msg'].startswith('Runway below min_runs_left %d: %s has %d runs left' % (
        runs_left(demo_credits[STUDIO]) + 1, STUDIO, runs_left(demo_credits[STUDIO])))
    assert requested(fake_api) == [('balance', STUDIO), ('account', None)]  # the account, once, to learn the default's id


def test_written_without_an_id_is_not_another_organizations_history(fake_api, run_module, ledger, demo_account, demo_credits):
    fake_api.serve(demo_credits, account=demo_account)
    result, failed, warnings = run_module(stability_balance_info, {'api_key': KEY, 'organization': 'org-alice-lab', 'ledger_path': ledger})
    assert not failed and result['runway']['runs_recorded'] == 0


def test_written_by_id_read_as_the_default_organization(fake_api, run_module, ledger_by_id, demo_account, demo_credits):
    fake_api.serve(demo_credits, account=demo_account)
    threshold = runs_left(demo_credits[None]) + 1
    result, failed, warnings = run_module(stability_balance_info, {'api_key': KEY, 'ledger_path': ledger_by_id, 'min_runs_left': threshold})
    assert failed and result['runway']['runs_recorded'] == 3 and result['runway']['runs_left'] == threshold - 1
    assert result['msg'].startswith("Runway below min_runs_left %d: the key's default organization has %d runs left" % (threshold, threshold - 1))
    assert requested(fake_api) == [('balance', None), ('account', None)]


@pytest.mark.parametrize('args', [{'all_organizations': True}, {'organizations': 'all'}, {'organizations': [STUDIO]}])
def test_written_by_id_or_without_read_with_the_account_needs_no_more_requests(fake_api, run_module, ledger, ledger_by_id, demo_account,
                                                                               demo_credits, args):
    for path in (ledger, ledger_by_id):
        fake_api.requests[:] = []
        fake_api.serve(demo_credits, account=demo_account)
        result, failed, dummy = run_module(stability_balance_info, dict(args, api_key=KEY, ledger_path=path))
        assert not failed and result['balances'][0]['runway']['runs_recorded'] == 3
        assert [name for name, dummy in requested(fake_api)].count('account') == 1


def test_written_by_id_read_by_id_needs_no_account(fake_api, run_module, ledger_by_id, demo_credits):
    fake_api.answer(payload={'credits': demo_credits[STUDIO]})
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'organization': STUDIO, 'ledger_path': ledger_by_id})
    assert not failed and result['runway']['runs_recorded'] == 3 and requested(fake_api) == [('balance', STUDIO)]


def test_an_account_that_cannot_be_read_fails_with_the_credits_read(fake_api, run_module, ledger_by_id, demo_credits):
    fake_api.answer(payload={'credits': 5.0}).answer(status=500, payload={'name': 'boom', 'message': 'down', 'id': 'e1'})
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'ledger_path': ledger_by_id, 'retries': 0})
    assert failed and result['credits'] == 5.0 and result['status'] == 500 and 'account' in result['msg']


def test_without_a_ledger_there_is_no_runway(fake_api, run_module):
    fake_api.answer(payload={'credits': 5.0})
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY})
    assert not failed and 'runway' not in result


def test_min_runs_left_fails_naming_the_organization_its_runway_and_the_threshold(fake_api, run_module, ledger, demo_account, demo_credits):
    fake_api.serve(demo_credits, account=demo_account)
    runs = runs_left(demo_credits[STUDIO])
    result, failed, warnings = run_module(stability_balance_info, {
        'api_key': KEY, 'organizations': [STUDIO], 'ledger_path': ledger, 'min_runs_left': runs + 1})
    assert failed
    assert result['msg'] == 'Runway below min_runs_left %d: %s (Alice Studio) has %d runs left at up to 10.00 credits a run (%.2f credits)' % (
        runs + 1, STUDIO, runs, demo_credits[STUDIO])
    assert result['balances'][0]['runway']['runs_left'] == runs
    assert result['failed_gates'] == [dict(option='min_runs_left', organization_id=STUDIO, value=runs, threshold=runs + 1.0)]


def test_min_days_left_fails_and_min_credits_is_reported_with_it(fake_api, run_module, ledger, demo_credits):
    fake_api.answer(payload={'credits': demo_credits[None]})
    days = days_left(demo_credits[None])
    threshold = int(days) + 1
    result, failed, warnings = run_module(stability_balance_info, {
        'api_key': KEY, 'ledger_path': ledger, 'min_days_left': threshold, 'min_credits': demo_credits[None] + 1})
    assert failed
    credits_failure, runway_failure = result['msg'].split('; ')
    assert credits_failure.startswith('Credits are below min_credits %.2f' % (demo_credits[None] + 1))
    assert runway_failure == ("Runway below min_days_left %d: the key's default organization has %.1f days left, "
                              "spending 9.99 credits a day (%.2f credits)" % (threshold, days, demo_credits[None]))
    assert 'runway' in result


def test_gates_pass_when_the_runway_is_just_long_enough(fake_api, run_module, ledger, demo_credits):
    fake_api.answer(payload={'credits': demo_credits[None]})
    result, failed, warnings = run_module(stability_balance_info, {
        'api_key': KEY, 'ledger_path': ledger, 'min_days_left': int(days_left(demo_credits[None])),
        'min_runs_left': runs_left(demo_credits[None])})
    assert not failed and warnings == []


def test_a_gate_without_data_warns_and_passes(fake_api, run_module, tmp_path, demo_credits):
    fake_api.answer(payload={'credits': demo_credits['org-alice-lab']})
    result, failed, warnings = run_module(stability_balance_info, {
        'api_key': KEY, 'organization': 'org-alice-lab', 'ledger_path': str(tmp_path / 'none.jsonl'), 'min_runs_left': 5})
    assert not failed
    assert warnings == ['min_runs_left 5 not checked, too little data in the ledger: org-alice-lab: the ledger holds less than a day of '
                        'readings in the last 7 days; no complete run (a start and an end reading) in the last 7 days']


def test_a_damaged_line_is_a_warning(fake_api, run_module, ledger, demo_credits):
    with open(ledger, 'a') as handle:
        handle.write('{"broken\n')
    fake_api.answer(payload={'credits': demo_credits[None]})
    result, failed, warnings = run_module(stability_balance_info, {'api_key': KEY, 'ledger_path': ledger})
    assert not failed and result['runway']['runs_left'] == runs_left(demo_credits[None])
    assert len(warnings) == 1 and warnings[0].startswith('ledger %s: skipped 1 line that is not a reading (first: line 7, ' % ledger)


def test_a_ledger_that_is_a_link_fails_naming_the_option(fake_api, run_module, tmp_path, ledger, demo_credits):
    link = tmp_path / 'link.jsonl'
    link.symlink_to(ledger)
    fake_api.answer(payload={'credits': demo_credits[None]})
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'ledger_path': str(link)})
    assert failed and result['msg'] == 'ledger_path: %s is a symbolic link (it is not followed), not a regular file' % link


@pytest.mark.parametrize('option', ['min_days_left', 'min_runs_left'])
def test_a_runway_gate_needs_the_ledger(fake_api, run_module, option):
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, option: 3})
    assert failed and 'ledger_path' in result['msg'] and option in result['msg']
    assert fake_api.requests == []


@pytest.mark.parametrize('value', [-1, 'nan', 'inf'])
def test_a_bad_runway_threshold_is_refused_before_any_request(fake_api, run_module, ledger, value):
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'ledger_path': ledger, 'min_days_left': value})
    assert failed and result['msg'].startswith('min_days_left must be a number of days, 0 or more, got ')
    assert fake_api.requests == []


def write_runs(path, organization, spends, before=1000.0):
    """One run a day, ending a day ago, spending each of ``spends`` in turn."""
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = []
    for index, spend in enumerate(spends):
        end = now - datetime.timedelta(days=len(spends) - index)
        for event, when, credits in (('start', end - datetime.timedelta(minutes=5), before), ('end', end, before - spend)):
            lines.append(json.dumps(dict(time=format_time(when), organization_id=organization, credits=credits,
                                         run_id='run-%d' % index, event=event, playbook='generate.yml')))
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def test_an_overdrawn_balance_fails_both_gates_naming_it_though_the_ledger_shows_no_spend(fake_api, run_module, tmp_path):
    ledger = write_runs(tmp_path / 'ledger.jsonl', 'org-lab', [0, 0, 0], before=-5.0)
    fake_api.answer(payload={'credits': -5.0})
    result, failed, warnings = run_module(stability_balance_info, {
        'api_key': KEY, 'organization': 'org-lab', 'ledger_path': ledger, 'min_days_left': 3, 'min_runs_left': 10})
    assert failed and warnings == []
    assert result['msg'] == ('Runway below min_days_left 3: org-lab has 0.0 days left (-5.00 credits); '
                             'Runway below min_runs_left 10: org-lab has 0 runs left (-5.00 credits)')


def test_the_costliest_run_gates_not_the_median(fake_api, run_module, tmp_path):
    ledger = write_runs(tmp_path / 'ledger.jsonl', 'org-lab', [0, 500, 0, 500, 0])
    fake_api.answer(payload={'credits': 100.0})
    result, failed, dummy = run_module(stability_balance_info, {
        'api_key': KEY, 'organization': 'org-lab', 'ledger_path': ledger, 'min_runs_left': 1})
    assert failed and result['msg'] == 'Runway below min_runs_left 1: org-lab has 0 runs left at up to 500.00 credits a run (100.00 credits)'
    assert (result['runway']['spent_per_run'], result['runway']['spent_per_run_max']) == (0, 500)


@pytest.mark.parametrize('credits, spends', [(1.7e308, [1e-310]), (1.7e308, [10.0]), (5.0, [1e-310, 0.0]), (1e-310, [1e-310])])
def test_numeric_extremes_never_crash_the_module(fake_api, run_module, tmp_path, credits, spends):
    ledger = write_runs(tmp_path / 'ledger.jsonl', 'org-lab', spends, before=spends[0] if spends[0] < 1 else 1e3)
    fake_api.answer(payload={'credits': credits})
    result, failed, dummy = run_module(stability_balance_info, {
        'api_key': KEY, 'organization': 'org-lab', 'ledger_path': ledger, 'min_runs_left': 1, 'min_days_left': 1})
    assert 'Traceback' not in json.dumps(result) and 'MODULE FAILURE' not in result.get('msg', '')
    json.dumps(result, allow_nan=False)
    assert result['runway']['reason'] is None or 'too little' not in result['runway']['reason']
    if failed:
        assert result['msg'].startswith('Runway below ')


def test_runway_required_makes_a_thin_ledger_fail_the_gate(fake_api, run_module, tmp_path):
    fake_api.answer(payload={'credits': 50.0})
    result, failed, warnings = run_module(stability_balance_info, {
        'api_key': KEY, 'organization': 'org-lab', 'ledger_path': str(tmp_path / 'none.jsonl'), 'min_runs_left': 5, 'runway_required': True})
    assert failed and warnings == []
    assert result['msg'] == ('Runway unknown for min_runs_left 5 and runway_required is true, too little data in the ledger: org-lab: the ledger '
                             'holds less than a day of readings in the last 7 days; no complete run (a start and an end reading) in the last 7 days')


def test_runway_required_passes_a_known_runway(fake_api, run_module, ledger, demo_credits):
    fake_api.answer(payload={'credits': demo_credits[None]})
    result, failed, warnings = run_module(stability_balance_info, {
        'api_key': KEY, 'ledger_path': ledger, 'min_runs_left': 1, 'min_days_left': 1, 'runway_required': True})
    assert not failed and warnings == []


def test_runway_required_is_a_boolean(fake_api, run_module, tmp_path):
    result, failed, dummy = run_module(stability_balance_info, {'api_key': KEY, 'ledger_path': str(tmp_path / 'x'), 'runway_required': 'maybe'})
    assert failed and 'runway_required' in result['msg'] and fake_api.requests == []
