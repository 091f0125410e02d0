# -*- coding: utf-8 -*-
# Copyright (c) stabilityai.platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The ``credit_balance`` event source in real ``ansible-rulebook`` runs against the simulator.

The rulebooks are those of docs/examples/eda as shipped, with two changes for the test: the
source reads one organization every second from the simulator without retries, and a first rule
(``match_multiple_rules``) prints every event so the test sees them in order.  The test spends
credits through the simulator (in a thread of the test), tops them up, takes the API down and
brings it back; and it gives the runway rulebook a ledger.  It checks the events, the rules'
messages, the playbook the rulebooks run, a clean stop, and that the key is nowhere in the output.

Run by ``tests/run-tests.sh eda`` (pytest from the collection root; ANSIBLE_COLLECTIONS_PATH
names the tree that holds the collection under test).  Needs Java 17 for ansible-rulebook.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import yaml

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIMULATOR = os.path.join(COLLECTION_ROOT, 'tests', 'simulator', 'stability_simulator.py')
EXAMPLES = os.path.join(COLLECTION_ROOT, 'docs', 'examples', 'eda')

ALICE_KEY = 'sk-sim-alice-64Es19knE59ROToV'
ORG = 'org-alice-lab'
LABEL = 'org-alice-lab (Alice Lab)'
WAIT = 90.0  # the JVM of ansible-rulebook starts in 3-20 s on a busy machine


def tool(name):
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    return candidate if os.path.exists(candidate) else (shutil.which(name) or name)


