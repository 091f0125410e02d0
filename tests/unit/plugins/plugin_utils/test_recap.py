# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The credit recap: requests per run, what it prints, reports, records, and that it never raises."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import stat
import time
from html.parser import HTMLParser

import cmarkgfm
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.stabilityai.platform.plugins.module_utils import _errors, _ledger as _ledger_module
from ansible_collections.stabilityai.platform.plugins.module_utils._locking import LockTimeout
from ansible_collections.stabilityai.platform.plugins.module_utils._errors import PLACEHOLDER, StabilityError, StabilityOptionError, one_line
from ansible_collections.stabilityai.platform.plugins.module_utils._thresholds import organization_label
from ansible_collections.stabilityai.platform.plugins.module_utils._ledger import LedgerError, read_readings
from ansible_collections.stabilityai.platform.plugins.plugin_utils import _recap
from ansible_collections.stabilityai.platform.plugins.plugin_utils._recap import (
    CreditRecap,
    format_markdown,
    format_text,
    markdown_text,
)

KEY = 'sk-unit-recap-0123456789abcdef'
STUDIO, LAB, FARM = 'org-alice-studio', 'org-alice-lab', 'org-render-farm'  # the demo account's organizations
T0 = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.timezone.utc)


class Clock(object):
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def options(**values):
    values.setdefault('api_key', KEY)
    values.setdefault('api_url', 'http://127.0.0.1:9')
    values.setdefault('retries', 0)
    return values.get


def recap(warnings, clock=None, **values):
    return CreditRecap(options(**values), warnings.append, 'site.yml', now=clock)


@pytest.fixture(autouse=True)
def no_summary(monkeypatch):
    monkeypatch.delenv('GITHUB_STEP_SUMMARY', raising=False)


def balance_requests(fake_api):
    return [(request.url.rsplit('/', 1)[-1], request.headers.get('Organization')) for request in fake_api.requests]


@pytest.mark.parametrize('value, expected', [
    (['org-alice-lab, org-render-farm'], [LAB, FARM]),
    ('org-alice-lab, org-render-farm,org-alice-lab', [LAB, FARM]),
    ([' org-render-farm ', LAB, FARM], [FARM, LAB]),
])
def test_organizations_go_through_the_shared_parser(fake_api, monkeypatch, value, expected):
    fake_api.serve({LAB: 1.0, FARM: 2.0})
    seen = []
    real = _recap.parse_organizations
    monkeypatch.setattr(_recap, 'parse_organizations', lambda option, given: seen.append((option, given)) or real(option, given))
    warnings = []
    run = recap(warnings, organizations=value)
    run.start()
    assert warnings == [] and seen == [('organizations', value)]
    assert [organization for organization, dummy in run._targets] == expected
    assert sorted(organization for dummy, organization in balance_requests(fake_api)) == sorted(expected)


def test_all_with_ids_is_refused(fake_api):
    warnings = []
    run = recap(warnings, organizations=['ALL', 'org-a'])
    run.start()
    assert fake_api.requests == []
    assert warnings == ['stabilityai.platform.credit_recap: organizations is "all" or a list of organization ids, not both: '
                        "got ['ALL', 'org-a']; the run itself is not affected"]


def test_one_request_per_organization_at_each_end_plus_the_account_once_for_all(fake_api, tmp_path, demo_account, demo_credits):
    credits = dict(demo_credits)  # 1532.63, 12.50 and 0.00
    fake_api.serve(credits, demo_account)
    warnings = []
    run = recap(warnings, organizations=['all'], report_path=str(tmp_path / 'r.json'))
    run.start()
    assert sorted(balance_requests(fake_api)) == [('account', None), ('balance', LAB), ('balance', STUDIO), ('balance', FARM)]
    credits[STUDIO] -= 19.5
    credits[LAB] += 100.0
    del fake_api.requests[:]
    lines = run.finish()
    assert sorted(balance_requests(fake_api)) == [('balance', LAB), ('balance', STUDIO), ('balance', FARM)]
    assert warnings == []
    assert lines == [
        'org-alice-studio (Alice Studio) : before 1532.63  after 1513.13  spent 19.50  runway -',
        'org-alice-lab (Alice Lab) : before 12.50  after 112.50  spent -100.00 (topped up)  runway -',
        'org-render-farm (Render Farm) : before 0.00  after 0.00  spent 0.00  runway -',
        'total spent: -80.50 credits (includes a top-up)',
    ]
    report = json.loads((tmp_path / 'r.json').read_text())
    assert stat.S_IMODE(os.stat(str(tmp_path / 'r.json')).st_mode) == 0o600
    assert report['complete'] is True and report['problem'] is None
    assert report['spent'] == pytest.approx(-80.5)
    assert report['playbook'] == 'site.yml'
    assert report['organizations'][0] == dict(organization_id=STUDIO, organization_name='Alice Studio', before=demo_credits[STUDIO],
                                              after=demo_credits[STUDIO] - 19.5, spent=pytest.approx(19.5))
    assert report['started'] and report['finished']


