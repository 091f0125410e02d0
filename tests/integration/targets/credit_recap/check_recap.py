# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Assertions of the credit_recap target, one sub-command per step of runme.sh.

    check_recap.py seed LEDGER [null]          write three days of history for org-alice-studio (null: without its id)
    check_recap.py requests URL                clear the simulator's request log
    check_recap.py clear-faults URL            clear the simulator's fault queue
    check_recap.py spend WORK URL              the run that spent 25 from org-alice-studio
    check_recap.py preflight WORK              the preflight playbook with the ledger
    check_recap.py failed WORK                 the run whose play failed on purpose
    check_recap.py fault WORK                  the run whose end reading failed
    check_recap.py parallel WORK               two runs at once on one ledger
    check_recap.py secrets KEY FILE...         no 8 characters of the key in a row, in any case, in any FILE
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import re
import stat
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'setup_simulator', 'files'))
from checks import check, control, read, run, secrets_in  # noqa: E402  (setup_simulator/files/checks.py: what the targets' checks share)

STUDIO = 'org-alice-studio'
ALICE_ORGS = ['org-alice-studio', 'org-alice-lab', 'org-render-farm']


def ledger(work):
    return [json.loads(line) for line in read(os.path.join(work, 'ledger.jsonl')).splitlines() if line.strip()]


def report(work):
    path = os.path.join(work, 'report.json')
    check(stat.S_IMODE(os.stat(path).st_mode) == 0o600, 'the report is not 0600')
    return json.loads(read(path))


def recap_lines(output):
    """The lines the callback printed, which must come after PLAY RECAP."""
    check('PLAY RECAP' in output and 'STABILITY AI CREDITS' in output, 'no recap in the output', output)
    check(output.index('STABILITY AI CREDITS') > output.index('PLAY RECAP'), 'the recap came before PLAY RECAP', output)
    return output[output.index('STABILITY AI CREDITS'):].splitlines()[1:]


def seed(path, organization=STUDIO):
    """Three daily runs of org-alice-studio that spent 25 each, ending a day before this run (``null``: as 1.x recorded it)."""
    organization = None if organization == 'null' else organization
    now = datetime.datetime.now(datetime.timezone.utc)
    credits = 1532.6336833840314 + 75
    with open(path, 'w') as handle:
        for days_ago in (3, 2, 1):
            end = now - datetime.timedelta(days=days_ago)
            for event, when, value in (('start', end - datetime.timedelta(minutes=10), credits), ('end', end, credits - 25)):
                handle.write(json.dumps(dict(time=when.strftime('%Y-%m-%dT%H:%M:%S.%fZ'), organization_id=organization, credits=value,
                                             run_id='seed-%d' % days_ago, event=event, playbook='generate.yml')) + '\n')
            credits -= 25
    os.chmod(path, 0o600)


def spend(work, url):
    output = read(os.path.join(work, 'spend.txt'))
    lines = recap_lines(output)
    studio = [line for line in lines if line.startswith('org-alice-studio (Alice Studio) :')]
    check(len(studio) == 1, 'no line for the studio', output)
    check(re.match(r'^org-alice-studio \(Alice Studio\) : before 1532\.63  after 1507\.63  spent 25\.00  runway '
                   r'\d+\.\d days, 60 runs left$', studio[0]), 'studio line: %s' % studio[0])
    check('org-alice-lab (Alice Lab) : before 12.50  after 12.50  spent 0.00  runway unknown: ' in output, 'lab line', output)
    check('total spent: 25.00 credits' in lines, 'total line', output)

    result = report(work)
    check(result['complete'] is True and result['problem'] is None, 'the report is not complete: %r' % result)
    check(result['playbook'] == 'spend.yml', 'playbook: %r' % result['playbook'])
    check(abs(result['spent'] - 25) < 1e-9, 'spent: %r' % result['spent'])
    check([row['organization_id'] for row in result['organizations']] == ALICE_ORGS, 'organizations: %r' % result)
    row = result['organizations'][0]
    check(row['organization_name'] == 'Alice Studio' and abs(row['before'] - 1532.6336833840314) < 1e-9, 'row: %r' % row)
    forecast = row['runway']
    check(forecast['runs_left'] == 60 and forecast['spent_per_run'] == 25 and forecast['runs_recorded'] == 4, 'runway: %r' % forecast)
    check(40 < forecast['days_left'] < 50 and forecast['reason'] is None, 'runway: %r' % forecast)

    readings = [item for item in ledger(work) if item['run_id'] == result['run_id']]
    check(sorted((item['event'], item['organization_id']) for item in readings)
          == sorted((event, org) for event in ('start', 'end') for org in ALICE_ORGS), 'ledger: %r' % readings)
    check(stat.S_IMODE(os.stat(os.path.join(work, 'ledger.jsonl')).st_mode) == 0o600, 'the ledger is not 0600')

    summary = read(os.path.join(work, 'summary.md'))
    check(summary.startswith('### Stability AI credits: spend\\.yml\n\n| organization | before | after | spent | runway |\n'), summary)
    check('| org\\-alice\\-studio \\(Alice Studio\\) | 1532.63 | 1507.63 | 25.00 | ' in summary, summary)
    check('**Total spent:** 25.00 credits' in summary, summary)

    log = control(url, 'GET', '/_sim/requests')
    endpoints = sorted((entry['endpoint'], entry['organization']) for entry in log)
    check(endpoints == sorted([('account', None)] + [('balance', org) for org in ALICE_ORGS] * 2),
          'one account request and one balance request per organization at each end, got %r' % endpoints)