def load_simulator():
    """The simulator's Python API (it serves from a thread of this process)."""
    spec = importlib.util.spec_from_file_location('stability_simulator', SIMULATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def simulator():
    with load_simulator().StabilitySimulator(lifetime=600) as sim:
        yield sim


def balance_answers(sim, status=200):
    return [entry for entry in sim.requests() if entry['endpoint'] == 'balance' and entry['status'] == status]


def account_answers(sim, status):
    return [entry for entry in sim.requests() if entry['endpoint'] == 'account' and entry['status'] == status]


class RulebookRun(object):
    """An example rulebook of docs/examples/eda in ansible-rulebook, with test arguments for its source.

    A first rule prints every event (``match_multiple_rules`` keeps the example's own rules
    firing), so ``events()`` lists them in order.  ``stop()`` presses Ctrl-C, as a user would.
    """

    def __init__(self, name, source_args, simulator, directory):
        if not os.environ.get('ANSIBLE_COLLECTIONS_PATH'):
            pytest.fail('ANSIBLE_COLLECTIONS_PATH must name the tree that holds the collection (tests/run-tests.sh sets it)')
        with open(os.path.join(EXAMPLES, name)) as handle:
            rulebook = yaml.safe_load(handle)
        ruleset = rulebook[0]
        ruleset['sources'][0]['stabilityai.platform.credit_balance'].update(source_args)
        ruleset['match_multiple_rules'] = True
        ruleset['rules'].insert(0, {'name': 'Record every event', 'condition': 'event.stability is defined',
                                    'action': {'print_event': {'pretty': False}}})
        (directory / 'rules.yml').write_text(yaml.safe_dump(rulebook))
        shutil.copy(os.path.join(EXAMPLES, 'low_credits.yml'), str(directory))
        shutil.copy(os.path.join(EXAMPLES, 'inventory.yml'), str(directory))
        env = dict((key, value) for key, value in os.environ.items() if not key.startswith('STABILITY_'))
        # The rate-limit guard's state of this run stays in the test's own folder.
        env.update(STABILITY_API_KEY=ALICE_KEY, STABILITY_API_URL=simulator.url, XDG_CACHE_HOME=str(directory / 'cache'),
                   PATH=os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', os.defpath))
        self.output = []
        self.process = subprocess.Popen([tool('ansible-rulebook'), '-r', 'rules.yml', '-i', 'inventory.yml'], cwd=str(directory),
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        self.reader = threading.Thread(target=lambda: self.output.extend(self.process.stdout), daemon=True)
        self.reader.start()
        self.stopped_in_time = None

    def events(self):
        return [ast.literal_eval(line)['stability'] for line in list(self.output) if line.startswith('{') and "'stability':" in line]

    def wait_for(self, what, check):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if check():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        pytest.fail('waited in vain for %s; rulebook output:\n%s' % (what, ''.join(self.output)))

    def wait_for_events(self, count):
        self.wait_for('%d events' % count, lambda: len(self.events()) >= count)

    def stop(self):
        """Ctrl-C: ansible-rulebook exits 130 once every source has stopped; the text of the run, colours removed."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.stopped_in_time = self.process.wait(timeout=30) is not None
        except subprocess.TimeoutExpired:
            self.stopped_in_time = False
            self.process.kill()
            self.process.wait()
        self.reader.join(10)
        return re.sub(r'\x1b\[[0-9;]*m', '', ''.join(self.output))

    def assert_clean_end(self, text):
        assert ALICE_KEY not in text
        assert 'Traceback' not in text and 'Source error' not in text, text
        assert self.stopped_in_time and self.process.returncode == 130, text


def playbook_recaps(text):
    return len(re.findall(r'localhost\s+: ok=2\s+changed=0\s+unreachable=0\s+failed=0', text))


def test_example_rulebook_reacts_to_crossings_top_up_and_outage(simulator, tmp_path):
    simulator.set_credits(ORG, 500)
    simulator.clear_requests()
    run = RulebookRun('credit_thresholds.yml', dict(organizations=[ORG], interval=1, retries=0, warn_below=100, min_credits=10),
                      simulator, tmp_path)

    def wait_for_readings(more):
        target = len(balance_answers(simulator)) + more
        run.wait_for('%d more readings' % more, lambda: len(balance_answers(simulator)) >= target)

    try:
        wait_for_readings(2)  # 500 credits: above both thresholds, nothing to say
        simulator.set_credits(ORG, 50)  # spent below warn_below
        run.wait_for_events(1)
        simulator.set_credits(ORG, 5)  # and below min_credits: the playbook runs
        run.wait_for_events(2)
        simulator.set_credits(ORG, 4)  # still below: no new event
        wait_for_readings(3)
        simulator.set_credits(ORG, 1000)  # a top-up
        run.wait_for_events(4)
        simulator.add_faults([{'match': {'endpoint': 'account'}, 'status': 503, 'times': -1}])
        run.wait_for_events(5)  # the outage: one error event
        run.wait_for('four failed readings', lambda: len(account_answers(simulator, 503)) >= 4)
        simulator.clear_faults()
        wait_for_readings(1)  # back, still 1000 credits: nothing to say
        simulator.set_credits(ORG, 5)  # the source lived through the outage
        run.wait_for_events(7)
        run.wait_for('the second playbook run', lambda: ''.join(run.output).count('PLAY RECAP') >= 2)
    finally:
        text = run.stop()

    found = run.events()
    summary = [(event['kind'], event['gate'], event['credits'], event['previous'], event['threshold']) for event in found]
    assert summary == [
        ('below_warn_below', 'warn_below', 50.0, 500.0, 100.0),
        ('below_min_credits', 'min_credits', 5.0, 50.0, 10.0),
        ('recovered', 'warn_below', 1000.0, 4.0, 100.0),
        ('recovered', 'min_credits', 1000.0, 4.0, 10.0),
        ('error', None, None, None, None),
        ('below_warn_below', 'warn_below', 5.0, 1000.0, 100.0),
        ('below_min_credits', 'min_credits', 5.0, 1000.0, 10.0),
    ], text
    assert all(event['organization_id'] == ORG and event['organization_name'] == 'Alice Lab' for event in found if event['kind'] != 'error')
    assert found[1]['message'] == '%s has 5.00 credits, below min_credits 10.00' % LABEL
    assert found[2]['message'] == '%s has 1000.00 credits again, above warn_below 100.00' % LABEL
    error = found[4]['message']
    assert error.startswith('GET %s/v1/user/account failed with HTTP 503 service_unavailable' % simulator.url), error
    assert '\n' not in error

    # The example's own rules: the warning printed, the playbook run twice against the simulator.
    assert 'WARNING Stability AI: %s has 50.00 credits, below warn_below 100.00' % LABEL in text
    assert 'ERROR Stability AI balances unreadable: GET %s/v1/user/account failed' % simulator.url in text
    # (the first run reads 4 or 5 credits: the test spends on meanwhile)
    assert text.count('Stability AI: %s has 5.00 credits, below min_credits 10.00; %s has ' % (LABEL, ORG)) == 2, text
    assert playbook_recaps(text) == 2, text
    run.assert_clean_end(text)


def test_runway_example_warns_from_the_ledger(simulator, tmp_path):
    """Two runs of 100 credits in the last three days, then 650 more spent: days and runs both run short."""
    now = datetime.now(timezone.utc)
    ledger = tmp_path / 'ledger.jsonl'
    rows = [(3, 0, 1000.0, 'r1', 'start'), (3, 1, 900.0, 'r1', 'end'), (1, 0, 900.0, 'r2', 'start'), (1, 1, 800.0, 'r2', 'end')]
    ledger.write_text(''.join(json.dumps({
        'time': (now - timedelta(days=days) + timedelta(hours=hours)).isoformat().replace('+00:00', 'Z'),
        'organization_id': ORG, 'credits': credits, 'run_id': run_id, 'event': event, 'playbook': 'site.yml'}) + '\n'
        for days, hours, credits, run_id, event in rows))
    simulator.set_credits(ORG, 150)
    run = RulebookRun('runway.yml', dict(organizations=[ORG], interval=1, retries=0, ledger_path=str(ledger)), simulator, tmp_path)
    try:
        run.wait_for_events(2)
        run.wait_for('the playbook run', lambda: 'PLAY RECAP' in ''.join(run.output))
    finally:
        text = run.stop()

    found = run.events()
    assert [(event['kind'], event['gate'], event['threshold']) for event in found] == [
        ('below_min_days_left', 'min_days_left', 7.0), ('below_min_runs_left', 'min_runs_left', 20.0)], text
    runway = found[0]['runway']
    assert runway['spent_per_day'] == pytest.approx(850.0 / 3, rel=0.01)
    assert (runway['spent_per_run'], runway['runs_left'], runway['runs_recorded']) == (100.0, 1, 2)
    assert found[1]['message'] == '%s has 1 run of runway, below min_runs_left 20.00' % LABEL
    assert re.search(r'WARNING Stability AI: %s has 0\.5 days of runway, below min_days_left 7\.00 \(spending 283\.\d credits a day\)'
                     % re.escape(LABEL), text), text
    assert playbook_recaps(text) == 1, text
    run.assert_clean_end(text)