def test_the_default_organization_is_recorded_by_its_id_reading_the_account_once(fake_api, tmp_path, demo_account, demo_credits):
    credits = dict(demo_credits)
    fake_api.serve(credits, account=demo_account)
    ledger = tmp_path / 'ledger.jsonl'
    warnings = []
    run = recap(warnings, ledger_path=str(ledger))
    run.start()
    credits[STUDIO] -= 2.5
    lines = run.finish()
    assert lines[0].startswith('org-alice-studio (Alice Studio) : before 1532.63  after 1530.13  spent 2.50  runway 612 runs left (')
    assert warnings == []
    assert balance_requests(fake_api) == [('account', None), ('balance', STUDIO), ('balance', STUDIO)]
    assert [(item['organization_id'], item['event']) for item in read_readings(str(ledger))[0]] == [(STUDIO, 'start'), (STUDIO, 'end')]


def test_an_account_without_a_default_organization_is_one_warning(fake_api, demo_account):
    for membership in demo_account['organizations']:
        membership['is_default'] = False
    fake_api.serve({}, account=demo_account)
    warnings = []
    run = recap(warnings)
    run.start()
    assert balance_requests(fake_api) == [('account', None)]
    assert warnings == ['stabilityai.platform.credit_recap: organizations is not set and the account has no default organization; '
                        'name the organizations to watch; the run itself is not affected']


def legacy_runs(path, organization, days=3):
    """Daily runs of 10 credits each, as the callback of 1.x (organization None) or 2.0.0 recorded them, ending a day ago."""
    with open(path, 'w') as handle:
        for day in range(days, 0, -1):
            end = T0 - datetime.timedelta(days=day)
            for event, when, value in (('start', end - datetime.timedelta(minutes=5), 1000.0 + 10 * day),
                                       ('end', end, 990.0 + 10 * day)):
                handle.write(json.dumps(dict(time=when.strftime('%Y-%m-%dT%H:%M:%S.%fZ'), organization_id=organization, credits=value,
                                             run_id='old-%d' % day, event=event, playbook='site.yml')) + '\n')


@pytest.mark.parametrize('organizations, account_reads', [(None, 1), (['all'], 1), ([STUDIO], 1), ([LAB, STUDIO], 1)])
def test_readings_written_without_an_id_count_for_the_default_organization(fake_api, tmp_path, demo_account, demo_credits,
                                                                           organizations, account_reads):
    ledger = tmp_path / 'ledger.jsonl'
    legacy_runs(ledger, None)
    fake_api.serve(dict(demo_credits), account=demo_account)
    run = recap([], Clock(), organizations=organizations, ledger_path=str(ledger), report_path=str(tmp_path / 'r.json'))
    run.start()
    run.finish()
    rows = dict((row['organization_id'], row) for row in json.loads((tmp_path / 'r.json').read_text())['organizations'])
    # the three runs of the ledger and this one, which spent nothing
    assert rows[STUDIO]['runway']['runs_recorded'] == 4 and rows[STUDIO]['runway']['spent_per_run'] == 10
    assert all(row['runway']['runs_recorded'] == 1 for organization, row in rows.items() if organization != STUDIO)
    assert [name for name, dummy in balance_requests(fake_api)].count('account') == account_reads


def test_an_account_that_cannot_be_read_at_the_end_keeps_the_rows(fake_api, tmp_path, sleeps):
    ledger = tmp_path / 'ledger.jsonl'
    legacy_runs(ledger, None)
    fake_api.answer(payload={'credits': 10.0}).answer(payload={'credits': 8.0})
    fake_api.answer(status=500, payload={'id': 'e1', 'name': 'server_error', 'message': 'boom'})
    warnings = []
    run = recap(warnings, Clock(), organizations=[LAB], ledger_path=str(ledger), report_path=str(tmp_path / 'r.json'))
    run.start()
    lines = run.finish()
    report = json.loads((tmp_path / 'r.json').read_text())
    assert [(row['organization_id'], row['spent'], row['runway']['runs_recorded']) for row in report['organizations']] == [(LAB, 2.0, 1)]
    assert report['complete'] is False and report['problem'].startswith('GET http://127.0.0.1:9/v1/user/account failed with HTTP 500')
    assert lines[0].startswith('org-alice-lab : before 10.00  after 8.00  spent 2.00') and len(warnings) == 1