def preflight(work):
    output = read(os.path.join(work, 'preflight.txt'))
    check(re.search(r'"organization +name +credits +status  runway left"', output), 'no runway column', output)
    check(re.search(r'"org-alice-studio +Alice Studio +1507\.63  ok      \d+\.\d days, 60 runs"', output), 'studio row', output)
    check(re.search(r'"org-alice-lab +Alice Lab +12\.50  ok      \? days, \? runs"', output), 'lab row', output)
    check('Stability AI pre-flight failed: Runway below min_runs_left 100: org-alice-studio (Alice Studio) has 60 runs left' in output,
          'the failure', output)
    check('min_runs_left 100 not checked, too little data in the ledger: org-alice-lab (Alice Lab)' in re.sub(r'\s+', ' ', output),
          'the warning for the lab', output)


def failed(work):
    output = read(os.path.join(work, 'failed.txt'))
    lines = recap_lines(output)
    check('total spent: 0.00 credits' in lines, 'total line', output)
    check(report(work)['complete'] is True, 'a failed play still gives a complete recap')


def fault(work):
    output = read(os.path.join(work, 'fault.txt'))
    flat = re.sub(r'\s+', ' ', output)  # Ansible wraps long warnings
    warnings = re.findall(r'\[WARNING\]: stabilityai\.platform\.credit_recap: (.*?); the run itself is not affected', flat)
    check(len(warnings) == 1, 'exactly one warning expected, got %r' % warnings, output)
    check(warnings[0].startswith('GET ') and 'for organization org-alice-lab failed with HTTP 500' in warnings[0], warnings[0])
    check('failed=0' in output, 'the play outcome changed', output)
    lines = recap_lines(output)
    check('total spent: - credits (incomplete)' in lines, 'total line', output)
    result = report(work)
    check(result['complete'] is False and 'HTTP 500' in result['problem'], 'report: %r' % result)
    check([row['organization_id'] for row in result['organizations']] == ['org-alice-lab'], 'the ini organizations: %r' % result)
    check(result['organizations'][0]['after'] is None and result['organizations'][0]['before'] == 12.5, 'row: %r' % result)
    readings = [item for item in ledger(work) if item['run_id'] == result['run_id']]
    check([item['event'] for item in readings] == ['start'], 'only the start reading is recorded: %r' % readings)


def parallel(work):
    readings = ledger(work)  # json.loads fails on an interleaved line
    for number in (1, 2):
        output = read(os.path.join(work, 'parallel-%d.txt' % number))
        check('credit_recap:' not in output, 'a parallel run warned', output)
        result = json.loads(read(os.path.join(work, 'report-%d.json' % number)))
        check(result['complete'] is True, 'parallel run %d: %r' % (number, result))
        events = sorted((item['event'], item['organization_id']) for item in readings if item['run_id'] == result['run_id'])
        check(events == sorted((event, org) for event in ('start', 'end') for org in ALICE_ORGS),
              'parallel run %d is not whole in the ledger: %r' % (number, events))


def secrets(key, *paths):
    secrets_in([read(path) for path in paths], key)


if __name__ == '__main__':
    run({
        'seed': seed,
        'requests': lambda url: control(url, 'DELETE', '/_sim/requests'),
        'clear-faults': lambda url: control(url, 'DELETE', '/_sim/faults'),
        'spend': spend,
        'preflight': preflight,
        'failed': failed,
        'fault': fault,
        'parallel': parallel,
        'secrets': secrets,
    }, sys.argv)