def test_readings_by_id_need_no_account_for_organizations_named(fake_api, tmp_path, demo_credits):
    ledger = tmp_path / 'ledger.jsonl'
    legacy_runs(ledger, LAB)
    fake_api.serve(dict(demo_credits))
    run = recap([], Clock(), organizations=[LAB], ledger_path=str(ledger), report_path=str(tmp_path / 'r.json'))
    run.start()
    run.finish()
    assert json.loads((tmp_path / 'r.json').read_text())['organizations'][0]['runway']['runs_recorded'] == 4
    assert balance_requests(fake_api) == [('balance', LAB), ('balance', LAB)]


def test_the_ledger_gets_both_readings_and_the_runway_follows_from_it(fake_api, tmp_path):
    ledger = str(tmp_path / 'ledger.jsonl')
    credits = {'org-a': 100.0}
    fake_api.serve(credits)
    clock = Clock()
    for day in range(3):
        clock.now = T0 + datetime.timedelta(days=day)
        run = recap([], clock, organizations=['org-a'], ledger_path=ledger, report_path=str(tmp_path / 'r.json'))
        run.start()
        clock.now += datetime.timedelta(minutes=5)
        credits['org-a'] -= 10
        lines = run.finish()
    readings, warnings = read_readings(ledger)
    assert warnings == []
    assert [(item['event'], item['credits']) for item in readings] == [
        ('start', 100.0), ('end', 90.0), ('start', 90.0), ('end', 80.0), ('start', 80.0), ('end', 70.0)]
    assert set(item['organization_id'] for item in readings) == {'org-a'}
    assert set(item['playbook'] for item in readings) == {'site.yml'}
    assert len(set(item['run_id'] for item in readings)) == 3
    assert stat.S_IMODE(os.stat(ledger).st_mode) == 0o600
    report = json.loads((tmp_path / 'r.json').read_text())
    forecast = report['organizations'][0]['runway']
    assert forecast['spent_per_run'] == 10 and forecast['runs_left'] == 7 and forecast['runs_recorded'] == 3
    assert forecast['days_left'] == pytest.approx(70 / (30 / (2 + 5 / 1440.0)))
    assert lines[0].startswith('org-a : before 80.00  after 70.00  spent 10.00  runway 4.7 days, 7 runs left')
    assert KEY not in open(ledger).read() + (tmp_path / 'r.json').read_text()


def test_a_failure_at_the_end_warns_once_and_reports_incomplete(fake_api, tmp_path, sleeps):
    fake_api.answer(payload={'credits': 10.0})
    fake_api.answer(status=500, payload={'id': 'e1', 'name': 'server_error', 'message': 'boom %s' % KEY})
    warnings = []
    run = recap(warnings, organizations=['org-a'], report_path=str(tmp_path / 'r.json'))
    run.start()
    lines = run.finish()
    assert len(warnings) == 1
    assert warnings[0].startswith('stabilityai.platform.credit_recap: GET http://127.0.0.1:9/v1/user/balance for organization org-a failed with HTTP 500')
    assert warnings[0].endswith('; the run itself is not affected')
    assert lines[-2] == 'total spent: - credits (incomplete)'
    assert lines[-1].startswith('incomplete: GET http')
    report = json.loads((tmp_path / 'r.json').read_text())
    assert report['complete'] is False
    assert report['organizations'][0]['after'] is None and report['organizations'][0]['spent'] is None
    assert KEY not in json.dumps(report) + ' '.join(warnings + lines)


def test_a_missing_key_warns_once_for_both_ends(fake_api):
    warnings = []
    run = recap(warnings, api_key=None)
    run.start()
    run.finish()
    assert warnings == ['stabilityai.platform.credit_recap: api_key is not set: give the api_key option or set the STABILITY_API_KEY '
                        'environment variable; the run itself is not affected']
    assert fake_api.requests == []


def test_an_option_refused_as_written_warns_once_and_sends_nothing(fake_api, tmp_path):
    """``validate_certs = maybe`` in ansible.cfg reaches the recap as false: the raw check refuses it first."""
    def refuse():
        raise StabilityOptionError('validate_certs (set by [stabilityai_platform] validate_certs in ansible.cfg)',
                                   "must be true or false, got 'maybe'")
    warnings = []
    run = CreditRecap(options(validate_certs=False), warnings.append, 'site.yml', check_raw=refuse)
    run.start()
    run.finish()
    assert len(warnings) == 1 and "validate_certs (set by [stabilityai_platform] validate_certs in ansible.cfg) must be true or " \
        "false, got 'maybe'" in warnings[0]
    assert fake_api.requests == []


def test_an_unexpected_error_never_escapes(fake_api, monkeypatch):
    fake_api.serve({None: 1.0})
    warnings = []
    run = recap(warnings)
    monkeypatch.setattr(run, '_read', lambda: 1 / 0)
    run.start()
    assert run.finish()[-1] == 'incomplete: ZeroDivisionError: division by zero'
    assert len(warnings) == 1


def test_a_ledger_that_cannot_be_written_is_one_warning_and_the_recap_goes_on(fake_api, tmp_path):
    fake_api.serve({'org-a': 5.0})
    link = tmp_path / 'ledger.jsonl'
    link.symlink_to(tmp_path / 'target')
    warnings = []
    run = recap(warnings, organizations=['org-a'], ledger_path=str(link))
    run.start()
    lines = run.finish()
    assert warnings == ['stabilityai.platform.credit_recap: ledger_path: %s is a symbolic link (it is not followed), not a regular file; '
                        'the run itself is not affected' % link]
    assert lines[0] == "org-a : before 5.00  after 5.00  spent 0.00  runway -"


def test_the_github_summary_is_a_markdown_table(fake_api, tmp_path, monkeypatch):
    summary = tmp_path / 'summary.md'
    summary.write_text('earlier step\n')
    monkeypatch.setenv('GITHUB_STEP_SUMMARY', str(summary))
    fake_api.serve({'org-a': 3.0})
    run = recap([], organizations=['org-a'])
    run.start()
    run.finish()
    assert summary.read_text() == (
        'earlier step\n'
        '### Stability AI credits: site\\.yml\n\n'
        '| organization | before | after | spent | runway |\n'
        '|---|---:|---:|---:|---|\n'
        '| org\\-a | 3.00 | 3.00 | 0.00 | - |\n\n'
        '**Total spent:** 0.00 credits\n\n')


def test_markdown_cells_escape_pipes_and_show_problems():
    report = dict(playbook='a|b.yml', complete=False, spent=None, problem='x | y', organizations=[
        dict(organization_id='org-a', organization_name='A|B', before=1.0, after=None, spent=None)])
    text = format_markdown(report)
    assert '### Stability AI credits: a\\|b\\.yml' in text
    assert '| org\\-a \\(A\\|B\\) | 1.00 | - | - | - |' in text
    assert 'Incomplete: x \\| y' in text
    assert format_text(report)[-1] == 'incomplete: x | y'


def test_huge_balances_are_three_significant_digits_in_the_text_and_the_summary():
    report = dict(playbook='x.yml', complete=False, spent=None, problem='p', organizations=[
        dict(organization_id='org-a', organization_name=None, before=-1.7e308, after=1.7e308, spent=None)])
    assert format_text(report)[0].startswith('org-a : before -1.7e+308  after 1.7e+308  spent -')
    assert '| org\\-a | -1.7e+308 | 1.7e+308 | - | - |' in format_markdown(report)


def test_an_organization_id_that_cannot_be_a_header_is_refused_naming_the_option(fake_api):
    warnings = []
    recap(warnings, organizations=['org\na']).start()
    assert fake_api.requests == []
    assert warnings[0].startswith('stabilityai.platform.credit_recap: organizations contains a control character')


def test_whatever_fails_the_warning_never_holds_the_key(fake_api, monkeypatch):
    fake_api.serve({None: 1.0})
    warnings = []
    run = recap(warnings, api_key=' %s ' % KEY)
    monkeypatch.setattr(run, '_read', lambda: _raise(RuntimeError('boom with %s inside' % KEY)))
    run.start()
    lines = run.finish()
    assert warnings == ['stabilityai.platform.credit_recap: RuntimeError: boom with <redacted> inside; the run itself is not affected'
                        .replace('<redacted>', _errors._REDACTED)]
    assert KEY not in ' '.join(lines)


def _raise(exc):
    raise exc


def test_a_client_that_cannot_be_made_at_the_start_is_made_at_the_end(fake_api, monkeypatch):
    from ansible_collections.stabilityai.platform.plugins.module_utils import _client
    fake_api.serve({'org-a': 7.5})
    warnings = []
    run = recap(warnings, organizations=['org-a'])
    made = _client.StabilityClient

    def refuse(connection):
        raise StabilityError('not yet')
    monkeypatch.setattr(_client, 'StabilityClient', refuse)
    run.start()
    monkeypatch.setattr(_client, 'StabilityClient', made)
    lines = run.finish()
    assert warnings == ['stabilityai.platform.credit_recap: not yet; the run itself is not affected']
    assert lines[0] == "org-a : before -  after 7.50  spent -  runway -"


def test_a_client_warning_reaches_the_callback(fake_api):
    fake_api.serve({None: 1.0})
    warnings = []
    run = recap(warnings, validate_certs=False, api_url='https://127.0.0.1:9')
    run.start()
    run.finish()
    assert warnings[0].startswith('validate_certs is false')


def test_the_recap_uses_the_current_utc_time_without_a_clock(fake_api, tmp_path):
    fake_api.serve({'org-a': 1.0})
    warnings = []
    run = recap(warnings, organizations=['org-a'], ledger_path=str(tmp_path / 'ledger.jsonl'), report_path=str(tmp_path / 'r.json'))
    run.start()
    run.finish()
    report = json.loads((tmp_path / 'r.json').read_text())
    assert warnings == [] and report['problem'] is None
    assert report['started'].endswith('Z') and report['organizations'][0]['runway']['window_days'] == 7


def test_the_report_file_is_sorted_indented_json_naming_the_run(fake_api, tmp_path):
    fake_api.serve({'org-a': 1.0})
    run = recap([], organizations=['org-a'], ledger_path=str(tmp_path / 'ledger.jsonl'), report_path=str(tmp_path / 'r.json'))
    run.start()
    run.finish()
    text = (tmp_path / 'r.json').read_text()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + '\n'
    assert json.loads(text)['run_id'] == run.run_id == read_readings(str(tmp_path / 'ledger.jsonl'))[0][0]['run_id']


@pytest.mark.parametrize('option', ['ledger_path', 'report_path'])
def test_an_empty_path_option_is_one_warning_naming_it(fake_api, option):
    fake_api.serve({'org-a': 1.0})
    warnings = []
    run = recap(warnings, organizations=['org-a'], **{option: ' '})
    run.start()
    run.finish()
    assert warnings == ['stabilityai.platform.credit_recap: %s is empty; leave it unset for the default; the run itself is not affected' % option]


def test_a_failure_at_the_start_still_reports_the_end(fake_api, sleeps):
    fake_api.answer(status=500, payload={'id': 'e1', 'name': 'server_error', 'message': 'boom'})
    fake_api.answer(payload={'credits': 4.0})
    run = recap([], organizations=['org-a'])
    run.start()
    lines = run.finish()
    assert lines[0] == "org-a : before -  after 4.00  spent -  runway -"
    assert lines[1] == 'total spent: - credits (incomplete)'


def test_a_ledger_that_cannot_be_read_is_one_warning_and_the_recap_goes_on(fake_api, tmp_path, monkeypatch):
    def unreadable(path, lock_timeout):
        raise LedgerError('%s cannot be opened: Permission denied' % path)
    monkeypatch.setattr(_recap, 'read_readings', unreadable)
    fake_api.serve({'org-a': 2.0})
    warnings = []
    run = recap(warnings, organizations=['org-a'], ledger_path=str(tmp_path / 'ledger.jsonl'))
    run.start()
    lines = run.finish()
    assert warnings == ['stabilityai.platform.credit_recap: ledger_path: %s cannot be opened: Permission denied; the run itself is not affected'
                        % (tmp_path / 'ledger.jsonl')]
    assert lines[0] == "org-a : before 2.00  after 2.00  spent 0.00  runway -"


def test_the_ledger_s_warnings_reach_the_callback(fake_api, tmp_path):
    ledger = tmp_path / 'ledger.jsonl'
    ledger.write_text('not json\n')
    fake_api.serve({'org-a': 2.0})
    warnings = []
    run = recap(warnings, organizations=['org-a'], ledger_path=str(ledger))
    run.start()
    run.finish()
    assert len(warnings) == 1 and warnings[0].startswith('ledger %s: skipped 1 line that is not a reading' % ledger)


def test_a_recap_that_only_saw_the_end_still_reports(fake_api, tmp_path):
    fake_api.serve({None: 3.0})
    run = recap([], report_path=str(tmp_path / 'r.json'))
    run.finish()
    report = json.loads((tmp_path / 'r.json').read_text())
    assert report['started'] is None and report['finished'].endswith('Z')
    assert report['complete'] is False


def test_a_recap_with_nothing_to_read_is_not_complete(fake_api, tmp_path, demo_account):
    fake_api.serve({}, dict(demo_account, organizations=[]))
    warnings = []
    run = recap(warnings, organizations=['all'], report_path=str(tmp_path / 'r.json'))
    run.start()
    assert run.finish() == ['total spent: - credits (incomplete)']
    assert warnings == [] and json.loads((tmp_path / 'r.json').read_text())['complete'] is False


def test_a_run_whose_reads_all_failed_is_not_complete(fake_api, tmp_path, monkeypatch):
    run = recap([], report_path=str(tmp_path / 'r.json'))
    monkeypatch.setattr(run, '_read', lambda: _raise(RuntimeError('boom')))
    run.start()
    run.finish()
    report = json.loads((tmp_path / 'r.json').read_text())
    assert report['organizations'] == [] and report['complete'] is False


def test_the_markdown_of_a_failed_run_names_the_problem():
    report = dict(playbook=None, complete=False, spent=None, problem='boom', organizations=[])
    assert format_markdown(report) == (
        '### Stability AI credits: playbook\n\n'
        '| organization | before | after | spent | runway |\n'
        '|---|---:|---:|---:|---|\n\n'
        '**Total spent:** - credits (incomplete)\n\n'
        'Incomplete: boom\n\n')


def test_markdown_cells_keep_to_one_line():
    report = dict(playbook='site\n.yml', complete=True, spent=1.0, problem=None, organizations=[
        dict(organization_id='org-a', organization_name='A\nB', before=2.0, after=1.0, spent=1.0)])
    text = format_markdown(report)
    assert '### Stability AI credits: site \\.yml\n' in text
    assert '| org\\-a \\(A B\\) | 2.00 | 1.00 | 1.00 | - |\n' in text


# --- the report, the ledger and the step summary: regular files or nothing, each on its own ---------

def special_file(tmp_path, kind):
    """A path holding something that is not a regular file: each used to block, fail late or lose data."""
    path = tmp_path / kind
    if kind == 'fifo':
        os.mkfifo(str(path))
    elif kind == 'directory':
        path.mkdir()
    elif kind == 'symlink':
        path.symlink_to(tmp_path / 'elsewhere')
    else:
        return '/dev/full', 'a character device'
    return str(path), {'fifo': 'a FIFO (named pipe)', 'directory': 'a directory', 'symlink': 'a symbolic link (it is not followed)'}[kind]


def run_watching_org_a(fake_api, monkeypatch, summary, **options):
    """One run of the recap watching org-a, with GITHUB_STEP_SUMMARY set to ``summary``; returns its warnings."""
    monkeypatch.setenv('GITHUB_STEP_SUMMARY', str(summary))
    fake_api.serve({'org-a': 1.0})
    warnings = []
    run = recap(warnings, organizations=['org-a'], **options)
    run.start()
    run.finish()
    return warnings


def refused(option, path, what):
    return 'stabilityai.platform.credit_recap: %s: %s is %s, not a regular file; the run itself is not affected' % (option, path, what)


@pytest.mark.usefixtures('time_limit')
@pytest.mark.parametrize('kind', ['fifo', 'directory', 'symlink', 'device'])
@pytest.mark.parametrize('option', ['ledger_path', 'report_path', 'GITHUB_STEP_SUMMARY'])
def test_an_output_that_is_not_a_regular_file_is_one_warning_and_costs_only_itself(fake_api, tmp_path, monkeypatch, option, kind):
    """The ledger is written at the start and the end and read for the runway: refused each time, warned about once."""
    special, what = special_file(tmp_path, kind)
    paths = dict(ledger_path=str(tmp_path / 'ledger.jsonl'), report_path=str(tmp_path / 'r.json'), GITHUB_STEP_SUMMARY=str(tmp_path / 'summary.md'))
    paths[option] = special
    warnings = run_watching_org_a(fake_api, monkeypatch, paths['GITHUB_STEP_SUMMARY'], ledger_path=paths['ledger_path'],
                                  report_path=paths['report_path'])
    assert warnings == [refused(option, special, what)]
    assert not (tmp_path / 'elsewhere').exists()
    if option != 'ledger_path':
        assert len(read_readings(paths['ledger_path'])[0]) == 2
    if option != 'report_path':
        problem = json.loads((tmp_path / 'r.json').read_text())['problem']
        assert problem == ('ledger_path: %s is %s, not a regular file' % (special, what) if option == 'ledger_path' else None)
    if option != 'GITHUB_STEP_SUMMARY':
        assert '**Total spent:**' in (tmp_path / 'summary.md').read_text()


def test_every_output_that_fails_warns_even_after_another_problem(fake_api, tmp_path, monkeypatch, sleeps):
    fake_api.answer(status=500, payload={'id': 'e1', 'name': 'server_error', 'message': 'boom'})
    fake_api.answer(payload={'credits': 4.0})
    monkeypatch.setenv('GITHUB_STEP_SUMMARY', str(tmp_path))
    warnings = []
    run = recap(warnings, organizations=['org-a'], report_path='/dev/full', ledger_path=str(tmp_path / 'ledger.jsonl'))
    run.start()
    run.finish()
    assert len(warnings) == 3 and 'boom' in warnings[0]
    assert warnings[1:] == [refused('report_path', '/dev/full', 'a character device'),
                            refused('GITHUB_STEP_SUMMARY', str(tmp_path), 'a directory')]


def test_a_write_that_fails_half_way_is_a_warning_naming_the_option(fake_api, tmp_path, monkeypatch):
    def disk_full(fd, data):
        raise OSError(28, os.strerror(28))
    monkeypatch.setattr(_recap, 'write_all', disk_full)
    warnings = run_watching_org_a(fake_api, monkeypatch, tmp_path / 'summary.md', report_path=str(tmp_path / 'r.json'))
    assert warnings == ['stabilityai.platform.credit_recap: %s: %s cannot be written: No space left on device; the run itself is not affected' % (
        option, path) for option, path in (('report_path', tmp_path / 'r.json'), ('GITHUB_STEP_SUMMARY', tmp_path / 'summary.md'))]


def test_an_output_that_cannot_be_rendered_costs_only_itself(fake_api, tmp_path, monkeypatch):
    monkeypatch.setattr(_recap, 'format_markdown', lambda report: 1 / 0)
    warnings = run_watching_org_a(fake_api, monkeypatch, tmp_path / 'summary.md', report_path=str(tmp_path / 'r.json'))
    assert warnings == ['stabilityai.platform.credit_recap: GITHUB_STEP_SUMMARY: ZeroDivisionError: division by zero; the run itself is not affected']
    assert json.loads((tmp_path / 'r.json').read_text())['complete'] is True


@pytest.mark.parametrize('value', ['', '  '])
def test_an_empty_step_summary_variable_means_none(fake_api, tmp_path, monkeypatch, value):
    (tmp_path / 'cwd').mkdir()
    monkeypatch.chdir(str(tmp_path / 'cwd'))
    monkeypatch.setenv('GITHUB_STEP_SUMMARY', value)
    fake_api.serve({'org-a': 1.0})
    warnings = []
    run = recap(warnings, organizations=['org-a'])
    run.start()
    run.finish()
    assert warnings == [] and os.listdir('.') == []


def test_a_longer_old_report_is_replaced_whole(fake_api, tmp_path):
    report = tmp_path / 'r.json'
    report.write_text(u'x' * 100000)
    fake_api.serve({'org-a': 1.0})
    run = recap([], organizations=['org-a'], report_path=str(report))
    run.start()
    run.finish()
    assert json.loads(report.read_text())['run_id'] == run.run_id


def strict_json(text):
    """json.loads that refuses NaN and Infinity, as every strict JSON reader does."""
    def refuse(constant):
        raise ValueError('not JSON: %s' % constant)
    return json.loads(text, parse_constant=refuse)


def test_a_spend_that_does_not_fit_a_number_is_null_with_a_reason_and_the_report_stays_json(fake_api, tmp_path):
    credits = {'org-a': -1.7e308}
    fake_api.serve(credits)
    warnings = []
    run = recap(warnings, Clock(), organizations=['org-a'], report_path=str(tmp_path / 'r.json'), ledger_path=str(tmp_path / 'l.jsonl'))
    run.start()
    credits['org-a'] = 1.7e308
    lines = run.finish()
    report = strict_json((tmp_path / 'r.json').read_text())
    assert report['organizations'][0]['spent'] is None and report['spent'] is None and report['complete'] is False
    assert report['problem'] == 'the spend of org-a (-1.7e+308 before, 1.7e+308 after) does not fit a number; it is reported as null'
    assert warnings == ['stabilityai.platform.credit_recap: %s; the run itself is not affected' % report['problem']]
    assert lines[-2] == 'total spent: - credits (incomplete)'
    strict_json(json.dumps(report['organizations'][0]['runway']))


def test_a_total_that_does_not_fit_a_number_is_null_with_a_reason(fake_api, tmp_path):
    credits = {'org-a': 1e308, 'org-b': 1e308}
    fake_api.serve(credits)
    warnings = []
    run = recap(warnings, Clock(), organizations=['org-a', 'org-b'], report_path=str(tmp_path / 'r.json'))
    run.start()
    credits.update({'org-a': -5e307, 'org-b': -5e307})
    run.finish()
    report = strict_json((tmp_path / 'r.json').read_text())
    assert [row['spent'] for row in report['organizations']] == [1.5e308, 1.5e308]
    assert report['spent'] is None and report['problem'] == 'the total spend does not fit a number; it is reported as null'


def test_the_report_is_written_with_allow_nan_false(fake_api, tmp_path, monkeypatch):
    """The last guard: were a NaN ever to reach the report, it would be a warning, not a file that is not JSON."""
    fake_api.serve({'org-a': 1.0})
    warnings = []
    run = recap(warnings, organizations=['org-a'], report_path=str(tmp_path / 'r.json'))
    monkeypatch.setattr(run, '_report', lambda rows: dict(spent=float('nan'), organizations=[], problem=None, complete=False, playbook='p'))
    run.start()
    run.finish()
    assert not (tmp_path / 'r.json').exists() or 'NaN' not in (tmp_path / 'r.json').read_text()
    assert any('Out of range float values are not JSON compliant' in warning for warning in warnings)


# --- what a server or a name says is data: literal in the step summary, inert on the terminal ---

HOSTILE_NAMES = [
    'A\r# Injected heading\r![px](https://evil.example/p.png)',
    '[Top up here](https://evil.example/phish)',
    'see https://evil.example/x and www.evil.example and mail root@evil.example or @octocat',
    '<img src=x onerror=alert(1)> <a href="https://evil.example">x</a> &lt;b&gt; &#60;i&#62;',
    '*em* __strong__ ~~gone~~ `code` a | b || c\\',
    'line  \nbreak\\\nagain\u2028\u2029[x]: https://evil.example "ref" [x]',
    '\nok: [localhost] => spoof\x1b[31m\u202e\u2066\u200b\x00\x7f\x9b',
    '> quote\n- item\n1. one\n---\n| x | y |\n|---|---|',
]


class _Rendered(HTMLParser):
    """The tags of rendered HTML and the text of each table cell."""

    def __init__(self, html):
        HTMLParser.__init__(self, convert_charrefs=True)
        self.tags, self.rows, self._cell = [], [], None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == 'tr':
            self.rows.append([])
        elif tag in ('td', 'th'):
            self._cell = ''

    def handle_endtag(self, tag):
        if tag in ('td', 'th'):
            self.rows[-1].append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def rendered_summary(name, problem=None):
    report = dict(playbook='site.yml', complete=problem is None, spent=1.0, problem=problem, organizations=[
        dict(organization_id='org-a', organization_name=name, before=2.0, after=1.0, spent=1.0)])
    return _Rendered(cmarkgfm.github_flavored_markdown_to_html(format_markdown(report)))


def literal(text):
    """What a cell must show: the text on one printable line (the word joiner after an ``@`` is invisible)."""
    return one_line(text, 2000)


@pytest.mark.parametrize('name', HOSTILE_NAMES)
def test_a_hostile_name_renders_as_literal_text_in_its_one_cell(name):
    """Rendered with GitHub's own renderer (cmark-gfm, tables and autolinks on)."""
    page = rendered_summary(name, problem='%s failed' % name)
    assert set(page.tags) == {'h3', 'table', 'thead', 'tr', 'th', 'tbody', 'td', 'p', 'strong'}
    assert page.tags.count('h3') == 1 and page.tags.count('strong') == 1 and page.tags.count('tr') == 2
    assert [len(row) for row in page.rows] == [5, 5]
    assert page.rows[1][0].replace('\u2060', '') == literal(organization_label('org-a', name))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60))
def test_any_name_renders_as_literal_text_in_its_one_cell(name):
    page = rendered_summary(name)
    assert set(page.tags) == {'h3', 'table', 'thead', 'tr', 'th', 'tbody', 'td', 'p', 'strong'}
    assert [len(row) for row in page.rows] == [5, 5]
    assert page.rows[1][0].replace('\u2060', '') == literal(organization_label('org-a', name))


def test_an_at_sign_is_kept_from_mentions_and_mail_links():
    assert markdown_text('root@evil.example') == 'root\\@&#8288;evil\\.example'


@pytest.mark.parametrize('name', HOSTILE_NAMES)
def test_the_terminal_recap_holds_no_control_character_from_a_name_or_problem(name):
    report = dict(playbook='site.yml', complete=False, spent=None, problem='boom: %s' % name, organizations=[
        dict(organization_id='org-a', organization_name=name, before=2.0, after=None, spent=None)])
    lines = format_text(report)
    assert len(lines) == 3
    for line in lines:
        assert not [char for char in line if ord(char) < 0x20 or 0x7f <= ord(char) < 0xa0 or char in '\u2028\u2029\u202e\u2066\u200b']
    assert lines[0].startswith('org-a (')
    assert PLACEHOLDER in lines[0] or '\x1b' not in name


@pytest.mark.usefixtures('time_limit')
def test_a_ledger_another_process_keeps_locked_holds_the_run_up_once_not_at_each_use(fake_api, tmp_path, monkeypatch):
    """Start append, end read, end append: three uses of the ledger share one wait of ``timeout`` seconds."""
    ledger = tmp_path / 'ledger.jsonl'
    ledger.write_text('')
    waits = []

    def held_by_another_process(fd, exclusive, deadline, what):
        waits.append(max(deadline - time.monotonic(), 0.0))
        time.sleep(waits[-1])
        raise LockTimeout(what)
    monkeypatch.setattr(_ledger_module, 'lock_with_deadline', held_by_another_process)
    warnings = run_watching_org_a(fake_api, monkeypatch, tmp_path / 'summary.md', ledger_path=str(ledger), timeout=0.3)
    assert len(waits) == 3 and waits[0] == pytest.approx(0.3, abs=0.05) and waits[1] < 0.05 and waits[2] < 0.05
    assert warnings == ['stabilityai.platform.credit_recap: ledger_path: %s stayed locked by another process for 0.3 s; '
                        'the run itself is not affected' % ledger]
    assert ledger.read_text() == ''
